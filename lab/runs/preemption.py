"""``PreemptionCheckpoint``: a pre-timeout or preemption signal saves a checkpoint at the end of the current step,
then hands the signal on, so that a SLURM job is requeued and resumes where it stopped.

SLURM signals a job before its time limit (``--signal=USR2@<s>``: hydra-submitit-launcher's ``signal_delay_s``)
and when it is preempted; ``scancel --signal=USR2 <job>`` does the same by hand. The handler installed here
for ``SIGUSR1`` and submitit's preemption signal (``SIGUSR2``, or ``$SUBMITIT_PREEMPT_SIGNAL``) does not write
anything itself (a signal can land half-way through an optimizer step): it asks
:class:`lab.runs.checkpointing.StepCheckpoint` for ``step-N.ckpt`` + ``last.ckpt`` at the end of the step (every
DDP rank at the same step), and after that save calls the handler that was there before:

- under submitit, its ``checkpoint_and_try_requeue``: ``scontrol requeue``, then exit. The requeued job is the
  same Hydra job; it finds the checkpoint and resumes from it like any rerun (:mod:`lab.runs.resume`), bit-equal to
  an uninterrupted run;
- elsewhere, the signal's default action (the process stops); rerunning the command resumes.

Under SLURM, Lightning's own SIGUSR1 requeue (``SLURMEnvironment(auto_requeue=True)``: an ``hpc_ckpt`` written
from inside the handler, a second resume path) is switched off in :func:`lab.train.trainer.build_trainer`.
"""

import os
import signal
import threading
from types import FrameType

import lightning as L

from lab.runs.checkpointing import StepCheckpoint


def preemption_signals() -> list[signal.Signals]:
    """SIGUSR1 and submitit's preemption signal (``SUBMITIT_PREEMPT_SIGNAL``, default USR2)."""
    submitit = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), signal.SIGUSR2)
    return sorted({signal.SIGUSR1, submitit})


class PreemptionCheckpoint(L.Callback):
    def __init__(self, checkpoint: StepCheckpoint) -> None:
        self.checkpoint = checkpoint
        self.previous: dict[int, object] = {}
        self.received: int | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in preemption_signals():
            self.previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            self.checkpoint.request_save(then=lambda: self._hand_on(signum, frame))

    def _hand_on(self, signum: int, frame: FrameType | None) -> None:
        previous = self.previous.get(signum)
        self.restore()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)  # the default action, now that the handler is restored

    def restore(self) -> None:
        while self.previous:
            signum, handler = self.previous.popitem()
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.restore()
