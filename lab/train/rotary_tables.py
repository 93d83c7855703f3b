"""Rotary cos/sin tables as one opaque op for ``torch.compile``d training steps.

Rotary position embedding rotates each query and key by angles ``p · θ_i`` (position ``p``, frequency
``θ_i = base^(-2i/d)`` as the rope type sets it, ``i < d/2``) through the tables
``cos[p] = s · cos(p θ)`` and ``sin[p] = s · sin(p θ)``, with ``θ`` repeated for the two halves of the head
dimension and ``s`` the rope type's attention scaling.

Traced as it is written, the table is a chain of pointwise ops on ``arange(T)``: Inductor inlines it into
every kernel that applies it, and AOTAutograd's partitioner recomputes it in the backward instead of saving
it. Each layer's RoPE kernels then evaluate ``sin`` and ``cos`` once per element of ``q`` and ``k``, forward
and backward, which on a CPU costs more than the rest of those kernels (3-5 % of a compiled training step of
the benchmark model). As the custom op ``lab::rotary_cos_sin`` the table is computed once per step, eagerly,
and every kernel reads it.
"""

from types import MethodType

import torch
from torch import Tensor, nn

STATIC_ROPE_TYPES = ("default", "linear", "yarn", "llama3")  # frequencies fixed at init, no per-call update


@torch.library.custom_op("lab::rotary_cos_sin", mutates_args=())
def rotary_cos_sin(position_ids: Tensor, inv_freq: Tensor, scaling: float) -> tuple[Tensor, Tensor]:
    """``(s · cos(p θ), s · sin(p θ))`` for positions ``p`` [..., T] and frequencies ``θ`` [d/2]: [..., T, d] each, fp32."""
    freqs = position_ids[..., None].float() * inv_freq.float()
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos() * scaling, angles.sin() * scaling


@rotary_cos_sin.register_fake
def _(position_ids: Tensor, inv_freq: Tensor, scaling: float) -> tuple[Tensor, Tensor]:
    shape = (*position_ids.shape, 2 * inv_freq.shape[0])
    return position_ids.new_empty(shape, dtype=torch.float32), position_ids.new_empty(shape, dtype=torch.float32)


def tabulate_rotary(rotary: nn.Module) -> bool:
    """Make a transformers rotary embedding module (``Qwen3RotaryEmbedding`` and its kin) compute its tables
    through :func:`rotary_cos_sin`: the same values, one op. Only for rope types whose frequencies never
    change after init (dynamic and LongRoPE types rescale them per call); returns whether it did."""
    rope_type = getattr(rotary, "rope_type", None)
    if rope_type not in STATIC_ROPE_TYPES or not isinstance(getattr(rotary, "inv_freq", None), Tensor):
        return False

    rotary.forward = MethodType(tabulated_forward, rotary)  # bound, so that a deep copy keeps its own tables
    return True


def tabulated_forward(rotary: nn.Module, x: Tensor, position_ids: Tensor) -> tuple[Tensor, Tensor]:
    """The rotary module's forward through :func:`rotary_cos_sin`, in ``x``'s dtype as the stock one returns."""
    cos, sin = rotary_cos_sin(position_ids, rotary.inv_freq.to(x.device), float(rotary.attention_scaling))
    return cos.to(x.dtype), sin.to(x.dtype)
