"""Resume after the first epoch: a run killed in epoch 1 ends bit-equal to an uninterrupted one.

Its own file so that ``--dist loadfile`` runs it beside ``test_resume.py``'s long tests, not after them.
"""

import json

import pytest
from safetensors.torch import load_file

from ablations.train import train
from tests.conftest import compose_train, kill_when, run_cli
from tests.test_resume import assert_same_weights

pytestmark = pytest.mark.slow


def test_a_run_killed_after_its_first_epoch_resumes_bit_equal(tmp_path):
    """Resumed in epoch 1, the rest of the epoch comes in epoch 1's shuffle order (Lightning creates the loader
    and its iterator before it calls ``set_epoch``). A small corpus: the facts once, 8 per batch, ~10 steps an
    epoch; killed after the checkpoint at step 12."""
    args = ["~data.sources.reasoning", "data.sources.knowledge.repeat=1", "data.batch_size=8", "trainer.max_steps=16",
            "trainer.val_check_interval=8", "checkpoint_every_n_steps=4", "eval.accuracy=false", "trainer.enable_progress_bar=false",
            "optimizer.warmup_steps=2", "trainer.limit_val_batches=2", "logger=none"]
    reference, run = tmp_path / "reference", tmp_path / "run"
    train(compose_train(args, output_root=reference))
    rows = json.loads((reference / "original_finetuned" / "train_metrics.json").read_text())
    assert {r["step"]: r["epoch"] for r in rows if "train/loss" in r}[13] == 1

    command = ["ablations.train", *args, f"hydra.run.dir={run}"]
    kill_when(command, lambda: (run / "original_finetuned" / "checkpoints" / "step-000012.ckpt").is_file(), cwd=tmp_path)
    again = run_cli(command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Restoring states from the checkpoint path" in again.stdout + again.stderr
    done, ref = run / "original_finetuned", reference / "original_finetuned"
    assert_same_weights(load_file(done / "model.safetensors"), load_file(ref / "model.safetensors"))
