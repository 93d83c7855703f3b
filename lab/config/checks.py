"""Config values checked before anything runs or is written: a wrong one is one ``UserError`` naming the key.

Hydra already refuses unknown groups, unknown keys and values that do not parse; these are the values that
parse but cannot work (a zero batch size, a negative learning rate, a beta outside [0, 1)).
"""

import math
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lab.errors import UserError
from lab.train.loggers import KINDS as LOGGER_KINDS
from lab.train.module import WEIGHT_DECAY_MODES


def integer(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)

    return ok


def betas(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(number(0, 1, high_open=True)(b) for b in v)


def _steps(v: Any) -> bool:
    return integer(1)(v) or v == -1


Rules = dict[str, tuple[Callable[[Any], bool], str]]  # key: (test, what a valid value is)
_ABSENT = object()
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def _compile_backends() -> list[str]:
    return torch.compiler.list_backends(exclude_tags=())


# the rules of every training run (a tool adds its own: Recipe.config_rules)
TRAINING_RULES: Rules = {
    "seed": (integer(0), "a non-negative integer"),
    "checkpoint_every_n_steps": (integer(1), "a positive integer"),
    "trainer.max_steps": (_steps, "a positive integer, or -1 (then trainer.max_epochs decides)"),
    "loss_chunk_size": (lambda v: v in ("auto", None) or integer(1)(v), "auto, null or a positive integer"),
    "optimizer.fused": (lambda v: isinstance(v, bool), "true or false"),
    "compile.enabled": (lambda v: isinstance(v, bool) or v == "auto", "true, false or auto"),
    "compile.auto_min_steps": (integer(1), "a positive integer"),
    "compile.backend": (lambda v: v in _compile_backends(), "a torch.compile backend: torch.compiler.list_backends(exclude_tags=())"),
    "compile.mode": (lambda v: v in COMPILE_MODES, f"one of {', '.join(map(str, COMPILE_MODES))}"),
    "data.seq_len": (integer(2), "an integer >= 2"),
    "data.batch_size": (integer(1), "a positive integer"),
    "data.num_workers": (integer(0), "a non-negative integer"),
    "optimizer.lr": (number(0, low_open=True), "a positive finite number"),
    "optimizer.betas": (betas, "two numbers in [0, 1), e.g. [0.9, 0.95]"),
    "optimizer.eps": (number(0, low_open=True), "a positive number"),
    "optimizer.weight_decay": (number(0), "a non-negative number"),
    "optimizer.warmup_steps": (integer(0), "a non-negative integer"),
    "optimizer.min_lr_ratio": (number(0, 1), "a number in [0, 1]"),
    "optimizer.z_loss": (number(0), "a non-negative number (PaLM's z-loss coefficient, e.g. 1e-4; 0: off)"),
    "optimizer.weight_decay_mode": (lambda v: v in WEIGHT_DECAY_MODES, f"one of {', '.join(WEIGHT_DECAY_MODES)}"),
    "diagnostics.dense_steps": (integer(0), "a non-negative integer"),
    "logger.kind": (lambda v: v in LOGGER_KINDS, f"one of {', '.join(LOGGER_KINDS)}"),
}


def check_training_config(cfg: DictConfig, extra: Rules | None = None) -> None:
    """Check every key of :data:`TRAINING_RULES` and of a tool's ``extra`` rules (``Recipe.config_rules``) the
    config has; raise on the first wrong one."""
    for key, (valid, expected) in {**TRAINING_RULES, **(extra or {})}.items():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is _ABSENT:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if not valid(value):
            raise UserError(f"{key}={value!r} is invalid; expected {expected}")
