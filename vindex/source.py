"""Which checkpoint a vindex command reads and which folder it writes."""

from pathlib import Path

from omegaconf import DictConfig

from lab.runs.artifacts import check_writable
from lab.runs.reference import ensure_tiny_reference
from vindex.checkpoint import local_folder


def resolve_source(cfg: DictConfig) -> str:
    """``source``, or the tiny reference model's folder (trained first through the ablation suite if missing)."""
    if cfg.source:
        local_folder(str(cfg.source))  # a missing path is refused here, before any model or hub call
        return str(cfg.source)
    return str(ensure_tiny_reference(cfg.paths.runs))


def vindex_dir(cfg: DictConfig, source: str) -> Path:
    """``out``, or ``<runs>/vindex/<source name>-<features><F>``."""
    if cfg.out:
        return Path(str(cfg.out)).expanduser().resolve()
    name = Path(source.rstrip("/")).name if Path(source).expanduser().exists() else source.replace("/", "--")
    feats = f"svd{cfg.num_features}" if cfg.features == "svd" else "full"
    return Path(str(cfg.paths.runs), "vindex", f"{name}-{feats}").resolve()


def writable_vindex_dir(cfg: DictConfig, source: str) -> Path:
    """:func:`vindex_dir`, checked writable (or, not built yet, its nearest existing parent) before any work:
    a read-only or blocked location is one line naming it and ``out=``/``paths.runs=``
    (:func:`lab.runs.artifacts.check_writable`)."""
    return check_writable(vindex_dir(cfg, source), "out=... or paths.runs=...")
