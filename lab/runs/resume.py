"""Rerun the same command, lose nothing: what a run folder already holds decides what a job does.

* finished (``SHA256SUMS`` present and every listed file intact): skip, keep the recorded result;
* interrupted (a checkpoint in ``checkpoints/``): resume from the latest one, same W&B run;
* empty: start;

and a finished or interrupted run of another config stops the job instead (:mod:`lab.runs.identity`), unless
``overwrite=true`` discards it.

The latest checkpoint is the highest ``step-N.ckpt`` (each is renamed into place complete, see
:mod:`lab.runs.checkpoint_io`), else ``last.ckpt``; a resume takes the newest intact one, damaged ones moved
aside (:mod:`lab.runs.checkpoint_check`).
"""

import secrets
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from lab.runs.artifacts import atomic_write
from lab.runs.checkpoint_check import candidates, check_given_checkpoint, latest_intact_checkpoint
from lab.runs.checksums import SUMS_FILE, check_sha256sums
from lab.runs.identity import RUN_CONFIG_FILE, check_unchanged, discard_run, record_config
from lab.runs.processes import is_ddp_child

WANDB_ID_FILE = ".wandb_run_id"


def is_finished(folder: Path) -> bool:
    """True when ``folder`` holds a complete artifact; raises ``UserError`` naming a damaged file."""
    if not (Path(folder) / SUMS_FILE).is_file():
        return False
    check_sha256sums(Path(folder))
    return True


def previous_run(folder: Path) -> str | None:
    """What ``folder`` holds: "a finished run", "an interrupted run" (a checkpoint or a config record), or None."""
    folder = Path(folder)
    if is_finished(folder):
        return "a finished run"
    if latest_checkpoint(folder / "checkpoints") or (folder / RUN_CONFIG_FILE).is_file():
        return "an interrupted run"
    return None


def reuse_previous_run(cfg: DictConfig, folder: Path, *other_folders: Path) -> bool:
    """Decide what becomes of a previous run in ``folder`` (and the run's ``other_folders``, e.g. its base stage).

    Returns True when it is finished with the same config: skip the job. An interrupted run of the same config
    is left in place to resume. ``overwrite=true`` discards any previous run; an explicit ``ckpt_path`` trains
    from that checkpoint whatever the folder holds. Raises :class:`lab.runs.identity.ConfigChanged` when the
    previous run's config differs. DDP child ranks follow their parent, which has already decided.
    """
    if is_ddp_child():
        return False
    found = previous_run(folder)
    if found is None or cfg.get("ckpt_path"):
        return False
    if cfg.get("overwrite"):
        if rank_zero_only.rank == 0:
            for each in (folder, *other_folders):
                discard_run(each)
        return False
    check_unchanged(folder, cfg, found)
    return found == "a finished run"


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest checkpoint in ``checkpoint_dir`` (:func:`lab.runs.checkpoint_check.candidates`), unchecked, or None."""
    return next(iter(candidates(checkpoint_dir)), None)


def resume_checkpoint(ckpt_path: str | None, checkpoint_dir: Path) -> str | None:
    """``ckpt_path`` if given (it must be intact), else the newest intact checkpoint of an interrupted run in
    ``checkpoint_dir``. A DDP child rank takes the newest without checking: its parent checked them before it
    started the ranks."""
    if ckpt_path:
        return check_given_checkpoint(str(ckpt_path))
    found = latest_checkpoint(checkpoint_dir) if is_ddp_child() else latest_intact_checkpoint(checkpoint_dir)
    return str(found) if found else None


def wandb_run_id(folder: Path) -> str:
    """The W&B run id of the run living in ``folder``: the remembered one on a resume (one run, not two), else new."""
    path = Path(folder) / WANDB_ID_FILE
    return path.read_text().strip() if path.is_file() else secrets.token_hex(4)


class RememberRun(L.Callback):
    """When training starts (not before: a run refused for bad input writes nothing), write the run's W&B id
    (``folder/.wandb_run_id``) and its config record (``folder/.run_config.json``, :mod:`lab.runs.identity`)."""

    def __init__(self, folder: Path, run_id: str, cfg: DictConfig) -> None:
        self.folder, self.run_id, self.cfg = Path(folder), run_id, cfg

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if not (self.folder / WANDB_ID_FILE).is_file():
            atomic_write(self.folder / WANDB_ID_FILE, lambda tmp: tmp.write_text(self.run_id))
        if not (self.folder / RUN_CONFIG_FILE).is_file():
            record_config(self.folder, self.cfg)
