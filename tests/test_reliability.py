"""Reliability promises that need no long run: atomic saves under SIGKILL, determinism, unique output folders."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from ablations.train import train
from tests.conftest import FAST, child_env, compose_train, kill_when, run_cli

SAVERS = {
    "atomic_write": "from lab.runs.artifacts import atomic_write\n"
                    "save = lambda state, path: atomic_write(path, lambda tmp: torch.save(state, tmp))",
    "lightning_checkpoint": "from lab.runs.checkpoint_io import AtomicCheckpointIO\n"
                            "save = AtomicCheckpointIO().save_checkpoint",
}
SAVER = """
import sys, torch
from pathlib import Path
{saver}
target = Path(sys.argv[1])
for version in range(1, 1000):
    state = {{"w": torch.full((64, 1024, 1024), float(version))}}   # 256 MiB per save
    save(state, target)
    print(version, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("saver", sorted(SAVERS))
def test_a_kill_during_a_large_save_leaves_the_previous_good_file(tmp_path, saver):
    target = tmp_path / "model.pt"
    proc = subprocess.Popen([sys.executable, "-c", SAVER.format(saver=SAVERS[saver]), str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "1"  # version 1 is complete and renamed into place
    time.sleep(0.3)  # now inside a later save (each takes ~1 s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    state = torch.load(target, map_location="cpu", weights_only=True)  # never truncated
    version = state["w"][0, 0, 0].item()
    assert version >= 1 and torch.equal(state["w"], torch.full((64, 1024, 1024), version))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("model.pt", "model.pt.sha256")]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers)  # hidden partial temp only
    if saver == "lightning_checkpoint":  # its SHA-256 sidecar matches it, or is absent (then a resume checks it by loading)
        from lab.runs.checkpoint_check import damage

        assert damage(target) is None


@pytest.mark.slow
@pytest.mark.long
def test_a_killed_vindex_build_leaves_the_previous_vindex_whole(quick_reference, tmp_path):
    from lab.runs.checksums import check_sha256sums

    out = tmp_path / "tiny.vindex"
    args = ["vindex.build", f"paths.runs={quick_reference}", f"out={out}"]
    first = run_cli(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def building() -> bool:  # the new build's temporary folder holds its first layer
        return any(p.is_dir() and any(p.iterdir()) for p in tmp_path.glob(".tiny.vindex.*.tmp"))

    kill_when([*args, "overwrite=true"], building, cwd=tmp_path)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    check_sha256sums(out)
    again = run_cli([*args, "overwrite=true"], cwd=tmp_path)  # the next build replaces it, leftovers or not
    assert again.returncode == 0, again.stderr[-2000:]
    check_sha256sums(out)


def test_the_same_config_and_seed_give_the_same_metrics_on_cpu(tmp_path):
    def losses(root):
        train(compose_train([*FAST, "logger=none", "eval.accuracy=false"], output_root=root))
        rows = json.loads((root / "original_finetuned" / "train_metrics.json").read_text())
        return [(r["step"], r.get("train/loss"), r.get("train/grad_norm"), r.get("val/loss")) for r in rows]

    first, second = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert first == second and len(first) >= 6


def test_output_folders_carry_the_process_id():
    """Two runs or sweeps started in the same microsecond still get different folders: their pids differ."""
    import os

    from hydra import compose

    from lab.config.registry import composing

    for name in ("train", "gates_train"):
        with composing():
            hydra_cfg = compose(config_name=name, return_hydra_config=True).hydra
        for folder in (hydra_cfg.run.dir, hydra_cfg.sweep.dir):
            assert folder.endswith(f"_p{os.getpid()}"), folder


@pytest.mark.slow
def test_concurrent_sweeps_never_share_a_folder(tmp_path):
    """Two default sweeps started together get two folders; a second sweep on a named, busy folder is refused."""

    runs = tmp_path / "runs"
    quick = ["ablations.train", "-m", "variant=original", "trainer.max_steps=2", "optimizer.warmup_steps=2", "logger=none", "eval.accuracy=false",
             "trainer.enable_progress_bar=false", f"paths.runs={runs}"]
    named = [*quick, f"hydra.sweep.dir={runs}/ablations/sweeps/shared"]
    env = child_env()
    procs = [subprocess.Popen([sys.executable, "-m", *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in (quick, quick, named, named)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]

    assert [code for code, _ in results[:2]] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    default_sweeps = sorted((runs / "ablations" / "multirun").iterdir())
    assert len(default_sweeps) == 2
    for sweep in default_sweeps:
        summary = json.loads((sweep / "all_train_metrics.json").read_text())
        assert summary["original"]["status"] == "ok" and summary["original"]["steps"] == 2

    codes = sorted(code for code, _ in results[2:])
    assert codes == [0, 2], results[2:]
    (refused,) = [err for code, err in results[2:] if code == 2]
    assert refused.strip().splitlines()[-1].startswith(f"error: {runs}/ablations/sweeps/shared is in use by pid ")
    summary = json.loads((runs / "ablations" / "sweeps" / "shared" / "all_train_metrics.json").read_text())
    assert summary["original"]["status"] == "ok" and summary["original"]["steps"] == 2
