"""Callbacks from config: the ``callbacks`` group (``conf/callbacks/``), instantiated with Hydra's ``_target_``, as
lightning-hydra-template's ``instantiate_callbacks`` does.

Each entry of ``cfg.callbacks`` is one Lightning callback, added to a run in the order of the entries, after
health, the metrics history and the recipe's callbacks, before the step checkpoints, preemption and the run record
(:mod:`lab.train.run`). An entry that is null, or whose ``enabled`` is false, null
or 0, is left out (``enabled`` is read here, never passed on), so a config can switch a callback with a value
it already has::

    python -m ablations.train callbacks.diagnostics=null                      # leave one out
    python -m ablations.train +callbacks.lr_monitor._target_=lightning.pytorch.callbacks.LearningRateMonitor
"""

from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lab.config.errors import UserError


def instantiate_callbacks(callbacks: DictConfig | None) -> list[L.Callback]:
    """The enabled entries of ``callbacks`` as Lightning callbacks (the module docstring); a bad entry is a
    :class:`lab.config.errors.UserError` naming it."""
    result: list[L.Callback] = []
    for name, entry in (callbacks or {}).items():
        if entry is None:
            continue
        if not OmegaConf.is_dict(entry):
            raise UserError(f"callbacks.{name}={entry!r}: a callback entry is a mapping with a _target_, e.g. "
                            f"+callbacks.{name}._target_=lightning.pytorch.callbacks.LearningRateMonitor")
        if not entry.get("enabled", True):
            continue
        if "_target_" not in entry:
            raise UserError(f"callbacks.{name} has no _target_; give the callback's class, e.g. "
                            f"+callbacks.{name}._target_=lightning.pytorch.callbacks.LearningRateMonitor")
        spec: dict[str, Any] = {k: v for k, v in OmegaConf.to_container(entry, resolve=True).items() if k != "enabled"}
        try:
            callback = instantiate(spec)
        except InstantiationException as err:
            raise UserError(f"callbacks.{name}: {str(err).splitlines()[0]}") from None
        if not isinstance(callback, L.Callback):
            raise UserError(f"callbacks.{name}: {spec['_target_']} is not a Lightning callback")
        result.append(callback)
    return result
