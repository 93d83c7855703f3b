"""``MetricsHistory``: every logged scalar, per step, kept for ``train_metrics.json``."""

from typing import Any

import lightning as L
import torch


def _scalars(metrics: dict[str, Any], prefix: str | tuple[str, ...]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix) and (not torch.is_tensor(v) or v.numel() == 1)}


class MetricsHistory(L.Callback):
    """Rows ``{"step": s, "train/loss": ..., ...}`` for each training step and each validation.

    A training row keeps the logged scalars whose names start with one of ``prefixes``.
    """

    def __init__(self, prefixes: tuple[str, ...] = ("train/",)) -> None:
        self.rows: list[dict[str, float]] = []
        self.prefixes = prefixes

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.record(trainer.global_step, {"epoch": trainer.current_epoch, **_scalars(trainer.callback_metrics, self.prefixes)})

    def record(self, step: int, metrics: dict[str, float]) -> None:
        """Add ``metrics`` to the row of ``step`` when it is the latest row, else start a row (other callbacks, e.g.
        :class:`lab.train.diagnostics.InstabilityDiagnostics`, add what they measure at a step this way)."""
        if self.rows and self.rows[-1].get("step") == step and "val/loss" not in self.rows[-1]:
            self.rows[-1].update(metrics)
        else:
            self.rows.append({"step": step, **metrics})

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.rows.append({"step": trainer.global_step, **_scalars(trainer.callback_metrics, "val/")})

    def last(self, key: str) -> float | None:
        for row in reversed(self.rows):
            if key in row:
                return row[key]
        return None

    def values(self, key: str, after_step: int = -1) -> list[float]:
        """Every recorded value of ``key`` at a step after ``after_step``, oldest first (``val/...``: one per
        validation; ``after_step=0`` leaves out the evaluation before training, :class:`lab.train.initial_eval.InitialEvaluation`)."""
        return [row[key] for row in self.rows if key in row and row["step"] > after_step]

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict.get("rows", []))


def history_of(trainer: L.Trainer) -> MetricsHistory:
    """The run's :class:`MetricsHistory` among ``trainer.callbacks`` (the lifecycle adds one to every run), for the
    callbacks that add rows to it and are instantiated from config, where no history exists yet."""
    history = next((c for c in trainer.callbacks if isinstance(c, MetricsHistory)), None)
    if history is None:
        raise RuntimeError("no MetricsHistory among the trainer's callbacks: lab.train.run.run adds one to every run")
    return history
