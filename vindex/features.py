"""Per-layer feature directions in hidden space, from a layer's ``gate_proj`` and ``down_proj`` weights.

Shapes: W_gate ∈ R^{I×H} (one row per intermediate neuron), W_down ∈ R^{H×I}.

``features=svd`` (the seed's vindex), F directions per layer, by :func:`vindex.svd.randomized_svd`:

- gate: W_gate = U Σ Vᵀ; directions = rows of Vᵀ[:F] (unit vectors in hidden space, by descending σ).
  Sign: the neuron-side vector u (column of U) has its largest-|·| entry positive, i.e. the neuron
  loading most on the direction reads it with a positive weight.
- down: W_down = U Σ Vᵀ; directions = rows of Uᵀ[:F] (the hidden-space side). Sign: the direction's
  largest-|·| vocabulary projection E·d (raw embeddings) is positive, so its top tokens are meaningful.

``features=full`` (LarQL's dense extraction): every neuron; gate rows = rows of W_gate, down rows =
columns of W_down; no sign change, σ = none.
"""

import torch

from lab.config.errors import UserError
from vindex.svd import flip_signs, randomized_svd

MODES = ("svd", "full")


def check_num_features(mode: str, num_features: int, intermediate: int, hidden: int) -> None:
    if mode not in MODES:
        raise UserError(f"features={mode!r}; valid: {', '.join(MODES)}")
    rank = min(intermediate, hidden)
    if mode == "svd" and not 0 < num_features <= rank:
        raise UserError(f"num_features={num_features} but a layer's gate_proj/down_proj ({intermediate}x{hidden}) has rank at most "
                        f"{rank}; choose 1..{rank} or features=full")


def gate_directions(w_gate: torch.Tensor, mode: str, num_features: int, oversample: int = 32, power_iters: int = 4,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """([F, H] gate directions fp32, σ or None) of one layer (see module docstring)."""
    if mode == "full":
        return w_gate.float(), None
    u, sigma, vh = randomized_svd(w_gate, num_features, oversample, power_iters, seed)
    return (vh * flip_signs(u.T)[:, None]).contiguous(), sigma


def down_directions(w_down: torch.Tensor, embeddings: torch.Tensor, mode: str, num_features: int, oversample: int = 32,
                    power_iters: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """([F, H] down directions fp32, σ or None); ``embeddings`` [V, H] fp32 fixes the signs."""
    if mode == "full":
        return w_down.float().T.contiguous(), None
    u, sigma, _ = randomized_svd(w_down, num_features, oversample, power_iters, seed)
    down = u.T.contiguous()
    return (down * flip_signs(down @ embeddings.T)[:, None]).contiguous(), sigma
