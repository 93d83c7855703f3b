"""L2Norm: project onto the unit sphere, then scale each channel."""

import math

import torch
from torch import nn


class L2Norm(nn.Module):
    r"""``y = w ⊙ x / sqrt(‖x‖₂² + eps)``, reduced over the last dimension of size d.

    Carry-over from RMSNorm: ``w ← √d · w_rms``. Since ``rms(x) = ‖x‖₂/√d``, this makes L2Norm equal to
    the RMSNorm it replaces (up to where eps enters), so pretrained weights keep their function.
    A freshly built model (RMSNorm weight 1) therefore starts with ``w = √d``.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((hidden_size,), math.sqrt(hidden_size)))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)

    @classmethod
    def from_rmsnorm(cls, rms: nn.Module) -> "L2Norm":
        weight = rms.weight.detach()
        norm = cls(weight.numel(), eps=float(rms.variance_epsilon)).to(weight.device, weight.dtype)
        with torch.no_grad():
            norm.weight.copy_(weight * math.sqrt(weight.numel()))
        return norm

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.eps}"
