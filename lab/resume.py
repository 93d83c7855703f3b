"""Rerun the same command, lose nothing: what a run folder already holds decides what a job does.

* finished (``SHA256SUMS`` present and every listed file intact): skip, keep the recorded result;
* interrupted (a checkpoint in ``checkpoints/``): resume from the latest one, same W&B run;
* empty: start.

The latest checkpoint is the highest ``step-N.ckpt`` (each is renamed into place complete, see
:mod:`lab.pl.checkpoint_io`), else ``last.ckpt``.
"""

import re
import secrets
from pathlib import Path

import lightning as L

from lab.artifacts import atomic_write
from lab.checksums import SUMS_FILE, check_sha256sums

STEP_CHECKPOINT = re.compile(r"step-(\d+)\.ckpt")
WANDB_ID_FILE = ".wandb_run_id"


def is_finished(folder: Path) -> bool:
    """True when ``folder`` holds a complete artifact; raises ``UserError`` naming a damaged file."""
    if not (Path(folder) / SUMS_FILE).is_file():
        return False
    check_sha256sums(Path(folder))
    return True


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The checkpoint of the highest step in ``checkpoint_dir`` (``step-N.ckpt``), else its ``last.ckpt``, else None."""
    folder = Path(checkpoint_dir)
    steps = [(int(m.group(1)), p) for p in folder.glob("step-*.ckpt") if (m := STEP_CHECKPOINT.fullmatch(p.name))]
    if steps:
        return max(steps)[1]
    last = folder / "last.ckpt"
    return last if last.is_file() else None


def resume_checkpoint(ckpt_path: str | None, checkpoint_dir: Path) -> str | None:
    """``ckpt_path`` if given, else the latest checkpoint of an interrupted run in ``checkpoint_dir``."""
    if ckpt_path:
        return str(ckpt_path)
    found = latest_checkpoint(checkpoint_dir)
    return str(found) if found else None


def wandb_run_id(folder: Path) -> str:
    """The W&B run id of the run living in ``folder``: the remembered one on a resume (one run, not two), else new."""
    path = Path(folder) / WANDB_ID_FILE
    return path.read_text().strip() if path.is_file() else secrets.token_hex(4)


class RememberWandbRunId(L.Callback):
    """Write ``folder/.wandb_run_id`` when training starts (not before: a run refused for bad input writes nothing)."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.path, self.run_id = Path(folder) / WANDB_ID_FILE, run_id

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and not self.path.is_file():
            atomic_write(self.path, lambda tmp: tmp.write_text(self.run_id))
