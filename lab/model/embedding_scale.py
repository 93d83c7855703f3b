"""A learnable scalar after the token embedding: ``h₀ = s · E[x]``.

Zhu et al.'s DyT LLaMA recipe multiplies the embeddings by a learnable scalar initialised to √d: without
a normalisation in front of the first block, the 0.02-std embeddings would reach every DyT about √d times
smaller than an RMSNorm would hand them on. The embedding keeps its weight (tied LM heads stay tied, the
checkpoint key stays ``model.embed_tokens.weight``) and gains one parameter, ``model.embed_tokens.scale``.
"""

import math

import torch
from torch import nn


class ScaledEmbedding(nn.Embedding):
    """``nn.Embedding`` whose output is multiplied by the learnable scalar ``scale``."""

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids) * self.scale

    @classmethod
    def wrap(cls, embedding: nn.Embedding, init: float) -> "ScaledEmbedding":
        """A ``ScaledEmbedding`` sharing ``embedding``'s weight tensor (so tying survives), ``scale`` = ``init``."""
        scaled = cls(embedding.num_embeddings, embedding.embedding_dim, padding_idx=embedding.padding_idx, device="meta")
        scaled.weight = embedding.weight  # the same Parameter object: a tied LM head stays tied
        scaled.scale = nn.Parameter(torch.tensor(float(init), device=embedding.weight.device, dtype=embedding.weight.dtype))
        return scaled


def resolve_scale_init(value: float | str, hidden_size: int) -> float:
    """``sqrt_d`` → √d; a number as given."""
    return math.sqrt(hidden_size) if value == "sqrt_d" else float(value)


def scale_embeddings(model: nn.Module, init: float | str) -> ScaledEmbedding:
    """Replace ``model.model.embed_tokens`` by a :class:`ScaledEmbedding` with ``s = init`` (``sqrt_d`` or a number)."""
    embedding = model.get_input_embeddings()
    scaled = ScaledEmbedding.wrap(embedding, resolve_scale_init(init, embedding.embedding_dim))
    model.set_input_embeddings(scaled)
    return scaled
