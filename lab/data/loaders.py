"""Training data loaders that resume exactly where a killed run stopped.

The shuffle order of epoch ``e`` is ``randperm(n)`` drawn from a generator seeded with ``seed + e``: a pure
function of the seed and the epoch, like ``DistributedSampler``'s, so no generator state has to survive a
kill. A ``torchdata`` ``StatefulDataLoader`` records how many batches of the epoch were drawn; Lightning
stores that in each checkpoint and, on resume, the loader skips them. Under DDP, Lightning swaps in its
own ``DistributedSampler`` (seeded by the run's seed, same epoch rule), which resumes the same way.
"""

from collections.abc import Callable, Iterator, Sized

import torch
from torch.utils.data import Dataset, RandomSampler
from torchdata.stateful_dataloader import StatefulDataLoader


class EpochShuffle(RandomSampler):
    """``RandomSampler`` whose permutation depends only on ``(seed, epoch)``; Lightning calls ``set_epoch``.

    It stays a ``RandomSampler`` so that Lightning replaces it by a shuffling ``DistributedSampler`` under DDP.
    """

    def __init__(self, data_source: Sized, seed: int) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


def resumable_loader(dataset: Dataset, batch_size: int, *, collate: Callable, seed: int, shuffle: bool = True,
                     num_workers: int = 0) -> StatefulDataLoader:
    """Batches of ``batch_size`` (last partial one dropped), shuffled per epoch by ``seed`` if ``shuffle``."""
    sampler = EpochShuffle(dataset, seed) if shuffle else None
    return StatefulDataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True, collate_fn=collate,
                              num_workers=num_workers)
