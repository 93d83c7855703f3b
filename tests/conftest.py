"""Shared fixtures: offline everything, tiny fast configs, composed the way Hydra composes them."""

import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER" in os.environ:  # two workers share the two cores: one thread each, no OpenMP oversubscription
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import lab  # noqa: E402,F401
from lab.config import group_options  # noqa: E402
from lab.config.schema import register_tool_schemas  # noqa: E402

register_tool_schemas()  # the tests compose gates_train directly, as lab.plan does

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
VARIANTS = group_options("variant")
QWEN3_06B_CONFIG = REPO / "lab" / "config" / "assets" / "configs" / "qwen3-0.6b"

# A few optimizer steps, two validations on a handful of graded rows: seconds on 2 cores.
FAST = [
    "trainer.max_steps=6", "trainer.val_check_interval=3", "data.eval_limit=4", "data.batch_size=4",
    "checkpoint_every_n_steps=3", "trainer.enable_progress_bar=false", "optimizer.warmup_steps=2",
    "trainer.limit_val_batches=2",  # the val loss on 2 batches: every batch is most of a test job's time
]


def compose_train(overrides: list[str], output_root: Path | None = None) -> DictConfig:
    """The ``train`` config as ``python -m ablations.train <overrides>`` would compose it."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if output_root is not None:
        with open_dict(cfg):
            cfg.output_root = str(output_root)
    return cfg


def compose_vindex(overrides: list[str]) -> DictConfig:
    """The ``vindex`` config as ``python -m vindex.build <overrides>`` would compose it."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="vindex", overrides=overrides)


def child_env(extra: dict | None = None) -> dict[str, str]:
    """The environment of a command a test starts, as a user's shell would give it: unbuffered, and without
    ``WANDB_SERVICE``. An in-process test that used W&B leaves that variable in this worker's environment, and a
    child inheriting it joins this worker's W&B service, where a SIGKILLed child's run stays open ("run ID is in
    use" when its rerun resumes it)."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


def run_cli(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` as a user would, capturing output."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=child_env(env),
    )


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)


QUICK_REFERENCE = ["trainer.max_steps=20", "trainer.val_check_interval=20", "data.eval_limit=2", "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="session")
def quick_reference(tmp_path_factory, worker_id) -> Path:
    """A ``runs/`` folder holding a tiny reference model trained for a few steps (the real one takes minutes).

    Trained once for the whole session through ``ensure_tiny_reference`` into an empty runs folder, under a file
    lock that pytest-xdist's workers share; each worker gets its own copy, so the outputs its tests write next to
    it never meet another worker's."""
    import shutil

    from filelock import FileLock

    from lab.runs.reference import ensure_tiny_reference

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    trained = shared / "quick_reference" / "runs"
    with FileLock(str(shared / "quick_reference.lock")):
        ensure_tiny_reference(runs=trained, overrides=QUICK_REFERENCE)
    runs = tmp_path_factory.mktemp("quick") / "runs"
    shutil.copytree(trained, runs, copy_function=shutil.copy2)  # copy2 keeps the mtimes the cache check reads
    return runs


def kill_when(args: list[str], ready, cwd: Path, timeout: float = 300, env: dict | None = None) -> None:
    """Start ``python -m <args>`` in its own process group and SIGKILL the whole group once ``ready()`` is true.

    Fails if the command ends on its own first: the test needs it killed mid-way.
    """
    import signal
    import tempfile
    import time

    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, start_new_session=True, stdout=log, stderr=log,
                                text=True, env=child_env(env))
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f"{args[0]} ended (code {proc.returncode}) before it could be killed:\n{log.read()[-3000:]}")
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError(f"{args[0]} never reached the kill point in {timeout} s")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def run_module(module: str, args: list[str]) -> int:
    """``python -m module args`` in this process (``runpy``: no 5-15 s interpreter start and imports per case);
    returns the exit code. For commands that end early (bad input, a skip); read the output with ``capfd``."""
    import lab.config.errors

    for logger in [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):  # handlers made under an earlier test's (closed) capture
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stderr
    saved = sys.argv
    sys.argv, lab.config.errors._task_started = [module, *args], False
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        sys.argv = saved
        reset_hydra()
    return 0


def reset_hydra() -> None:
    """Forget the Hydra run a ``run_module`` call made: its config stays global (``HydraConfig``) otherwise, and a
    later in-process ``train(cfg)`` in the same worker would take that run's output folder for its own."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None
