"""The gate run's typed ``gates`` node: its keys, types, one default each (the seed's,
hyunseoki/qwen3-0.6b-lambda-gates-baseline) and its checks (:mod:`lab.config.schema` states the pattern).

Registered by the gates package as ``schema/gates`` through the entry point ``qwen3_internals.schemas`` in
pyproject.toml, so the ground floor composes ``conf/gates_train.yaml`` (``lab.plan --config-name gates_train``
too) without knowing gates. The losses the keys parameterise are in :mod:`gates.losses`.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gates.masking import MODES as MASK_MODES
from lab.config.checks import integer, number, require, require_each
from lab.config.schema import OptimizerConfig


def gate_optimizer() -> OptimizerConfig:
    """The seed's optimizer of the λ: AdamW at 1e-2, betas (0.9, 0.999), no warmup, cosine to 0, no weight decay,
    torch's default (unfused) kernel."""
    return OptimizerConfig(lr=1.0e-2, betas=[0.9, 0.999], weight_decay=0.0, warmup_steps=0, min_lr_ratio=0.0, fused=False)


@dataclass
class GatesConfig:
    """One sigmoid gate g = σ(λ) per FFN neuron of a frozen model; λ trained with AdamW (``optimizer``, the typed
    :class:`OptimizerConfig` every tool shares: ``lr``, ``betas``, a linear ``warmup_steps`` then a cosine to
    ``min_lr_ratio · lr``) for ``epochs`` passes over the forget examples, on
    λ_f · softplus(β − entity CE) over the forget batch plus λ_r · T² · KL(teacher ‖ gated, temperature T) over
    ``retain_per_forget`` retain batches. The forget batch holds the ``forget`` facts of :mod:`gates.facts`: of the
    ``forget_relations``, all but the ``held_out`` share. With ``free_fraction`` q, only a random q of all neurons
    have a trainable gate, the others stay open (g = 1): the trained random control of :mod:`gates.localise.benchmark`."""

    init_logit: float = 0.0           # λ at start: g = sigmoid(0) = 0.5 on every neuron
    beta: float = 4.0                 # forget margin β
    lambda_forget: float = 0.1        # λ_f
    lambda_retain: float = 0.5        # λ_r
    temperature: float = 2.0          # distillation T (the KL is multiplied by T²)
    retain_per_forget: int = 2        # forget:retain batches = 1:2
    optimizer: OptimizerConfig = field(default_factory=gate_optimizer)
    epochs: int = 3                   # passes over the forget examples
    kl_chunk_size: int = 128          # positions per vocabulary-projection chunk in the retain KL
    default_threshold: float = 0.5    # neuron_indices.json: neurons with g < this
    log_thresholds: list[float] = field(default_factory=lambda: [0.432, 0.478, 0.502, 0.525, 0.568])  # the seed's; logged every step
    forget_relations: list[str] | None = field(default_factory=lambda: ["capital"])  # the relations to forget (gates.facts); null: all
    held_out: float = 0.5             # the share of each forget relation's facts no gate loss sees (seeded by seed)
    free_fraction: float | None = None  # null: every gate trains; q: only a random q of the neurons (seeded), the rest open

    def __post_init__(self) -> None:
        require_each("gates", self, (
            ("beta", number(0), "a non-negative number (the forget margin)"),
            ("lambda_forget", number(0), "a non-negative number"),
            ("lambda_retain", number(0), "a non-negative number"),
            ("temperature", number(0, low_open=True), "a positive number"),
            ("retain_per_forget", integer(1), "a positive integer"),
            ("epochs", integer(1), "a positive integer"),
            ("kl_chunk_size", integer(1), "a positive integer"),
            ("init_logit", number(-math.inf), "a finite number"),
            ("default_threshold", number(0, 1, low_open=True, high_open=True), "a number in (0, 1)"),
            ("held_out", number(0, 1, high_open=True), "a number in [0, 1)"),
            ("free_fraction", lambda v: v is None or number(0, 1, low_open=True)(v), "null or a number in (0, 1]"),
        ))
        require("gates", "optimizer.z_loss", self.optimizer.z_loss, self.optimizer.z_loss == 0,
                "0 (the gate loss has no LM softmax for a z-loss to act on)")




@dataclass
class ApplyConfig:
    """``python -m gates.apply`` (conf/gates_apply.yaml): the gate run in ``gates_dir`` (null: the latest under
    runs/gates) applied to its base model (``base_model``, null: the one its metadata.json records) as ``mode``
    masking at ``threshold`` (hard, null: its neuron_indices.json as is; soft, null: 1.0), written to ``out`` (null:
    ``<gates_dir>/applied/<mode>-<threshold>``)."""

    PACKAGE: ClassVar[str] = "_global_"

    gates_dir: str | None = None
    mode: str = "hard"
    threshold: float | None = None
    base_model: str | None = None
    out: str | None = None
    overwrite: bool = False
    paths: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("", "mode", self.mode, self.mode in MASK_MODES, f"one of {', '.join(MASK_MODES)}")


@dataclass
class GenerationLengths:
    """Greedy tokens generated per graded answer."""

    knowledge: int = 12
    reasoning: int = 40


@dataclass
class LmEvalOptions:
    """lm-evaluation-harness's options at every setting (as in conf/lm_eval.yaml)."""

    batch_size: Any = 64           # or auto
    limit: Any = None              # documents per task (a fraction < 1: that share); null: all
    num_fewshot: int | None = None


@dataclass
class TradeoffAxes:
    """The trade-off plot's axes: our metrics or lm-eval's ``<task>/<metric>`` (e.g. popqa/exact_match)."""

    knowledge: str = "knowledge_acc"
    reasoning: str = "reasoning_acc"


@dataclass
class EvaluateConfig:
    """``python -m gates.evaluate`` (conf/gates_evaluate.yaml): the gate run in ``gates_dir`` masked at each of
    ``thresholds`` (null: the five of its gate_stats.json) in each of ``modes``, against the control of each layer's
    gate values assigned to random neurons (one per ``random_seeds``), scored on ``data``'s graded rows and on
    lm-eval's ``tasks``; written to ``out`` (null: ``<gates_dir>/evaluation``)."""

    PACKAGE: ClassVar[str] = "_global_"

    gates_dir: str | None = None
    base_model: str | None = None
    thresholds: list[float] | None = None
    modes: list[str] = field(default_factory=lambda: list(MASK_MODES))
    random_seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  # the random masks drawn: mean and 95 % interval
    max_new_tokens: GenerationLengths = field(default_factory=GenerationLengths)
    batch_size: int = 64
    out: str | None = None
    tasks: list[str] = field(default_factory=list)   # [tiny] offline, [popqa, gsm8k] at real scale
    lm_eval: LmEvalOptions = field(default_factory=LmEvalOptions)
    tradeoff: TradeoffAxes = field(default_factory=TradeoffAxes)
    data: Any = None               # the data group's option, typed by schema/data (lab/data/config.py)
    paths: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("", "modes", self.modes, bool(self.modes) and set(self.modes) <= set(MASK_MODES), f"one or both of {', '.join(MASK_MODES)}")
        require("", "random_seeds", self.random_seeds, bool(self.random_seeds), "at least one seed (the random-mask control)")
        require("", "batch_size", self.batch_size, integer(1)(self.batch_size), "a positive integer")


METHODS = ("gates", "trained_random", "attribution", "gate3_attribution", "vindex_features", "random", "gate3_delete")  # gates.localise.benchmark's
# neuron-selection methods
ATTACKS = {  # gates.localise.benchmark's relearning attacks (gates.localise.relearn), each for relearn.steps at relearn.lr
    "held_out": "every weight free, on the held-out facts' texts (same relations, none of the forget answers)",
    "held_out_frozen": "the same texts, the edited neurons' down_proj columns held as edited",
    "unrelated": "every weight free, on the retain text (no facts): what any fine-tuning restores",
    "other_facts": "every weight free, on the other relations' facts (the same Q/A and statement templates, none of "
                   "the forget relations): what fine-tuning on any facts of the same form restores",
}


@dataclass
class RelearnConfig:
    """The relearning attacks (:mod:`gates.localise.relearn`): forget-fact recall after each of ``steps`` AdamW steps at a
    constant ``lr``, for each of ``attacks`` (:data:`ATTACKS`)."""

    steps: list[int] = field(default_factory=lambda: [0, 10, 50])  # 200 as well to see the curve's end (about 4x the time)
    attacks: list[str] = field(default_factory=lambda: list(ATTACKS))
    contrast_step: int = 50        # the step count whose recall the relearning contrasts compare, fixed before the run
    lr: float = 1.0e-4             # chosen on the unedited model only (docs/gates.md): it keeps most of its recall
    batch_size: int = 16

    def __post_init__(self) -> None:
        require_each("relearn", self, (
            ("steps", lambda v: bool(v) and all(integer(0)(s) for s in v), "a list of non-negative integers"),
            ("attacks", lambda v: bool(v) and set(v) <= set(ATTACKS), f"one or more of {', '.join(ATTACKS)}"),
            ("contrast_step", lambda v: v in self.steps, f"one of relearn.steps {list(self.steps)}"),
            ("lr", number(0, low_open=True), "a positive number"),
            ("batch_size", integer(1), "a positive integer"),
        ))


@dataclass
class ProbeConfig:
    """The linear probe for the forgotten attribute (:mod:`gates.localise.probe`): ridge maps fitted on the held-out facts'
    residual streams, read on the forget facts. Every layer is in the JSON; the tables show ``layer`` (null: the
    middle one, ⌊L/2⌋), fixed before the run."""

    layer: int | None = None
    ridge: float = 1.0

    def __post_init__(self) -> None:
        require_each("probe", self, (
            ("layer", lambda v: v is None or integer(0)(v), "null (the middle layer) or a layer number"),
            ("ridge", number(0, low_open=True), "a positive number"),
        ))


def graded_budgets(cfg: Any) -> list[float]:
    """A benchmark config's ``budget`` and ``budgets`` (a DictConfig or its dict), ascending, each once: the shares of
    neurons every method is graded at."""
    return sorted({float(cfg["budget"]), *map(float, cfg.get("budgets") or [])})


def seed_workers(cfg: Any, pending: int, gpu: bool) -> int:
    """How many processes run a benchmark's ``pending`` seeds at once: ``workers``, or (null) one per seed on CPU and
    one in all on a ``gpu`` machine (each process would hold its own model and optimizer on the one device). One per
    seed even past the CPU count: three one-thread seeds on two cores beat two at once and a third alone."""
    wanted = cfg.get("workers")
    return max(1, min(pending, int(wanted) if wanted is not None else (1 if gpu else pending)))


@dataclass
class BenchmarkConfig:
    """``python -m gates.localise`` (conf/gates_benchmark.yaml, ``make localise``): for each of ``seeds``, gates and
    the trained random control trained by ``gates.train`` with ``train`` overrides, the attribution baseline and
    ``random_draws`` random sets; each method's top ``budget`` share of all FFN neurons edited in each of ``modes``
    (soft: only methods with gate values), graded on the forget, held-out and other facts (as asked and as
    statements) and arithmetic, then attacked by relearning; the same graded, not attacked, at each share of
    ``budgets``; written to ``out`` (null: the Hydra run dir) and, with ``publish``, to docs/."""

    PACKAGE: ClassVar[str] = "_global_"

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    budget: float = 0.05              # the share of all FFN neurons each method edits, fixed before the run
    budgets: list[float] = field(default_factory=lambda: [0.01, 0.2])  # further shares graded (recall, arithmetic,
    # probe; relearning and lm-eval at budget only): efficacy and collateral against the share edited
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    modes: list[str] = field(default_factory=lambda: list(MASK_MODES))
    random_draws: int = 5             # random neuron sets per seed (the untrained control)
    train: list[str] = field(default_factory=list)  # overrides of every gates.train run (model=..., data=..., gates.epochs=...)
    relearn: RelearnConfig = field(default_factory=RelearnConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    max_new_tokens: GenerationLengths = field(default_factory=GenerationLengths)
    tasks: list[str] = field(default_factory=list)   # lm-eval tasks graded at every setting: [] here, [unlearning] at real scale
    lm_eval: LmEvalOptions = field(default_factory=LmEvalOptions)
    workers: int | None = None        # processes running seeds at once (null: one per unfinished seed on CPU, 1 with a
    # GPU; each holds its own model), each with cpu_count // workers torch threads; 1: one seed after another here
    out: str | None = None
    save_edits: bool = False          # also write each method's edited model at budget as a plain Qwen3 folder
    # (<out>/seed<s>/edited/<method>_<mode>, the random control's first draw; gates/localise/edited.py): one copy of
    # the weights each, so off by default
    publish: bool = False             # also write docs/results/localise/<publish_as>.json and the docs' generated blocks
    publish_as: str = "benchmark"     # benchmark_<what differs> for a second published run (e.g. another forget relation)
    plan_composite: str | None = None  # what prices this command in lab.plan (conf/gates_benchmark.yaml)
    paths: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_each("", self, (
            ("seeds", lambda v: bool(v) and all(integer(0)(s) for s in v), "a non-empty list of non-negative integers"),
            ("budget", number(0, 1, low_open=True, high_open=True), "a number in (0, 1)"),
            ("budgets", lambda v: all(number(0, 1, low_open=True, high_open=True)(b) for b in v), "a list of numbers in (0, 1)"),
            ("methods", lambda v: bool(v) and set(v) <= set(METHODS), f"one or more of {', '.join(METHODS)}"),
            ("modes", lambda v: bool(v) and set(v) <= set(MASK_MODES), f"one or both of {', '.join(MASK_MODES)}"),
            ("random_draws", integer(1), "a positive integer"),
            ("workers", lambda v: v is None or integer(1)(v), "null (one per seed on CPU, 1 with a GPU) or a positive integer"),
            ("publish_as", lambda v: re.fullmatch(r"benchmark(_\w+)?", v) is not None, "benchmark or benchmark_<name>"),
        ))
