"""Hydra multirun end to end, as users run it: subprocesses, real W&B offline files, real DDP ranks."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.dev.wandb_offline import find_runs, read_run
from lab.runs.processes import hydra_quoted
from tests.conftest import FAST, child_env, run_cli

pytestmark = pytest.mark.slow
GRID = "variant=original,no_qk_norm"


def only_sweep_dir(tmp_path: Path) -> Path:
    """The sweep's folder, asserting that nothing else was written anywhere under tmp_path."""
    sweeps = list((tmp_path / "runs" / "ablations" / "multirun").iterdir())
    assert len(sweeps) == 1, sweeps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["ablations"]
    assert sorted(p.name for p in (tmp_path / "runs" / "ablations").iterdir()) == ["multirun"]
    return sweeps[0]


def test_two_variant_multirun_writes_the_summary(wandb_sweep):
    sweep = only_sweep_dir(wandb_sweep)
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert sorted(summary) == ["original", "replace_dyt"]  # conftest.SWEEP_VARIANTS, run once for the session
    for name, entry in summary.items():
        assert entry["status"] == "ok" and entry["steps"] == 6 and entry["final_train_loss"] > 0
        for folder in (name, f"{name}_finetuned"):
            assert (sweep / folder / "model.safetensors").is_file() and (sweep / folder / "model.pt").is_file()
        assert sorted(p.name for p in (sweep / f"{name}_finetuned" / "checkpoints").iterdir()) == ["last.ckpt", "last.ckpt.sha256"]  # one, final, and its SHA-256
        assert (sweep / f"{name}_finetuned" / "tokenizer.json").is_file()


def test_offline_wandb_runs_read_back(wandb_sweep):
    sweep = only_sweep_dir(wandb_sweep)
    runs = {read_run(folder).run["name"]: read_run(folder) for folder in find_runs(sweep)}
    assert sorted(runs) == ["original", "replace_dyt"]  # one run per job, none bled into another
    for name, run in runs.items():
        assert run.run["group"] == sweep.name and run.run["project"] == "qwen3-internals"
        losses = [row["train/loss"] for row in run.history if "train/loss" in row]
        assert len(losses) == 6
        on_disk = json.loads((sweep / f"{name}_finetuned" / "train_metrics.json").read_text())
        assert losses == pytest.approx([r["train/loss"] for r in on_disk if "train/loss" in r])
        assert any("val/knowledge_acc" in row for row in run.history)
        assert run.summary["final/status"] == "ok"
        assert run.summary["final/final_train_loss"] == pytest.approx(losses[-1])
        assert run.config["variant"]["name"] == name and run.config["trainer"]["max_steps"] == 6


@pytest.mark.long
def test_ddp_multirun_survives_a_killed_rank_and_the_rerun_resumes_it(tmp_path):
    """Two variants on 2 gloo ranks each. SIGKILL rank 1 of the first job: that job fails within a bounded time
    (the observer notices in ~1 s; a collective would give up after trainer.ddp.timeout_s=60), the second job
    still runs, and rerunning the sweep resumes the first from its last checkpoint and skips the second."""
    sweep = tmp_path / "runs" / "ablations" / "sweeps" / "ddp"
    command = ["ablations.train", "-m", GRID, "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "logger=csv",
               *FAST, "trainer.max_steps=12", "checkpoint_every_n_steps=4", "trainer.ddp.timeout_s=60", "eval.accuracy=false",
               f"paths.runs={tmp_path / 'runs'}", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([sys.executable, "-m", *command], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=child_env())
    job = sweep / "original_finetuned"
    deadline = time.monotonic() + 300
    while not (job / "checkpoints" / "step-000004.ckpt").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "the DDP sweep ended or stalled before the kill"
        time.sleep(0.02)
    (rank1,) = child_rank_pids(job)
    os.kill(rank1, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr[-3000:]  # the sweep went on, then said that a job failed
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert summary["original"]["status"] == "failed" and summary["original"]["wall_time_s"] < 90, summary["original"]
    assert summary["no_qk_norm"]["status"] == "ok" and summary["no_qk_norm"]["world_size"] == 2
    assert not child_rank_pids(job)  # no orphaned rank

    again = run_cli(command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"Restoring states from the checkpoint path at {job}/checkpoints/step-0000" in again.stdout + again.stderr
    assert "no_qk_norm_finetuned is finished (SHA256SUMS intact, same config): skipping it" in again.stdout + again.stderr
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    for name, entry in summary.items():
        assert (entry["status"], entry["world_size"], entry["steps"]) == ("ok", 2, 12), (name, entry)
        assert (sweep / f"{name}_finetuned" / "ddp_rank1.log").is_file()  # the child rank ran inside its parent's job folder
    assert summary["no_qk_norm"]["tokens"] == 12 * 2 * 4 * 128  # both ranks' batches counted
    # Children never start a sweep of their own: exactly one job folder per variant, two per variant in all.
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == [
        "all_train_metrics.json", "multirun.yaml", "no_qk_norm", "no_qk_norm_finetuned", "original", "original_finetuned", "report"]


def child_rank_pids(job_dir: Path) -> list[int]:
    """Pids of the DDP child ranks started for ``job_dir`` (their command line names it)."""
    pids = []
    for proc in os.scandir("/proc"):
        if proc.name.isdigit():
            try:
                cmdline = Path(f"/proc/{proc.name}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"hydra.run.dir={hydra_quoted(str(job_dir))}".encode() in cmdline and b"hydra.job.name=ddp_rank1" in cmdline:
                pids.append(int(proc.name))
    return pids


@pytest.mark.long
def test_submitit_local_launcher_runs_the_grid(tmp_path):
    out = run_cli(
        ["ablations.train", "-m", GRID, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "logger=none",
         *FAST, f"paths.runs={tmp_path / 'runs'}"],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = only_sweep_dir(tmp_path)
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert {k: v["status"] for k, v in summary.items()} == {"no_qk_norm": "ok", "original": "ok"}
