"""Training data loaders that resume exactly where a killed run stopped.

The shuffle order of epoch ``e`` is ``randperm(n)`` drawn from a generator seeded with ``seed + e``: a pure
function of the seed and the epoch, like ``DistributedSampler``'s, so no generator state has to survive a
kill. A ``torchdata`` ``StatefulDataLoader`` records how many batches of the epoch were drawn; Lightning
stores that in each checkpoint and, on resume, the loader skips them. Lightning creates the resumed loader's
iterator before it calls ``set_epoch``, so the loader is built already in the epoch the trainer is in
(``epoch``): else a run resumed in epoch e >= 1 finished e in epoch 0's order. Under DDP, Lightning swaps in its
own ``DistributedSampler`` (seeded by the run's seed, same epoch rule) but leaves it at epoch 0 until the epoch
loop starts, after the resumed iterator was made: the loader sets its sampler's epoch itself when it makes its
first iterator.

A checkpoint saved after an epoch's last training batch resumes in the *next* epoch (Lightning counts the
finished epoch when it restarts), yet its loader state says "every batch of the epoch drawn": restored, it would
skip that next epoch whole. :func:`fit_resume` tells the loader so, and the loader starts that epoch fresh.
"""

import multiprocessing
import sys
from collections.abc import Callable, Iterator, Sized
from multiprocessing.context import BaseContext
from typing import Any, NamedTuple

import lightning as L
import torch
from torch.utils.data import Dataset, RandomSampler
from torchdata.stateful_dataloader import StatefulDataLoader


class EpochShuffle(RandomSampler):
    """``RandomSampler`` whose permutation depends only on ``(seed, epoch)``; Lightning calls ``set_epoch``.

    It stays a ``RandomSampler`` so that Lightning replaces it by a shuffling ``DistributedSampler`` under DDP.
    """

    def __init__(self, data_source: Sized, seed: int, epoch: int = 0) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = int(seed), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


class ResumePoint(NamedTuple):
    """Where a fit's training data starts: ``epoch``, and whether the checkpoint's loader state is of the epoch
    before it, which ended (``fresh``: do not restore it)."""

    epoch: int = 0
    fresh: bool = False


def _resumes_after_last_batch(loop: Any) -> bool:
    """Lightning's own test in ``FitLoop.reset`` (private API): restarted after an epoch's last training batch, it
    counts that epoch as processed and goes on with the next."""
    try:
        loop.update_restart_stage()
        return bool(loop.epoch_loop.restarted_on_train_batch_end and loop.restarted_mid_epoch
                    and loop.epoch_loop.batch_progress.is_last_batch)
    except AttributeError:  # a Lightning without these internals
        return False


def fit_resume(datamodule: L.LightningDataModule) -> ResumePoint:
    """The epoch ``datamodule``'s trainer fits next (restored from the checkpoint on resume; 0 outside a fit)."""
    trainer = getattr(datamodule, "trainer", None)
    if trainer is None:
        return ResumePoint()
    loop = trainer.fit_loop
    epoch = loop.epoch_progress.current.processed
    if loop.restarting and _resumes_after_last_batch(loop):
        return ResumePoint(epoch + 1, fresh=True)
    return ResumePoint(epoch)


START = ResumePoint()  # a fit from its first epoch


class EpochLoader(StatefulDataLoader):
    """A ``StatefulDataLoader`` that makes its first iterator in ``start_epoch`` (its sampler's ``set_epoch``,
    also a ``DistributedSampler`` Lightning put in) and, with ``fresh``, does not restore a checkpoint's state."""

    def __init__(self, *args: Any, start_epoch: int = 0, fresh: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_epoch, self.fresh, self._started = int(start_epoch), bool(fresh), False

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict({} if self.fresh else state_dict)

    def _get_iterator(self) -> Any:
        if not self._started:
            self._started = True
            for sampler in (self.sampler, getattr(self.batch_sampler, "sampler", None)):
                if hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(self.start_epoch)
        return super()._get_iterator()


def worker_context(num_workers: int) -> BaseContext | None:
    """The start method of a loader's ``num_workers`` worker processes, named rather than the process-wide default:
    inside a job of Hydra's joblib launcher that default is loky's, whose processes a DataLoader cannot start
    (``'Process' object has no attribute 'env'``). Fork where the platform has it (torch's default on Linux), else
    spawn; None without workers."""
    if num_workers == 0:
        return None
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def resumable_loader(dataset: Dataset, batch_size: int, *, collate: Callable, seed: int, shuffle: bool = True,
                     num_workers: int = 0, resume: ResumePoint = START) -> StatefulDataLoader:
    """Batches of ``batch_size`` (last partial one dropped), shuffled per epoch by ``seed`` if ``shuffle``,
    starting in ``resume.epoch``."""
    sampler = EpochShuffle(dataset, seed, resume.epoch) if shuffle else None
    return EpochLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True, collate_fn=collate,
                       num_workers=num_workers, multiprocessing_context=worker_context(num_workers), start_epoch=resume.epoch,
                       fresh=resume.fresh)
