"""The one registry of typed config nodes: pyproject's ``qwen3_internals.schemas`` entry points, the suite's own nodes
(:mod:`lab.config.schema` and those that live with their layer) and each tool's. :func:`register_schemas` stores
them all in Hydra's ConfigStore as ``schema/<node>``; every command calls it before it composes
(:func:`lab.config.command.hydra_command`, :func:`lab.train.run.recipe_main`, :func:`composing`). :func:`validate`
runs each typed node's checks on a composed config."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import fields, is_dataclass
from importlib.metadata import entry_points
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from lab.config import CONF_DIR
from lab.config.checks import TYPE_NAMES
from lab.config.errors import UserError
from lab.config.schema import RunKeys, TrainerConfig

SCHEMA_GROUP = "qwen3_internals.schemas"  # every typed node: name = "package.module:Dataclass" (pyproject.toml)


def typed_nodes() -> dict[str, type]:
    """Every typed node, the suite's own (:data:`lab.config.schema.LAB_NODES`) and each tool's, from the one registry: the entry
    points of :data:`SCHEMA_GROUP` (loading a tool's imports that tool's schema module)."""
    return {ep.name: ep.load() for ep in sorted(entry_points(group=SCHEMA_GROUP), key=lambda ep: ep.name)}


def register_schemas() -> None:
    """Store every typed node as ``schema/<node>`` (package ``<node>``; a node whose schema is a whole config, as
    vindex's, says ``PACKAGE = "_global_"``) for the configs' defaults lists. Every command calls it before it
    composes (:func:`lab.config.command.hydra_command`, :func:`lab.train.run.recipe_main`, :func:`composing`)."""
    store = ConfigStore.instance()
    for node, schema in typed_nodes().items():
        store.store(group="schema", name=node, node=schema, package=getattr(schema, "PACKAGE", node))


@contextmanager
def composing() -> Iterator[None]:
    """The suite's configs ready to ``hydra.compose`` in this process (what ``lab.plan`` and the tests do): every
    schema registered, Hydra initialised on :data:`lab.config.CONF_DIR` (and cleared again after)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield


def with_defaults(schema: type, values: dict) -> Any:
    """``values`` (a plain mapping, e.g. a saved run's config or a spec built in code) as a ``schema`` instance: the
    keys it leaves out take the schema's defaults, keys the schema lacks are dropped, and its checks run."""
    names = {f.name for f in fields(schema)}
    return schema(**{k: v for k, v in values.items() if k in names})


def field_default(schema: type, name: str) -> Any:
    """The default of ``schema``'s field ``name`` (a fresh one for a factory); :data:`NO_DEFAULT` when it has none."""
    for f in fields(schema):
        if f.name == name:
            return f.default_factory() if f.default_factory is not NO_DEFAULT else f.default
    return NO_DEFAULT


class TypedConfig(dict):
    """A composed training run's typed nodes as their dataclass instances, by node name and as attributes
    (``typed.optimizer.lr``, a float with no cast); ``typed.run`` is its top-level :class:`RunKeys`."""

    def __getattr__(self, node: str) -> Any:
        try:
            return self[node]
        except KeyError:
            raise AttributeError(f"the config has no typed node {node!r}; typed nodes: {', '.join(self)}") from None


def validate(cfg: DictConfig) -> Any:
    """Every typed node of the composed ``cfg`` as its dataclass instance, its own checks (``__post_init__``) run: the
    instance itself when the schema is the whole config (``vindex``, ``gates_apply``, ...), else a
    :class:`TypedConfig` of the typed nodes, with ``run`` the top-level :class:`RunKeys` of a training run. A
    node whose checks fail is one :class:`UserError` naming it."""
    if is_dataclass(OmegaConf.get_type(cfg)):
        return to_instance("", cfg)
    schemas = {name: schema for name, schema in typed_nodes().items() if getattr(schema, "PACKAGE", name) == name}  # nodes
    typed = TypedConfig({str(node): to_instance(str(node), as_typed(cfg[node], schemas.get(str(node)))) for node in cfg
                         if OmegaConf.is_dict(cfg[node]) and (is_dataclass(OmegaConf.get_type(cfg[node])) or str(node) in schemas)})
    if "seed" in cfg:
        typed["run"] = check_run_keys(cfg)
    if "optimizer" in typed and "trainer" in typed and typed["trainer"].max_steps > 0:
        typed["optimizer"].warmup(typed["trainer"].max_steps)  # a run shorter than its warmup: refused before it starts
    if "eval" in typed and "trainer" in typed and typed["eval"].final_loss_evaluations > 1:
        check_final_loss_evaluations(typed["eval"].final_loss_evaluations, typed["trainer"])
    return typed


def check_final_loss_evaluations(wanted: int, trainer: TrainerConfig) -> None:
    """A final loss averaged over more validations than the run holds is refused before the run starts."""
    held = trainer.validations()
    if held is not None and held < wanted:
        raise UserError(f"eval.final_loss_evaluations={wanted} averages the last {wanted} validations, but the run holds {held} "
                        f"(trainer.max_steps={trainer.max_steps}, trainer.val_check_interval={trainer.val_check_interval}); "
                        "validate more often (e.g. trainer.val_check_interval=0.1) or average fewer")


def typed_node(cfg: DictConfig, node: str) -> Any:
    """One typed node of ``cfg`` as its dataclass instance, as :func:`validate` gives it."""
    return to_instance(node, as_typed(cfg[node], typed_nodes().get(node)))


def as_typed(value: DictConfig, schema: type | None) -> DictConfig:
    """``value`` typed by ``schema`` when it is not yet (a config loaded from YAML, as a DDP child rank's): the
    schema's defaults under its values, extra keys kept (``+trainer.<arg>``)."""
    if schema is None or is_dataclass(OmegaConf.get_type(value)):
        return value
    base = OmegaConf.structured(schema)
    OmegaConf.set_struct(base, False)
    return OmegaConf.merge(base, value)


def to_instance(node: str, value: DictConfig) -> Any:
    """The typed node ``value`` as its dataclass instance (interpolations resolved); a ``ValueError`` of its
    checks becomes one :class:`UserError` naming the node."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        return OmegaConf.to_object(value)
    except MissingMandatoryValue as err:
        key = f"{node}.{err.full_key}" if node and err.full_key else err.full_key or node
        raise UserError(f"{key} is required: pass {key}=...") from None
    except ValueError as err:
        raise UserError(f"bad {node + ' ' if node else ''}config: {err}") from None


def check_run_keys(cfg: DictConfig) -> RunKeys:
    """``cfg``'s top-level :class:`RunKeys` converted to their types (a value that does not convert is one
    ``UserError`` naming the key) and checked."""
    from omegaconf.errors import ValidationError

    names = [f.name for f in fields(RunKeys)]
    typed = OmegaConf.structured(RunKeys)
    for name in names:
        if name in cfg:
            value = cfg[name]
            try:
                typed[name] = value
            except ValidationError:
                kind = next(f.type for f in fields(RunKeys) if f.name == name)
                raise UserError(f"{name}={value!r} is invalid; expected {TYPE_NAMES.get(kind, kind)}") from None
    return OmegaConf.to_object(typed)
