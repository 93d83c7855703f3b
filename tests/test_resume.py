"""Promise 1 and 2 of reliability: a SIGKILLed run or sweep, rerun with the same command, loses nothing.

The reference is an uninterrupted run of the same config; the killed run must end bit-equal to it
(weights and every deterministic metric; ``train/tokens_per_s`` is a timing) and log to one W&B run.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
from hydra import compose
from safetensors.torch import load_file

from ablations.train import train
from gates.train import train_gates
from lab.config.registry import composing
from lab.dev.wandb_offline import read_run
from tests.conftest import (
    REPO,
    child_env,
    compose_train,
    kill_when,
    rerun_after_damaging_checkpoints,
)

pytestmark = pytest.mark.slow
# 16 steps, a checkpoint every 4, validation every 8: a checkpoint lands both before and after a validation.
LONG = ["trainer.max_steps=16", "trainer.val_check_interval=8", "data.eval_limit=4", "data.batch_size=4",
        "checkpoint_every_n_steps=4", "trainer.enable_progress_bar=false", "optimizer.warmup_steps=2",
        "trainer.limit_val_batches=2"]
TIMING = ("train/tokens_per_s", "train/peak_memory_gib", "train/step_s")  # measurements of the machine, not of the run


def deterministic(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ after resume: {different[:5]}"


@pytest.mark.long
def test_a_killed_gate_run_with_damaged_checkpoints_resumes_bit_equal_from_the_newest_intact_one(quick_reference, tmp_path):
    """Killed after its second step checkpoint; then the newest step file gets a flipped bit and ``last.ckpt`` is
    truncated (a bad disk, a partial copy): the rerun sets both aside with a warning each, resumes from the next
    older step file and ends as an uninterrupted run."""
    args = ["trainer.max_steps=12", "checkpoint_every_n_steps=3", "trainer.enable_progress_bar=false", "data.batch_size=2",
            "logger=csv", f"paths.runs={quick_reference}"]
    reference, run = tmp_path / "reference", tmp_path / "run"
    with composing():
        train_gates(compose(config_name="gates_train", overrides=[*args, f"output_root={reference}"]))

    command = ["gates.train", *args, f"hydra.run.dir={run}"]
    checkpoints = run / "checkpoints"
    kill_when(command, lambda: (checkpoints / "step-000006.ckpt.sha256").is_file(), cwd=tmp_path)
    assert not (run / "lambda_logits.pt").exists(), "the run finished before the kill"
    rerun_after_damaging_checkpoints(command, checkpoints, cwd=tmp_path)  # the rerun in this process: the kill needed its own
    a, b = (torch.load(d / "lambda_logits.pt", weights_only=True) for d in (run, reference))
    assert_same_weights(a, b)
    rows, ref_rows = (json.loads((d / "train_metrics.json").read_text()) for d in (run, reference))
    assert deterministic(rows) == deterministic(ref_rows) and len(rows) == 12


def make_sweep(tmp_path, variants: str, extra: list[str]) -> list[str]:
    """``make sweep`` as a user types it, with this interpreter and without reinstalling."""
    args = " ".join([*LONG, *extra])
    return ["make", "-s", "-C", str(REPO), "-o", ".venv/.installed", f"PY={sys.executable}", "SWEEP=test",
            f"VARIANTS={variants}", f"ARGS={args}", "sweep"]


@pytest.mark.long
def test_a_killed_make_sweep_reruns_into_the_same_results_and_wandb_runs(tmp_path):
    """``make sweep`` SIGKILLed during its second variant, then run again: the first is skipped, the second
    resumes and ends bit-equal to an uninterrupted run (weights and every metric but a timing) in the same
    W&B run, the third runs."""
    import signal
    import time

    reference = tmp_path / "reference"
    train(compose_train([*LONG, "variant=no_qk_norm", "logger=none"], output_root=reference))

    runs = tmp_path / "runs"
    sweep = runs / "ablations" / "sweeps" / "test"
    command = make_sweep(tmp_path, "original,no_qk_norm,no_layer_norm", [f"paths.runs={runs}", "logger.flush_interval_s=0.1"])
    env = child_env()
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while not (sweep / "no_qk_norm_finetuned" / "checkpoints" / "step-000008.ckpt").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended or stalled before the kill"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    finished = sweep / "original_finetuned" / "model.safetensors"
    stamp = finished.stat().st_mtime_ns
    assert json.loads((sweep / "all_train_metrics.json").read_text()).keys() == {"original"}

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert "original_finetuned is finished (SHA256SUMS intact, same config): skipping it" in log
    assert f"Restoring states from the checkpoint path at {sweep}/no_qk_norm_finetuned/checkpoints/step-0000" in log
    assert finished.stat().st_mtime_ns == stamp  # untouched
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert {name: (e["status"], e["steps"]) for name, e in summary.items()} == {
        "original": ("ok", 16), "no_qk_norm": ("ok", 16), "no_layer_norm": ("ok", 16)}

    done, ref = sweep / "no_qk_norm_finetuned", reference / "no_qk_norm_finetuned"
    assert_same_weights(load_file(done / "model.safetensors"), load_file(ref / "model.safetensors"))
    rows, ref_rows = (json.loads((d / "train_metrics.json").read_text()) for d in (done, ref))
    assert deterministic(rows) == deterministic(ref_rows)
    assert sum("val/loss" in r for r in rows) == 2  # the validation at the checkpointed step 8 ran exactly once

    run_id = (done / ".wandb_run_id").read_text()
    killed, resumed = (read_run(p) for p in sorted((done / "wandb").glob("offline-run-*")))
    assert killed.run["id"] == resumed.run["id"] == run_id and resumed.run["resume"]
    killed_steps = [h["trainer/global_step"] for h in killed.history if "train/loss" in h]
    resumed_steps = [h["trainer/global_step"] for h in resumed.history if "train/loss" in h]
    assert killed_steps and min(killed_steps) == 0 and max(resumed_steps) == 15
    assert 8 <= min(resumed_steps) <= max(killed_steps) + 1  # continues after the checkpoint, no restart from 0
    assert resumed.summary["final/steps"] == 16
