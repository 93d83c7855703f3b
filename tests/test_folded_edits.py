"""Edits that travel (issue 38, part 2): lambda gates and Gate 3's rank-1 DELETE folded into plain Qwen3 weights. The
written folder loads with stock ``AutoModelForCausalLM.from_pretrained`` (no remote code) and gives the edited
model's logits within 1e-5 in fp32: the gated model's (its ``LambdaGatedFFN`` multiplying the input of
``down_proj``), and the model with the DELETE as a forward hook (``PatchOverlay``)."""

import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, Qwen3Config, Qwen3ForCausalLM

from gates.gated_ffn import patch_gates, set_gate_logits, set_multipliers
from gates.masking import apply_gates, multipliers
from lab.config import asset_path
from lab.model import load_tokenizer
from lab.report.model_folder import write_model_folder
from vindex.gate3 import PatchOverlay, save_edited

ATOL = 1e-5


def tiny_qwen3() -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, head_dim=16, tie_word_embeddings=True)
    return Qwen3ForCausalLM(config).eval()


def stock_load(folder) -> Qwen3ForCausalLM:
    """The folder as a user without the suite loads it: stock transformers, no remote code."""
    assert not list(folder.glob("*.py")) and json.loads((folder / "config.json").read_text())["model_type"] == "qwen3"
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False).eval()
    assert type(model) is Qwen3ForCausalLM
    return model


@pytest.mark.parametrize("mode,threshold", [("soft", 1.0), ("soft", 0.5), ("hard", 0.5)])
def test_folded_gates_load_stock_and_give_the_gated_models_logits(tmp_path, mode, threshold):
    base = tiny_qwen3()
    logits = torch.randn(2, 64) * 2  # gates spread over (0, 1): some below the threshold, some above
    gated = copy.deepcopy(base)
    patch_gates(gated)
    set_gate_logits(gated, logits)  # soft at 1: g = sigmoid(λ) on every neuron, as the gates were trained
    if (mode, threshold) != ("soft", 1.0):
        set_multipliers(gated, multipliers(logits, mode, threshold))
    folded = apply_gates(copy.deepcopy(base), logits, mode, threshold)
    write_model_folder(tmp_path / "folded", folded, None, {"mode": mode, "threshold": threshold}, title="t", body="b",
                       base_model=None, tags=["qwen3"])
    ids = torch.randint(0, 128, (2, 12))
    with torch.no_grad():
        expected, loaded = gated(ids).logits, stock_load(tmp_path / "folded")(ids).logits
        assert (expected - base(ids).logits).abs().max() > 1e-3  # the gates change the model
    torch.testing.assert_close(loaded, expected, rtol=0, atol=ATOL)
    card = (tmp_path / "folded" / "README.md").read_text()
    assert "Plain Qwen3 weights" in card and "no remote code" in card


def test_a_folded_gate3_delete_loads_stock_and_leaves_the_model_as_it_was(tmp_path):
    model, tokenizer = tiny_qwen3(), load_tokenizer({"tokenizer": asset_path("tiny_tokenizer")})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    overlay = PatchOverlay(1, torch.randn(64), torch.randn(32) / 4)
    report = {"source": "tiny", "prompt": "The capital of France is", "target": " Paris", "control_prompt": "p",
              "control_target": " Berlin", "best": {"neurons": [3], "drop": 0.9, "collateral": 0.1},
              "parameters": {"target_preactivation": -10.0, "ridge": 0.01}}
    save_edited(model, tokenizer, overlay, report, tmp_path / "deleted")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # restored from a copy, not re-subtracted
    ids = torch.randint(0, 128, (2, 12))
    with torch.no_grad():
        overlay.apply(model)
        expected = model(ids).logits
        overlay.remove()
        loaded = stock_load(tmp_path / "deleted")(ids).logits
    torch.testing.assert_close(loaded, expected, rtol=0, atol=ATOL)
    meta = json.loads((tmp_path / "deleted" / "metadata.json").read_text())
    assert (meta["stage"], meta["layer"], meta["neurons"]) == ("gate3_delete", 1, [3])
    assert (tmp_path / "deleted" / "tokenizer.json").is_file() and "DELETE of 'Paris' folded in" in (tmp_path / "deleted" / "README.md").read_text()


def test_gates_folded_into_a_norm_ablation_variant_ship_its_code(tmp_path):
    """A variant's folded folder is a custom-code model (lab.model.remote_code): stock transformers loads it with
    ``trust_remote_code`` and gives the gated variant's logits; the card says how."""
    from lab.model.variants import Variant, apply_variant

    variant = Variant(name="replace_dyt", sites=["qk", "layer", "final"], replacement="dyt")
    base = tiny_qwen3()
    apply_variant(base, variant)
    logits = torch.randn(2, 64) * 2
    gated = copy.deepcopy(base)
    patch_gates(gated)
    set_gate_logits(gated, logits)
    folded = apply_gates(copy.deepcopy(base), logits, "soft", 1.0)
    write_model_folder(tmp_path / "folded", folded, None, {}, title="t", body="b", base_model=None, tags=["qwen3"],
                       variant_spec=variant.to_dict())
    ids = torch.randint(0, 128, (2, 12))
    with torch.no_grad():
        loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "folded", trust_remote_code=True).eval()(ids).logits
        torch.testing.assert_close(loaded, gated(ids).logits, rtol=0, atol=ATOL)
    assert "trust_remote_code=True" in (tmp_path / "folded" / "README.md").read_text()
