"""The tiny reference model: ``original`` trained on the bundled corpus until it recalls >= 90% of the facts.

It is the default test subject of the gates and vindex tools. ``ensure_tiny_reference()`` returns its
folder (``<runs>/reference/tiny/original_finetuned``, loadable with ``ablations.load`` or
``AutoModelForCausalLM.from_pretrained``-style tools via its config.json + model.safetensors), training
it first through ``python -m ablations.train experiment=tiny_reference`` when it is not cached yet.
"""

import subprocess
import sys
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lab.config import runs_root
from lab.config.errors import UserError
from lab.runs.children import die_with_parent


def tiny_reference_dir(runs: str | Path | None = None) -> Path:
    return Path(runs or runs_root()) / "reference" / "tiny" / "original_finetuned"


def ensure_tiny_reference(runs: str | Path | None = None, overrides: list[str] | None = None) -> Path:
    """The cached reference folder, trained first if missing (a finished run has ``metadata.json``). Processes that
    need it at once (a benchmark's seed workers on an empty ``runs/``) take turns on a file lock: one trains it,
    the others wait and then use it."""
    runs = Path(runs or runs_root())
    folder = tiny_reference_dir(runs)
    if (folder / "metadata.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder.parent / ".training.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process to finish training the tiny reference model at {folder}", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        if (folder / "metadata.json").is_file():
            return folder
        command = [sys.executable, "-m", "ablations.train", "experiment=tiny_reference", f"paths.runs={runs}", *(overrides or [])]
        print(f"tiny reference model not cached at {folder}; training it: {' '.join(command[1:])}", file=sys.stderr)
        if subprocess.run(command, preexec_fn=die_with_parent).returncode != 0 or not (folder / "metadata.json").is_file():
            raise UserError(f"training the tiny reference model failed; run `{' '.join(command[1:])}` to see why")
        return folder
    finally:
        lock.release()


def ensure_reference_model(model_cfg, runs: str | Path | None = None) -> None:
    """Train the reference a model config depends on (``reference: tiny``) if it is not cached yet, with the
    config's ``reference_overrides`` (e.g. fewer steps for a quick look)."""
    if model_cfg.get("reference") == "tiny":
        ensure_tiny_reference(runs, overrides=[str(o) for o in model_cfg.get("reference_overrides") or []])


class EnsureReferenceFirst(Callback):
    """Hydra callback: a multirun whose model needs the tiny reference trains it once before launching any job,
    so jobs running side by side (``hydra/launcher=joblib``) never train it twice into one folder."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        ensure_reference_model(config.model, config.paths.runs)
