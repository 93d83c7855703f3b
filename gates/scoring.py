"""Held-out reasoning loss and KL to the base model, for one gate setting of a gated model.

On held-out reasoning documents (right-padded, pad positions excluded), with p the gated model and
p_base the same model with its gates bypassed:

    reasoning_loss = mean over predicted tokens of −log p(x_{t+1} | x_≤t)
    kl_to_base     = mean over positions of KL(p_base ‖ p)   (temperature 1, nats)
"""

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from gates.data import pad_collate
from gates.gated_ffn import gates_bypassed
from gates.losses import kl_from_logits


@torch.no_grad()
def reasoning_loss_and_kl(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, docs: list[str],
                          batch_size: int = 16, max_len: int = 256) -> tuple[float, float]:
    if not docs:
        return float("nan"), float("nan")
    collate = pad_collate(tokenizer.pad_token_id)
    device = next(model.parameters()).device
    ce_sum = kl_sum = 0.0
    ce_count = kl_count = 0
    for start in range(0, len(docs), batch_size):
        enc = tokenizer(docs[start : start + batch_size], add_special_tokens=False, truncation=True, max_length=max_len)
        batch = {k: v.to(device) for k, v in collate([{"input_ids": ids} for ids in enc["input_ids"]]).items()}
        mask = batch["attention_mask"]
        logits = model(input_ids=batch["input_ids"], attention_mask=mask).logits.float()
        with gates_bypassed(model):
            base = model(input_ids=batch["input_ids"], attention_mask=mask).logits.float()
        labels = batch["labels"][:, 1:]
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum")
        ce_sum, ce_count = ce_sum + float(ce), ce_count + int((labels != -100).sum())
        kl_sum, kl_count = kl_sum + float((kl_from_logits(base, logits, 1.0) * mask).sum()), kl_count + int(mask.sum())
    return ce_sum / max(ce_count, 1), kl_sum / max(kl_count, 1)
