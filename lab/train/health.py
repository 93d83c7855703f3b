"""``TrainingHealth``: log the gradient norm and stop a run whose loss or gradients stop being finite.

grad_norm = ‖g‖₂ over all parameters, before clipping. A non-finite loss or grad_norm marks the run
``collapsed``: the poisoned gradients are dropped (so the weights stay at their last finite values),
training stops, and the step plus the last finite loss are kept for the run summary. The seed reported
such runs as ``final_loss 0.000``; here their final loss is ``None``.
"""

import math
from typing import Any

import lightning as L
import torch


class TrainingHealth(L.Callback):
    def __init__(self) -> None:
        self.collapsed_at_step: int | None = None
        self.reason: str | None = None
        self.last_finite_loss: float | None = None

    @property
    def collapsed(self) -> bool:
        return self.collapsed_at_step is not None

    def _collapse(self, trainer: L.Trainer, reason: str, step: int) -> None:
        """``step`` counts optimizer steps from 1, as ``train_metrics.json`` rows do."""
        if not self.collapsed:
            self.collapsed_at_step, self.reason = step, reason
        trainer.should_stop = True

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads) if grads else torch.tensor(0.0)
        pl_module.log("train/grad_norm", norm)
        finite = bool(torch.isfinite(norm))
        finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:
            optimizer.zero_grad(set_to_none=True)
            self._collapse(trainer, f"non-finite grad_norm ({norm.item()})", trainer.global_step + 1)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        value = float(loss.detach()) if loss is not None else math.nan
        if math.isfinite(value):
            self.last_finite_loss = value
        elif not self.collapsed:
            self._collapse(trainer, f"non-finite loss ({value})", trainer.global_step)

    def state_dict(self) -> dict:
        return {"collapsed_at_step": self.collapsed_at_step, "reason": self.reason, "last_finite_loss": self.last_finite_loss}

    def load_state_dict(self, state_dict: dict) -> None:
        self.collapsed_at_step = state_dict.get("collapsed_at_step")
        self.reason = state_dict.get("reason")
        self.last_finite_loss = state_dict.get("last_finite_loss")
