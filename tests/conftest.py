"""Shared fixtures: offline everything, tiny fast configs, composed the way Hydra composes them."""

import atexit
import logging
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# datasets' cache (and the packed blocks cached in it, lab.data.packing) fresh for each test process and the commands it
# starts: a block cached by other code can never stand in for what the code under test packs
_DATASETS_CACHE = tempfile.mkdtemp(prefix="lab-tests-datasets-cache-")
os.environ["HF_DATASETS_CACHE"] = _DATASETS_CACHE
atexit.register(shutil.rmtree, _DATASETS_CACHE, ignore_errors=True)
if "PYTEST_XDIST_WORKER" in os.environ:  # the workers share the cores: one thread each, no OpenMP oversubscription
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
from hydra import compose  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import lab  # noqa: E402,F401
from lab.config import group_options  # noqa: E402
from lab.config.registry import composing  # noqa: E402

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
    with composing():
        cfg = compose(config_name="train", overrides=overrides)
    if output_root is not None:
        with open_dict(cfg):
            cfg.output_root = str(output_root)
    return cfg


def compose_vindex(overrides: list[str]) -> DictConfig:
    """The ``vindex`` config as ``python -m vindex.build <overrides>`` would compose it."""
    with composing():
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


# The files holding a test of half a minute or more (``make test ARGS=--durations=30``), longest first. ``make test``
# hands files to its workers in collection order (``--no-loadscope-reorder``): these go first, so the
# workers end together on short files instead of one running a long test alone at the end.
LONG_FIRST = ("test_resume_epochs.py", "test_multirun.py", "test_study.py", "test_train.py", "test_resume.py", "test_localise.py",
              "test_localise_workers.py", "test_claims.py", "test_benchmarks.py", "test_study_grids.py", "test_gates_cli.py",
              "test_reliability.py", "test_faults.py")  # test_train: Inductor, 45 s on a cold cache


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)


QUICK_REFERENCE = ["trainer.max_steps=20", "trainer.val_check_interval=20", "data.eval_limit=2", "trainer.enable_progress_bar=false",
                   "optimizer.warmup_steps=20",  # the recipe's 30 would outlast the run: refused (OptimizerConfig.warmup)
                   "logger=none"]  # what the tests read is on disk; a W&B run would cost its start-up alone


def built_once(name: str, build, tmp_path_factory, worker_id: str) -> Path:
    """A fresh copy of a folder that ``build(folder)`` fills once for the whole test session.

    The first caller builds it under a file lock that pytest-xdist's workers share; every caller gets its own copy
    (``copy2`` keeps the mtimes a cache check reads), so what a test writes next to it never meets another's."""
    import shutil

    from filelock import FileLock

    built = built_path(name, tmp_path_factory, worker_id)
    with FileLock(str(built.parent / f"{name}.lock")):
        if not (built / ".complete").is_file():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir(parents=True)
            build(built)
            (built / ".complete").touch()
    copy = tmp_path_factory.mktemp(name) / "copy"
    shutil.copytree(built, copy, copy_function=shutil.copy2, ignore=shutil.ignore_patterns(".complete"))
    return copy


def built_path(name: str, tmp_path_factory, worker_id: str) -> Path:
    """Where :func:`built_once` builds ``name``: one folder for all of pytest-xdist's workers (a run's records name
    it, e.g. a gate run's ``base_model``)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    (shared / "built_once").mkdir(exist_ok=True)
    return shared / "built_once" / name


def train_quick_reference(folder: Path) -> None:
    """A tiny reference model trained for a few steps into ``folder/runs`` (the real one takes minutes)."""
    from lab.runs.reference import ensure_tiny_reference

    ensure_tiny_reference(runs=folder / "runs", overrides=QUICK_REFERENCE)


@pytest.fixture(scope="session")
def quick_reference(tmp_path_factory, worker_id) -> Path:
    """A ``runs/`` folder holding a tiny reference model trained for a few steps, trained once per session
    through ``ensure_tiny_reference`` into an empty runs folder; each worker gets its own copy."""
    return built_once("quick_reference", train_quick_reference, tmp_path_factory, worker_id) / "runs"


GATE_QUICK = ["trainer.max_steps=4", "checkpoint_every_n_steps=2", "trainer.enable_progress_bar=false", "data.batch_size=4"]


def train_quick_gate_run(folder: Path, tmp_path_factory, worker_id: str) -> None:
    """``python -m gates.train`` at :data:`GATE_QUICK` steps on a copy of the quick reference, into ``folder/runs``."""
    import shutil

    reference = built_once("quick_reference", train_quick_reference, tmp_path_factory, worker_id) / "runs"
    shutil.copytree(reference, folder / "runs", copy_function=shutil.copy2)
    out = run_cli(["gates.train", *GATE_QUICK, f"paths.runs={folder / 'runs'}"], cwd=folder)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def quick_gate_run(tmp_path_factory, worker_id) -> Path:
    """A gate run (W&B offline) on the quick reference: its folder, ``runs/gates/<name>``, next to the reference in
    ``runs/reference``. Trained once per session, copied for each test module that reads it."""
    build = lambda folder: train_quick_gate_run(folder, tmp_path_factory, worker_id)  # noqa: E731
    runs = built_once("quick_gate_run", build, tmp_path_factory, worker_id) / "runs"
    (folder,) = [p.parent for p in (runs / "gates").glob("*/lambda_logits.pt")]
    return folder


SWEEP_VARIANTS = "variant=original,replace_dyt"  # the control and a patched variant


def train_wandb_sweep(folder: Path) -> None:
    """``python -m ablations.train -m`` over :data:`SWEEP_VARIANTS` at :data:`FAST` steps into ``folder/runs``, each
    job logging to an offline W&B run."""
    out = run_cli(["ablations.train", "-m", SWEEP_VARIANTS, *FAST, f"paths.runs={folder / 'runs'}"], cwd=folder)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def wandb_sweep(tmp_path_factory, worker_id) -> Path:
    """A folder holding only ``runs/``, with one 2-variant W&B sweep under ``runs/ablations/multirun/``: run once per
    session, copied for each test module that reads it."""
    return built_once("wandb_sweep", train_wandb_sweep, tmp_path_factory, worker_id)


def kill_when(args: list[str], ready, cwd: Path, timeout: float = 300, env: dict | None = None) -> str:
    """Start ``python -m <args>`` in its own process group and SIGKILL the whole group once ``ready()`` is true;
    returns what it printed (stdout and stderr) until then.

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
        log.seek(0)
        return log.read()


def run_module(module: str, args: list[str]) -> int:
    """``python -m module args`` in this process (``runpy``: no 5-15 s interpreter start and imports per case);
    returns the exit code. For commands that end early (bad input, a skip); read the output with ``capfd``."""

    for logger in [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):  # handlers made under an earlier test's (closed) capture
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stderr
    saved = sys.argv
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        sys.argv = saved
        reset_hydra()
    return 0


def run_here(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m <args>`` in ``cwd`` as :func:`run_cli` runs it, but in this process (:func:`run_module`): the same
    module and Hydra app without a new interpreter's 5-10 s of imports. For commands whose being a separate process
    is not what the test is about (a kill, DDP ranks and concurrency are: those use :func:`run_cli`)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_module(args[0], args[1:])
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess([sys.executable, "-m", *args], code, out.getvalue(), err.getvalue())

def rerun_after_damaging_checkpoints(command: list[str], checkpoints: Path, cwd: Path, rerun=None) -> str:
    """Flip one bit of the newest ``step-N.ckpt`` and truncate ``last.ckpt`` (a bad disk, a partial copy), rerun
    ``command`` with ``rerun`` (default :func:`run_here`, in this process; :func:`run_cli` where the rerun must be
    its own process, e.g. DDP) and check that it set both aside, one warning each and the files kept, and resumed
    from the next older step file; returns what it printed."""
    steps = sorted(checkpoints.glob("step-*.ckpt"))
    newest, intact = steps[-1], steps[-2]
    flipped = bytearray(newest.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    newest.write_bytes(bytes(flipped))
    (checkpoints / "last.ckpt").write_bytes((checkpoints / "last.ckpt").read_bytes()[:1000])
    again = (rerun or run_here)(command, cwd=cwd)
    assert again.returncode == 0, again.stderr[-3000:]
    output = again.stdout + again.stderr
    assert f"checkpoint {newest} is damaged (its SHA-256 differs from {newest.name}.sha256): moved aside to {newest.name}.damaged" in output
    # last.ckpt's own sidecar may be gone: the kill can land while the next last.ckpt is being written (the old sidecar
    # is removed first), and a truncated file without one fails its load check
    assert f"checkpoint {checkpoints / 'last.ckpt'} is damaged (" in output and "last.ckpt.damaged" in output
    assert f"Restoring states from the checkpoint path at {intact}" in output
    assert (checkpoints / f"{newest.name}.damaged").is_file() and (checkpoints / "last.ckpt.damaged").is_file()  # kept
    return output



def reset_hydra() -> None:
    """Forget the Hydra run a ``run_module`` call made: its config stays global (``HydraConfig``) otherwise, and a
    later in-process ``train(cfg)`` in the same worker would take that run's output folder for its own."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None
