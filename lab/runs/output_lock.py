"""``OutputLock``: one process at a time writes into a run or sweep folder.

Default folders carry the time to the microsecond and the pid, so two runs never pick the same one.
A *named* folder (``make sweep``'s ``runs/ablations/sweeps/<SWEEP>``, or any ``hydra.run.dir=``) is
reused on purpose, to resume; a second process started on it while the first is alive gets one line
and exit code 2, instead of two runs clobbering each other's checkpoints. The lock is an ``flock`` on
``<folder>/.lock``: the kernel releases it when its holder dies, so a killed run never leaves a stale lock.
Taking it is the first write of a run, so a folder that cannot be written (a read-only mount, no permission, a
file in its place) is one line and exit code 2 here, before anything else runs.
"""

import fcntl
import os
import sys
from pathlib import Path
from typing import IO, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lab.config.faults import location_message
from lab.runs.processes import CHILD_JOB_PREFIX


class FolderInUse(Exception):
    pass


def lock_folder(folder: Path) -> IO:
    """Hold an exclusive lock on ``folder`` until the returned handle is closed (or the process ends)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise FolderInUse(f"{folder} is in use by {holder}; wait for it to finish or choose another folder") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


class OutputLock(Callback):
    def __init__(self) -> None:
        self.handle: IO | None = None

    def _lock(self, folder: str) -> None:
        try:
            self.handle = lock_folder(Path(folder))
        except FolderInUse as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        except OSError as err:  # before any training: a read-only mount, no permission, a file in the way
            print(f"error: {location_message(folder, err)}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not str(config.hydra.job.name).startswith(CHILD_JOB_PREFIX):  # DDP child ranks join their parent's folder
            self._lock(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._lock(config.hydra.sweep.dir)

    def _release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()
