"""The vindex commands' typed config (``conf/vindex.yaml`` and the ``conf/vindex`` group): every key, its default
and its check, stated once. ``conf/vindex.yaml`` lists ``schema/vindex`` first in its defaults, so a mistyped key
(``constants.sparsity_tua=0.2``) or a value of the wrong type is refused by Hydra while it composes, and a value
that parses but cannot work is one :class:`lab.config.errors.UserError` before anything is read or written
(:func:`lab.config.command.hydra_command` runs the checks).

The node is the whole config (``PACKAGE = "_global_"``): the vindex commands read top-level keys (``source``,
``num_features``), as seed 002's ``experiment=seed002`` sets them.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from lab.config.checks import integer, number, require, require_each
from lab.runs.artifacts import WEIGHT_DTYPES as TORCH_DTYPES
from vindex.features import MODES as FEATURE_MODES
from vindex.format import DTYPES as FORMAT_DTYPES

DTYPES = tuple(FORMAT_DTYPES)          # what vindex.format writes (seed 002: f16)


@dataclass
class SvdConfig:
    """Randomized SVD of each layer's gate_proj/down_proj (:mod:`vindex.svd`): F + ``oversample`` random probes,
    ``power_iters`` subspace iterations (``make bench``: 0.45 % σ error at the 8B shape with the defaults)."""

    oversample: int = 32
    power_iters: int = 4

    def __post_init__(self) -> None:
        require("svd", "oversample", self.oversample, integer(0)(self.oversample), "a non-negative integer")
        require("svd", "power_iters", self.power_iters, integer(0)(self.power_iters), "a non-negative integer")


@dataclass
class ConstantsConfig:
    """The probe and the constants C1-C5 (:mod:`vindex.constants`): the probe cut to ``probe_tokens`` tokens (one
    shorter than ``min_tokens`` is refused); C1 counts |h| < ``sparsity_tau`` · RMS(h of the layer) as near-zero; C2
    is the top-``top_mass_k`` probability mass; C5 marks a transition where linear CKA(h_l, h_{l+1}) <
    ``cka_threshold``."""

    probe_tokens: int = 256
    min_tokens: int = 64
    sparsity_tau: float = 0.1
    top_mass_k: int = 8
    cka_threshold: float = 0.9

    def __post_init__(self) -> None:
        require_each("constants", self, (
            ("probe_tokens", integer(1)(self.probe_tokens), "a positive integer"),
            ("min_tokens", integer(1)(self.min_tokens) and self.min_tokens <= self.probe_tokens, "a positive integer <= probe_tokens"),
            ("sparsity_tau", number(0, low_open=True)(self.sparsity_tau), "a positive number"),
            ("top_mass_k", integer(1)(self.top_mass_k), "a positive integer"),
            ("cka_threshold", number(0, 1)(self.cka_threshold), "a number in [0, 1]"),
        ))


@dataclass
class Gate3Config:
    """The forward-pass rank-1 DELETE test (:mod:`vindex.gate3`): the ``num_neurons`` neurons contributing most to
    ``target`` after ``prompt`` (searched in ``layers``, null: all) are driven to ``target_preactivation`` on the
    prompt's key by a rank-1 gate_proj edit (covariance C ← C + ``ridge`` · tr(C)/H · I before inversion). PASS: P(target)
    drops by at least ``min_drop`` of itself and P(``control_target`` | ``control_prompt``) changes by at most
    ``max_collateral`` of itself. With ``save``, the edited model is written there as a plain Qwen3 folder
    (:func:`vindex.gate3.save_edited`)."""

    prompt: str = "The capital of France is"
    target: str = " Paris"
    control_prompt: str = "The capital of Germany is"
    control_target: str = " Berlin"
    layers: list[int] | None = None
    num_neurons: int = 1
    target_preactivation: float = -10.0   # SiLU(-10) ≈ 0
    ridge: float = 1.0e-2
    min_drop: float = 0.7
    max_collateral: float = 0.3
    # the benchmark over every fact of one relation (python -m vindex.gate3_benchmark); its rule is fixed here, before it runs
    facts: str | None = None            # a PopQA-schema parquet (subj, prop, obj); null: the bundled tiny corpus's
    relation: str = "capital"
    template: str = "The capital of {subj} is"
    layer_rule: str = "top_contributor"  # the layer of the fact's largest single contributor, or a layer number ("3")
    save: str | None = None             # a folder: the source with the chosen layer's DELETE folded into gate_proj, a plain Qwen3

    def __post_init__(self) -> None:
        require_each("gate3", self, (
            ("layer_rule", self.layer_rule == "top_contributor" or str(self.layer_rule).isdigit(),
             "top_contributor or a layer number"),
            ("template", "{subj}" in self.template, "a prompt with {subj}"),
            ("num_neurons", integer(1)(self.num_neurons), "a positive integer"),
            ("ridge", number(0)(self.ridge), "a non-negative number"),
            ("min_drop", number(0, 1)(self.min_drop), "a fraction in [0, 1]"),
            ("max_collateral", number(0)(self.max_collateral), "a non-negative fraction"),
        ))


@dataclass
class VindexConfig:
    """A vindex command's whole config: the checkpoint (``source``: a hub id or folder, null: the tiny reference,
    trained first if missing), where the index goes (``out``, null: ``<paths.runs>/vindex/<source>-<features><F>``),
    what it holds (``features`` svd or full, ``num_features`` F, null: intermediate_size; the matrices in ``dtype``,
    ``down_top_k`` tokens per feature in down_meta.bin), the probe (a text file, null: the bundled factual probe),
    and the forward passes' ``torch_dtype`` and ``device`` (auto: cuda if available)."""

    PACKAGE: ClassVar[str] = "_global_"

    source: str | None = None
    out: str | None = None
    overwrite: bool = False
    dtype: str = "f16"
    down_top_k: int = 10
    seed: int = 0                      # randomized SVD probes
    probe: str | None = None
    features: str = "svd"
    num_features: int | None = 128
    svd: SvdConfig = field(default_factory=SvdConfig)
    constants: ConstantsConfig = field(default_factory=ConstantsConfig)
    gate3: Gate3Config = field(default_factory=Gate3Config)
    torch_dtype: str = "float32"
    device: str = "auto"
    paths: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_each("", self, (
            ("dtype", self.dtype in DTYPES, f"one of {', '.join(DTYPES)}"),
            ("down_top_k", integer(1)(self.down_top_k), "a positive integer"),
            ("seed", integer(0)(self.seed), "a non-negative integer"),
            ("features", self.features in FEATURE_MODES, f"one of {', '.join(FEATURE_MODES)}"),
            ("num_features", self.num_features is None or integer(1)(self.num_features), "null or a positive integer"),
            ("torch_dtype", self.torch_dtype in TORCH_DTYPES, f"one of {', '.join(TORCH_DTYPES)}"),
        ))
