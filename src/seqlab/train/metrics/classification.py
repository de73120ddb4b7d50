"""Classification metrics (one class per sequence, or per position for tagging):
accuracy, the confusion matrix, and macro-F1 from it.

Trivial baseline to beat: always predicting the majority class.

>>> import torch
>>> accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
0.75
>>> round(macro_f1(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), num_classes=3), 4)
0.7778
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ...checks import check_int
from ...data.batch import IGNORE_INDEX, Batch
from .base import Metric, class_ids, drop_ignored, mean_of, targets_of, values_of

__all__ = ["Accuracy", "MacroF1", "accuracy", "confusion_matrix", "macro_f1"]


def accuracy(prediction: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """Fraction of positions where the class is right; ``ignore_index`` targets (padding)
    are left out. ``prediction``: ids like ``target``, or logits with a trailing class dim."""
    pred, gold = drop_ignored(class_ids(prediction, target), target, ignore_index)
    if gold.numel() == 0:
        raise ValueError("accuracy: no target left after ignoring padding")
    return (pred == gold).double().mean().item()


def confusion_matrix(pred: Tensor, gold: Tensor, num_classes: int) -> Tensor:
    """(C, C) float64 counts, rows = gold class, columns = predicted class."""
    if gold.numel() and (int(gold.max()) >= num_classes or int(pred.max()) >= num_classes):
        raise ValueError(
            f"num_classes={num_classes} but a class id up to "
            f"{max(int(gold.max()), int(pred.max()))} occurs"
        )
    index = gold * num_classes + pred
    counts = torch.bincount(index.cpu(), minlength=num_classes * num_classes)
    return counts.double().view(num_classes, num_classes)


def _macro_f1_from_confusion(cm: Tensor) -> float:
    # F1_c = 2 TP / (2 TP + FP + FN), averaged over the classes that occur in the gold
    # or the prediction (sklearn's f1_score(average="macro") over the observed labels).
    tp = cm.diag()
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    present = (cm.sum(0) + cm.sum(1)) > 0
    if not present.any():
        raise ValueError("macro_f1: no target left after ignoring padding")
    f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-300)
    return f1[present].mean().item()


def macro_f1(
    prediction: Tensor,
    target: Tensor,
    num_classes: int | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> float:
    """Unweighted mean over classes of per-class F1 (classes absent from both gold and
    prediction are left out). Rare classes count as much as common ones."""
    pred, gold = drop_ignored(class_ids(prediction, target), target, ignore_index)
    if num_classes is None:
        num_classes = int(max(pred.max(), gold.max())) + 1 if gold.numel() else 1
    return _macro_f1_from_confusion(confusion_matrix(pred, gold, num_classes))


class Accuracy(Metric):
    name = "accuracy"
    size = 2  # correct, count

    def update(self, prediction: Any, batch: Batch) -> None:
        target = targets_of(batch, self.name).cpu()
        pred, gold = drop_ignored(class_ids(values_of(prediction), target), target)
        self.stats += torch.tensor([(pred == gold).sum().item(), gold.numel()], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)


class MacroF1(Metric):
    """Macro-F1 over ``num_classes`` classes from a summed confusion matrix."""

    name = "macro_f1"

    def __init__(self, num_classes: int):
        self.num_classes = check_int("num_classes", num_classes, min=2)
        self.size = num_classes * num_classes
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        target = targets_of(batch, self.name).cpu()
        pred, gold = drop_ignored(class_ids(values_of(prediction), target), target)
        self.stats += confusion_matrix(pred, gold, self.num_classes).flatten()

    def compute(self, stats: Tensor) -> float:
        cm = stats.view(self.num_classes, self.num_classes)
        return _macro_f1_from_confusion(cm) if cm.sum() > 0 else float("nan")
