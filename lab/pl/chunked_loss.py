"""The causal-LM loss without materialising the full logits.

    L = -1/N · Σ_{b,t : y_{b,t+1} ≠ -100} log softmax(W h_{b,t})[y_{b,t+1}]

(the stock Hugging Face loss: labels shifted by one, ``-100`` ignored, mean over the N counted positions),
computed ``chunk`` positions at a time. Each chunk's logits [B, chunk, V] are made inside an activation
checkpoint, so the backward pass recomputes them chunk by chunk instead of keeping all of them: at
Qwen3's 151,936-token vocabulary an 8×256 batch's fp32 logits are 1.24 GB, a 256-position chunk's 0.16 GB.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100


def _chunk_loss_sum(lm_head: nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = lm_head(hidden).float()
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")


def chunked_lm_loss(hidden: torch.Tensor, lm_head: nn.Module, labels: torch.Tensor, chunk: int) -> torch.Tensor:
    """Mean next-token cross-entropy of ``hidden`` [B, T, H] (the final norm's output) against ``labels`` [B, T]."""
    hidden, targets = hidden[:, :-1], labels[:, 1:]
    count = (targets != IGNORE_INDEX).sum().clamp_min(1)
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[1], chunk):
        part = slice(start, start + chunk)
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_loss_sum, lm_head, hidden[:, part], targets[:, part], use_reentrant=False)
        else:
            total = total + _chunk_loss_sum(lm_head, hidden[:, part], targets[:, part])
    return total / count
