"""``lab.runs.preemption``: a signal asks for a checkpoint at the step's end; the handler that was there before runs after it."""

import os
import signal

import lightning as L
from lightning.pytorch.demos.boring_classes import BoringModel

from lab.runs.checkpointing import StepCheckpoint
from lab.runs.preemption import PreemptionCheckpoint


class SignalAtStep(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGUSR2)  # lands mid-step: the save waits for the step's end


def test_a_signal_saves_at_the_end_of_its_step_then_hands_the_signal_on(tmp_path):
    seen = []

    def submitit_like(signum, frame):  # what submitit's handler does first: look at what is on disk
        seen.append((signum, sorted(p.name for p in (tmp_path / "ckpt").iterdir())))

    previous = signal.signal(signal.SIGUSR2, submitit_like)
    try:
        checkpoints = StepCheckpoint(tmp_path / "ckpt", every=100)
        trainer = L.Trainer(max_steps=6, callbacks=[checkpoints, PreemptionCheckpoint(checkpoints), SignalAtStep(3)], logger=False,
                            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
        trainer.fit(BoringModel())
        assert seen == [(signal.SIGUSR2, ["last.ckpt", "step-000004.ckpt"])]  # saved after step 4 (the one signalled), not at step 100
        assert signal.getsignal(signal.SIGUSR2) is submitit_like  # restored when the fit ended
    finally:
        signal.signal(signal.SIGUSR2, previous)
