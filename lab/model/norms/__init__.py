"""Normalization layers that can stand in for Qwen3's RMSNorm, and the registry that names them.

Every replacement reduces over the last dimension only (q_norm/k_norm see ``[B, T, heads, head_dim]``
before RoPE), computes in fp32 and casts back before the learnable affine, like ``Qwen3RMSNorm``.
"""

import inspect
from collections.abc import Callable

from torch import nn

from lab.model.norms.dyt import DynamicTanh
from lab.model.norms.l2 import L2Norm
from lab.model.norms.layer import LayerNorm
from lab.model.norms.scale import ScaleNorm

Replacement = Callable[[nn.Module], nn.Module]


def _identity(rms: nn.Module) -> nn.Module:
    return nn.Identity()


REPLACEMENTS: dict[str, Replacement] = {
    "identity": _identity,
    "l2norm": L2Norm.from_rmsnorm,
    "layernorm": LayerNorm.from_rmsnorm,
    "scalenorm": ScaleNorm.from_rmsnorm,
    "dyt": DynamicTanh.from_rmsnorm,
}


def built_class(kind: str) -> str:
    """The class name of the module a ``kind`` replacement builds (``Identity`` for a removed norm): derived from the
    registry, so a new norm is counted wherever norms are (:func:`lab.model.variants.count_norms`)."""
    build = replacement_for(kind)
    return "Identity" if build is _identity else build.__self__.__name__  # the others are classmethods: from_rmsnorm


def replacement_for(kind: str) -> Replacement:
    """The builder that turns a ``Qwen3RMSNorm`` into a ``kind`` norm, carrying its weight over."""
    if kind not in REPLACEMENTS:
        raise KeyError(f"unknown norm replacement {kind!r}; valid: {', '.join(sorted(REPLACEMENTS))}")
    return REPLACEMENTS[kind]


def replacement_options(kind: str) -> set[str]:
    """The keyword options a ``kind`` builder takes besides the RMSNorm (``alpha_init``, ``bias`` for dyt)."""
    return set(list(inspect.signature(replacement_for(kind)).parameters)[1:])


__all__ = ["DynamicTanh", "L2Norm", "LayerNorm", "ScaleNorm", "REPLACEMENTS", "built_class", "replacement_for", "replacement_options"]
