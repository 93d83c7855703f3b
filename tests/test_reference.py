"""The tiny reference model is trained on first use, then found in the cache."""

import json

import pytest

import ablations
from lab.runs.reference import ensure_tiny_reference, tiny_reference_dir

pytestmark = pytest.mark.slow


def test_reference_is_trained_once_then_reused(quick_reference):
    """``quick_reference`` (conftest) trained it through ``ensure_tiny_reference`` into an empty runs folder."""
    tmp_path = quick_reference
    folder = tiny_reference_dir(tmp_path)
    assert folder == tmp_path / "reference" / "tiny" / "original_finetuned"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["variant"] == "original" and meta["result"]["status"] == "ok"
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_reference(runs=tmp_path) == folder  # cached: no retraining
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert ablations.load(folder).config.num_hidden_layers == 4
