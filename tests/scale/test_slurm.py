"""SLURM for real: a one-node cluster on this machine (:mod:`lab.dev.local_slurm`), sweeps submitted through submitit.

- the variant grid as a SLURM array through ``hydra/launcher=submitit_slurm`` (GPU fields overridden) and through
  its CPU profile ``hydra/launcher=slurm_cpu``;
- DDP with 2 tasks on the node: Lightning's ``SLURMEnvironment`` wires the ranks (gloo), nothing is launched by
  Lightning itself;
- preemption: a signalled job saves, is requeued and resumes bit-equal (:mod:`lab.runs.preemption`).
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.dev import local_slurm
from tests.conftest import child_env, run_cli

pytestmark = pytest.mark.scale

QUICK = ["trainer.accelerator=cpu", "trainer.max_steps=5", "optimizer.warmup_steps=2", "trainer.val_check_interval=5", "data.eval_limit=4", "logger=none",
         "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def cluster():
    was_running = local_slurm.running()
    local_slurm.start(install_missing=True)
    yield
    if not was_running:
        local_slurm.stop()


def summary(sweep: Path) -> dict:
    return {name: (entry["status"], entry["steps"], entry["world_size"])
            for name, entry in json.loads((sweep / "all_train_metrics.json").read_text()).items()}


def slurm_job_ids(sweep: Path) -> set[str]:
    return {p.name.split("_")[0] for p in (sweep / ".submitit").iterdir() if p.name[0].isdigit()}


@pytest.mark.parametrize("launcher", [
    ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=null",
     "hydra.launcher.cpus_per_task=1", "trainer.devices=1"],
    ["hydra/launcher=slurm_cpu"],
], ids=["submitit_slurm", "slurm_cpu"])
def test_the_variant_grid_runs_as_a_slurm_array(cluster, tmp_path, launcher):
    sweep = tmp_path / "sweep"
    out = run_cli(["ablations.train", "-m", "variant=original,no_qk_norm", *launcher, *QUICK, f"hydra.sweep.dir={sweep}"],
                  cwd=tmp_path, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert summary(sweep) == {"original": ("ok", 5, 1), "no_qk_norm": ("ok", 5, 1)}
    assert len(slurm_job_ids(sweep)) == 1  # one submission: an array of two tasks
    submission = next((sweep / ".submitit").glob("*/*_submission.sh")).read_text()
    assert "#SBATCH --array=0-1" in submission and "--gpus" not in submission
    assert (sweep / "report" / "report.md").is_file()


def test_ddp_with_two_slurm_tasks(cluster, tmp_path):
    sweep = tmp_path / "ddp"
    out = run_cli(["ablations.train", "-m", "variant=original", "hydra/launcher=slurm_cpu", "trainer=ddp", *QUICK,
                   f"hydra.sweep.dir={sweep}"], cwd=tmp_path, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert summary(sweep) == {"original": ("ok", 5, 2)}
    submission = next((sweep / ".submitit").glob("*/*_submission.sh")).read_text()
    assert "#SBATCH --ntasks-per-node=2" in submission
    assert not (sweep / "original_finetuned" / ".ddp").exists()  # SLURM started the ranks, not our DDP launcher


def test_a_preempted_job_saves_requeues_and_ends_bit_equal(cluster, tmp_path):
    """``scancel --signal=USR2`` (what ``--signal=USR2@<s>`` sends before the time limit) on a running job: it saves
    a checkpoint at the end of its step, submitit requeues it, and the requeued job resumes from that checkpoint
    and ends with the same weights and metrics as an uninterrupted twin submitted beside it."""
    steps = ["trainer.max_steps=200", "checkpoint_every_n_steps=40", "trainer.val_check_interval=100"]
    args = ["-m", "variant=original", "hydra/launcher=slurm_cpu", *QUICK, *steps]

    def submit(name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "ablations.train", *args, f"hydra.sweep.dir={tmp_path / name}"], cwd=tmp_path,
                                env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    reference, preempted = submit("reference"), submit("preempted")
    sweep = tmp_path / "preempted"
    checkpoints = sweep / "original_finetuned" / "checkpoints"
    deadline = time.monotonic() + 300
    while not (checkpoints / "step-000040.ckpt").is_file():
        assert time.monotonic() < deadline and preempted.poll() is None, "the job never reached step 40"
        time.sleep(0.5)
    (job,) = slurm_job_ids(sweep)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    while "PENDING" not in subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, "the job was not requeued"
        time.sleep(0.5)
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)  # SLURM holds a requeued job ~2 min
    for proc in (reference, preempted):
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    saved = sorted(int(p.stem.split("-")[1]) for p in checkpoints.parent.glob("checkpoints/step-*.ckpt"))
    logs = "".join(p.read_text() for p in (sweep / ".submitit").rglob("*_log.*"))
    assert "Caught signal SIGUSR2" in logs and "DUE TO JOB REQUEUE" in logs
    resumed = re.findall(r"Restoring states from the checkpoint path at .*step-(\d+)\.ckpt", logs)
    assert len(resumed) == 1 and int(resumed[0]) > 40, (resumed, saved)  # the signal's own checkpoint, not step 40
    assert summary(sweep) == summary(tmp_path / "reference") == {"original": ("ok", 200, 1)}
    ours, theirs = (d / "original_finetuned" for d in (sweep, tmp_path / "reference"))
    assert (ours / "model.safetensors").read_bytes() == (theirs / "model.safetensors").read_bytes()
    timing = ("train/tokens_per_s", "train/step_s", "train/peak_memory_gib")
    rows = [[{k: v for k, v in r.items() if k not in timing} for r in json.loads((d / "train_metrics.json").read_text())] for d in (ours, theirs)]
    assert rows[0] == rows[1]
