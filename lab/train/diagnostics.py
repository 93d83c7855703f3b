"""``InstabilityDiagnostics``: what makes a run diverge, measured every N optimizer steps (Wortsman et al. 2023).

On the first ``rows`` sequences of the training batch, with the weights that batch is trained from, one extra
forward pass (no gradient, rank 0 only) measures

- ``diag/attn_logit_max/layer_LL``: ``max_{b,h,i,j≤i} q_i·k_j · s`` per layer, the attention logits exactly as
  the attention function receives them (after q_norm/k_norm and RoPE, ``s = head_dim^-1/2``; Dehghani et al.
  2023's attention-logit growth, which qk-layernorm prevents). ``diag/attn_logit_max`` is the max over layers;
- ``diag/log_z``, ``diag/log_z_min``, ``diag/log_z_max``: the mean, min and max over positions of the LM
  head's log-partition ``log Z = logsumexp_v z_v`` (PaLM's z-loss penalises log² Z, so a drift in either
  direction matters; output-logit divergence shows as its growth);
- ``diag/residual_rms/layer_LL``: ``sqrt(mean(h²))`` of the residual stream after each decoder block;
- ``diag/norm_input_rms/<site>``: the same RMS of the input of every norm site (``layer_LL.q_norm``,
  ``.k_norm``, ``.input_layernorm``, ``.post_attention_layernorm``, ``final_norm``), whatever module sits
  there now (an ``Identity`` included);

and, from that batch's own gradients before clipping, ``diag/grad_norm/layer_LL`` = ``‖∇θ‖₂`` over each
block's parameters (``embed``, ``final_norm`` and an untied ``lm_head`` apart).

The logits are taken by a wrapper registered as an attention implementation (``lab_logit_probe``) around
the model's own one, set for the diagnostic pass only. Metrics go to the run's loggers at the batch's
step and into :class:`lab.train.history.MetricsHistory`.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.qwen3.modeling_qwen3 import eager_attention_forward, repeat_kv

from lab.train.history import MetricsHistory, history_of

PROBE = "lab_logit_probe"
_recording: dict[int, float] | None = None
_delegate: dict[str, Any] = {"fn": sdpa_attention_forward}


def max_attention_logit(query: torch.Tensor, key: torch.Tensor, scaling: float, groups: int) -> float:
    """``max q·k·scaling`` over batch, heads and causal pairs (key j ≤ query i); ``query`` [B, H, Tq, D],
    ``key`` [B, H/groups, Tk, D], the queries being the last Tq of the Tk positions. One head at a time."""
    key = repeat_kv(key, groups)
    tq, tk = query.shape[-2], key.shape[-2]
    allowed = torch.ones(tq, tk, dtype=torch.bool, device=query.device).tril(diagonal=tk - tq)
    best = -float("inf")
    for head in range(query.shape[1]):
        logits = (query[:, head].float() @ key[:, head].float().transpose(-1, -2)) * scaling  # [B, Tq, Tk]
        best = max(best, float(logits.masked_fill(~allowed, -float("inf")).max()))
    return best


def _probe(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask, scaling=None, **kwargs):
    """The attention implementation of the diagnostic pass: record the max logit, then attend as the model does."""
    if _recording is not None:
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        _recording[int(module.layer_idx)] = max_attention_logit(query, key, scale, int(module.num_key_value_groups))
    return _delegate["fn"](module, query, key, value, attention_mask, scaling=scaling, **kwargs)


AttentionInterface.register(PROBE, _probe)


@contextlib.contextmanager
def recording_attention_logits(model: PreTrainedModel) -> Iterator[dict[int, float]]:
    """Within the block, every attention call of ``model`` records its max logit by layer index into the yielded dict."""
    global _recording
    original = model.config._attn_implementation
    _delegate["fn"] = AttentionInterface._global_mapping.get(original, eager_attention_forward)
    _recording = {}
    model.config._attn_implementation = PROBE
    try:
        yield _recording
    finally:
        model.config._attn_implementation = original
        _recording = None


def _rms(x: torch.Tensor) -> float:
    return float(x.detach().float().pow(2).mean().sqrt())


def norm_sites(model: PreTrainedModel) -> dict[str, nn.Module]:
    """``{site name: module}`` of every norm site, by layer (``layer_00.q_norm`` ...) and ``final_norm``."""
    sites = {}
    for index, layer in enumerate(model.model.layers):
        for name in ("self_attn.q_norm", "self_attn.k_norm", "input_layernorm", "post_attention_layernorm"):
            sites[f"layer_{index:02d}.{name.rsplit('.', 1)[-1]}"] = layer.get_submodule(name)
    sites["final_norm"] = model.model.norm
    return sites


@torch.no_grad()
def forward_diagnostics(model: PreTrainedModel, input_ids: torch.Tensor, chunk_rows: int = 256) -> dict[str, float]:
    """Every forward metric of the module docstring on ``input_ids`` [B, T] (``chunk_rows`` positions per log Z chunk)."""
    metrics: dict[str, float] = {}
    handles = []
    for index, layer in enumerate(model.model.layers):
        handles.append(layer.register_forward_hook(
            lambda m, args, out, i=index: metrics.__setitem__(f"diag/residual_rms/layer_{i:02d}", _rms(out[0] if isinstance(out, tuple) else out))))
    for site, module in norm_sites(model).items():
        handles.append(module.register_forward_pre_hook(
            lambda m, args, s=site: metrics.__setitem__(f"diag/norm_input_rms/{s}", _rms(args[0]))))
    was_training = model.training
    model.eval()
    try:
        with recording_attention_logits(model) as logits:
            hidden = model.model(input_ids=input_ids).last_hidden_state
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    for index, value in sorted(logits.items()):
        metrics[f"diag/attn_logit_max/layer_{index:02d}"] = value
    metrics["diag/attn_logit_max"] = max(logits.values())
    rows = hidden.reshape(-1, hidden.shape[-1])
    log_z = torch.cat([torch.logsumexp(model.lm_head(rows[i : i + chunk_rows]).float(), dim=-1) for i in range(0, len(rows), chunk_rows)])
    metrics["diag/log_z"] = float(log_z.mean())
    metrics["diag/log_z_min"], metrics["diag/log_z_max"] = float(log_z.min()), float(log_z.max())
    return metrics


def block_grad_norms(model: PreTrainedModel) -> dict[str, float]:
    """``diag/grad_norm/<block>``: ‖∇‖₂ over each decoder block's parameters, the embedding, the final norm and an
    untied LM head (parameters without a gradient are left out)."""
    groups: dict[str, list[torch.Tensor]] = {}
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        parts = name.split(".")
        if "layers" in parts:
            block = f"layer_{int(parts[parts.index('layers') + 1]):02d}"
        elif "embed_tokens" in parts:
            block = "embed"
        elif name.startswith("lm_head"):
            block = "lm_head"
        else:
            block = "final_norm"
        groups.setdefault(block, []).append(param.grad.detach())
    return {f"diag/grad_norm/{block}": float(torch.nn.utils.get_total_norm(grads)) for block, grads in sorted(groups.items())}


class InstabilityDiagnostics(L.Callback):
    """Measure the metrics of the module docstring every ``every_n_steps`` optimizer steps (and at the first), and
    at every step before ``dense_steps`` (the warmup, where high-LR runs collapse)."""

    def __init__(self, every_n_steps: int = 25, rows: int = 2, chunk_rows: int = 256, dense_steps: int = 0,
                 history: MetricsHistory | None = None) -> None:
        if int(every_n_steps) < 1:
            raise ValueError(f"InstabilityDiagnostics every_n_steps={every_n_steps}; at least 1 (leave the callback out instead)")
        self.history = history  # None: the run's, found among the trainer's callbacks
        self.every, self.rows, self.chunk_rows = int(every_n_steps), int(rows), int(chunk_rows)
        self.dense_steps = int(dense_steps)
        self._pending: dict[str, float] | None = None

    def due(self, step: int) -> bool:
        """Whether the batch trained at optimizer step ``step`` (from 0) is probed."""
        return step < self.dense_steps or step % self.every == 0

    def _due(self, trainer: L.Trainer) -> bool:
        return trainer.is_global_zero and self.due(trainer.global_step)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        self._pending = None
        if self._due(trainer):
            self._pending = forward_diagnostics(pl_module.model, batch["input_ids"][: self.rows], self.chunk_rows)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer) -> None:
        if self._pending is not None:
            self._pending.update(block_grad_norms(pl_module.model))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._pending is None:
            return
        step, metrics, self._pending = trainer.global_step, self._pending, None
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
        (self.history or history_of(trainer)).record(step, metrics)
