"""``python -m lab.publish``'s typed config (``conf/publish.yaml``): what to upload, where, and how."""

from dataclasses import dataclass, field
from typing import ClassVar

from omegaconf import MISSING

from lab.config.checks import number, require, require_each

DTYPES = ("float32", "bfloat16")  # the weights' dtype on the Hub (null: as stored, fp32 unless artifacts.dtype said otherwise)
STAGES = ("base", "finetuned")


@dataclass
class PublishConfig:
    """Upload ``folder`` (an ablation run or sweep, a gate run, a vindex) to the model repo ``repo_id`` (created if
    missing; ``private``; on branch ``revision``, null: main), its weights in ``dtype``, an ablation's ``stages``,
    Lightning's ``checkpoints/`` only when asked (the seed published intermediate Trainer checkpoints; default
    none). Above ``large_folder_gb`` it goes through ``upload_large_folder`` (resumable, multi-commit).
    ``dry_run``: print what would be uploaded and the card, upload nothing. ``staging_dir``: where the upload is
    assembled first (hard links where the file system allows, converted weights written); null: beside ``folder``."""

    PACKAGE: ClassVar[str] = "_global_"

    folder: str = MISSING
    repo_id: str = MISSING
    dry_run: bool = False
    private: bool = False
    revision: str | None = None
    dtype: str | None = None
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    checkpoints: bool = False
    large_folder_gb: float = 5.0
    commit_message: str | None = None
    staging_dir: str | None = None

    def __post_init__(self) -> None:
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        try:
            validate_repo_id(self.repo_id)
            valid = "/" in self.repo_id
        except HFValidationError:
            valid = False
        require("", "repo_id", self.repo_id, valid, "a Hub repo id <owner>/<name> (letters, digits, -, _, .)")
        require_each("", self, (
            ("dtype", self.dtype is None or self.dtype in DTYPES, f"null (as stored) or one of {', '.join(DTYPES)}"),
            ("stages", bool(self.stages) and set(self.stages) <= set(STAGES), f"one or both of {', '.join(STAGES)}"),
            ("large_folder_gb", number(0, low_open=True)(self.large_folder_gb), "a positive number of GB"),
        ))
