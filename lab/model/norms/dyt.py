"""Dynamic Tanh (Zhu et al. 2025, "Transformers without Normalization")."""

import torch
from torch import nn


class DynamicTanh(nn.Module):
    r"""``y = γ ⊙ tanh(α · x) + β`` with a learnable scalar α (init ``alpha_init``) and per-channel γ, β.

    No statistics are computed: DyT squashes outliers elementwise instead of normalising.
    Carry-over from RMSNorm: ``γ ← w_rms``, ``β ← 0``, ``α ← alpha_init``. The paper's default is α₀ = 0.5
    with β; its LLM recipe (the authors' LLaMA code) drops β (``bias=False``) and sets α₀ per site: higher
    before attention than before the FFN and at the final norm (0.8 / 0.2 / 0.2 at LLaMA-7B's width),
    see ``conf/variant/replace_dyt_llm.yaml``.
    """

    def __init__(self, hidden_size: int, alpha_init: float = 0.5, bias: bool = True) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.bias = nn.Parameter(torch.zeros(hidden_size)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        y = self.weight * torch.tanh(self.alpha * x.float()).to(dtype)
        return y + self.bias if self.bias is not None else y

    @classmethod
    def from_rmsnorm(cls, rms: nn.Module, alpha_init: float = 0.5, bias: bool = True) -> "DynamicTanh":
        weight = rms.weight.detach()
        norm = cls(weight.numel(), alpha_init=alpha_init, bias=bias).to(weight.device, weight.dtype)
        with torch.no_grad():
            norm.weight.copy_(weight)
        return norm

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, alpha_init={self.alpha.item():.3g}, bias={self.bias is not None}"
