"""A function-preserving DyT surgery: DyT's α, γ, β fitted per site to what the RMSNorm there computes.

The carry-over rule of :class:`lab.model.norms.dyt.DynamicTanh` (γ ← w_rms, β ← 0, α ← α₀) does not preserve the
function: at α₀ = 0.5 the DyT of a trained model's residual stream is far from ``RMSNorm(x) = w ⊙ x / rms(x)``.
Here, on calibration inputs x ∈ ℝ^{N×d} captured at the site (the trained RMSNorm model's own activations),

    (α, γ, β) = argmin  Σ_n ‖γ ⊙ tanh(α x_n) + β − RMSNorm(x_n)‖²

For a fixed α this is an ordinary least-squares line per channel c, solved in closed form with
t = tanh(α x_{·c}) and y = RMSNorm(x)_{·c}:

    γ_c = cov(t, y) / var(t),   β_c = mean(y) − γ_c · mean(t)      (β ≡ 0 and γ_c = ⟨t, y⟩ / ⟨t, t⟩ without a bias)

and α is chosen on a log grid (:data:`ALPHA_GRID`), then refined by golden-section search in log α between
the grid's neighbours. The fit error is the relative squared error ``Σ‖ŷ − y‖² / Σ‖y‖²`` (0: the same function
on the calibration inputs). DyT is elementwise and RMSNorm divides by a per-token statistic, so the error is
never 0; it says how far "like with like" a DyT surgery can be.
"""

import math

import torch
from torch import nn

from lab.model.norms.dyt import DynamicTanh

ALPHA_GRID = torch.logspace(-4, 1, 41)
GOLDEN = (math.sqrt(5) - 1) / 2


def _least_squares(t: torch.Tensor, y: torch.Tensor, bias: bool) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Per-channel ``γ, β`` and the summed squared error of ``γ ⊙ t + β`` against ``y`` ([N, d] each, float64)."""
    if bias:
        tc, yc = t - t.mean(0), y - y.mean(0)
        gamma = (tc * yc).sum(0) / (tc * tc).sum(0).clamp_min(1e-30)
        beta = y.mean(0) - gamma * t.mean(0)
    else:
        gamma = (t * y).sum(0) / (t * t).sum(0).clamp_min(1e-30)
        beta = torch.zeros_like(gamma)
    return gamma, beta, float(((gamma * t + beta - y) ** 2).sum())


def fit_dyt(rms: nn.Module, inputs: torch.Tensor, bias: bool = True, refine_steps: int = 30) -> tuple[DynamicTanh, float]:
    """A :class:`DynamicTanh` fitted to ``rms`` on ``inputs`` [..., d] (the module docstring), and its relative error."""
    x = inputs.detach().reshape(-1, inputs.shape[-1]).double()
    with torch.no_grad():
        y = rms(inputs.detach().reshape(-1, inputs.shape[-1])).double()

    def error(alpha: float) -> float:
        return _least_squares(torch.tanh(alpha * x), y, bias)[2]

    grid = [float(a) for a in ALPHA_GRID]
    errors = [error(a) for a in grid]
    best = min(range(len(grid)), key=errors.__getitem__)
    low, high = math.log(grid[max(best - 1, 0)]), math.log(grid[min(best + 1, len(grid) - 1)])
    a, b = high - GOLDEN * (high - low), low + GOLDEN * (high - low)
    fa, fb = error(math.exp(a)), error(math.exp(b))
    for _ in range(refine_steps):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - GOLDEN * (high - low)
            fa = error(math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + GOLDEN * (high - low)
            fb = error(math.exp(b))
    alpha = min((grid[best], errors[best]), (math.exp(a), fa), (math.exp(b), fb), key=lambda p: p[1])[0]
    gamma, beta, sse = _least_squares(torch.tanh(alpha * x), y, bias)
    weight = rms.weight.detach()
    norm = DynamicTanh(weight.numel(), alpha_init=alpha, bias=bias).to(weight.device, weight.dtype)
    with torch.no_grad():
        norm.weight.copy_(gamma.to(weight.dtype))
        if bias:
            norm.bias.copy_(beta.to(weight.dtype))
    return norm, sse / max(float((y**2).sum()), 1e-30)


def capture_inputs(model: nn.Module, names: list[str], input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{qualified name: the input the module received}`` for one no-grad forward pass of ``model``."""
    captured: dict[str, torch.Tensor] = {}
    handles = [model.get_submodule(name).register_forward_pre_hook(lambda m, args, n=name: captured.__setitem__(n, args[0].detach()))
               for name in names]
    try:
        with torch.no_grad():
            model(input_ids=input_ids)
    finally:
        for handle in handles:
            handle.remove()
    return captured
