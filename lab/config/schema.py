"""Typed config: the nodes of a training run whose keys and defaults are stated here, once, as dataclasses
registered in Hydra's ConfigStore (``schema/<node>``, torchtitan's ``job_config.py`` and Hydra's "Structured Config
schema" pattern). ``conf/train.yaml`` lists them first in its defaults, so:

- a key that is not a field is refused by Hydra while it composes (``optimizer.lrr=1``: "Key 'lrr' not in
  'OptimizerConfig'"), and a value of the wrong type too (``optimizer.lr=abc``);
- every default is the field's, and YAML files (experiments, interventions, studies) set only what differs;
- each node checks its own values in ``__post_init__`` (:func:`validate`, run by the run lifecycle before
  anything runs): one :class:`lab.config.errors.UserError` naming the key; the top-level keys too (:class:`RunKeys`).

``python -m ablations.train --cfg job`` prints the composed config with every default.
"""

import difflib
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import dataclass, field, fields, is_dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from lab.config import CONF_DIR
from lab.config.errors import UserError

WEIGHT_DECAY_MODES = ("coupled", "independent")
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def integer(low: int):
    """A test: an int (not a bool) of at least ``low``."""
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    """A test: a finite int or float in [low, high] (ends open as asked)."""
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)

    return ok


def betas(v: Any) -> bool:
    """A test: AdamW's two betas, each in [0, 1)."""
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(number(0, 1, high_open=True)(b) for b in v)


def require(node: str, key: str, value: Any, valid: bool, expected: str) -> None:
    """Raise the one-line error of a value that parses but cannot work (``node`` "": a top-level key)."""
    if not valid:
        shown = list(value) if isinstance(value, (list, tuple)) else value
        raise UserError(f"{node + '.' if node else ''}{key}={shown!r} is invalid; expected {expected}")


def require_each(node: str, owner: Any, checks: Iterable[tuple[str, Any, str]]) -> None:
    """:func:`require` for each ``(key, valid, expected)`` of a typed node ``owner``, in order; ``valid`` is a bool,
    or a test that is given the key's value."""
    for key, valid, expected in checks:
        value = getattr(owner, key)
        require(node, key, value, valid(value) if callable(valid) else valid, expected)


@dataclass
class OptimizerConfig:
    """AdamW with a linear warmup to ``lr`` over ``warmup_steps``, then a cosine decay to ``min_lr_ratio · lr``
    (:mod:`lab.train.module`). Weight decay λ: ``coupled`` is torch's AdamW, θ ← θ − η_t·λ·θ per step;
    ``independent`` decays by (η_t/η)·λ, following the schedule but not the peak LR (Wortsman et al. 2023). With
    ``z_loss`` c > 0 the objective adds PaLM's c · mean log²Z over the tokens (Z the softmax normaliser)."""

    lr: float = 4.5e-3           # the main job's: 1,200 steps reach >= 90 % fact recall (docs/ablations.md)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1.0e-8
    weight_decay: float = 0.1
    weight_decay_mode: str = "coupled"  # coupled | independent
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    z_loss: float = 0.0          # PaLM's z-loss coefficient c (e.g. 1e-4); 0: off
    fused: bool = True           # torch's single-kernel AdamW (transformers.Trainer's default adamw_torch_fused)

    def __post_init__(self) -> None:
        require_each("optimizer", self, (
            ("lr", number(0, low_open=True)(self.lr), "a positive finite number"),
            ("betas", betas(self.betas), "two numbers in [0, 1), e.g. [0.9, 0.95]"),
            ("eps", number(0, low_open=True)(self.eps), "a positive number"),
            ("weight_decay", number(0)(self.weight_decay), "a non-negative number"),
            ("weight_decay_mode", self.weight_decay_mode in WEIGHT_DECAY_MODES, f"one of {', '.join(WEIGHT_DECAY_MODES)}"),
            ("warmup_steps", integer(0)(self.warmup_steps), "a non-negative integer"),
            ("min_lr_ratio", number(0, 1)(self.min_lr_ratio), "a number in [0, 1]"),
            ("z_loss", number(0)(self.z_loss), "a non-negative number (PaLM's z-loss coefficient, e.g. 1e-4; 0: off)"),
        ))


@dataclass
class CompileConfig:
    """``torch.compile`` of the decoder and the loss chunk for training steps (:mod:`lab.train.compile_policy`).
    ``auto_min_steps`` was measured here (tiny model, 2 cores): a first compile costs 34-38 s, a rerun of the same
    shapes ~4 s (Inductor's on-disk cache), a compiled step saves 23-40 ms of 69-145 ms, so 1,000 steps pay for a
    first compile; at 0.6B on a GPU compiling takes minutes."""

    enabled: Any = "auto"        # true | false | auto: compile runs of at least auto_min_steps, train shorter ones eagerly
    auto_min_steps: int = 1000
    backend: str = "inductor"    # any of torch.compiler.list_backends(exclude_tags=()); inductor needs a C++ compiler on CPU
    mode: str | None = None      # null (default), reduce-overhead, max-autotune, max-autotune-no-cudagraphs

    def __post_init__(self) -> None:
        import torch

        backends = torch.compiler.list_backends(exclude_tags=())
        require_each("compile", self, (
            ("enabled", isinstance(self.enabled, bool) or self.enabled == "auto", "true, false or auto"),
            ("auto_min_steps", integer(1)(self.auto_min_steps), "a positive integer"),
            ("backend", self.backend in backends, "a torch.compile backend: torch.compiler.list_backends(exclude_tags=())"),
            ("mode", self.mode in COMPILE_MODES, f"one of {', '.join(map(str, COMPILE_MODES))}"),
        ))


@dataclass
class EvalConfig:
    """What each validation measures besides the loss (:mod:`lab.train.module`)."""

    accuracy: bool = True        # greedy fact-recall and arithmetic accuracy


@dataclass
class DiagnosticsConfig:
    """The instability probes (:mod:`lab.train.diagnostics`): attention-logit max per layer, log Z, residual and
    norm-input RMS, per-block gradient norms, from an extra no-grad forward pass on ``rows`` sequences of the
    training batch, every ``every_n_steps`` steps and at every step before ``dense_steps``; ``every_n_steps: 0``
    leaves the probe out (``enabled:`` of ``conf/callbacks/default.yaml``), the one way to turn it off."""

    every_n_steps: int = 25
    dense_steps: int = 0         # the norm study probes its warmup densely: where high-LR runs collapse
    rows: int = 2

    def __post_init__(self) -> None:
        require_each("diagnostics", self, (("every_n_steps", integer(0), "a non-negative integer (0: off)"),
                                           ("dense_steps", integer(0), "a non-negative integer"),
                                           ("rows", integer(1), "a positive integer")))


@dataclass
class ArtifactsConfig:
    """What a run writes (docs/ablations.md "Output layout"); none of it changes training, so it is not part of a
    run's identity (:mod:`lab.runs.identity`). Checked before training, not when the weights are saved."""

    formats: list[str] = field(default_factory=lambda: ["safetensors", "pt"])  # model.safetensors (from_pretrained), model.pt (the seed's layout)
    dtype: str = "float32"              # the saved weights' dtype: float32 | bfloat16 | float16 (half the disk)
    keep_optimizer_state: bool = False  # a finished run keeps checkpoints/last.ckpt; with AdamW's state if true

    def __post_init__(self) -> None:
        from lab.runs.artifacts import WEIGHT_DTYPES, WEIGHT_FORMATS

        require("artifacts", "formats", self.formats, bool(self.formats) and set(self.formats) <= set(WEIGHT_FORMATS),
                f"one or more of {', '.join(WEIGHT_FORMATS)}")
        require("artifacts", "dtype", self.dtype, self.dtype in WEIGHT_DTYPES, f"one of {', '.join(WEIGHT_DTYPES)}")


INITS = ("random", "pretrained")


@dataclass
class DDPConfig:
    """Extra ``lightning.pytorch.strategies.DDPStrategy`` arguments of ``strategy: ddp`` (:mod:`lab.train.ddp`);
    add others with ``+trainer.ddp.<arg>=``."""

    find_unused_parameters: bool = False
    timeout_s: float | None = 1800    # a collective waiting this long for a dead or stuck rank fails the job (no hang)


@dataclass
class TrainerConfig:
    """``lightning.Trainer``'s arguments that the suite sets (:func:`lab.train.trainer.build_trainer`); every other
    Trainer argument is added as ``+trainer.<arg>=...`` and passed through, checked by Lightning. Interpreted here:
    ``precision: auto`` (bf16-mixed on a GPU, 32-true on CPU), ``deterministic: auto`` (true on CPU, for bit-identical
    reruns, compiled ones too; Lightning's false on a GPU), ``strategy: ddp`` (DDP under Hydra multirun, with
    ``ddp``'s options) and a fractional ``val_check_interval`` (:func:`lab.train.trainer.validation_schedule`)."""

    OPEN_HINT: ClassVar[str] = "any other lightning.Trainer argument: +trainer.<argument>=<value>"

    accelerator: str = "auto"
    devices: Any = 1                  # a count, a list of ids, or auto
    num_nodes: int = 1
    strategy: str = "auto"            # auto | ddp | any Lightning strategy name
    precision: str = "auto"
    max_steps: int = 1200             # the main job (with optimizer.lr 4.5e-3): >= 90 % fact recall (docs/ablations.md)
    max_epochs: int | None = -1
    val_check_interval: Any = 600     # steps, or a fraction of an epoch
    check_val_every_n_epoch: int | None = None
    num_sanity_val_steps: int = 0
    limit_val_batches: Any = None     # null: every validation batch (Lightning's default)
    gradient_clip_val: float | None = 1.0
    accumulate_grad_batches: int = 1
    log_every_n_steps: int = 1
    enable_progress_bar: bool = True
    enable_model_summary: bool = False
    deterministic: Any = "auto"       # auto | true | false | warn
    ddp: DDPConfig = field(default_factory=DDPConfig)

    def __post_init__(self) -> None:
        require_each("trainer", self, (
            ("max_steps", integer(1)(self.max_steps) or self.max_steps == -1, "a positive integer, or -1 (then trainer.max_epochs decides)"),
            ("num_nodes", integer(1)(self.num_nodes), "a positive integer"),
            ("accumulate_grad_batches", integer(1)(self.accumulate_grad_batches), "a positive integer"),
            ("log_every_n_steps", integer(1)(self.log_every_n_steps), "a positive integer"),
            ("deterministic", self.deterministic in (True, False, "warn", "auto"), "auto, true, false or warn"),
        ))
LOGGER_KINDS = ("wandb", "csv", "none")


@dataclass
class LoggerConfig:
    """The run's experiment logger (:mod:`lab.train.loggers`): ``wandb`` (project, entity, mode, job type, tags;
    ``flush_interval_s`` between writes of the offline ``.wandb`` file, null: W&B's 15 s), ``csv`` or ``none``."""

    kind: str = "none"           # wandb | csv | none
    project: str = "qwen3-internals"
    entity: str | None = None
    mode: str = "offline"        # conf/logger/wandb.yaml: ${oc.env:WANDB_MODE,offline}
    job_type: str | None = None
    tags: list[str] = field(default_factory=list)
    flush_interval_s: float | None = None

    def __post_init__(self) -> None:
        require("logger", "kind", self.kind, self.kind in LOGGER_KINDS, f"one of {', '.join(LOGGER_KINDS)}")
        require("logger", "flush_interval_s", self.flush_interval_s,
                self.flush_interval_s is None or number(0, low_open=True)(self.flush_interval_s), "null or a positive number of seconds")


@dataclass
class VariantConfig:
    """A norm ablation (:class:`lab.model.variants.Variant`, whose defaults these are): every RMSNorm at ``sites``
    (qk, layer, final) becomes ``replacement`` (none, identity, dyt, l2norm, layernorm, scalenorm) with its
    ``options``; ``embedding_scale`` puts a learnable scalar after the embedding; ``carry_over`` is how a surgery
    sets the new norm's parameters (rule, or fit on ``calibration_rows`` training blocks)."""

    name: str = "original"
    sites: list[str] = field(default_factory=list)
    replacement: str = "none"
    options: dict[str, Any] = field(default_factory=dict)
    embedding_scale: Any = None  # null, sqrt_d or a number
    carry_over: str = "rule"
    calibration_rows: int = 16

    def __post_init__(self) -> None:
        from lab.model.variants import Variant

        require("variant", "calibration_rows", self.calibration_rows, integer(1)(self.calibration_rows), "a positive integer")
        try:
            Variant.from_config(self.__dict__)
        except ValueError as err:
            raise UserError(f"bad variant config: {err}") from None


@dataclass
class ModelConfig:
    """The model a run starts from (:func:`lab.model.build_model`): stock Qwen3 built from ``config`` (a
    ``transformers.Qwen3Config``'s keys; ``vocab_size: null`` takes the tokenizer's) with random weights, or loaded
    from ``pretrained`` (a hub id or a local folder) when ``init: pretrained`` (checked when the model is built,
    after a tool's own, more specific checks: ``regime=surgery`` on a model with no weights). A model with a ``reference`` is
    trained first by the suite when missing (``experiment=<reference>_reference`` with ``reference_overrides``)."""

    name: str = MISSING
    pretrained: str | None = None
    init: str = "random"         # random | pretrained
    tokenizer: str = MISSING     # a folder or hub id
    config: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    reference_overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        require("model", "init", self.init, self.init in INITS, " or ".join(INITS))


@dataclass
class SourceConfig:
    """One data source (:mod:`lab.data.sources`, :mod:`lab.data.schemas`): ``datasets.load_dataset(path, name=,
    data_files=, data_dir=, revision=, split=, streaming=)``, read by its ``schema`` (popqa, numina or text with
    ``text_column``), optionally shuffled with ``shuffle_seed`` and cut to ``limit`` rows, each document seen
    ``repeat`` times per epoch; ``eval_split`` holds out graded rows."""

    schema: str = MISSING
    path: str = MISSING
    name: str | None = None
    data_files: Any = None
    data_dir: str | None = None
    revision: str | None = None
    split: str = "train"
    eval_split: str | None = None
    text_column: str = "text"   # the text schema's column
    streaming: bool = False
    repeat: int = 1
    shuffle_seed: int | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        from lab.data.schemas import SCHEMAS

        require("data.sources", "schema", self.schema, self.schema in SCHEMAS, f"one of {', '.join(sorted(SCHEMAS))}")
        require("data.sources", "repeat", self.repeat, integer(1)(self.repeat), "a positive integer")
        require("data.sources", "limit", self.limit, self.limit is None or integer(1)(self.limit), "null or a positive integer")


@dataclass
class DataConfig:
    """The training text (:class:`lab.data.datamodule.CorpusDataModule`): the ``sources`` packed into blocks of
    ``seq_len`` tokens, ``batch_size`` blocks a step; ``val_docs`` documents of each source held out for the
    validation loss, and at most ``eval_limit`` rows of each kind graded (null: all)."""

    name: str = MISSING
    seq_len: int = MISSING       # each data option states its own
    batch_size: int = MISSING
    num_workers: int = 0
    val_docs: int = 200
    eval_limit: int | None = None
    sources: dict[str, SourceConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_each("data", self, (("seq_len", integer(2), "an integer >= 2"), ("batch_size", integer(1), "a positive integer"),
                                     ("num_workers", integer(0), "a non-negative integer"), ("val_docs", integer(0), "a non-negative integer")))
        require("data", "eval_limit", self.eval_limit, self.eval_limit is None or integer(1)(self.eval_limit), "null or a positive integer")


@dataclass
class RunKeys:
    """The top-level keys a training run reads, typed and checked here; their values are the tool's YAML's
    (``conf/training_run.yaml``, ``conf/train.yaml``, ``conf/gates_train.yaml``), which states each once. They are
    not a schema of the root: Hydra would then type the whole config and refuse every key not a field of it.

    ``seed`` seeds torch, numpy, Python and the data shuffle; ``checkpoint_every_n_steps`` is the period of
    ``checkpoints/last.ckpt``; ``loss_chunk_size`` is the LM loss's rows per fused chunk (``auto``: max(256, 2²² / V);
    null: the stock loss on full logits; a tool that computes no LM loss leaves it out)."""

    seed: int
    checkpoint_every_n_steps: int
    loss_chunk_size: Any = None

    def __post_init__(self) -> None:
        require_each("", self, (("seed", integer(0), "a non-negative integer"),
                                ("checkpoint_every_n_steps", integer(1), "a positive integer"),
                                ("loss_chunk_size", lambda v: v in ("auto", None) or integer(1)(v),
                                 "auto, null or a positive integer")))


TRAINING_NODES = {"optimizer": OptimizerConfig, "compile": CompileConfig, "eval": EvalConfig, "diagnostics": DiagnosticsConfig,
                  "artifacts": ArtifactsConfig, "variant": VariantConfig, "model": ModelConfig, "data": DataConfig,
                  "logger": LoggerConfig, "trainer": TrainerConfig}


SCHEMA_GROUP = "qwen3_internals.schemas"  # every typed node: name = "package.module:Dataclass" (pyproject.toml)


def typed_nodes() -> dict[str, type]:
    """Every typed node, the suite's own (:data:`TRAINING_NODES`) and each tool's, from the one registry: the entry
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


def validate(cfg: DictConfig) -> None:
    """Run every typed node's own checks (``__post_init__``) on the composed ``cfg`` (the whole of it when its
    schema is the whole config); a training run's top-level keys are checked as :class:`RunKeys`."""
    if is_dataclass(OmegaConf.get_type(cfg)):
        OmegaConf.to_object(cfg)
        return
    for node in cfg:
        value = cfg[node]
        if OmegaConf.is_dict(value) and is_dataclass(OmegaConf.get_type(value)):
            OmegaConf.to_object(value)
    if "seed" in cfg:
        check_run_keys(cfg)


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


TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _wrong_type(schema: type, name: str, item: str) -> str | None:
    """``node.key=value is invalid; expected ...`` when ``value`` does not convert to the field's type, else None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf.errors import ValidationError

    try:
        value = OverridesParser.create().parse_override(item).value()
        OmegaConf.structured(schema)[name] = value
    except ValidationError:
        kind = next(f.type for f in fields(schema) if f.name == name)
        return f"{item.partition('=')[0]}={value!r} is invalid; expected {TYPE_NAMES.get(kind, kind)}"
    except Exception:  # noqa: BLE001 - a value Hydra's parser or the schema's checks refuse is reported by Hydra
        return None
    return None


def unknown_key_hint(overrides: list[str]) -> str | None:
    """For a command-line override of a typed node's key that is not one of its fields (``optimizer.lrr=1``): the
    node's valid keys, the closest first named (what Hydra's "Key 'lrr' not in 'OptimizerConfig'" leaves out); for
    a value of the wrong type (``data.batch_size=abc``): the key, the value and the type expected."""
    nodes = typed_nodes()
    for item in overrides:
        node, _, name = item.lstrip("+~").partition("=")[0].partition(".")
        if node not in nodes or not name or "." in name:
            continue
        valid = [f.name for f in fields(nodes[node])]
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f"valid {node} keys: {', '.join(valid)}" + (f"; did you mean {node}.{close[0]}?" if close else "")
            return hint + (f"; {nodes[node].OPEN_HINT}" if hasattr(nodes[node], "OPEN_HINT") else "")
        wrong = _wrong_type(nodes[node], name, item.lstrip("+~"))
        if wrong:
            return wrong
    return None
