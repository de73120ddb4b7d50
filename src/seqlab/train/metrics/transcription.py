"""Transcription metrics: character and word error rate from the Levenshtein distance.

``CER = (S + D + I) / N``: the fewest substitutions, deletions and insertions that turn
the hypothesis into the reference, summed over the corpus, over the number of reference
characters (Levenshtein 1966; the usual speech-recognition score). It can exceed 1 (a
hypothesis much longer than its reference). ``WER`` is the same over words, where a word
is a run of labels between ``space`` labels. An attention decoder's rows end in an
end-of-sequence label: with ``eos`` given, each row (predicted and reference) is cut at
its first ``eos``, which is not scored (it is no character of the transcript).

Trivial baseline to beat: the empty transcript, CER = 1.

>>> edit_distance("kitten", "sitting")
3
>>> cer(["helo world"], ["hello world"])
0.09090909090909091
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch
from torch import Tensor

from ...data.batch import IGNORE_INDEX, Batch
from .base import Metric, mean_of, targets_of, values_of

__all__ = ["CER", "WER", "cer", "edit_distance", "wer"]


def edit_distance(hypothesis: Sequence[Hashable], reference: Sequence[Hashable]) -> int:
    """The Levenshtein distance: the fewest single-item substitutions, deletions and
    insertions from ``hypothesis`` to ``reference`` (Wagner-Fischer dynamic programme,
    one row at a time: ``d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + [a_i !=
    b_j])``)."""
    a, b = list(hypothesis), list(reference)
    row = list(range(len(b) + 1))  # d[0][j] = j
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i  # prev = d[i-1][j-1]
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _rate(pairs: list[tuple[Sequence, Sequence]]) -> float:
    total = sum(len(r) for _, r in pairs)
    if total == 0:
        raise ValueError("the references hold nothing to score against (all empty)")
    return sum(edit_distance(h, r) for h, r in pairs) / total


def cer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus character error rate: summed edit distances over summed reference lengths."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return _rate(list(zip(hypotheses, references, strict=True)))


def wer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus word error rate, words split at white space."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return _rate([(h.split(), r.split()) for h, r in zip(hypotheses, references, strict=True)])


def _cut(row: list[int], eos: int | None) -> list[int]:
    """``row`` up to (not including) its first ``eos``; all of it when ``eos`` is None."""
    return row[: row.index(eos)] if eos is not None and eos in row else row


def label_rows(
    prediction: Any, batch: Batch, name: str, eos: int | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """Predicted and reference label lists: a prediction is a list of id lists or a padded
    (B, L) tensor; both drop ``IGNORE_INDEX`` and what lies past ``target_lengths``, and
    are cut at their first ``eos`` when it is given."""
    target = targets_of(batch, name).cpu()
    pred = values_of(prediction)
    if isinstance(pred, Tensor):
        if pred.is_floating_point():
            raise ValueError(f"metric {name!r} needs decoded label ids, not scores")
        pred = pred.tolist()
    hyps = [_cut([int(t) for t in row if t != IGNORE_INDEX], eos) for row in pred]
    refs = []
    for b, row in enumerate(target.tolist()):
        if batch.target_lengths is not None:
            row = row[: int(batch.target_lengths[b])]
        refs.append(_cut([t for t in row if t != IGNORE_INDEX], eos))
    if len(hyps) != len(refs):
        raise ValueError(f"metric {name!r}: {len(hyps)} predictions but {len(refs)} targets")
    return hyps, refs


def _check_eos(eos: Any) -> int | None:
    if eos is not None and (isinstance(eos, bool) or not isinstance(eos, int) or eos < 0):
        raise ValueError(f"eos must be the end-of-sequence label id, an int >= 0, got {eos!r}")
    return eos


class CER(Metric):
    """Character (label) error rate over a corpus: stats are (summed edit distance,
    summed reference length), so batches and ranks add exactly. ``eos``: the label that
    ends a row (not scored), for an attention decoder's outputs."""

    name = "cer"
    size = 2

    def __init__(self, eos: int | None = None):
        self.eos = _check_eos(eos)
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        hyps, refs = label_rows(prediction, batch, self.name, self.eos)
        dist = sum(edit_distance(h, r) for h, r in zip(hyps, refs, strict=True))
        self.stats += torch.tensor([dist, sum(map(len, refs))], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)


def _words(labels: list[int], space: int) -> list[tuple[int, ...]]:
    words, word = [], []
    for t in [*labels, space]:
        if t == space:
            if word:
                words.append(tuple(word))
            word = []
        else:
            word.append(t)
    return words


class WER(Metric):
    """Word error rate over a corpus; ``space`` is the label id that separates words,
    ``eos`` as for :class:`CER`."""

    name = "wer"
    size = 2

    def __init__(self, space: int, eos: int | None = None):
        if isinstance(space, bool) or not isinstance(space, int) or space < 0:
            raise ValueError(f"space must be the label id of ' ', an int >= 0, got {space!r}")
        self.space = space
        self.eos = _check_eos(eos)
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        hyps, refs = label_rows(prediction, batch, self.name, self.eos)
        split = lambda labels: _words(labels, self.space)  # noqa: E731
        pairs = [(split(h), split(r)) for h, r in zip(hyps, refs, strict=True)]
        dist = sum(edit_distance(h, r) for h, r in pairs)
        self.stats += torch.tensor([dist, sum(len(r) for _, r in pairs)], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)
