"""``InitialEvaluation``: the model as it starts training, evaluated before the first optimizer step.

For a surgery (a trained model with a norm patch applied) this is the zero-shot effect of the patch; for a
random init it is ``loss_init``, the reference of the LR-sensitivity metric (:mod:`ablations.study.analysis`). The
metrics are those of every validation, logged at step 0: ``val/loss`` (the mean token cross-entropy over the
validation blocks, batches weighted by size, as Lightning averages ``validation_step``, over the batches
``trainer.limit_val_batches`` lets Lightning's validations see) and, in mode ``full`` with ``accuracy``,
``val/knowledge_acc`` and ``val/reasoning_acc``. Configured in ``conf/callbacks/default.yaml`` from
``regime.initial_eval`` (``loss`` | ``full``; null: no initial evaluation) and ``eval.accuracy``. A resumed run keeps the values measured
before it was interrupted (they travel in the checkpoint).
"""

import itertools
from typing import Any

import lightning as L
import torch
from lightning.pytorch.trainer.connectors.data_connector import _parse_num_batches
from lightning.pytorch.trainer.states import RunningStage

from lab.train.history import MetricsHistory, history_of


@torch.no_grad()
def validation_loss(module: L.LightningModule, loader, max_batches: int | None = None) -> float:
    """The batch-size-weighted mean of ``module(**batch).loss`` over ``loader`` (its first ``max_batches``), in eval mode."""
    was_training = module.training
    module.eval()
    total, count = 0.0, 0
    try:
        for batch in itertools.islice(loader, max_batches):
            batch = {k: v.to(module.device) for k, v in batch.items()}
            size = batch["input_ids"].shape[0]
            total += float(module(**batch).loss) * size
            count += size
    finally:
        module.train(was_training)
    return total / max(count, 1)


class InitialEvaluation(L.Callback):
    """Evaluate at step 0 (rank 0; nothing collective, so other ranks just start training)."""

    def __init__(self, mode: str = "full", accuracy: bool = True, history: MetricsHistory | None = None) -> None:
        mode = "loss" if mode is True else mode  # regime.initial_eval=true: the loss, as before the callbacks group
        if mode not in ("loss", "full"):
            raise ValueError(f"InitialEvaluation mode {mode!r}; expected loss or full")
        self.accuracy = mode == "full" and bool(accuracy)
        self.history = history  # None: the run's, found among the trainer's callbacks
        self.result: dict[str, float] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.result is not None or trainer.global_step > 0 or not trainer.is_global_zero:
            return
        loader = trainer.datamodule.val_dataloader()
        batches = _parse_num_batches(RunningStage.VALIDATING, len(loader), trainer.limit_val_batches)  # Lightning's own rule
        metrics = {"val/loss": validation_loss(pl_module, loader, int(batches))}
        if self.accuracy:
            metrics.update(pl_module.graded_accuracies())
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=0)
        (self.history or history_of(trainer)).record(0, metrics)
        self.result = {key.removeprefix("val/"): value for key, value in metrics.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"result": self.result}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.result = state_dict.get("result")
