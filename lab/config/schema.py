"""Typed config: the nodes of a training run whose keys and defaults are stated here, once, as dataclasses (the
nodes that need a lower layer's knowledge live there: ``artifacts`` in :mod:`lab.runs.artifacts`, ``variant`` in
:mod:`lab.model.variants`, ``data`` in :mod:`lab.data.config`), every one registered in Hydra's ConfigStore
through the one registry (:mod:`lab.config.registry`) (``schema/<node>``, torchtitan's ``job_config.py`` and Hydra's "Structured Config
schema" pattern). ``conf/train.yaml`` lists them first in its defaults, so:

- a key that is not a field is refused by Hydra while it composes (``optimizer.lrr=1``: "Key 'lrr' not in
  'OptimizerConfig'"), and a value of the wrong type too (``optimizer.lr=abc``);
- every default is the field's, and YAML files (experiments, interventions, studies) set only what differs;
- each node checks its own values in ``__post_init__`` (:func:`validate`, run by the run lifecycle before
  anything runs): one :class:`lab.config.errors.UserError` naming the key; the top-level keys too (:class:`RunKeys`).

``python -m ablations.train --cfg job`` prints the composed config with every default.
"""

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from omegaconf import MISSING

from lab.config.checks import betas, integer, number, require, require_each
from lab.config.errors import UserError

WEIGHT_DECAY_MODES = ("coupled", "independent")
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class OptimizerConfig:
    """AdamW with a linear warmup to ``lr`` over ``warmup_steps`` (or, with ``warmup_fraction`` f, over ⌊f · T⌋ of
    the run's T optimizer steps, so that one share of every horizon warms up), then a cosine decay to ``min_lr_ratio · lr``
    (:mod:`lab.train.module`). Weight decay λ: ``coupled`` is torch's AdamW, θ ← θ − η_t·λ·θ per step;
    ``independent`` decays by (η_t/η)·λ, following the schedule but not the peak LR (Wortsman et al. 2023). With
    ``z_loss`` c > 0 the objective adds PaLM's c · mean log²Z over the tokens (Z the softmax normaliser)."""

    lr: float = 4.5e-3           # the main job's: 1,200 steps reach >= 90 % fact recall (docs/ablations.md)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1.0e-8
    weight_decay: float = 0.1
    weight_decay_mode: str = "coupled"  # coupled | independent
    warmup_steps: int = 30
    warmup_fraction: float | None = None  # a share of the run's steps in [0, 1); set, it replaces warmup_steps
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
            ("warmup_fraction", self.warmup_fraction is None or number(0, 1, high_open=True)(self.warmup_fraction),
             "null or a number in [0, 1): the share of the run's optimizer steps that warms up"),
            ("min_lr_ratio", number(0, 1)(self.min_lr_ratio), "a number in [0, 1]"),
            ("z_loss", number(0)(self.z_loss), "a non-negative number (PaLM's z-loss coefficient, e.g. 1e-4; 0: off)"),
        ))

    def warmup(self, total_steps: int, node: str = "optimizer", length: str = "trainer.max_steps") -> int:
        """The warmup's length in a run of ``total_steps`` optimizer steps: ⌊warmup_fraction · T⌋, else
        ``warmup_steps``; a run shorter than its warmup is a :class:`UserError` naming the config's ``node`` and the
        key that sets the run's ``length`` (it would never reach ``lr``)."""
        steps = math.floor(self.warmup_fraction * total_steps) if self.warmup_fraction is not None else self.warmup_steps
        if steps > total_steps:
            setting = (f"{node}.warmup_fraction={self.warmup_fraction}" if self.warmup_fraction is not None
                       else f"{node}.warmup_steps={steps}")
            raise UserError(f"the run's {total_steps} optimizer steps are fewer than its warmup of {steps} ({setting}): "
                            f"it would never reach its learning rate; lengthen the run ({length}), shorten the "
                            f"warmup, or set {node}.warmup_fraction (e.g. 0.05)")
        return steps


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

        # inductor, the default, is always registered; listing the backends imports torch._dynamo's (~0.5 s a process)
        known = self.backend == "inductor" or self.backend in torch.compiler.list_backends(exclude_tags=())
        require_each("compile", self, (
            ("enabled", isinstance(self.enabled, bool) or self.enabled == "auto", "true, false or auto"),
            ("auto_min_steps", integer(1)(self.auto_min_steps), "a positive integer"),
            ("backend", known, "a torch.compile backend: torch.compiler.list_backends(exclude_tags=())"),
            ("mode", self.mode in COMPILE_MODES, f"one of {', '.join(map(str, COMPILE_MODES))}"),
        ))


@dataclass
class EvalConfig:
    """What each validation measures besides the loss (:mod:`lab.train.module`), and what a run reports as its final
    validation loss: ``final_val_loss = mean(val/loss over the run's last final_loss_evaluations validations)`` (1: the
    last one; more average out where the last step happens to land on a noisy stretch of training)."""

    accuracy: bool = True        # greedy fact-recall and arithmetic accuracy
    final_loss_evaluations: int = 1

    def __post_init__(self) -> None:
        require("eval", "final_loss_evaluations", self.final_loss_evaluations, integer(1)(self.final_loss_evaluations),
                "a positive integer")


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
    val_check_interval: Any = 600     # training batches (steps without accumulation), or a fraction of an epoch
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

    def validations(self) -> int | None:
        """How many validations a step-bounded run holds; ``None`` where epochs bound it or may end it first
        (``max_epochs`` > 0). Lightning counts ``val_check_interval`` in training batches: an integer interval is
        batches, a fraction of a step-bounded run is :func:`validation_steps` optimizer steps of
        ``accumulate_grad_batches`` batches each."""
        interval = validation_steps(self.val_check_interval, self.max_steps)
        if self.max_steps <= 0 or self.check_val_every_n_epoch is not None or interval is None or (self.max_epochs or 0) > 0:
            return None
        if isinstance(self.val_check_interval, float):
            return self.max_steps // interval
        return self.max_steps * self.accumulate_grad_batches // interval


def validation_steps(interval: Any, max_steps: int) -> int | None:
    """``trainer.val_check_interval`` of a run of ``max_steps`` steps as a whole number: an integer as it is (Lightning's
    batches); a fraction f in (0, 1] of a step-bounded run max(1, round(f·max_steps)) optimizer steps, so a run
    validates as often as f gives per epoch; ``None`` where epochs decide (no ``max_steps``, or no interval)."""
    if isinstance(interval, float) and 0 < interval <= 1:
        return max(1, round(interval * max_steps)) if max_steps > 0 else None
    return int(interval) if isinstance(interval, int) and not isinstance(interval, bool) else None


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


LAB_NODES = ("optimizer", "compile", "eval", "diagnostics", "artifacts", "variant", "model", "data", "logger", "trainer")  # the
# training run's typed nodes, all of them entry points of qwen3_internals.schemas like every tool's
