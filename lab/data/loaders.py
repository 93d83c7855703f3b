"""Training data loaders that resume exactly where a killed run stopped.

A ``torchdata`` ``StatefulDataLoader`` has ``state_dict``/``load_state_dict``; Lightning stores that state
in each checkpoint and restores it on ``ckpt_path=``, so a resumed run sees the batches an uninterrupted
run would have seen next, in the same shuffled order (the shuffle generator is seeded and saved too).
Under DDP, Lightning swaps in a ``DistributedSampler`` (seeded by the run's seed and epoch) and the
loader fast-forwards it by the number of batches already drawn.
"""

from collections.abc import Callable

import torch
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader


def resumable_loader(dataset: Dataset, batch_size: int, *, collate: Callable, seed: int, shuffle: bool = True,
                     num_workers: int = 0) -> StatefulDataLoader:
    """Shuffled (if ``shuffle``) batches of ``batch_size``, last partial batch dropped, order fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return StatefulDataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=True, collate_fn=collate,
                              num_workers=num_workers, generator=generator)
