"""``StepMeasurements``: what each training step cost the machine, logged every step.

- ``train/step_s``: wall seconds of the step, from ``on_train_batch_start`` to ``on_train_batch_end`` (forward,
  backward, optimizer; the device is synchronised first on a GPU, so queued kernels count);
- ``train/peak_memory_gib``: the run's peak memory so far. On a GPU ``torch.cuda.max_memory_allocated``, what
  torch's allocator has held at most on this rank's device (weights, gradients, optimizer state, activations,
  the loss chunk; the CUDA context is outside it); on CPU the process's peak resident set size (``ru_maxrss``).

``python -m lab.plan`` predicts the peak (:mod:`lab.plan.memory`); ``make gpu-check`` compares the two.
"""

import time

import lightning as L
import torch

from lab.train.memory import peak_rss_bytes

MEMORY_KEY, TIME_KEY = "train/peak_memory_gib", "train/step_s"


def peak_memory_bytes(device: torch.device) -> int:
    """Peak allocated bytes on a CUDA device, else this process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return peak_rss_bytes()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepMeasurements(L.Callback):
    def __init__(self) -> None:
        self._start = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        _sync(pl_module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        _sync(pl_module.device)
        pl_module.log(TIME_KEY, time.perf_counter() - self._start, on_step=True, on_epoch=False)
        pl_module.log(MEMORY_KEY, peak_memory_bytes(pl_module.device) / 2**30, on_step=True, on_epoch=False)
