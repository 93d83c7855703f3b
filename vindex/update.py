"""Results added to an existing vindex (constants, Gate 3): build it first if missing; refresh card and sums after."""

import json
from pathlib import Path

from omegaconf import DictConfig

from lab.artifacts import atomic_write
from lab.checksums import write_sha256sums
from vindex.card import vindex_card
from vindex.reader import verify
from vindex.source import vindex_dir


def ensure_vindex(cfg: DictConfig, source: str) -> Path:
    """The vindex folder of ``source`` (verified), built with ``cfg`` if it does not exist yet."""
    folder = vindex_dir(cfg, source)
    if not folder.exists():
        from vindex.build import build

        build(cfg)
    verify(folder)
    return folder


def _optional(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text()) if path.is_file() else None


def refresh_card(folder: Path) -> None:
    """Rewrite ``README.md`` with the constants and Gate 3 results present, then ``SHA256SUMS``."""
    card = vindex_card(json.loads((folder / "index.json").read_text()), json.loads((folder / "manifest.json").read_text()),
                       _optional(folder, "constants.json"), _optional(folder, "gate3.json"))
    atomic_write(folder / "README.md", lambda tmp: tmp.write_text(card))
    write_sha256sums(folder)
