"""Each replacement norm against a hand computation of its equation, and its carry-over rule."""

import math

import pytest
import torch
from transformers.models.qwen3.modeling_qwen3 import Qwen3RMSNorm

from lab.model.norms import REPLACEMENTS, DynamicTanh, L2Norm, LayerNorm, ScaleNorm, replacement_for

X = torch.tensor([[3.0, 4.0, 0.0, 0.0], [1.0, -1.0, 2.0, -2.0]])  # ‖row0‖=5, ‖row1‖=√10
W = torch.tensor([1.0, 2.0, 0.5, -1.0])


def rms(weight: torch.Tensor = W, eps: float = 0.0) -> Qwen3RMSNorm:
    norm = Qwen3RMSNorm(weight.numel(), eps=eps)
    with torch.no_grad():
        norm.weight.copy_(weight)
    return norm


def test_l2norm_equation_and_carry_over():
    norm = L2Norm.from_rmsnorm(rms())
    assert torch.allclose(norm.weight, W * 2.0)  # √d = 2
    expected_row0 = torch.tensor([3 / 5, 4 / 5, 0, 0]) * W * 2
    assert torch.allclose(norm(X)[0], expected_row0)
    # With eps=0 the carried-over L2Norm computes exactly what the RMSNorm did.
    assert torch.allclose(norm(X), rms()(X), atol=1e-6)


def test_layernorm_equation_and_carry_over():
    norm = LayerNorm.from_rmsnorm(rms())
    assert torch.equal(norm.weight.detach(), W) and torch.equal(norm.bias.detach(), torch.zeros(4))
    row = X[0]
    mean, var = row.mean(), ((row - row.mean()) ** 2).mean()
    expected = W * (row - mean) / torch.sqrt(var + 1e-6)
    assert torch.allclose(norm(X)[0], expected, atol=1e-5)
    assert torch.allclose(norm(X), torch.nn.functional.layer_norm(X, (4,), W, torch.zeros(4), eps=1e-6), atol=1e-6)


def test_scalenorm_equation_and_init():
    fresh = ScaleNorm(4)
    assert fresh.weight.item() == pytest.approx(2.0)  # g initialised to √d
    norm = ScaleNorm.from_rmsnorm(rms())
    assert norm.weight.item() == pytest.approx(W.mean().item() * 2.0)
    assert torch.allclose(norm(X)[1], norm.weight * X[1] / math.sqrt(10), atol=1e-6)
    assert sum(p.numel() for p in norm.parameters()) == 1


def test_dyt_equation_and_carry_over():
    norm = DynamicTanh.from_rmsnorm(rms())
    assert norm.alpha.item() == pytest.approx(0.5)
    with torch.no_grad():
        norm.bias.copy_(torch.tensor([0.1, 0.0, -0.1, 0.2]))
    expected = W * torch.tanh(0.5 * X) + torch.tensor([0.1, 0.0, -0.1, 0.2])
    assert torch.allclose(norm(X), expected)


@pytest.mark.parametrize("kind", sorted(set(REPLACEMENTS) - {"identity"}))
def test_replacements_reduce_over_last_dim_only(kind):
    """q_norm / k_norm see [B, T, heads, head_dim]: each head is normalised on its own."""
    norm = replacement_for(kind)(rms(torch.ones(4), eps=1e-6))
    x = torch.randn(2, 3, 5, 4)
    y = norm(x)
    assert y.shape == x.shape
    assert torch.allclose(y[0, 1, 2], norm(x[0, 1, 2].clone()), atol=1e-6)


def test_replacements_keep_bf16_inputs_bf16():
    for kind in sorted(set(REPLACEMENTS) - {"identity"}):
        norm = replacement_for(kind)(rms(torch.ones(4), eps=1e-6))
        assert norm(X.bfloat16()).dtype in (torch.bfloat16, torch.float32)


def test_unknown_replacement_lists_valid_ones():
    with pytest.raises(KeyError, match="valid: dyt, identity, l2norm, layernorm, scalenorm"):
        replacement_for("batchnorm")
