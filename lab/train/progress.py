"""``StepProgressBar``: Lightning's rich progress bar without "Epoch 2/-2".

Runs here are bounded by ``max_steps`` with ``max_epochs: -1``, and Lightning writes the bar's description
as ``Epoch {e}/{max_epochs - 1}``; with no epoch bound this bar says ``Epoch {e}`` and, when steps bound the
run, ``step {s}/{max_steps}`` at the start of the epoch.
"""

from lightning.pytorch.callbacks import RichProgressBar


class StepProgressBar(RichProgressBar):
    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_epochs is not None and self.trainer.max_epochs >= 0:
            return super()._get_train_description(current_epoch)
        description = f"Epoch {current_epoch}"
        if self.trainer.max_steps > 0:
            description += f" (step {self.trainer.global_step}/{self.trainer.max_steps})"
        return f"{description:{len(self.validation_description)}}"
