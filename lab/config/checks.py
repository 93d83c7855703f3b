"""Config values checked before anything runs or is written: a wrong one is one ``UserError`` naming the key.

Hydra already refuses unknown groups, unknown keys and values that do not parse; these are the values that
parse but cannot work (a zero batch size, a negative learning rate, a beta outside [0, 1)). The typed nodes
(:mod:`lab.config.schema`: optimizer, compile, eval, diagnostics, artifacts, variant, model, data, logger, trainer; a tool's, e.g. gates) check their own values; the rules here are for
the keys not typed yet.
"""

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.schema import integer, validate
from lab.errors import UserError

Rules = dict[str, tuple[Callable[[Any], bool], str]]  # key: (test, what a valid value is)
_ABSENT = object()


# the rules of every training run's keys not typed yet (a tool types its own node: lab.config.schema.typed_nodes)
TRAINING_RULES: Rules = {
    "seed": (integer(0), "a non-negative integer"),
    "checkpoint_every_n_steps": (integer(1), "a positive integer"),
    "loss_chunk_size": (lambda v: v in ("auto", None) or integer(1)(v), "auto, null or a positive integer"),
}


def check_training_config(cfg: DictConfig) -> None:
    """Check the typed nodes (:func:`lab.config.schema.validate`: the run's and the tool's), then every key of
    :data:`TRAINING_RULES` the config has; raise on the first wrong one."""
    validate(cfg)
    for key, (valid, expected) in TRAINING_RULES.items():
        value = OmegaConf.select(cfg, key, default=_ABSENT)
        if value is _ABSENT:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if not valid(value):
            raise UserError(f"{key}={value!r} is invalid; expected {expected}")
