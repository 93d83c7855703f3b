"""LayerNorm with the RMSNorm conventions (fp32 statistics, last-dimension reduction)."""

import torch
from torch import nn


class LayerNorm(nn.Module):
    r"""``y = w ⊙ (x − mean(x)) / sqrt(var(x) + eps) + b``, mean and biased variance over the last dim.

    Carry-over from RMSNorm: ``w ← w_rms``, ``b ← 0``.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.bias = nn.Parameter(torch.zeros(hidden_size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        centered = x - x.mean(-1, keepdim=True)
        x = centered * torch.rsqrt(centered.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype) + self.bias

    @classmethod
    def from_rmsnorm(cls, rms: nn.Module) -> "LayerNorm":
        weight = rms.weight.detach()
        norm = cls(weight.numel(), eps=float(rms.variance_epsilon)).to(weight.device, weight.dtype)
        with torch.no_grad():
            norm.weight.copy_(weight)
        return norm

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.eps}"
