"""Results added to an existing vindex (constants, Gate 3): build it first if missing; refresh card and sums after."""

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lab.runs.artifacts import atomic_write, read_json
from lab.runs.checksums import write_sha256sums
from lab.runs.identity import ConfigChanged, differences, summarize
from vindex.card import vindex_card
from vindex.reader import verify
from vindex.source import vindex_dir

# The config keys that decide what a build writes (svd.* only for features=svd); the others (constants, gate3,
# probe, device, ...) only decide what is measured on it.
BUILD_KEYS = ("features", "num_features", "dtype", "down_top_k")
SVD_KEYS = ("seed", "svd.oversample", "svd.power_iters")


def build_identity(cfg: DictConfig | dict, source: str) -> dict:
    """``{key: value}`` of :data:`BUILD_KEYS` (and :data:`SVD_KEYS` for an SVD vindex) plus the source."""
    cfg = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg
    keys = BUILD_KEYS + (SVD_KEYS if OmegaConf.select(cfg, "features") == "svd" else ())
    return {"source": source, **{k: OmegaConf.select(cfg, k) for k in keys}}


def check_built_with(folder: Path, cfg: DictConfig, source: str) -> list[str]:
    """The differences between the build config recorded in ``folder/manifest.json`` and the requested one."""
    manifest = read_json(Path(folder) / "manifest.json")
    return differences(build_identity(manifest.get("config") or {}, manifest["source"]["repo"]), build_identity(cfg, source))


def ensure_vindex(cfg: DictConfig, source: str) -> Path:
    """The vindex folder of ``source`` (verified), built with ``cfg`` if it does not exist yet.

    An existing vindex is reused only when it was built from the same source with the same build keys; else
    :class:`lab.runs.identity.ConfigChanged`, unless ``overwrite=true`` rebuilds it.
    """
    from vindex.build import build

    folder = vindex_dir(cfg, source)
    if not folder.exists():
        build(cfg)
    elif (diff := check_built_with(folder, cfg, source)) and cfg.overwrite:
        build(cfg)
    elif diff:
        raise ConfigChanged(f"{folder} is a vindex built with another config ({summarize(diff)}); "
                            "pass out=<another folder>, or overwrite=true to rebuild it")
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
