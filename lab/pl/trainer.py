"""Assemble a Lightning ``Trainer`` from ``conf/trainer``: every key is a ``Trainer`` argument.

Every trainer also gets :class:`lab.pl.rng.RNGState` (generator states in each checkpoint) and
:class:`lab.pl.checkpoint_io.AtomicCheckpointIO` (checkpoints renamed into place, never half-written).

Two values are interpreted: ``precision: auto`` (``bf16-mixed`` on a GPU, ``32-true`` on CPU, where bf16
matmuls are ~100x slower) and ``strategy: ddp``, which becomes :class:`lab.ddp.HydraJobDDPStrategy` so
that DDP works under Hydra multirun.
"""

import pickle
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from lab.ddp import HydraJobDDPStrategy
from lab.errors import UserError
from lab.pl.checkpoint_io import AtomicCheckpointIO
from lab.pl.progress import StepProgressBar
from lab.pl.rng import RNGState


def runs_on_gpu(accelerator: str) -> bool:
    """Whether ``trainer.accelerator`` puts the run on a GPU (``auto``: when CUDA is available)."""
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def resolve_precision(precision: str, accelerator: str) -> str:
    if precision != "auto":
        return precision
    return "bf16-mixed" if runs_on_gpu(accelerator) else "32-true"


def build_trainer(
    cfg: DictConfig, *, callbacks: list[L.Callback], logger: Logger | None, entry_module: str, job_dir: Path
) -> L.Trainer:
    kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(kwargs, dict)
    ddp_options = dict(kwargs.pop("ddp", None) or {})
    if ddp_options.get("timeout_s") is not None:
        ddp_options["timeout"] = timedelta(seconds=float(ddp_options.pop("timeout_s")))
    ddp_options.pop("timeout_s", None)
    kwargs["precision"] = resolve_precision(str(kwargs.get("precision", "auto")), str(kwargs.get("accelerator", "auto")))
    if kwargs.get("strategy") == "ddp":
        kwargs["strategy"] = HydraJobDDPStrategy(job_config=cfg, entry_module=entry_module, job_dir=job_dir, **ddp_options)
    kwargs.setdefault("default_root_dir", str(job_dir))
    progress = [StepProgressBar()] if kwargs.get("enable_progress_bar", True) else []
    try:
        return L.Trainer(**kwargs, callbacks=[*callbacks, RNGState(), *progress], logger=logger if logger is not None else False,
                         plugins=[AtomicCheckpointIO()])
    except TypeError as err:
        raise UserError(f"bad trainer option: {err}; every trainer.<key> must be a lightning.Trainer argument") from None
    except (ValueError, L.fabric.utilities.exceptions.MisconfigurationException) as err:
        raise UserError(f"bad trainer configuration: {str(err).splitlines()[0]}") from None


def fit(trainer: L.Trainer, module: L.LightningModule, datamodule: L.LightningDataModule, ckpt_path: str | None) -> None:
    """``trainer.fit``, resuming from ``ckpt_path`` with ``weights_only=True``: a checkpoint that is not plain
    tensors and primitives (a pickle that could run code) is refused with one line, never unpickled."""
    if ckpt_path is not None and not Path(str(ckpt_path)).is_file() and str(ckpt_path) not in ("last", "best", "hpc"):
        raise UserError(f"ckpt_path={ckpt_path} is not a file; pass a Lightning checkpoint such as <run>/checkpoints/last.ckpt")
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True if ckpt_path else None)
    except pickle.UnpicklingError as err:
        raise UserError(f"ckpt_path={ckpt_path} is not a plain checkpoint; refusing to unpickle it ({str(err).splitlines()[0][:120]})") from None
