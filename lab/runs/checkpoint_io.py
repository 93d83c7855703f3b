"""``AtomicCheckpointIO``: Lightning checkpoints written to a temporary name, fsynced, then renamed.

A kill during ``trainer.save_checkpoint`` (every ``checkpoint_every_n_steps``, and ``last.ckpt``) leaves
the previous complete checkpoint or none, never a truncated one that a resume would choke on.
"""

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins import TorchCheckpointIO

from lab.runs.artifacts import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        atomic_write(Path(path), lambda tmp: torch.save(checkpoint, tmp))
