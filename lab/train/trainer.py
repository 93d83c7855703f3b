"""Assemble a Lightning ``Trainer`` from ``conf/trainer``: every key is a ``Trainer`` argument.

Every trainer also gets :class:`lab.runs.rng.RNGState` (generator states in each checkpoint) and
:class:`lab.runs.checkpoint_io.AtomicCheckpointIO` (checkpoints renamed into place, never half-written).

Four values are interpreted: a fractional ``val_check_interval`` (:func:`validation_schedule`), ``precision:
auto`` (``bf16-mixed`` on a GPU, ``32-true`` on CPU, where bf16 matmuls are ~100x slower), ``deterministic: auto`` (``True`` on CPU, ``False`` on a GPU: see
:func:`resolve_deterministic`) and ``strategy: ddp``, which becomes :class:`lab.train.ddp.HydraJobDDPStrategy` so
that DDP works under Hydra multirun.
"""

import os
import pickle
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf

from lab.config.errors import UserError
from lab.config.schema import validation_steps
from lab.runs.checkpoint_io import AtomicCheckpointIO
from lab.runs.rng import RNGState
from lab.train.ddp import HydraJobDDPStrategy
from lab.train.progress import StepProgressBar
from lab.train.step_measurements import StepMeasurements


def runs_on_gpu(accelerator: str) -> bool:
    """Whether ``trainer.accelerator`` puts the run on a GPU (``auto``: when CUDA is available)."""
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def resolve_precision(precision: str, accelerator: str) -> str:
    if precision != "auto":
        return precision
    return "bf16-mixed" if runs_on_gpu(accelerator) else "32-true"


def resolve_deterministic(deterministic: bool | str | None, accelerator: str) -> bool | str | None:
    """``auto``: deterministic algorithms on CPU, where they make a compiled run bit-identical from one run to the
    next (Inductor's CPU kernels otherwise differ in the 7th digit of the loss by step 30) for 4-10 % of a compiled
    tiny step; Lightning's default (off) on a GPU, where they are slower and some kernels refuse to run."""
    if deterministic != "auto":
        return deterministic
    return not runs_on_gpu(accelerator)


def validation_schedule(trainer_kwargs: dict) -> dict:
    """``val_check_interval`` as Lightning can run it. An integer is Lightning's own, training batches (steps without
    gradient accumulation), and stays. A fraction f of an
    epoch (a float in (0, 1], e.g. seed001's 0.5: twice per epoch) needs ``check_val_every_n_epoch`` in Lightning:
    an epoch-bounded run (``max_steps: -1``) gets 1; a step-bounded one (``trainer.max_steps=N``, e.g. a short look
    at an epoch-bounded experiment) validates every max(1, round(f·N)) optimizer steps instead, as many validations
    per run as f gives per epoch: that many steps times ``accumulate_grad_batches``, since Lightning counts the
    interval in training batches. Returns the updated keyword arguments."""
    interval, steps = trainer_kwargs["val_check_interval"], trainer_kwargs["max_steps"]
    if not isinstance(interval, float) or not 0 < interval <= 1 or trainer_kwargs["check_val_every_n_epoch"] is not None:
        return trainer_kwargs
    if steps > 0:
        batches_per_step = trainer_kwargs.get("accumulate_grad_batches") or 1
        return {**trainer_kwargs, "val_check_interval": validation_steps(interval, steps) * batches_per_step}
    return {**trainer_kwargs, "check_val_every_n_epoch": 1}


def match_slurm_cpus() -> None:
    """Under SLURM, compute on the cores the task was given (``SLURM_CPUS_PER_TASK``) unless ``OMP_NUM_THREADS``
    says otherwise: torch would start one thread per core of the node in every task, and tasks sharing a node
    without CPU binding then slow each other down many times over (measured: 2 s instead of 0.1 s per tiny step)."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if cpus and SLURMEnvironment.detect() and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, int(cpus)))


def build_trainer(
    cfg: DictConfig, *, callbacks: list[L.Callback], logger: Logger | None, entry_module: str, job_dir: Path
) -> L.Trainer:
    kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(kwargs, dict)
    kwargs = validation_schedule(kwargs)
    ddp_options = dict(kwargs.pop("ddp", None) or {})
    if ddp_options.get("timeout_s") is not None:
        ddp_options["timeout"] = timedelta(seconds=ddp_options.pop("timeout_s"))
    ddp_options.pop("timeout_s", None)
    accelerator = str(kwargs["accelerator"])
    kwargs["precision"] = resolve_precision(str(kwargs["precision"]), accelerator)
    kwargs["deterministic"] = resolve_deterministic(kwargs["deterministic"], accelerator)
    if kwargs["strategy"] == "ddp":
        kwargs["strategy"] = HydraJobDDPStrategy(job_config=cfg, entry_module=entry_module, job_dir=job_dir, **ddp_options)
    kwargs.setdefault("default_root_dir", str(job_dir))
    progress = [StepProgressBar()] if kwargs["enable_progress_bar"] else []
    try:
        # under SLURM, a preemption signal is lab.runs.preemption's: Lightning's own SIGUSR1 requeue stays off
        slurm = [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []
        match_slurm_cpus()
        return L.Trainer(**kwargs, callbacks=[StepMeasurements(), *callbacks, RNGState(), *progress], logger=logger if logger is not None else False,
                         plugins=[AtomicCheckpointIO(), *slurm])
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
