"""Training data loaders that resume exactly where a killed run stopped.

The shuffle order of epoch ``e`` is ``randperm(n)`` drawn from a generator seeded with ``seed + e``: a pure
function of the seed and the epoch, like ``DistributedSampler``'s, so no generator state has to survive a
kill. A ``torchdata`` ``StatefulDataLoader`` records how many batches of the epoch were drawn; Lightning
stores that in each checkpoint and, on resume, the loader skips them. Lightning creates the resumed loader's
iterator before it calls ``set_epoch``, so the loader is built already in the epoch the trainer is in
(``epoch``): else a run resumed in epoch e >= 1 finished e in epoch 0's order. Under DDP, Lightning swaps in its
own ``DistributedSampler`` (seeded by the run's seed, same epoch rule), which resumes the same way.
"""

from collections.abc import Callable, Iterator, Sized

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


def fit_epoch(datamodule: L.LightningDataModule) -> int:
    """The epoch ``datamodule``'s trainer is fitting (restored from the checkpoint on resume); 0 outside a fit."""
    trainer = getattr(datamodule, "trainer", None)
    return trainer.fit_loop.epoch_progress.current.processed if trainer is not None else 0


def resumable_loader(dataset: Dataset, batch_size: int, *, collate: Callable, seed: int, shuffle: bool = True,
                     num_workers: int = 0, epoch: int = 0) -> StatefulDataLoader:
    """Batches of ``batch_size`` (last partial one dropped), shuffled per epoch by ``seed`` if ``shuffle``,
    starting in ``epoch``."""
    sampler = EpochShuffle(dataset, seed, epoch) if shuffle else None
    return StatefulDataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True, collate_fn=collate,
                              num_workers=num_workers)
