"""A run's identity is its config: a folder's finished or interrupted run is reused only for the config it was run with.

When training starts, the job's config (as composed, interpolations kept, so the record does not depend on
where the checkout lives) is written to ``<run folder>/.run_config.json``. A rerun into the same folder
compares its own config with that record, key by key, ignoring :data:`IGNORED_KEYS`:

* equal: a finished run is skipped, an interrupted one resumes;
* different: :class:`ConfigChanged`, one line naming the differing keys (exit 2; a sweep records the job
  ``failed`` and runs the others), and nothing in the folder is touched;
* ``overwrite=true``: the old run is discarded and the job starts afresh.

A finished run written before the record existed is compared through the resolved config in its
``metadata.json``.
"""

import logging
import re
import shutil
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.errors import UserError
from lab.runs.artifacts import read_json, write_json

log = logging.getLogger(__name__)

RUN_CONFIG_FILE = ".run_config.json"

# Keys (and every key under them) that cannot change what a run computes: where things are written and
# logged, how often progress is shown or a checkpoint is saved (resumes are bit-equal), how long a DDP
# collective waits, how many loader workers feed the same batches; and the tool's data module class and plan terms, which are the
# tool's (conf/train.yaml, conf/gates_train.yaml), not a choice of one run: runs recorded before the key existed resume.
IGNORED_KEYS = (
    "hydra", "paths", "output_root", "run_name", "logger", "ckpt_path", "overwrite", "checkpoint_every_n_steps", "artifacts",
    "datamodule", "plan_terms", "preflight",
    "trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.log_every_n_steps", "trainer.default_root_dir",
    "trainer.ddp.timeout_s", "data.num_workers",
)
SHOWN_DIFFERENCES = 4


class ConfigChanged(UserError):
    """The folder holds a run of another config."""


def is_ignored(key: str) -> bool:
    """Whether ``key`` (dotted) is one of :data:`IGNORED_KEYS` or lies under one."""
    return any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": leaf}`` of nested dicts; lists and scalars are leaves."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


# Callbacks that only observe or print (Lightning's own): adding or changing one never changes what a run trains, so
# they are not part of its identity; a callback class of ours says so with ``LOGGING_ONLY = True``.
LOGGING_ONLY_CALLBACKS = tuple(f"lightning.pytorch.callbacks.{name}" for name in (
    "LearningRateMonitor", "DeviceStatsMonitor", "ModelSummary", "RichModelSummary", "RichProgressBar", "TQDMProgressBar"))


def logging_only(target: Any) -> bool:
    """Whether a callback's ``_target_`` only logs (:data:`LOGGING_ONLY_CALLBACKS`, or a class with ``LOGGING_ONLY``)."""
    if not isinstance(target, str):
        return False
    if target in LOGGING_ONLY_CALLBACKS:
        return True
    try:
        from hydra.utils import get_class

        return bool(getattr(get_class(target), "LOGGING_ONLY", False))
    except Exception:  # noqa: BLE001 - a target that does not import is no logging-only callback
        return False


def without_logging_callbacks(flat: dict[str, Any]) -> dict[str, Any]:
    """``flat`` less every key of a logging-only callback (``callbacks.<name>.*``)."""
    names = {k.split(".")[1] for k, v in flat.items() if k.startswith("callbacks.") and k.count(".") == 2
             and k.endswith("._target_") and logging_only(v)}
    return {k: v for k, v in flat.items() if not (k.startswith("callbacks.") and k.split(".")[1] in names)}


def identity(cfg: DictConfig | dict, resolve: bool = False) -> dict[str, Any]:
    """The flat config that defines a run: every key but the ignored ones and the logging-only callbacks'."""
    tree = OmegaConf.to_container(cfg, resolve=resolve) if OmegaConf.is_config(cfg) else cfg
    return without_logging_callbacks({k: v for k, v in flatten(tree).items() if not is_ignored(k)})


def differences(recorded: dict[str, Any], requested: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for each key whose value differs (``(absent)`` where a side lacks it), sorted."""
    missing = "(absent)"
    return [f"{k}: {recorded.get(k, missing)!r} -> {requested.get(k, missing)!r}"
            for k in sorted(set(recorded) | set(requested)) if recorded.get(k, missing) != requested.get(k, missing)]


def summarize(diff: list[str]) -> str:
    """The first :data:`SHOWN_DIFFERENCES` differences, then how many more."""
    more = len(diff) - SHOWN_DIFFERENCES
    return "; ".join(diff[:SHOWN_DIFFERENCES]) + (f"; and {more} more" if more > 0 else "")


def record_config(folder: Path, cfg: DictConfig) -> Path:
    """Write ``folder/.run_config.json`` (the identity of the run about to start)."""
    return write_json(Path(folder) / RUN_CONFIG_FILE, identity(cfg))


# Nodes added after runs were recorded, with the option every earlier run had in effect: a record without the
# node matches a request whose node is that option unchanged (its values are interpolations of keys the identity
# already holds), so runs recorded before the node existed still resume and skip.
ADDED_NODES = {"callbacks": "callbacks/default.yaml"}


def without_added_nodes(recorded: dict[str, Any], requested: dict[str, Any], cfg: DictConfig) -> dict[str, Any]:
    """``requested`` less the keys of each :data:`ADDED_NODES` node that ``recorded`` predates and ``cfg`` leaves at
    the option earlier runs had."""
    from lab.config import CONF_DIR

    for node, option in ADDED_NODES.items():
        if any(k == node or k.startswith(node + ".") for k in recorded) or node not in cfg:
            continue
        if OmegaConf.to_container(cfg[node], resolve=False) == OmegaConf.to_container(OmegaConf.load(CONF_DIR / option)):
            requested = {k: v for k, v in requested.items() if not (k == node or k.startswith(node + "."))}
    return requested


def without_new_defaults(recorded: dict[str, Any], requested: dict[str, Any], cfg: DictConfig) -> dict[str, Any]:
    """``requested`` less the keys ``recorded`` lacks whose value is their typed node's default (a key the typed
    config added since the record was written, e.g. ``model.reference: null``, is no difference)."""
    from lab.config.registry import NO_DEFAULT, field_default

    kept = {}
    for key, value in requested.items():
        if key not in recorded and "." in key:
            parent, leaf = key.rsplit(".", 1)
            node = OmegaConf.select(cfg, parent, default=None)
            schema = OmegaConf.get_type(node) if OmegaConf.is_dict(node) else None
            default = field_default(schema, leaf) if is_dataclass(schema) else NO_DEFAULT
            if default is not NO_DEFAULT and default == value:
                continue
        kept[key] = value
    return kept


_REFERENCE = re.compile(r"^\$\{([A-Za-z_][\w.]*)\}$")  # a whole value that is one absolute interpolation: ${a.b}


def with_moved_values(recorded: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """``requested`` with each value that moved behind an interpolation read as the record has it: a key recorded as
    ``v`` and requested as ``${other}``, where ``other`` is a key the record predates and the request sets to ``v``
    (``model.tokenizer: ${asset:tiny_tokenizer}`` became ``${data.tokenizer}`` with ``data.tokenizer`` that value)."""
    moved = {}
    for key, value in requested.items():
        target = _REFERENCE.match(value) if isinstance(value, str) else None
        if target and key in recorded and target[1] not in recorded and requested.get(target[1]) == recorded[key]:
            moved[key] = recorded[key]
    return requested | moved


def _comparable(recorded: dict[str, Any], requested: dict[str, Any], cfg: DictConfig) -> dict[str, Any]:
    """``requested`` less what ``recorded`` predates: values moved behind an interpolation, added nodes at their old
    option, typed keys at their default."""
    requested = with_moved_values(recorded, requested)
    return without_new_defaults(recorded, without_added_nodes(recorded, requested, cfg), cfg)


def recorded_identity(folder: Path, cfg: DictConfig) -> tuple[dict | None, dict]:
    """``(recorded, requested)`` identities, compared like with like: the unresolved record of ``.run_config.json``,
    else the resolved config of ``metadata.json``; ``(None, ...)`` when the folder records no config. A node added
    since the record was written is left out of the request when it holds what the recorded run had
    (:data:`ADDED_NODES`), and so is a key the typed config added at its default (:func:`without_new_defaults`)."""
    folder = Path(folder)
    if (folder / RUN_CONFIG_FILE).is_file():
        recorded = without_logging_callbacks(read_json(folder / RUN_CONFIG_FILE))
        return recorded, _comparable(recorded, identity(cfg), cfg)
    meta = folder / "metadata.json"
    if meta.is_file() and isinstance(read_json(meta).get("config"), dict):
        recorded = identity(read_json(meta)["config"])
        return recorded, _comparable(recorded, identity(cfg, resolve=True), cfg)
    return None, identity(cfg)


def check_unchanged(folder: Path, cfg: DictConfig, what: str) -> None:
    """Raise :class:`ConfigChanged` when ``folder`` records a config other than ``cfg`` (``what``: "a finished
    run", "an interrupted run"); a folder that records none passes, with a warning."""
    recorded, requested = recorded_identity(folder, cfg)
    if recorded is None:
        log.warning("%s holds %s that records no config (written by an older version); reusing it unchecked", folder, what)
        return
    diff = differences(recorded, requested)
    if diff:
        raise ConfigChanged(f"{folder} holds {what} of another config ({summarize(diff)}); choose another folder "
                            "(hydra.run.dir=, hydra.sweep.dir= or make sweep SWEEP=<name>) or pass overwrite=true to replace it")


def discard_run(folder: Path, keep: tuple[str, ...] = (".hydra", ".lock")) -> None:
    """Delete what a run left in ``folder`` (``overwrite=true``), keeping Hydra's records of this job (``keep``, logs)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    log.info("overwrite=true: discarding the run in %s", folder)
    for child in folder.iterdir():
        if child.name in keep or child.suffix == ".log":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()

