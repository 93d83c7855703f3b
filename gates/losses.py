"""The two gate-training losses and their sum.

Forget (knowledge text, entity-masked): for example i with answer-entity token set E_i (the positions
whose label is not -100; the prediction of token t+1 comes from position t)::

    CE_i   = -1/|E_i| Σ_{t ∈ E_i} log p_gated(x_t | x_<t)
    L_f    = 1/B Σ_i softplus(β − CE_i)

softplus(β − CE) ≈ β − CE while the entity is still recalled (CE ≪ β) and → 0 once CE ≥ β: it pushes
the entity's cross-entropy up to β and then stops, instead of diverging.

Retain (reasoning text): at temperature T, with p^T = softmax(logits / T) over the full vocabulary and
p_base computed by the *same* model with the gates bypassed, under no_grad::

    L_r = T² · 1/N Σ_{valid positions n} Σ_v p_base^T(v) [log p_base^T(v) − log p_gated^T(v)]

The T² factor is Hinton et al.'s convention: the gradient of the softened KL scales as 1/T², so
multiplying by T² keeps its magnitude comparable across temperatures.

Total: L = λ_f · L_f + λ_r · L_r.

Memory: the vocabulary projection is applied to ``chunk_size`` positions at a time, so a [batch, chunk,
vocab] logits tensor exists for one chunk at a time (the full [batch, seq, vocab] tensor is never built,
for the base or the gated model). When the LM head is frozen (gate training), each chunk's gradient with
respect to the gated hidden states is computed right away in the forward pass (:class:`FusedChunkedKL`):

    ∂L_chunk/∂z_gated = T · m · (p_gated^T − p_base^T),   ∂L_chunk/∂h_gated = (∂L_chunk/∂z_gated) · W

for logits z = W h, so nothing is recomputed in the backward pass (3 vocabulary matmuls per chunk instead
of 5). Otherwise each chunk runs under activation checkpointing.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from gates.gated_ffn import gates_bypassed


def entity_cross_entropy(model: nn.Module, input_ids: torch.Tensor, labels: torch.Tensor,
                         attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """CE_i for every example (mean over its entity tokens), shape [batch]; logits only at entity positions."""
    hidden = model.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    selected = target != -100
    if not bool(selected.any(dim=1).all()):
        raise ValueError("every forget example needs at least one entity token (label != -100)")
    token_ce = F.cross_entropy(model.lm_head(hidden[selected]).float(), target[selected], reduction="none")
    rows = selected.nonzero()[:, 0]
    per_example = torch.zeros(input_ids.shape[0], device=token_ce.device).index_add_(0, rows, token_ce)
    return per_example / selected.sum(dim=1)


def forget_loss(model: nn.Module, batch: dict[str, torch.Tensor], beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_f, mean CE_i) of a forget batch (``input_ids``, ``labels``, ``attention_mask``)."""
    ce = entity_cross_entropy(model, batch["input_ids"], batch["labels"], batch.get("attention_mask"))
    return F.softplus(beta - ce).mean(), ce.detach().mean()


def kl_from_logits(base_logits: torch.Tensor, gated_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(p_base^T ‖ p_gated^T) per position (last dim = vocabulary), unreduced."""
    base_logp = F.log_softmax(base_logits.float() / temperature, dim=-1)
    gated_logp = F.log_softmax(gated_logits.float() / temperature, dim=-1)
    return temperature**2 * (base_logp.exp() * (base_logp - gated_logp)).sum(-1)


def _chunk_kl_sum(lm_head: nn.Module, gated_hidden: torch.Tensor, base_hidden: torch.Tensor,
                  mask: torch.Tensor, temperature: float) -> torch.Tensor:
    with torch.no_grad():
        base_logits = lm_head(base_hidden)
    return (kl_from_logits(base_logits, lm_head(gated_hidden), temperature) * mask).sum()


class FusedChunkedKL(torch.autograd.Function):
    """Σ_n m_n · T² KL(p_base^T ‖ p_gated^T) over positions, chunk by chunk, with its gradient w.r.t. the gated
    hidden states computed in the forward pass (the LM head ``weight`` [V, H] must be frozen)."""

    @staticmethod
    def forward(ctx, gated_hidden: torch.Tensor, base_hidden: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor,
                temperature: float, chunk_size: int) -> torch.Tensor:
        grad = torch.empty_like(gated_hidden)
        total = torch.zeros((), dtype=torch.float32, device=gated_hidden.device)
        for start in range(0, gated_hidden.shape[1], chunk_size):
            part = slice(start, start + chunk_size)
            m = mask[:, part].unsqueeze(-1)
            gated_logp = F.log_softmax((gated_hidden[:, part] @ weight.T).float() / temperature, dim=-1)
            base_logp = F.log_softmax((base_hidden[:, part] @ weight.T).float() / temperature, dim=-1)
            base_p = base_logp.exp()
            total += temperature**2 * (base_p * (base_logp - gated_logp) * m).sum()
            grad[:, part] = ((temperature * m * (gated_logp.exp() - base_p)).to(weight.dtype) @ weight).to(grad.dtype)
        ctx.save_for_backward(grad)
        return total

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None, None


def retain_loss(model: nn.Module, batch: dict[str, torch.Tensor], temperature: float, chunk_size: int = 128) -> torch.Tensor:
    """L_r of a reasoning batch: base pass (gates bypassed, no_grad) and gated pass of the same model."""
    input_ids, attention_mask = batch["input_ids"], batch.get("attention_mask")
    with torch.no_grad(), gates_bypassed(model):
        base_hidden = model.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    gated_hidden = model.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = torch.ones_like(input_ids, dtype=torch.float32) if attention_mask is None else attention_mask.float()
    head = model.lm_head
    if getattr(head, "bias", None) is None and not head.weight.requires_grad:
        total = FusedChunkedKL.apply(gated_hidden, base_hidden, head.weight, mask, temperature, chunk_size)
        return total / mask.sum().clamp_min(1.0)
    total = gated_hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, input_ids.shape[1], chunk_size):
        part = slice(start, start + chunk_size)
        args = (model.lm_head, gated_hidden[:, part], base_hidden[:, part], mask[:, part], temperature)
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_kl_sum, *args, use_reentrant=False)
        else:
            total = total + _chunk_kl_sum(*args)
    return total / mask.sum().clamp_min(1.0)


def total_loss(forget: torch.Tensor, retain: torch.Tensor, lambda_forget: float, lambda_retain: float) -> torch.Tensor:
    """L = λ_f · L_f + λ_r · L_r."""
    return lambda_forget * forget + lambda_retain * retain
