"""Checkpoints that are checked before a run resumes from them.

Each checkpoint is written with a sidecar ``<name>.sha256`` (``<hex>  <name>``, as ``sha256sum`` writes; see
:mod:`lab.runs.checkpoint_io`). Before resuming, the candidates are tried newest first (:func:`candidates`); one
whose SHA-256 differs from its sidecar (a bit flipped on disk, a partial copy between file systems), or that has
no sidecar (written before sidecars existed) and does not load, is damaged: it is moved aside (renamed
``<name>.damaged``, never deleted) with a one-line warning, and the next one is tried.

Which checkpoint is trusted: ``step-N.ckpt`` files are written once and never overwritten; ``last.ckpt`` is
rewritten at every save, right after that save's ``step-N.ckpt`` (:class:`lab.runs.checkpointing.StepCheckpoint`
writes both together). So ``last.ckpt`` holds a step between the newest and the second newest step file, and
newest first is: the highest ``step-N.ckpt``, then ``last.ckpt``, then the older step files.
"""

import logging
import pickle
import re
import zipfile
from pathlib import Path

import torch

from lab.config.errors import UserError
from lab.runs.checksums import sha256_file

log = logging.getLogger(__name__)

STEP_CHECKPOINT = re.compile(r"step-(\d+)\.ckpt")
SIDECAR_SUFFIX = ".sha256"
DAMAGED_SUFFIX = ".damaged"
NOT_PLAIN = "it is not plain tensors and primitives, so it is never unpickled"


def sidecar(checkpoint: Path | str) -> Path:
    """``<checkpoint>.sha256``: the checkpoint's SHA-256, written right after it."""
    return Path(f"{checkpoint}{SIDECAR_SUFFIX}")


def write_sidecar(checkpoint: Path) -> Path:
    """Hash ``checkpoint`` into its sidecar (atomically)."""
    from lab.runs.artifacts import atomic_write

    line = f"{sha256_file(checkpoint)}  {checkpoint.name}\n"
    return atomic_write(sidecar(checkpoint), lambda tmp: tmp.write_text(line))


def candidates(checkpoint_dir: Path) -> list[Path]:
    """The folder's checkpoints newest first: the highest ``step-N.ckpt``, ``last.ckpt``, then the other step files."""
    folder = Path(checkpoint_dir)
    steps = sorted(((int(m.group(1)), p) for p in folder.glob("step-*.ckpt") if (m := STEP_CHECKPOINT.fullmatch(p.name))),
                   reverse=True)
    ordered = [p for _, p in steps]
    last = folder / "last.ckpt"
    if last.is_file():
        ordered.insert(min(1, len(ordered)), last)
    return ordered


def damage(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be trusted, or None: its SHA-256 against its sidecar, else (no sidecar) a full load."""
    recorded = sidecar(checkpoint)
    if recorded.is_file():
        expected = (recorded.read_text().split() or [""])[0]
        return None if sha256_file(checkpoint) == expected else f"its SHA-256 differs from {recorded.name}"
    try:  # weights_only: a checkpoint that is not plain tensors and primitives is never unpickled (lab.train.trainer.fit)
        torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(checkpoint))  # mmap: no copy in RAM
    except pickle.UnpicklingError:
        return NOT_PLAIN
    except Exception as err:  # a truncated zip, a bad record: whatever torch says, the file cannot resume a run
        return f"it has no {recorded.name} and does not load ({type(err).__name__})"
    return None


def set_aside(checkpoint: Path) -> Path:
    """Rename ``checkpoint`` (and its sidecar) to ``<name>.damaged`` (``.damaged-2``, ... if taken); returns the new path."""
    target, n = Path(f"{checkpoint}{DAMAGED_SUFFIX}"), 1
    while target.exists():
        n += 1
        target = Path(f"{checkpoint}{DAMAGED_SUFFIX}-{n}")
    checkpoint.rename(target)
    if sidecar(checkpoint).is_file():
        sidecar(checkpoint).rename(sidecar(target))
    return target


def latest_intact_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest checkpoint of ``checkpoint_dir`` that is intact (:func:`damage`), the damaged ones newer than it moved
    aside with a warning each; None when there is none."""
    for checkpoint in candidates(checkpoint_dir):
        why = damage(checkpoint)
        if why is None:
            return checkpoint
        moved = set_aside(checkpoint)
        log.warning("checkpoint %s is damaged (%s): moved aside to %s; trying the next older one", checkpoint, why, moved.name)
    return None


def check_given_checkpoint(path: str) -> str:
    """``ckpt_path`` as the user gave it, checked when it is a file (it is never moved); Lightning's names (``last``,
    ``best``, ``hpc``) and a path that is not a file are left to :func:`lab.train.trainer.fit`, which refuses the latter."""
    if not Path(path).is_file():
        return path
    why = damage(Path(path))
    if why == NOT_PLAIN:
        raise UserError(f"ckpt_path={path} is not a plain checkpoint; refusing to unpickle it")
    if why is not None:
        raise UserError(f"ckpt_path={path} is damaged: {why}; give another checkpoint")
    return path
