"""ScaleNorm (Nguyen & Salazar 2019): one learnable scalar per norm."""

import math

import torch
from torch import nn

from lab.model.norms.l2 import L2Norm


class ScaleNorm(L2Norm):
    r"""``y = g · x / sqrt(‖x‖₂² + eps)`` with a single learnable scalar g, initialised to √d.

    An :class:`L2Norm` whose per-channel gain is one shared scalar (the forward pass is L2Norm's).
    Carry-over from RMSNorm: ``g ← √d · mean(w_rms)``, the scalar closest (least squares) to the
    per-channel RMSNorm gain; exact when the RMSNorm weight is constant (e.g. a fresh model).
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__(hidden_size, eps)
        self.hidden_size = hidden_size
        self.weight = nn.Parameter(torch.tensor(math.sqrt(hidden_size)))

    @classmethod
    def from_rmsnorm(cls, rms: nn.Module) -> "ScaleNorm":
        weight = rms.weight.detach()
        norm = cls(weight.numel(), eps=float(rms.variance_epsilon)).to(weight.device, weight.dtype)
        with torch.no_grad():
            norm.weight.copy_(weight.float().mean() * math.sqrt(weight.numel()))
        return norm

    def extra_repr(self) -> str:
        return f"d={self.hidden_size}, eps={self.eps}"
