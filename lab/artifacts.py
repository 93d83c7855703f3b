"""Artifact I/O: atomic writes, state dicts as ``model.pt`` + ``model.safetensors``, JSON metadata.

Every file is written to a temporary name in its folder and renamed into place, so a reader never
sees a half-written file. Loading always uses ``torch.load(..., weights_only=True)``.
"""

import contextlib
import fcntl
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from lab.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, fsync it, then rename it to ``path``."""
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
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def atomic_dir(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it is renamed to ``path`` (never half there).

    An existing ``path`` is refused unless ``overwrite`` (then it is replaced after the new one is complete).
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, data: Any) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str) + "\n"))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def save_weights(model: nn.Module, folder: Path) -> None:
    """``model.pt`` (a plain state dict, tied weights shared) and ``model.safetensors`` (deduplicated)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(Path(folder) / "model.pt", lambda tmp: torch.save(state, tmp))
    atomic_write(Path(folder) / "model.safetensors", lambda tmp: save_model(model, str(tmp)))


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
