"""Shared fixtures: offline everything, tiny fast configs, composed the way Hydra composes them."""

import os
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import lab  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
VARIANTS = sorted(p.stem for p in (CONF / "variant").glob("*.yaml"))
QWEN3_06B_CONFIG = REPO / "lab" / "assets" / "configs" / "qwen3-0.6b"

# A few optimizer steps, two validations on a handful of graded rows: seconds on 2 cores.
FAST = [
    "trainer.max_steps=6", "trainer.val_check_interval=3", "data.eval_limit=4", "data.batch_size=4",
    "checkpoint_every_n_steps=3", "trainer.enable_progress_bar=false", "optimizer.warmup_steps=2",
]


def compose_train(overrides: list[str], output_root: Path | None = None) -> DictConfig:
    """The ``train`` config as ``python -m ablations.train <overrides>`` would compose it."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if output_root is not None:
        with open_dict(cfg):
            cfg.output_root = str(output_root)
    return cfg


def run_cli(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` as a user would, capturing output."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)


QUICK_REFERENCE = ["trainer.max_steps=20", "trainer.val_check_interval=20", "data.eval_limit=2", "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="session")
def quick_reference(tmp_path_factory) -> Path:
    """A ``runs/`` folder holding a tiny reference model trained for a few steps (the real one takes minutes)."""
    from lab.reference import ensure_tiny_reference

    runs = tmp_path_factory.mktemp("quick") / "runs"
    ensure_tiny_reference(runs=runs, overrides=QUICK_REFERENCE)
    return runs
