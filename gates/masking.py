"""Apply gates to a Qwen3: hard masking (the seed's option 1) and soft gating (option 2).

With g = sigmoid(λ) and a threshold t, each neuron j of layer l gets a multiplier m_j on its SwiGLU
activation h_j (the input of ``down_proj``):

- hard:  m_j = 0 if g_j < t else 1.  Applied to weights as the seed does: rows j of ``gate_proj`` and
  ``up_proj`` set to 0, so h_j = act(0)·0 = 0 (SiLU(0) = 0).
- soft:  m_j = g_j if g_j < t else 1 (t = 1 gates every neuron: the full soft gating the gates were
  trained with). Applied to weights by scaling column j of ``down_proj`` by m_j, since
  W_down (m ⊙ h) = (W_down · diag(m)) h.

Both give plain Qwen3 weights (no new modules), so the result saves and loads as any checkpoint.
"""

import torch
from torch import nn

from lab.config.errors import UserError

MODES = ("hard", "soft")


def check_threshold(threshold: float, mode: str) -> float:
    if mode not in MODES:
        raise UserError(f"mode={mode!r}; valid: {', '.join(MODES)}")
    upper_ok = threshold <= 1.0 if mode == "soft" else threshold < 1.0
    if not (0.0 < threshold and upper_ok):
        raise UserError(f"threshold={threshold} is outside (0, 1){' (soft also allows 1)' if mode == 'soft' else ''}: "
                        "a gate g = sigmoid(λ) always lies strictly between 0 and 1")
    return float(threshold)


def multipliers(logits: torch.Tensor, mode: str, threshold: float) -> torch.Tensor:
    """m as [layers, intermediate] (see module docstring)."""
    check_threshold(threshold, mode)
    gates = torch.sigmoid(logits.float())
    below = gates < threshold
    if mode == "hard":
        return (~below).float()
    return torch.where(below, gates, torch.ones_like(gates))


def _mlps(model: nn.Module) -> list[nn.Module]:
    return [layer.mlp for layer in model.model.layers]


def model_shape(model: nn.Module) -> tuple[int, int]:
    """(num_layers, intermediate_size): the shape gate files must have for this model."""
    mlps = _mlps(model)
    return len(mlps), int(mlps[0].gate_proj.weight.shape[0])


def hard_mask(model: nn.Module, neurons: dict[int | str, list[int]]) -> nn.Module:
    """Zero the ``gate_proj`` and ``up_proj`` rows of ``neurons`` (``{layer: [neuron, ...]}``), in place."""
    mlps = _mlps(model)
    with torch.no_grad():
        for layer, idx in neurons.items():
            mlp = mlps[int(layer)]
            mlp.gate_proj.weight[idx, :] = 0
            mlp.up_proj.weight[idx, :] = 0
    return model


def scale_neurons(model: nn.Module, multiplier: torch.Tensor) -> nn.Module:
    """Scale column j of each layer's ``down_proj`` by ``multiplier[layer, j]``, in place."""
    if tuple(multiplier.shape) != model_shape(model):
        raise UserError(f"gates of shape {tuple(multiplier.shape)} do not fit this model's {model_shape(model)} FFN neurons")
    with torch.no_grad():
        for mlp, row in zip(_mlps(model), multiplier, strict=True):
            mlp.down_proj.weight.mul_(row.to(mlp.down_proj.weight)[None, :])
    return model


def apply_gates(model: nn.Module, logits: torch.Tensor, mode: str, threshold: float) -> nn.Module:
    """Hard-mask or soft-gate ``model`` in place with gate logits ``logits`` at ``threshold``."""
    if tuple(logits.shape) != model_shape(model):
        raise UserError(f"gates of shape {tuple(logits.shape)} do not fit this model's {model_shape(model)} FFN neurons")
    m = multipliers(logits, mode, threshold)
    if mode == "hard":
        return hard_mask(model, {layer: torch.nonzero(row == 0).flatten().tolist() for layer, row in enumerate(m)})
    return scale_neurons(model, m)
