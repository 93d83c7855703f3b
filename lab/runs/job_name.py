"""A multirun job's name: its base name, then the values of the keys the sweep varies besides that base.

Hydra's ``override_dirname`` names a job by *every* override on the command line; here only the swept keys
count (those given as a sweep, ``a=1,2`` / ``glob(*)`` / ``range(3)``, on the command line or in
``hydra.sweeper.params``), so a sweep over the variant alone keeps the seed's ``<variant>`` folders::

    -m variant=original,no_qk_norm                          -> original, no_qk_norm
    -m variant=original,no_qk_norm optimizer.lr=1e-3,3e-2   -> original/lr=0.001, original/lr=0.03, ...
    -m ... optimizer.lr=1e-3,3e-2 seed=0,1                  -> original/lr=0.001,seed=0, ...

A key is written by its last component (``lr``) unless two swept keys share it, then in full. Keys that
cannot change a result (:data:`lab.runs.identity.IGNORED_KEYS`) never enter a name, and neither do the keys
already in the base name (``base_keys``, the variant for ablations). The sweep's swept keys are read from
``<sweep dir>/multirun.yaml``, which Hydra's sweeper writes before it launches any job; a name is
``base/k=v,...`` with the keys sorted. ``/`` inside a value is written ``%2F`` so a value never nests folders.
"""

import functools
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from lab.runs.identity import is_ignored

ITEM_SEP, KEY_VALUE_SEP = ",", "="


def _key(override) -> str:
    return override.key_or_group.lstrip("+~")


def sweep_overrides(sweep_dir: Path) -> list[str]:
    """The sweep's own overrides: ``hydra.sweeper.params`` and the command line's, as its sweeper read them."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return []
    stat = path.stat()
    return list(_saved_sweep_overrides(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _saved_sweep_overrides(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """:func:`sweep_overrides` of one version of ``multirun.yaml`` (the file's path, mtime and size name it): the
    whole sweep's config, 0.15 s to parse, read once per process instead of at each of a job's ~10 name lookups."""
    saved = OmegaConf.load(path)
    params = OmegaConf.select(saved, "hydra.sweeper.params", default=None)
    task = OmegaConf.select(saved, "hydra.overrides.task", default=None)
    params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
    return (*(f"{k}={v}" for k, v in params.items()), *(str(o) for o in (task or [])))


def swept_keys(overrides: list[str]) -> set[str]:
    """Keys of ``overrides`` that are sweeps (several values), e.g. ``optimizer.lr`` of ``optimizer.lr=1e-3,3e-2``."""
    return {_key(o) for o in OverridesParser.create().parse_overrides(overrides) if o.is_sweep_override()}


def job_values(job_overrides: list[str], keys: set[str]) -> dict[str, str]:
    """``{key: value as the sweeper wrote it}`` of this job's overrides whose key is in ``keys``."""
    values = {}
    for override in OverridesParser.create().parse_overrides(job_overrides):
        if _key(override) in keys:
            values[_key(override)] = override.get_value_element_as_str()
    return values


def format_job_name(base: str, values: dict[str, str]) -> str:
    """``base`` alone, or ``base/k=v,k=v`` (keys sorted, shortened to their last component when unambiguous)."""
    if not values:
        return base
    short = [k.rsplit(".", 1)[-1] for k in values]
    shown = {(k.rsplit(".", 1)[-1] if short.count(k.rsplit(".", 1)[-1]) == 1 else k): v for k, v in values.items()}
    items = ITEM_SEP.join(f"{k}{KEY_VALUE_SEP}{v.replace('/', '%2F')}" for k, v in sorted(shown.items()))
    return f"{base}/{items}"


def swept_values(base_keys: tuple[str, ...] = ()) -> dict[str, str]:
    """This multirun job's swept ``{key: value}`` besides ``base_keys``; ``{}`` outside a multirun."""
    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return {}
    keys = {k for k in swept_keys(sweep_overrides(Path(str(hydra.sweep.dir)))) if k not in base_keys and not is_ignored(k)}
    return job_values(list(hydra.overrides.task), keys)


def job_name(base: str, *base_keys: str) -> str:
    """The ``${job_name:<base>[,<key in base>...]}`` resolver: see the module docstring."""
    return format_job_name(str(base), swept_values(tuple(base_keys)))


def swept_config(cfg: DictConfig) -> dict[str, Any]:
    """This job's swept keys with their values (a config group's: the option chosen), for run summaries; ``{}``
    outside a multirun."""
    values = swept_values()
    if not values:
        return {}
    choices = HydraConfig.get().runtime.choices
    return {k: choices[k] if k in choices else OmegaConf.select(cfg, k) for k in sorted(values)}


def register_job_name_resolver() -> None:
    """``${job_name:<base>,<key in base>...}``: a multirun job's name, its base plus its other swept values
    (:func:`job_name`), for the configs' ``run_name``; ``import lab`` registers it."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("job_name"):
        OmegaConf.register_new_resolver("job_name", job_name)
