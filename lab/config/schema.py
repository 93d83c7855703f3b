"""Typed config: the nodes of a training run whose keys and defaults are stated here, once, as dataclasses
registered in Hydra's ConfigStore (``schema/<node>``, torchtitan's ``job_config.py`` and Hydra's "Structured Config
schema" pattern). ``conf/train.yaml`` lists them first in its defaults, so:

- a key that is not a field is refused by Hydra while it composes (``optimizer.lrr=1``: "Key 'lrr' not in
  'OptimizerConfig'"), and a value of the wrong type too (``optimizer.lr=abc``);
- every default is the field's, and YAML files (experiments, interventions, studies) set only what differs;
- each node checks its own values in ``__post_init__`` (:func:`validate`, run by :func:`lab.config.checks.
  check_training_config` before anything runs): one :class:`lab.errors.UserError` naming the key.

``python -m ablations.train --cfg job`` prints the composed config with every default.
"""

import difflib
import math
from dataclasses import dataclass, field, fields, is_dataclass
from importlib.metadata import entry_points
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from lab.errors import UserError

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
    """Raise the one-line error of a value that parses but cannot work."""
    if not valid:
        shown = list(value) if isinstance(value, (list, tuple)) else value
        raise UserError(f"{node}.{key}={shown!r} is invalid; expected {expected}")


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
        for key, valid, expected in (
            ("lr", number(0, low_open=True)(self.lr), "a positive finite number"),
            ("betas", betas(self.betas), "two numbers in [0, 1), e.g. [0.9, 0.95]"),
            ("eps", number(0, low_open=True)(self.eps), "a positive number"),
            ("weight_decay", number(0)(self.weight_decay), "a non-negative number"),
            ("weight_decay_mode", self.weight_decay_mode in WEIGHT_DECAY_MODES, f"one of {', '.join(WEIGHT_DECAY_MODES)}"),
            ("warmup_steps", integer(0)(self.warmup_steps), "a non-negative integer"),
            ("min_lr_ratio", number(0, 1)(self.min_lr_ratio), "a number in [0, 1]"),
            ("z_loss", number(0)(self.z_loss), "a non-negative number (PaLM's z-loss coefficient, e.g. 1e-4; 0: off)"),
        ):
            require("optimizer", key, getattr(self, key), valid, expected)


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
        for key, valid, expected in (
            ("enabled", isinstance(self.enabled, bool) or self.enabled == "auto", "true, false or auto"),
            ("auto_min_steps", integer(1)(self.auto_min_steps), "a positive integer"),
            ("backend", self.backend in backends, "a torch.compile backend: torch.compiler.list_backends(exclude_tags=())"),
            ("mode", self.mode in COMPILE_MODES, f"one of {', '.join(map(str, COMPILE_MODES))}"),
        ):
            require("compile", key, getattr(self, key), valid, expected)


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
        for key, test, expected in (("every_n_steps", integer(0), "a non-negative integer (0: off)"),
                                    ("dense_steps", integer(0), "a non-negative integer"),
                                    ("rows", integer(1), "a positive integer")):
            require("diagnostics", key, getattr(self, key), test(getattr(self, key)), expected)


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


TRAINING_NODES = {"optimizer": OptimizerConfig, "compile": CompileConfig, "eval": EvalConfig, "diagnostics": DiagnosticsConfig,
                  "artifacts": ArtifactsConfig}


SCHEMA_GROUP = "qwen3_internals.schemas"  # a tool's typed nodes: name = "package.module:Dataclass" (pyproject.toml)


def tool_nodes() -> dict[str, type]:
    """Each tool's typed nodes, registered as entry points (gates: ``gates.schema:GatesConfig``): loading them
    imports the tool, so only the commands that compose a tool's config call this (:func:`register_tool_schemas`)."""
    return {ep.name: ep.load() for ep in entry_points(group=SCHEMA_GROUP)}


def typed_nodes() -> dict[str, type]:
    """Every typed node: the training run's (:data:`TRAINING_NODES`) and each tool's."""
    return {**TRAINING_NODES, **tool_nodes()}


def _store(nodes: dict[str, type]) -> None:
    store = ConfigStore.instance()
    for node, schema in nodes.items():
        store.store(group="schema", name=node, node=schema, package=node)


def register_schemas() -> None:
    """Store the training run's typed nodes as ``schema/<node>`` (package ``<node>``), for the configs' defaults
    lists; ``import lab`` does this, and imports no tool."""
    _store(TRAINING_NODES)


def register_nodes(nodes: dict[str, type]) -> None:
    """Store the given typed nodes (a tool's own, named by its recipe: ``Recipe.typed_nodes``)."""
    _store(nodes)


def register_tool_schemas() -> None:
    """Store each tool's typed nodes too (``schema/gates``): called by a tool's command (:func:`lab.train.run.
    recipe_main`) and by ``lab.plan`` before they compose, since a tool's config lists its node's schema."""
    _store(tool_nodes())


def validate(cfg: DictConfig) -> None:
    """Run every typed node's own checks (``__post_init__``) on the composed ``cfg``."""
    for node in cfg:
        value = cfg[node]
        if OmegaConf.is_dict(value) and is_dataclass(OmegaConf.get_type(value)):
            OmegaConf.to_object(value)



def unknown_key_hint(overrides: list[str]) -> str | None:
    """For a command-line override of a typed node's key that is not one of its fields (``optimizer.lrr=1``): the
    node's valid keys, the closest first named (what Hydra's "Key 'lrr' not in 'OptimizerConfig'" leaves out)."""
    nodes = typed_nodes()
    for item in overrides:
        node, _, name = item.lstrip("+~").partition("=")[0].partition(".")
        if node not in nodes or not name or "." in name:
            continue
        valid = [f.name for f in fields(nodes[node])]
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            return f"valid {node} keys: {', '.join(valid)}" + (f"; did you mean {node}.{close[0]}?" if close else "")
    return None
