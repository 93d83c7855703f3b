"""Where a job writes: the output root (run dir, or sweep dir under ``-m``) and the job's own folder."""

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from lab.config.errors import UserError


def resolve_output_root(cfg: DictConfig) -> Path:
    """Fill ``cfg.output_root`` (if null) from Hydra: the sweep dir under ``-m``, else the run dir."""
    if cfg.get("output_root"):
        root = Path(str(cfg.output_root))
    elif HydraConfig.initialized():
        hydra = HydraConfig.get()
        root = Path(hydra.sweep.dir if hydra.mode == RunMode.MULTIRUN else hydra.runtime.output_dir)
    else:
        raise UserError("output_root is not set and no Hydra run is active; pass output_root=<folder>")
    root = root.resolve()
    with open_dict(cfg):
        cfg.output_root = str(root)
    return root


def job_dir(cfg: DictConfig, default: Path) -> Path:
    """The Hydra job's output folder (its logs, W&B files, DDP child config), or ``default`` outside Hydra (created
    by :func:`lab.train.run.run` when training starts: a run refused for bad input writes nothing)."""
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir).resolve()
    return default
