"""The function-preserving DyT surgery's fit, against hand-made inputs and the carry-over rule."""

import torch
from transformers.models.qwen3.modeling_qwen3 import Qwen3RMSNorm

from lab.model.norms.dyt import DynamicTanh
from lab.model.norms.dyt_fit import fit_dyt


def rmsnorm(d: int = 16) -> Qwen3RMSNorm:
    torch.manual_seed(0)
    norm = Qwen3RMSNorm(d, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(d) + 0.5)
    return norm


def relative_error(norm, rms, x) -> float:
    with torch.no_grad():
        return float(((norm(x) - rms(x)) ** 2).sum() / (rms(x) ** 2).sum())


def test_rows_of_one_rms_are_fitted_almost_exactly():
    """When every token has the same RMS r, RMSNorm is the linear map w ⊙ x / r, which tanh(αx)/α approaches as α → 0."""
    rms = rmsnorm()
    x = torch.randn(256, 16)
    x = 3.0 * x / x.pow(2).mean(-1, keepdim=True).sqrt()  # every row at RMS 3
    fitted, error = fit_dyt(rms, x)
    assert error < 1e-4 and relative_error(fitted, rms, x) == __import__("pytest").approx(error, rel=1e-2, abs=1e-7)
    assert torch.allclose(fitted.bias, torch.zeros(16), atol=1e-3)


def test_the_fit_beats_the_carry_over_rule():
    """Small activations (0.02-std embeddings): the rule's γ tanh(0.5 x) ≈ 0.5 γ x is ~50x too small, where RMSNorm's
    gain is 1/rms; the fit finds the scale. Heavy-tailed rows of different scales (a residual stream): still no worse."""
    rms = rmsnorm()
    torch.manual_seed(1)
    small = torch.randn(512, 16) * 0.02
    fitted, error = fit_dyt(rms, small)
    rule = DynamicTanh.from_rmsnorm(rms, alpha_init=0.5)
    assert relative_error(rule, rms, small) > 0.9 and error < 0.1
    assert abs(relative_error(fitted, rms, small) - error) < 1e-5  # the reported error is the module's
    stream = torch.randn(512, 16) * torch.exp(torch.randn(512, 1)) * 4 + torch.randn(16)
    _, error = fit_dyt(rms, stream)
    assert error < relative_error(rule, rms, stream)
    no_bias, error_no_bias = fit_dyt(rms, stream, bias=False)
    assert no_bias.bias is None and error <= error_no_bias + 1e-9  # a bias can only help
