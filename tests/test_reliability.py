"""Reliability promises that need no long run: atomic saves under SIGKILL, determinism, unique output folders."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from ablations.train import train
from tests.conftest import FAST, compose_train

SAVER = """
import sys, torch
from pathlib import Path
from lab.artifacts import atomic_write
target = Path(sys.argv[1])
for version in range(1, 1000):
    state = {"w": torch.full((64, 1024, 1024), float(version))}   # 256 MiB per save
    atomic_write(target, lambda tmp: torch.save(state, tmp))
    print(version, flush=True)
"""


@pytest.mark.slow
def test_a_kill_during_a_large_save_leaves_the_previous_good_file(tmp_path):
    target = tmp_path / "model.pt"
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "1"  # version 1 is complete and renamed into place
    time.sleep(0.3)  # now inside a later save (each takes ~1 s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    state = torch.load(target, map_location="cpu", weights_only=True)  # never truncated
    version = state["w"][0, 0, 0].item()
    assert version >= 1 and torch.equal(state["w"], torch.full((64, 1024, 1024), version))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.pt"]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers)  # hidden partial temp only


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

    from hydra import compose, initialize_config_dir

    from tests.conftest import CONF

    for name in ("train", "gates_train"):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            hydra_cfg = compose(config_name=name, return_hydra_config=True).hydra
        for folder in (hydra_cfg.run.dir, hydra_cfg.sweep.dir):
            assert folder.endswith(f"_p{os.getpid()}"), folder
