"""Resume after the first epoch: a run killed in epoch 1 ends bit-equal to an uninterrupted one.

Its own file so that ``--dist loadfile`` runs it beside ``test_resume.py``'s long tests, not after them.
"""

import json

import pytest
from safetensors.torch import load_file

from ablations.train import train
from tests.conftest import compose_train, kill_when, rerun_after_damaging_checkpoints, run_cli, run_here
from tests.test_resume import assert_same_weights, deterministic

pytestmark = pytest.mark.slow


@pytest.mark.long
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
    again = run_here(command, cwd=tmp_path)  # the rerun in this process: the kill is what needed its own
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Restoring states from the checkpoint path" in again.stdout + again.stderr
    done, ref = run / "original_finetuned", reference / "original_finetuned"
    assert_same_weights(load_file(done / "model.safetensors"), load_file(ref / "model.safetensors"))


DDP_ARGS = ["~data.sources.reasoning", "data.sources.knowledge.repeat=1", "data.batch_size=8", "trainer.max_steps=12",
            "trainer.val_check_interval=6", "trainer.limit_val_batches=2", "checkpoint_every_n_steps=2", "eval.accuracy=false",
            "trainer.enable_progress_bar=false", "optimizer.warmup_steps=2", "logger=none",
            "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu"]


@pytest.mark.long
def test_a_ddp_run_killed_twice_in_later_epochs_resumes_bit_equal(tmp_path):
    """Two gloo ranks, each reading its half of every epoch through Lightning's ``DistributedSampler``
    (reseeded by ``set_epoch``), 4 steps an epoch. Killed after the checkpoint at step 6 (mid epoch 1); its rerun
    resumes there and is killed after the checkpoint at step 8 (the last batch of epoch 1, which Lightning resumes
    in epoch 2); the third run resumes there and ends with the weights and metrics of an uninterrupted DDP run."""
    reference, run = tmp_path / "reference", tmp_path / "run"
    first = run_cli(["ablations.train", *DDP_ARGS, f"hydra.run.dir={reference}"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = json.loads((reference / "original_finetuned" / "train_metrics.json").read_text())
    epochs = {r["step"]: r["epoch"] for r in rows if "train/loss" in r}
    assert [epochs[step] for step in (1, 5, 8, 9)] == [0, 1, 1, 2]

    command = ["ablations.train", *DDP_ARGS, f"hydra.run.dir={run}"]
    checkpoint = {step: run / "original_finetuned" / "checkpoints" / f"step-{step:06d}.ckpt" for step in (6, 8)}
    kill_when(command, checkpoint[6].is_file, cwd=tmp_path)
    assert not checkpoint[8].exists()
    resumed_once = kill_when(command, checkpoint[8].is_file, cwd=tmp_path)
    assert f"Restoring states from the checkpoint path at {checkpoint[6]}" in resumed_once
    again = run_cli(command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"Restoring states from the checkpoint path at {checkpoint[8]}" in again.stdout + again.stderr
    done, ref = run / "original_finetuned", reference / "original_finetuned"
    assert_same_weights(load_file(done / "model.safetensors"), load_file(ref / "model.safetensors"))
    resumed, ref_rows = (json.loads((d / "train_metrics.json").read_text()) for d in (done, ref))
    assert deterministic(resumed) == deterministic(ref_rows) and json.loads((done / "metadata.json").read_text())["result"]["world_size"] == 2


@pytest.mark.long
def test_a_killed_ddp_run_with_damaged_checkpoints_resumes_both_ranks_bit_equal_from_the_newest_intact_one(tmp_path):
    """Two gloo ranks killed after the checkpoint at step 8; the newest step file then gets a flipped bit and
    ``last.ckpt`` is truncated. The parent checks the checkpoints before it starts the ranks (a child rank takes the
    one it chose): the rerun sets both damaged files aside, one warning each, both ranks resume from the next older
    step file, and the run ends with the weights and metrics of an uninterrupted DDP run."""
    reference, run = tmp_path / "reference", tmp_path / "run"
    first = run_cli(["ablations.train", *DDP_ARGS, f"hydra.run.dir={reference}"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    command = ["ablations.train", *DDP_ARGS, f"hydra.run.dir={run}"]
    checkpoints = run / "original_finetuned" / "checkpoints"
    kill_when(command, (checkpoints / "step-000008.ckpt.sha256").is_file, cwd=tmp_path)
    assert not (run / "original_finetuned" / "model.safetensors").exists(), "the run finished before the kill"
    output = rerun_after_damaging_checkpoints(command, checkpoints, cwd=tmp_path, rerun=run_cli)
    assert output.count("is damaged (") == 2  # told once, by the parent: no rank checks (or moves) them again
    done, ref = run / "original_finetuned", reference / "original_finetuned"
    assert_same_weights(load_file(done / "model.safetensors"), load_file(ref / "model.safetensors"))
    resumed, ref_rows = (json.loads((d / "train_metrics.json").read_text()) for d in (done, ref))
    assert deterministic(resumed) == deterministic(ref_rows) and json.loads((done / "metadata.json").read_text())["result"]["world_size"] == 2
