"""A training job's plan terms: what its memory and disk depend on beyond the model's shape (:mod:`lab.plan`).

Every job of a plan shares a :class:`JobShape` (the model, its parameter counts, the batch, the steps, the
precision). What it trains and writes is the tool's: the run config names the function that turns the shape into
a :class:`lab.plan.memory.Job` and a disk estimate (``plan_terms:`` in conf/train.yaml, conf/gates_train.yaml),
as ``datamodule:`` names its data. :func:`full_model_terms` is a causal LM whose every weight trains and is saved
(``ablations.train``); a tool that trains something else (``gates.plan.gate_terms``: the λ of a frozen model)
gives its own.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from transformers import Qwen3Config

from lab.plan.disk import ablation_disk
from lab.plan.memory import Job
from lab.runs.artifacts import weight_settings
from lab.train.module import resolve_chunk_size


@dataclass(frozen=True)
class JobShape:
    """What every planned training job has, whatever trains in it."""

    config: Qwen3Config
    params: int               # every parameter, tied weights once
    matmul_params: int        # the weight matrices' (the LM head's, not the embedding lookup)
    batch: int                # sequences per device and step
    seq: int                  # tokens per sequence
    steps: int | None         # optimizer steps; None when they cannot be counted here
    precision: str            # Lightning's, resolved for the device
    ddp: bool
    gpu: bool
    checkpoint_every: int     # checkpoint_every_n_steps


JobTerms = Callable[[DictConfig, JobShape], tuple[Job, dict[str, Any]]]


def full_model_terms(cfg: DictConfig, shape: JobShape) -> tuple[Job, dict[str, Any]]:
    """Every weight trains (AdamW state for all N) and is written in ``artifacts.formats`` at the end
    (:func:`lab.plan.disk.ablation_disk`); the loss's logits live one ``loss_chunk_size`` chunk at a time."""
    formats, save_dtype = weight_settings(OmegaConf.to_container(cfg, resolve=True))
    rows = shape.batch * shape.seq
    chunk = resolve_chunk_size(cfg.loss_chunk_size, shape.config.vocab_size) or rows
    job = Job(shape.params, shape.matmul_params, shape.params, rows, min(chunk, rows), shape.precision, shape.ddp, shape.gpu,
              save_params=shape.params, save_dtype=save_dtype)
    disk = ablation_disk(shape.params, shape.params, shape.precision, len(formats), save_dtype,
                         bool(OmegaConf.select(cfg, "artifacts.keep_optimizer_state")), shape.steps, shape.checkpoint_every)
    return job, disk
