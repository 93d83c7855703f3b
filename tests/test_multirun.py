"""Hydra multirun end to end, as users run it: subprocesses, real W&B offline files, real DDP ranks."""

import json
from pathlib import Path

import pytest

from lab.wandb_offline import find_runs, read_run
from tests.conftest import FAST, run_cli

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


@pytest.fixture(scope="module")
def wandb_sweep(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    out = run_cli(["ablations.train", "-m", GRID, *FAST, f"paths.runs={tmp / 'runs'}"], cwd=tmp)
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp


def test_two_variant_multirun_writes_the_summary(wandb_sweep):
    sweep = only_sweep_dir(wandb_sweep)
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert sorted(summary) == ["no_qk_norm", "original"]
    for name, entry in summary.items():
        assert entry["status"] == "ok" and entry["steps"] == 6 and entry["final_train_loss"] > 0
        for folder in (name, f"{name}_finetuned"):
            assert (sweep / folder / "model.safetensors").is_file() and (sweep / folder / "model.pt").is_file()
        assert (sweep / f"{name}_finetuned" / "last.ckpt").is_file()
        assert (sweep / f"{name}_finetuned" / "tokenizer.json").is_file()


def test_offline_wandb_runs_read_back(wandb_sweep):
    sweep = only_sweep_dir(wandb_sweep)
    runs = {read_run(folder).run["name"]: read_run(folder) for folder in find_runs(sweep)}
    assert sorted(runs) == ["no_qk_norm", "original"]  # one run per job, none bled into another
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


def test_ddp_multirun_on_cpu(tmp_path):
    out = run_cli(
        ["ablations.train", "-m", GRID, "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "logger=csv",
         *FAST, f"paths.runs={tmp_path / 'runs'}"],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = only_sweep_dir(tmp_path)
    summary = json.loads((sweep / "all_train_metrics.json").read_text())
    assert sorted(summary) == ["no_qk_norm", "original"]
    for name, entry in summary.items():
        assert entry["status"] == "ok" and entry["world_size"] == 2 and entry["steps"] == 6
        assert entry["tokens"] == 6 * 2 * 4 * 128  # both ranks' batches counted
        job = sweep / f"{name}_finetuned"
        assert (job / "ddp_rank1.log").is_file()  # the child rank ran inside its parent's job folder
    # Children never start a sweep of their own: exactly one job folder per variant, two per variant in all.
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == [
        "all_train_metrics.json", "multirun.yaml", "no_qk_norm", "no_qk_norm_finetuned", "original", "original_finetuned"]


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
