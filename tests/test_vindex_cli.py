"""Vindex commands as users run them: build/constants/gate3 on the tiny reference, verify (Qwen3-8B widths: tests/scale)."""

import json
from pathlib import Path

import pytest

import vindex
from tests.conftest import run_here, run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deleted_model(tmp_path_factory) -> Path:
    """Where ``vindex.gate3 gate3.save=`` writes the reference with its DELETE folded in."""
    return tmp_path_factory.mktemp("gate3") / "deleted"


@pytest.fixture(scope="module")
def reference_vindex(quick_reference, deleted_model) -> Path:
    for command, extra in (("vindex.constants", []), ("vindex.gate3", [f"gate3.save={deleted_model}"])):  # each builds the index
        out = run_here([command, f"paths.runs={quick_reference}", *extra], cwd=quick_reference.parent)  # first when it is missing
        assert out.returncode == 0, out.stderr[-3000:]
    (folder,) = (quick_reference / "vindex").iterdir()
    return folder


def test_gate3_save_writes_the_edited_reference_as_a_stock_qwen3_folder(reference_vindex, deleted_model):
    """The DELETE Gate 3 chose, folded into gate_proj: stock from_pretrained gives the logits of the source with the
    saved patch applied as its forward hook (within 1e-5, fp32)."""
    import torch
    from transformers import AutoModelForCausalLM

    from vindex.gate3 import PATCH_FILE, PatchOverlay

    gate3 = json.loads((reference_vindex / "gate3.json").read_text())
    assert gate3["saved"] == str(deleted_model) and not list(deleted_model.glob("*.py"))
    source = AutoModelForCausalLM.from_pretrained(gate3["source"]).eval()
    ids = torch.randint(0, source.config.vocab_size, (2, 10))
    with torch.no_grad():
        overlay = PatchOverlay.load(reference_vindex / PATCH_FILE).apply(source)
        expected = source(ids).logits
        overlay.remove()
        loaded = AutoModelForCausalLM.from_pretrained(deleted_model).eval()(ids).logits
    torch.testing.assert_close(loaded, expected, rtol=0, atol=1e-5)
    assert json.loads((deleted_model / "metadata.json").read_text())["layer"] == gate3["best"]["layer"]


def test_default_commands_build_measure_and_delete_on_the_tiny_reference(reference_vindex, quick_reference, capfd):
    runs, folder = quick_reference, reference_vindex
    assert folder.name == "original_finetuned-svd128"
    v = vindex.load(folder)  # verifies every checksum, including the refreshed card's
    constants = json.loads((folder / "constants.json").read_text())
    assert set(constants["summary"]) == {"C1", "C2", "C3", "C4", "C5"} and len(constants["per_layer"]["C1"]) == 4
    assert 0 <= constants["summary"]["C1"] <= 1 and 0 < constants["summary"]["C2"] <= 1 and constants["probe"]["tokens"] == 256
    gate3 = json.loads((folder / "gate3.json").read_text())
    assert len(gate3["layers"]) == 4 and gate3["best"]["layer"] in range(4) and isinstance(gate3["passed"], bool)
    assert all(0 <= r["p_target_after"] <= 1 for r in gate3["layers"])
    assert (folder / "gate3_patch.safetensors").is_file()
    card = (folder / "README.md").read_text()
    assert "| FFN Sparsity | C1 |" in card and ("**PASS**" in card or "**FAIL**" in card)
    assert v.index["model"] == str(runs / "reference" / "tiny" / "original_finetuned")
    assert run_module("vindex.verify", [str(folder)]) == 0  # in this process (runpy), as python -m would run it
    assert capfd.readouterr().out.startswith("ok:")


def test_report_plots_the_constants_and_gate3(reference_vindex, tmp_path):
    from tests.report_checks import assert_report

    markdown = assert_report(reference_vindex, tmp_path / "report", ["constants.png", "gate3.png"])
    assert "| C5 |" in markdown and ("**PASS**" in markdown or "**FAIL**" in markdown)
