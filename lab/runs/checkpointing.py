"""``StepCheckpoint``: a checkpoint every N optimizer steps that resumes into exactly the same run.

Lightning's ``ModelCheckpoint(every_n_train_steps=N)`` saves at the end of the training batch, before
that step's validation; a run resumed from such a checkpoint skips the validation (Lightning assumes it
happened), so the resumed ``train_metrics.json`` would lack a row. Here a step that also validates is
saved at the end of its validation instead, which Lightning resumes as "validation done". ``last.ckpt``
is overwritten by a resumed run (Lightning would otherwise add ``last-v1.ckpt``).

:meth:`StepCheckpoint.request_save` asks for a checkpoint at the next step boundary whatever the step (a
preemption signal, :mod:`lab.runs.preemption`); under DDP the ranks agree on it with one all-reduce per step,
so that they all save at the same step.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class StepCheckpoint(ModelCheckpoint):
    """``<dirpath>/step-NNNNNN.ckpt`` every ``every`` steps (all kept) and ``<dirpath>/last.ckpt``."""

    def __init__(self, dirpath: Path, every: int) -> None:
        super().__init__(dirpath=dirpath, filename="step-{step:06d}", auto_insert_metric_name=False, save_top_k=-1,
                         save_last=True, every_n_train_steps=every, enable_version_counter=False)
        self._deferred = False
        self._requested = False
        self._then: Callable[[], None] | None = None

    def request_save(self, then: Callable[[], None] | None = None) -> None:
        """Save ``step-N.ckpt`` and ``last.ckpt`` at the end of the current step (after its validation, if one
        follows), then call ``then``."""
        self._requested, self._then = True, then

    def _save_requested(self, trainer: L.Trainer) -> bool:
        if trainer.world_size > 1:
            return bool(trainer.strategy.reduce_boolean_decision(self._requested, all=False))
        return self._requested

    def _save_now(self, trainer: L.Trainer) -> None:
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)
        if self._requested:
            self._requested, then, self._then = False, self._then, None
            if then is not None:
                then()

    @staticmethod
    def _validation_follows(trainer: L.Trainer) -> bool:
        """Whether Lightning runs a validation right after this training batch (its own test, private API)."""
        epoch_loop = trainer.fit_loop.epoch_loop
        try:
            return bool(epoch_loop._should_check_val_fx(trainer.fit_loop._data_fetcher)) and not epoch_loop.val_loop.skip
        except AttributeError:  # a Lightning without these internals: save before validation, as Lightning does
            return False

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        requested = self._save_requested(trainer)
        self._requested = self._requested or requested  # a rank that has not seen the signal saves with the others
        due = not self._should_skip_saving_checkpoint(trainer) and (requested or trainer.global_step % self._every_n_train_steps == 0)
        if due and self._validation_follows(trainer):
            self._deferred = True
            return
        if requested:
            self._save_now(trainer)
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._deferred and not trainer.sanity_checking:
            self._deferred = False
            self._save_now(trainer)
        super().on_validation_end(trainer, pl_module)
