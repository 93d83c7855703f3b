"""``LambdaGatedFFN``: one learnable sigmoid gate per FFN intermediate neuron of a stock ``Qwen3MLP``.

For the SwiGLU block of layer l with input x::

    h = act(W_gate x) ⊙ (W_up x)                 (the stock Qwen3MLP, unchanged)
    y = W_down (g ⊙ h),   g = sigmoid(λ) ∈ (0, 1)^intermediate

λ (``mlp.lambda_logits``) is the only trained parameter. The patch swaps the class of each existing
``Qwen3MLP`` for this subclass, which keeps the stock ``forward`` and multiplies the input of
``down_proj`` by the gate in a forward pre-hook: no transformers code is copied, the base weights
keep their keys, and the logits appear as ``model.layers.<i>.mlp.lambda_logits``.

Gate modes (the same module serves training, bypass and inference):

- ``soft``:   multiplier g = sigmoid(λ) on every neuron (training, and the seed's option 2);
- ``bypass``: multiplier 1 (the base model: used for p_base in the retain loss, one copy of weights);
- a fixed multiplier tensor set by :func:`set_multipliers` (hard masks, soft-below-threshold, controls).
"""

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from transformers.models.qwen3.modeling_qwen3 import Qwen3MLP


class LambdaGatedFFN(Qwen3MLP):
    lambda_logits: nn.Parameter
    gate_mode: str
    fixed_multiplier: torch.Tensor | None

    @classmethod
    def patch(cls, mlp: Qwen3MLP, init_logit: float = 0.0) -> "LambdaGatedFFN":
        """Turn a stock ``Qwen3MLP`` into a gated one in place (λ = ``init_logit`` everywhere)."""
        if isinstance(mlp, cls):
            return mlp
        weight = mlp.down_proj.weight
        mlp.__class__ = cls
        mlp.lambda_logits = nn.Parameter(torch.full((mlp.intermediate_size,), float(init_logit), device=weight.device))
        mlp.gate_mode = "soft"
        mlp.fixed_multiplier = None
        mlp.down_proj.register_forward_pre_hook(mlp._gate_hidden)
        return mlp

    def gate(self) -> torch.Tensor:
        """g = sigmoid(λ), shape [intermediate_size]."""
        return torch.sigmoid(self.lambda_logits)

    def multiplier(self) -> torch.Tensor | None:
        if self.gate_mode == "bypass":
            return None
        if self.gate_mode == "fixed":
            return self.fixed_multiplier
        return self.gate()

    def _gate_hidden(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...] | None:
        scale = self.multiplier()
        if scale is None:
            return None
        return (args[0] * scale.to(args[0].dtype),)


def patch_gates(model: nn.Module, init_logit: float = 0.0, free_fraction: float | None = None, seed: int = 0) -> list[LambdaGatedFFN]:
    """Gate every ``Qwen3MLP`` of ``model`` (in layer order); freeze everything but the λ. With ``free_fraction`` q,
    only a random q of all neurons (:func:`random_neurons`, ``seed``) keep a trainable gate: the trained random
    control (:func:`restrict_gates`)."""
    for param in model.parameters():
        param.requires_grad_(False)
    gated = [LambdaGatedFFN.patch(m, init_logit) for m in model.modules() if isinstance(m, Qwen3MLP)]
    if not gated:
        raise ValueError("model has no Qwen3MLP blocks to gate")
    if free_fraction is not None:
        restrict_gates(model, random_neurons((len(gated), gated[0].intermediate_size), float(free_fraction), seed))
    return gated


OPEN_LOGIT = 20.0  # σ(20) rounds to 1.0 in fp32: a gate held open


def random_neurons(shape: tuple[int, int], fraction: float, seed: int) -> torch.Tensor:
    """A bool [layers, intermediate] mask of round(fraction · N) neurons drawn uniformly from all N (seeded)."""
    count = shape[0] * shape[1]
    chosen = torch.randperm(count, generator=torch.Generator().manual_seed(int(seed)))[: round(fraction * count)]
    mask = torch.zeros(count, dtype=torch.bool)
    mask[chosen] = True
    return mask.view(shape)


def restrict_gates(model: nn.Module, free: torch.Tensor) -> None:
    """Only the neurons of the bool mask ``free`` keep a trainable gate: every other λ is set to
    :data:`OPEN_LOGIT` (g = 1) and its gradient is zeroed, so AdamW (no weight decay) never moves it."""
    for mlp, row in zip(gated_mlps(model), free, strict=True):
        keep = row.to(mlp.lambda_logits.device)
        with torch.no_grad():
            mlp.lambda_logits.masked_fill_(~keep, OPEN_LOGIT)
        mlp.lambda_logits.register_hook(lambda grad, keep=keep: grad * keep.to(grad.dtype))


def gated_mlps(model: nn.Module) -> list[LambdaGatedFFN]:
    return [m for m in model.modules() if isinstance(m, LambdaGatedFFN)]


def gate_logits(model: nn.Module) -> torch.Tensor:
    """λ of every layer stacked: [num_layers, intermediate_size] (detached, on CPU, fp32)."""
    return torch.stack([m.lambda_logits.detach().float().cpu() for m in gated_mlps(model)])


def set_gate_logits(model: nn.Module, logits: torch.Tensor) -> None:
    mlps = gated_mlps(model)
    if logits.shape != (len(mlps), mlps[0].intermediate_size):
        raise ValueError(f"gate logits of shape {tuple(logits.shape)} do not fit {len(mlps)} layers x {mlps[0].intermediate_size} neurons")
    with torch.no_grad():
        for mlp, row in zip(mlps, logits, strict=True):
            mlp.lambda_logits.copy_(row.to(mlp.lambda_logits))
            mlp.gate_mode = "soft"


def set_multipliers(model: nn.Module, multipliers: torch.Tensor | None) -> None:
    """Fix each neuron's multiplier ([layers, intermediate]); ``None`` returns to soft gating by sigmoid(λ)."""
    for layer, mlp in enumerate(gated_mlps(model)):
        if multipliers is None:
            mlp.gate_mode, mlp.fixed_multiplier = "soft", None
        else:
            mlp.gate_mode = "fixed"
            mlp.fixed_multiplier = multipliers[layer].to(mlp.down_proj.weight.device)


@contextlib.contextmanager
def gates_bypassed(model: nn.Module) -> Iterator[None]:
    """Inside, every gated FFN acts as the stock one (multiplier 1): the base model, same weights."""
    mlps = gated_mlps(model)
    modes = [m.gate_mode for m in mlps]
    for m in mlps:
        m.gate_mode = "bypass"
    try:
        yield
    finally:
        for m, mode in zip(mlps, modes, strict=True):
            m.gate_mode = mode
