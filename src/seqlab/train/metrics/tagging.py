"""BIO tagging metrics (named entities, chunks): entity spans and entity-level
precision, recall and F1, as CoNLL-2003's conlleval scores them (Tjong Kim Sang & De
Meulder 2003): an entity counts only when its type and both boundaries are right.

Trivial baseline to beat: F1 = 0 (tagging everything ``O`` finds no entity).

>>> entity_prf(["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-ORG"])
(0.5, 0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from ...data.batch import IGNORE_INDEX, Batch
from .base import Metric, class_ids, targets_of, values_of

__all__ = ["EntityF1", "bio_entities", "entity_prf"]


def bio_entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entity spans ``(type, start, end_exclusive)`` in a BIO (IOB2) tag sequence.

    As conlleval does: ``B-X`` starts an entity, ``I-X`` continues one of type ``X``, and an
    ``I-X`` that follows ``O`` or another type starts a new entity (lenient IOB1 reading).

    >>> sorted(bio_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"]))
    [('LOC', 3, 4), ('LOC', 4, 5), ('PER', 0, 2)]
    """
    spans: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        if tag == "O" or tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != kind):
            if kind is not None:
                spans.add((kind, start, i))
                kind = None
            if tag != "O":
                if not tag.startswith(("B-", "I-")):
                    raise ValueError(f"tag {tag!r} at position {i} is not O, B-X or I-X")
                kind, start = tag[2:], i
        elif not tag.startswith("I-"):
            raise ValueError(f"tag {tag!r} at position {i} is not O, B-X or I-X")
    return spans


def _entity_counts(
    predicted: Iterable[Sequence[str]], gold: Iterable[Sequence[str]]
) -> tuple[int, int, int]:
    """(correct, predicted, gold) entity counts over sentences."""
    correct = n_pred = n_gold = 0
    for k, (p, g) in enumerate(zip(predicted, gold, strict=True)):
        if len(p) != len(g):
            raise ValueError(f"sentence {k}: {len(p)} predicted tags but {len(g)} gold tags")
        ps, gs = bio_entities(p), bio_entities(g)
        correct += len(ps & gs)
        n_pred += len(ps)
        n_gold += len(gs)
    return correct, n_pred, n_gold


def _prf(correct: float, n_pred: float, n_gold: float) -> tuple[float, float, float]:
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_prf(
    predicted: Sequence[str] | Sequence[Sequence[str]],
    gold: Sequence[str] | Sequence[Sequence[str]],
) -> tuple[float, float, float]:
    """Entity-level precision, recall and F1 (CoNLL-2003): an entity counts only when its
    type and both boundaries are right. Takes one tag sequence or a list of sentences."""
    if predicted and isinstance(predicted[0], str):
        predicted, gold = [predicted], [gold]  # type: ignore[list-item]
    return _prf(*_entity_counts(predicted, gold))  # type: ignore[arg-type]


class EntityF1(Metric):
    """Entity-level F1 for BIO tag ids; ``tags[i]`` is the name of tag id ``i``.

    ``stats`` = (correct, predicted, gold) entity counts; ``precision`` and ``recall`` are
    reported next to ``f1`` by :meth:`scores`."""

    name = "entity_f1"
    size = 3

    def __init__(self, tags: Sequence[str]):
        if isinstance(tags, str) or not isinstance(tags, Sequence) or not tags:
            raise ValueError(
                f"tags must be a non-empty list of tag names in id order, got {tags!r}"
            )
        for i, tag in enumerate(tags):
            if not isinstance(tag, str) or not (tag == "O" or tag[:2] in ("B-", "I-")):
                raise ValueError(f"tags[{i}] must be O, B-X or I-X, got {tag!r}")
        self.tags = list(tags)
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        target = targets_of(batch, self.name).cpu()
        pred = class_ids(values_of(prediction), target)
        predicted, gold = [], []
        for p_row, g_row in zip(pred.tolist(), target.tolist(), strict=True):
            keep = [i for i, g in enumerate(g_row) if g != IGNORE_INDEX]
            for tag_id in [*(p_row[i] for i in keep), *(g_row[i] for i in keep)]:
                if not 0 <= tag_id < len(self.tags):
                    raise ValueError(
                        f"metric {self.name!r}: tag id {tag_id} but {len(self.tags)} tags"
                    )
            predicted.append([self.tags[p_row[i]] for i in keep])
            gold.append([self.tags[g_row[i]] for i in keep])
        self.stats += torch.tensor(_entity_counts(predicted, gold), dtype=torch.float64)

    def scores(self, stats: Tensor) -> tuple[float, float, float]:
        return _prf(*stats.tolist())

    def compute(self, stats: Tensor) -> float:
        return self.scores(stats)[2]
