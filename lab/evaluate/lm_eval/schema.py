"""``python -m lab.evaluate.lm_eval``'s typed config (conf/lm_eval.yaml): every key, its default and its check."""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from omegaconf import MISSING

from lab.config.checks import integer, require_each
from lab.runs.artifacts import WEIGHT_DTYPES

DTYPES = ("auto", *WEIGHT_DTYPES)


@dataclass
class LmEvalConfig:
    """lm-evaluation-harness on ``folder`` (a run, a sweep, a gate run or a hub id; also the first argument without
    a key) for ``tasks`` (ours: tiny, popqa, knowledge, reasoning, general; or lm-eval's), at most ``limit`` documents
    per task (a fraction < 1: that share), ``num_fewshot`` (null: each task's), ``batch_size`` (or auto), on
    ``device`` in ``dtype`` (auto: cuda and bfloat16 if available, else cpu and float32). A gate run is masked on the
    fly (``mode``, ``threshold``, ``base_model`` as gates.apply); a hub id's results go to ``out`` (null:
    ``<paths.runs>/lm_eval/<hub id>``); ``wandb`` adds the scores to the folder's W&B run summary."""

    PACKAGE: ClassVar[str] = "_global_"

    folder: str = MISSING
    tasks: list[str] = field(default_factory=lambda: ["tiny"])
    limit: Any = None
    num_fewshot: int | None = None
    batch_size: Any = 16
    device: str = "auto"
    dtype: str = "auto"
    mode: str | None = None       # a gate run's masking, checked and defaulted by its folder kind (gates)
    threshold: float | None = None
    base_model: str | None = None
    out: str | None = None
    wandb: bool = True
    paths: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_each("", self, (
            ("tasks", bool(self.tasks), "at least one task"),
            ("batch_size", self.batch_size == "auto" or integer(1)(self.batch_size), "a positive integer or auto"),
            ("dtype", self.dtype in DTYPES, f"one of {', '.join(DTYPES)}"),
            ("num_fewshot", self.num_fewshot is None or integer(0)(self.num_fewshot), "null or a non-negative integer"),
        ))
