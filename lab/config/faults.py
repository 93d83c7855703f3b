"""Faults of the machine, not of the request: a full disk, a read-only or unwritable location.

Each is found in an exception's chain (``__cause__``/``__context__``: torch, safetensors and Lightning wrap the
``OSError`` they hit) and told in one line that names the file, the cause and what to do
(:func:`fault_message`); :func:`lab.config.errors.exit_on_user_error` prints it with exit code 2. With
``HYDRA_FULL_ERROR=1`` the traceback is printed too, for debugging.
"""

import errno
import os
import shutil
from pathlib import Path

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
UNWRITABLE = {errno.EROFS: "a read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.ENOTDIR: "a path through a file, not a folder", errno.EEXIST: "a file is where the folder should be"}
NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"
RESUME_HINT = "rerun the same command: a training run resumes from its last checkpoint, a finished job is skipped"


def chain(err: BaseException | None) -> list[BaseException]:
    """``err`` and its causes and contexts, in order."""
    out: list[BaseException] = []
    while err is not None and all(err is not e for e in out):
        out.append(err)
        err = err.__cause__ or err.__context__
    return out


def os_error_in(err: BaseException) -> OSError | None:
    """The first ``OSError`` with an errno in ``err``'s chain (``err`` itself, then its causes and contexts), or None."""
    return next((e for e in chain(err) if isinstance(e, OSError) and e.errno is not None), None)


def existing_ancestor(path: Path | str) -> Path:
    """``path`` or its nearest existing parent (the folder whose file system a new file lands on)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path | str) -> int:
    """Bytes free to this user on the file system that holds (or would hold) ``path``."""
    return shutil.disk_usage(existing_ancestor(path)).free


def human_bytes(n: float) -> str:
    """``n`` bytes in B, kB, MB, GB or TB (powers of 1000, as ``df -H``)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def disk_full_message(path: Path | str, needed: int | None = None, at_least: bool = False) -> str:
    """The one line for a write of ``path`` that found the disk full (``needed``: the bytes it would take, if known;
    ``at_least``: only a lower bound, what was written before the disk filled)."""
    need = f", {'more than' if at_least else 'about'} {human_bytes(needed)} needed" if needed else ""
    return (f"disk full writing {path} ({human_bytes(free_bytes(path))} free on its file system{need}); nothing written "
            f"before it is lost: free space or set paths.runs to another disk, then {RESUME_HINT}")


def unwritable_message(path: Path | str, err: OSError, setting: str = "paths.runs=... or hydra.run.dir=...") -> str:
    """The one line for a folder or file that cannot be created, written or opened (``setting``: the command's key
    that chooses the location)."""
    cause = UNWRITABLE.get(err.errno or 0, (err.strerror or str(err)).lower())
    return f"cannot use {path}: {cause}; for outputs choose a writable location ({setting}), else fix the permissions"


def location_message(path: Path | str, err: OSError, setting: str = "paths.runs=... or hydra.run.dir=...") -> str:
    """The one line for an ``OSError`` met creating or writing ``path``: a full disk, else an unwritable location."""
    return disk_full_message(path) if err.errno in DISK_FULL else unwritable_message(path, err, setting)


def says_disk_full(err: BaseException) -> bool:
    """Whether an exception of a library that drops the errno (safetensors: "No space left on device (os error
    28)") says the disk is full."""
    return any(NO_SPACE in str(e) for e in chain(err))


def fault_message(err: BaseException) -> str | None:
    """The one line for a full disk or an unwritable location anywhere in ``err``'s chain; None for anything else."""
    found = os_error_in(err)
    if found is None:
        return disk_full_message("a file") if says_disk_full(err) else None
    where = found.filename or "a file"
    if found.errno in DISK_FULL:
        return disk_full_message(where)
    if found.errno in UNWRITABLE:
        return unwritable_message(where, found)
    return None


def full_error_wanted() -> bool:
    """Whether the user asked for tracebacks (``HYDRA_FULL_ERROR=1``)."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1"
