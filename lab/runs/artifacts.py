"""Artifact I/O: atomic writes, state dicts as ``model.pt`` + ``model.safetensors``, JSON metadata.

Every file is written to a temporary name in its folder and renamed into place, so a reader never
sees a half-written file. Loading always uses ``torch.load(..., weights_only=True)``.
"""

import contextlib
import errno
import fcntl
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_file, save_model
from torch import nn

from lab.config.checks import require
from lab.config.errors import DiskFull, UserError
from lab.config.faults import (
    DISK_FULL,
    chain,
    disk_full_message,
    existing_ancestor,
    free_bytes,
    location_message,
    os_error_in,
    says_disk_full,
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(folder: Path | str, setting: str) -> Path:
    """``folder`` once a probe file was written and removed in it, or in its nearest existing parent when it does
    not exist yet (nothing is created: a refused command leaves no trace). A command checks where its outputs go
    before its work, so a read-only mount, a missing permission or a file in the way is one :class:`UserError`
    naming the folder, the cause and ``setting`` (the key that chose it), never a traceback after minutes of work."""
    folder = Path(folder).expanduser()
    existing = existing_ancestor(folder)
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        with tempfile.TemporaryFile(dir=existing, prefix=".write-check-"):
            pass
    except OSError as err:
        raise UserError(location_message(folder, err, setting)) from None
    return folder


def atomic_write(path: Path, write: Callable[[Path], None], needed: int | None = None) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, fsync it, then rename it to ``path``.

    A full disk is one :class:`lab.config.errors.DiskFull` naming ``path``, the space free and ``needed`` (the
    expected size, if the caller knows it; else more than what was written), with the partial file removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts are shared like any written file
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as err:
        written = tmp.stat().st_size if tmp.exists() else 0
        if not disk_filled(err, path):
            raise
        tmp.unlink(missing_ok=True)
        raise DiskFull(disk_full_message(path, needed or written or None, at_least=not needed)) from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


def disk_filled(err: BaseException, path: Path) -> bool:
    """Whether ``err``, raised writing ``path``, is a full disk: ENOSPC/EDQUOT in its chain, a library's "No space
    left on device", or (torch's writer, given a path, reports it as an iostream error without an errno) a write
    error with under 64 KiB left on the file system."""
    found = os_error_in(err)
    if found is not None:
        return found.errno in DISK_FULL
    if says_disk_full(err):
        return True
    text = " ".join(str(e) for e in chain(err)).lower()
    return ("iostream" in text or "write" in text) and free_bytes(path.parent) < 64 * 1024


@contextlib.contextmanager
def atomic_dir(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it is renamed to ``path`` (never half there).

    An existing ``path`` is refused unless ``overwrite`` (then it is replaced after the new one is complete). A full
    disk is one :class:`lab.config.errors.DiskFull` naming ``path``, with the partial folder removed.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except Exception as err:
        if isinstance(err, DiskFull) or not disk_filled(err, path):
            raise
        written = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        shutil.rmtree(tmp, ignore_errors=True)
        raise DiskFull(disk_full_message(path, written or None, at_least=True)) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, data: Any) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str) + "\n"))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


WEIGHT_FORMATS = ("safetensors", "pt")
WEIGHT_DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class ArtifactsConfig:
    """What a run writes (docs/ablations.md "Output layout"); none of it changes training, so it is not part of a
    run's identity (:mod:`lab.runs.identity`). Checked before training, not when the weights are saved."""

    formats: list[str] = field(default_factory=lambda: ["safetensors", "pt"])  # model.safetensors (from_pretrained), model.pt (the seed's layout)
    dtype: str = "float32"              # the saved weights' dtype: float32 | bfloat16 | float16 (half the disk)
    keep_optimizer_state: bool = False  # a finished run keeps checkpoints/last.ckpt; with AdamW's state if true

    def __post_init__(self) -> None:
        require("artifacts", "formats", self.formats, bool(self.formats) and set(self.formats) <= set(WEIGHT_FORMATS),
                f"one or more of {', '.join(WEIGHT_FORMATS)}")
        require("artifacts", "dtype", self.dtype, self.dtype in WEIGHT_DTYPES, f"one of {', '.join(WEIGHT_DTYPES)}")


def weight_settings(config: dict | None) -> tuple[tuple[str, ...], str]:
    """``(formats, dtype)`` of a run's resolved config (its ``artifacts`` group), the defaults where absent."""
    from lab.config.registry import with_defaults

    artifacts = with_defaults(ArtifactsConfig, (config or {}).get("artifacts") or {})
    return tuple(artifacts.formats), str(artifacts.dtype)


def save_weights(model: nn.Module, folder: Path, formats: tuple[str, ...] = WEIGHT_FORMATS, dtype: str = WEIGHT_DTYPES[0]) -> None:
    """``model.safetensors`` (tied weights stored once) and/or ``model.pt`` (a plain state dict, the seeds'
    layout), floating-point tensors in ``dtype`` (the model itself is not changed)."""
    formats = tuple(formats)
    unknown = [f for f in formats if f not in WEIGHT_FORMATS] + ([dtype] if dtype not in WEIGHT_DTYPES else [])
    if unknown or not formats:
        raise UserError(f"artifacts.formats={list(formats)} / artifacts.dtype={dtype!r}: formats are one or more of "
                        f"{list(WEIGHT_FORMATS)}, dtype one of {list(WEIGHT_DTYPES)}")
    cast = getattr(torch, dtype)
    # tied weights (entries sharing storage) are cast once: model.pt keeps them as one storage, and the cast
    # safetensors file drops the later names, as safetensors' save_model does
    copies: dict[tuple, torch.Tensor] = {}
    state, tied = {}, set()
    for name, tensor in model.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in copies:
            tied.add(name)
        else:
            copies[key] = tensor.detach().cpu().to(cast) if tensor.is_floating_point() else tensor.detach().cpu()
        state[name] = copies[key]
    if "pt" in formats:
        atomic_write(Path(folder) / "model.pt", lambda tmp: torch.save(state, tmp))
    if "safetensors" in formats:
        if dtype == "float32":
            atomic_write(Path(folder) / "model.safetensors", lambda tmp: save_model(model, str(tmp)))
        else:
            kept = {k: v for k, v in state.items() if k not in tied}
            atomic_write(Path(folder) / "model.safetensors", lambda tmp: save_file(kept, str(tmp), metadata={"format": "pt"}))


def load_weights(model: nn.Module, folder: Path, strict: bool = True) -> nn.Module:
    """Load ``model.safetensors`` (or ``model.pt`` if absent) into ``model``; strict by default."""
    folder = Path(folder)
    if (folder / "model.safetensors").is_file():
        missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=strict)
    else:
        try:
            state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
            raise UserError(f"{folder / 'model.pt'} is not a plain tensor state dict; refusing to unpickle it "
                            f"({str(err).splitlines()[0][:120]})") from None
        model.load_state_dict(state, strict=strict)
    return model


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed), for read-modify-write of shared files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_json_entry(path: Path, key: str, entry: dict) -> dict:
    """Set ``data[key] = entry`` in the JSON object at ``path`` under a lock (jobs of a sweep share it)."""
    path = Path(path)
    with locked(path.with_name(f".{path.name}.lock")):
        data = read_json(path) if path.is_file() else {}
        data[key] = entry
        write_json(path, data)
    return data
