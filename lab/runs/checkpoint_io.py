"""``AtomicCheckpointIO``: Lightning checkpoints written to a temporary name, fsynced, then renamed.

A kill during ``trainer.save_checkpoint`` (every ``checkpoint_every_n_steps``, and ``last.ckpt``) leaves
the previous complete checkpoint or none, never a truncated one that a resume would choke on. Each checkpoint
gets its SHA-256 sidecar (:mod:`lab.runs.checkpoint_check`), so damage done to it later is found before a
resume. A full disk is one line naming the checkpoint, the space free and the size of the newest checkpoint
already there (:func:`lab.runs.artifacts.atomic_write`).
"""

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins import TorchCheckpointIO

from lab.runs.artifacts import atomic_write
from lab.runs.checkpoint_check import candidates, sidecar, write_sidecar


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        path = Path(path)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: a full disk surfaces as ENOSPC (given a path, torch drops the errno)
                torch.save(checkpoint, f)

        needed = previous_size(path.parent)
        sidecar(path).unlink(missing_ok=True)  # a kill before the new sidecar leaves none (checked by loading), never a stale one
        atomic_write(path, write, needed=needed)
        write_sidecar(path)

    def remove_checkpoint(self, path: str | Path) -> None:
        super().remove_checkpoint(path)
        sidecar(path).unlink(missing_ok=True)


def previous_size(checkpoint_dir: Path) -> int | None:
    """The size of the newest checkpoint already in ``checkpoint_dir`` (the next one's, roughly), or None."""
    found = next(iter(candidates(checkpoint_dir)), None) if checkpoint_dir.is_dir() else None
    return found.stat().st_size if found is not None else None
