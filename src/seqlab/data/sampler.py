"""``BucketSampler``: batches of sequences of similar length, so little compute is padding.

Each epoch (the recipe of torchtext's ``BucketIterator``):

1. shuffle all indices;
2. cut them into pools of ``batch_size * pool_batches`` examples;
3. sort each pool by length and cut it into batches (similar lengths together);
4. shuffle the order of all batches.

Which sequences share a batch changes each epoch (1), and batches of all lengths are
interleaved (4), so training sees no length curriculum. Pass it to a ``DataLoader`` as
``batch_sampler``. Epochs are reproducible: epoch ``e`` uses seed ``seed + e``; the epoch
advances by one per iteration, or is set by :meth:`set_epoch`.

>>> lengths = [5, 50, 6, 48, 7, 52, 5, 49]
>>> batches = list(BucketSampler(lengths, batch_size=4, seed=0))
>>> sorted(sorted(lengths[i] for i in b) for b in batches)
[[5, 5, 6, 7], [48, 49, 50, 52]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from ..checks import check_bool, check_int


class BucketSampler(Sampler[list[int]]):
    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        pool_batches: int = 100,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ):
        self.batch_size = check_int("batch_size", batch_size, min=1)
        self.pool_batches = check_int("pool_batches", pool_batches, min=1)
        lengths = lengths.tolist() if isinstance(lengths, Tensor | np.ndarray) else list(lengths)
        if not lengths:
            raise ValueError("lengths must be a non-empty list of ints")
        for i, n in enumerate(lengths):  # a float length is never truncated to an int
            check_int(f"lengths[{i}]", n, min=1)
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.shuffle = check_bool("shuffle", shuffle)
        self.drop_last = check_bool("drop_last", drop_last)
        self.seed = check_int("seed", seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        n = len(self.lengths)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, n, pool):
            idx = order[start : start + pool]
            # stable sort keeps the shuffled order among equal lengths
            idx = idx[torch.sort(self.lengths[idx], stable=True).indices]
            for b in range(0, len(idx), self.batch_size):
                batches.append(idx[b : b + self.batch_size].tolist())
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g)]
        yield from batches
