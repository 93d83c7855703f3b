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


@pytest.mark.long
def test_processes_that_need_the_reference_at_once_train_it_once(tmp_path):
    """A benchmark's seed workers on an empty runs/ all ask for the reference: one trains it, the others wait for it
    (each of them once failed on the training run's folder lock)."""
    import subprocess
    import sys

    few = ["trainer.max_steps=4", "trainer.val_check_interval=4", "optimizer.warmup_steps=2", "data.eval_limit=4", "trainer.limit_val_batches=2", "logger=none",
           "trainer.enable_progress_bar=false"]
    code = f"from lab.runs.reference import ensure_tiny_reference; print(ensure_tiny_reference({str(tmp_path)!r}, {few!r}))"
    workers = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert all(out.strip().endswith(str(tiny_reference_dir(tmp_path))) for out, _ in outputs)
    assert sum("training it:" in err for _, err in outputs) == 1 and sum("waiting for another process" in err for _, err in outputs) == 1
