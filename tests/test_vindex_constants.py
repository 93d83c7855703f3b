"""C1-C5 on synthetic cases with known answers, and the Gate 3 edit's algebra."""

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from transformers import Qwen3Config, Qwen3ForCausalLM

from lab.config.errors import UserError
from vindex.constants import coherence, linear_cka, measure, sparsity, stages, temperature, top_mass
from vindex.gate3 import PatchOverlay, rank_one_edit
from vindex.probe import Activations, probe_ids

CFG = OmegaConf.create({"constants": {"sparsity_tau": 0.1, "top_mass_k": 8, "cka_threshold": 0.9, "probe_tokens": 256, "min_tokens": 64}})


def test_c1_counts_activations_below_tau_times_the_layer_rms():
    h = torch.ones(10, 10)
    h[:3] = 0.0  # 30% exact zeros; rms = sqrt(0.7) ≈ 0.84, so 0.1·rms ≈ 0.084 > 0 and < 1
    assert sparsity(h, 0.1) == pytest.approx(0.3)
    h[3, :5] = 0.05  # below 0.1·rms too
    assert sparsity(h, 0.1) == pytest.approx(0.35)


def test_c2_is_the_top_k_probability_mass():
    logits = torch.full((2, 20), -1e9)
    logits[0, :4] = 0.0  # 4 equally likely tokens: top-8 mass 1
    logits[1] = 0.0      # uniform over 20: top-8 mass 8/20
    assert top_mass(logits, 8) == pytest.approx((1.0 + 0.4) / 2)


def test_c3_matches_directions_across_adjacent_layers():
    rng = np.random.default_rng(0)
    a = np.linalg.qr(rng.standard_normal((64, 8)))[0].T  # 8 orthonormal directions
    assert coherence(a, -a[::-1]) == pytest.approx(1.0)  # same directions, permuted and sign-flipped
    b = np.zeros((8, 64))
    b[:, :8] = np.eye(8)
    c = np.zeros((8, 64))
    c[:, 8:16] = np.eye(8)
    assert coherence(b, c) == pytest.approx(0.0)
    mixed = np.zeros((2, 64))
    mixed[0, 0] = 1.0
    mixed[1, :2] = 1 / math.sqrt(2)
    assert coherence(mixed, b) == pytest.approx((1.0 + 1 / math.sqrt(2)) / 2)


def test_c4_is_the_mean_per_neuron_variance_over_tokens():
    h = torch.stack([torch.tensor([1.0, -1.0, 1.0, -1.0]), torch.tensor([0.0, 2.0, 0.0, 2.0]), torch.full((4,), 5.0)], dim=1)
    assert temperature(h) == pytest.approx((1.0 + 1.0 + 0.0) / 3)


def test_c5_counts_cka_transitions_plus_one():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=g))
    assert linear_cka(x, 3.0 * x @ q) == pytest.approx(1.0)  # invariant to rotation and scale
    y = torch.randn(200, 16, generator=g)
    assert linear_cka(x, y) < 0.3
    hidden = [x, 2 * x, x @ q, y, y + 1e-3 * x]  # one stage change (x → y): two stages
    count, ckas = stages(hidden, 0.9)
    assert count == 2 and len(ckas) == 4 and ckas[2] < 0.9


def test_measure_assembles_the_summary():
    h = [torch.ones(8, 4), torch.zeros(8, 4).index_fill_(1, torch.tensor([0]), 1.0)]
    acts = Activations(keys=[], swiglu=h, hidden=[torch.randn(8, 4)] * 2, logits=torch.zeros(8, 10))
    gate = np.stack([np.eye(4), np.eye(4)])
    result = measure(acts, gate, CFG)
    assert result["summary"] == {"C1": pytest.approx((0.0 + 0.75) / 2), "C2": pytest.approx(0.8), "C3": pytest.approx(1.0),
                                 "C4": pytest.approx(0.0), "C5": 1}


def test_a_probe_shorter_than_needed_is_refused(tmp_path):
    from transformers import AutoTokenizer

    from lab.config import asset_path

    tokenizer = AutoTokenizer.from_pretrained(asset_path("tiny_tokenizer"))
    short = tmp_path / "short.txt"
    short.write_text("The capital of France is Paris.")
    with pytest.raises(UserError, match="short.txt has .* tokens; at least constants.min_tokens=64"):
        probe_ids(tokenizer, OmegaConf.merge(CFG, {"probe": str(short)}))
    ids, name = probe_ids(tokenizer, OmegaConf.merge(CFG, {"probe": None}))
    assert ids.shape == (1, 256) and "bundled" in name


def test_the_rank_one_edit_moves_the_key_and_spares_c_orthogonal_keys():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(32, 8, generator=g)
    keys = torch.randn(500, 8, generator=g)
    cov = keys.T @ keys / 500
    k = keys[0]
    a, v = rank_one_edit(w, k, cov, neurons=[3, 7], z_target=-10.0, ridge=0.0)
    delta = -torch.outer(a, v)
    assert torch.linalg.matrix_rank(delta) == 1
    z = (w + delta) @ k
    torch.testing.assert_close(z[[3, 7]], torch.tensor([-10.0, -10.0]), rtol=1e-4, atol=1e-4)
    others = [i for i in range(32) if i not in (3, 7)]
    torch.testing.assert_close(z[others], (w @ k)[others], rtol=1e-5, atol=1e-5)
    c_orthogonal = torch.linalg.solve(cov, torch.randn(8, generator=g))
    c_orthogonal = c_orthogonal - (k @ c_orthogonal) / (k @ torch.linalg.solve(cov, k)) * torch.linalg.solve(cov, k)
    assert float(k @ c_orthogonal) == pytest.approx(0.0, abs=1e-4)  # kᵀ C⁻¹ (C x) = 0 for x = C⁻¹-orthogonal key
    key2 = cov @ c_orthogonal
    torch.testing.assert_close((w + delta) @ key2, w @ key2, rtol=1e-4, atol=1e-4)


def test_the_patch_overlay_is_removable_and_reloads(tmp_path):
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=1, head_dim=8)).eval()
    ids = torch.randint(0, 50, (1, 7))
    before = model(ids).logits
    overlay = PatchOverlay(1, torch.randn(24), torch.randn(16))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    overlay.apply(model)
    patched = model(ids).logits
    assert not torch.allclose(patched, before)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())  # weights untouched
    overlay.remove()
    assert torch.equal(model(ids).logits, before)
    overlay.save(tmp_path / "p.safetensors", {"target": " Paris"})
    again = PatchOverlay.load(tmp_path / "p.safetensors")
    assert again.layer == 1 and torch.equal(again.delta(), overlay.delta())
    mlp = model.model.layers[1].mlp
    with torch.no_grad():
        mlp.gate_proj.weight += overlay.delta()  # the overlay equals adding ΔW to the weights
    torch.testing.assert_close(model(ids).logits, patched, rtol=1e-5, atol=1e-5)
