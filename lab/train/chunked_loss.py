"""The causal-LM loss without materialising the full logits, at the cost of no extra matmul.

    L = -1/N · Σ_{n : y_n ≠ -100} log softmax(W h_n)[y_n]

over the positions n of the batch (labels shifted by one: h at t predicts the token at t+1; ``-100`` ignored;
N counted positions) - the stock Hugging Face loss. The rows are taken ``chunk`` at a time; for each chunk the
logits z = W h [chunk, V] are made, their loss summed, and the gradients computed at once (fused, as Liger's
fused linear cross-entropy does)::

    ∂L_sum/∂z = softmax(z) − onehot(y)   (0 on ignored rows),   ∂/∂h = (∂L_sum/∂z) W,   ∂/∂W += (∂L_sum/∂z)ᵀ h

so no logits survive the chunk and nothing is recomputed: three vocabulary matmuls per row, as in the stock
forward + backward, but at most one [chunk, V] logits tensor alive instead of the whole [B, T, V] (1.24 GB
in fp32 for an 8×256 batch at Qwen3's 151,936 tokens).

With a z-loss coefficient c > 0 (PaLM, Chowdhery et al. 2022; ``optimizer.z_loss``) the objective adds

    L_z = c/N · Σ_n log² Z_n,   log Z_n = logsumexp(W h_n),   ∂(c log² Z_n)/∂z = 2c · log Z_n · softmax(z)

which pulls the log-partition towards 0 in either direction; the CE part is reported apart.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100


ChunkFn = Callable[..., tuple]


def chunk_loss_and_grads(h: torch.Tensor, weight: torch.Tensor, y: torch.Tensor, need_h: bool, need_w: bool,
                         z_loss: float = 0.0) -> tuple:
    """One chunk: ``(Σ_n CE(W h_n, y_n), Σ_n log² Z_n or None, ∂/∂h or None, ∂/∂W or None)``, the gradients of
    ``Σ CE + z_loss · Σ log² Z``; ``torch.compile`` fuses its softmax, one-hot and mask into one pass over the
    logits (:func:`compiled_chunk_fn`). Without a z-loss, log Z is not computed at all."""
    valid = y != IGNORE_INDEX
    safe = y.clamp_min(0)
    logits = (h @ weight.T).float()
    logp = F.log_softmax(logits, dim=-1)
    total = -(logp.gather(1, safe[:, None]).squeeze(1) * valid).sum()
    log_z = torch.logsumexp(logits, dim=-1) if z_loss else None
    z_total = (log_z.square() * valid).sum() if log_z is not None else None
    if not (need_h or need_w):
        return total, z_total, None, None
    dz = logp.exp_()
    if log_z is not None:
        dz.mul_(1.0 + 2.0 * z_loss * log_z[:, None])
    dz[torch.arange(len(y), device=y.device), safe] -= 1.0
    dz = dz.mul_(valid[:, None]).to(weight.dtype)
    return total, z_total, dz @ weight if need_h else None, dz.T @ h if need_w else None


def compiled_chunk_fn(backend: str = "inductor", mode: str | None = None) -> ChunkFn:
    """:func:`chunk_loss_and_grads` through ``torch.compile`` (one graph per chunk shape, at most two)."""
    return torch.compile(chunk_loss_and_grads, backend=backend, mode=mode, dynamic=False)


class FusedChunkedCrossEntropy(torch.autograd.Function):
    """``(Σ_n CE(W h_n, y_n) + z_loss · Σ_n log² Z_n, Σ_n CE)`` over the rows of ``hidden`` [N, H], with the
    gradients of the first computed in the forward pass (the second is the CE alone, for logging)."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int, chunk_fn: ChunkFn,
                z_loss: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.empty_like(hidden) if need_h and chunk < hidden.shape[0] else None
        grad_w, total, z_total = None, None, None
        for start in range(0, hidden.shape[0], chunk):
            loss, z_sum, gh, gw = chunk_fn(hidden[start:start + chunk], weight, targets[start:start + chunk], need_h, need_w, z_loss)
            total = loss if total is None else total + loss
            if z_sum is not None:
                z_total = z_sum if z_total is None else z_total + z_sum
            if gh is not None:
                if grad_h is None:
                    grad_h = gh  # one chunk: the whole gradient
                else:
                    grad_h[start:start + chunk] = gh
            if gw is not None:
                grad_w = gw if grad_w is None else grad_w.add_(gw)
        ctx.save_for_backward(*(g for g in (grad_h, grad_w) if g is not None))
        ctx.has = (need_h, need_w)
        ce = total.detach().clone()
        ctx.mark_non_differentiable(ce)
        return (total + z_loss * z_total if z_total is not None else total), ce

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor, grad_ce: torch.Tensor | None = None):
        saved = iter(ctx.saved_tensors)
        grad_h = next(saved) * grad_output if ctx.has[0] else None
        grad_w = next(saved) * grad_output if ctx.has[1] else None
        return grad_h, grad_w, None, None, None, None


def chunked_lm_losses(hidden: torch.Tensor, lm_head: nn.Module, labels: torch.Tensor, chunk: int,
                      chunk_fn: ChunkFn = chunk_loss_and_grads, z_loss: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(objective, cross-entropy)`` of ``hidden`` [B, T, H] (the final norm's output), ``chunk`` rows at a time:
    the mean next-token cross-entropy, plus ``z_loss`` · mean log² Z in the objective (equal without a z-loss)."""
    if getattr(lm_head, "bias", None) is not None:
        raise ValueError("chunked_lm_loss supports a bias-free LM head (as Qwen3's)")
    rows = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    targets = labels[:, 1:].reshape(-1)
    count = (targets != IGNORE_INDEX).sum().clamp_min(1)
    objective, ce = FusedChunkedCrossEntropy.apply(rows, lm_head.weight, targets, chunk, chunk_fn, float(z_loss))
    return objective / count, ce / count


def chunked_lm_loss(hidden: torch.Tensor, lm_head: nn.Module, labels: torch.Tensor, chunk: int,
                    chunk_fn: ChunkFn = chunk_loss_and_grads, z_loss: float = 0.0) -> torch.Tensor:
    """The objective of :func:`chunked_lm_losses` alone (the mean cross-entropy without a z-loss)."""
    return chunked_lm_losses(hidden, lm_head, labels, chunk, chunk_fn, z_loss)[0]


def z_loss_term(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """mean log² Z over the predicting positions of full logits [B, T, V] (labels shifted as the CE's)."""
    log_z = torch.logsumexp(logits[:, :-1].float(), dim=-1)
    valid = labels[:, 1:] != IGNORE_INDEX
    return (log_z.square() * valid).sum() / valid.sum().clamp_min(1)
