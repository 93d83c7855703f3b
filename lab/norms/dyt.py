"""Dynamic Tanh (Zhu et al. 2025, "Transformers without Normalization")."""

import torch
from torch import nn


class DynamicTanh(nn.Module):
    r"""``y = γ ⊙ tanh(α · x) + β`` with a learnable scalar α (init ``alpha_init``) and per-channel γ, β.

    No statistics are computed: DyT squashes outliers elementwise instead of normalising.
    Carry-over from RMSNorm: ``γ ← w_rms``, ``β ← 0``, ``α ← alpha_init`` (the paper's default 0.5).
    """

    def __init__(self, hidden_size: int, alpha_init: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.bias = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        y = torch.tanh(self.alpha * x.float())
        return self.weight * y.to(dtype) + self.bias

    @classmethod
    def from_rmsnorm(cls, rms: nn.Module, alpha_init: float = 0.5) -> "DynamicTanh":
        weight = rms.weight.detach()
        norm = cls(weight.numel(), alpha_init=alpha_init).to(weight.device, weight.dtype)
        with torch.no_grad():
            norm.weight.copy_(weight)
        return norm

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}"
