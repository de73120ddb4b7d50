"""The ``Metric`` accumulator protocol, and the helpers every task's metrics share.

A metric sees one batch at a time through ``update(prediction, batch)`` and keeps its
*sufficient statistics* (sums and counts, a confusion matrix, n-gram match counts) in one
float64 tensor ``stats``. Statistics add: data-parallel ranks reduce them with one
``all_reduce(SUM)``, and ``compute(stats)`` then gives the exact corpus value, never an
average of per-batch or per-rank averages.

>>> import torch
>>> class Count(Metric):
...     name = "count"
...     def update(self, prediction, batch):
...         self.stats += len(prediction)
...     def compute(self, stats):
...         return stats.item()
>>> m = Count()
>>> m.update([1, 2, 3], None); m.update([4], None)
>>> m.value()
4.0
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ...data.batch import IGNORE_INDEX, Batch

__all__ = ["Metric", "class_ids", "drop_ignored", "mean_of", "targets_of", "values_of"]


class Metric:
    """Accumulates sufficient statistics over batches; ``compute`` gives the value.

    Subclasses set ``name`` and the size of ``self.stats`` (float64), implement
    ``update(prediction, batch)`` (adding to ``self.stats``) and ``compute(stats)``.
    Data-parallel training sums ``stats`` over ranks before ``compute``.
    """

    name = "metric"
    size = 1

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.stats = torch.zeros(self.size, dtype=torch.float64)

    def update(self, prediction: Any, batch: Batch) -> None:
        raise NotImplementedError

    def compute(self, stats: Tensor) -> float:
        raise NotImplementedError

    def value(self) -> float:
        return self.compute(self.stats)


def targets_of(batch: Batch, name: str) -> Tensor:
    """``batch.targets``, or a ValueError naming the metric that needs them."""
    if batch.targets is None:
        raise ValueError(f"metric {name!r} needs batch.targets, got None")
    return batch.targets


def values_of(prediction: Any) -> Any:
    """A prediction tensor detached and on the CPU; anything else (lists of ids) as is."""
    return prediction.detach().cpu() if isinstance(prediction, Tensor) else prediction


def class_ids(prediction: Tensor, target: Tensor) -> Tensor:
    """Class ids from logits (``(..., C)`` float, one more dim than the target) or ids."""
    if prediction.is_floating_point() and prediction.dim() == target.dim() + 1:
        return prediction.argmax(-1)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction shape {tuple(prediction.shape)} does not match target shape "
            f"{tuple(target.shape)} (give class ids of the same shape, or logits with one "
            "more dimension)"
        )
    return prediction


def drop_ignored(
    pred: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX
) -> tuple[Tensor, Tensor]:
    """Predicted and target ids (long, flat) where the target is not ``ignore_index``."""
    keep = target != ignore_index
    return pred[keep].long(), target[keep].long()


def mean_of(stats: Tensor) -> float:
    """``stats[0] / stats[1]`` (a sum over a count); nan when nothing was counted."""
    return (stats[0] / stats[1]).item() if stats[1] > 0 else float("nan")
