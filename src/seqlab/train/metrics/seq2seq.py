"""Sequence-to-sequence metrics: corpus BLEU (Papineni et al. 2002, as sacrebleu computes
it, Post 2018) and exact match.

Trivial baseline to beat: copying the source sentence.

>>> exact_match([[1, 2], [3]], [[1, 2], [4]])
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ...data.batch import IGNORE_INDEX, Batch
from .base import Metric, mean_of, targets_of, values_of

__all__ = ["BLEU", "ExactMatch", "bleu", "exact_match"]


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) with sacrebleu's standard 13a tokenization, one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def exact_match(hypotheses: Sequence[Any], references: Sequence[Any]) -> float:
    """Fraction of outputs equal to their reference (strings, or lists of ids)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("exact_match: no references")
    return sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)


def _ids_to_text(ids: Sequence[int]) -> str:
    return " ".join(str(i) for i in ids)


def _sequences(prediction: Any, batch: Batch, name: str) -> tuple[list[list[int]], list[list[int]]]:
    """Predicted and target id lists, cut at padding (``IGNORE_INDEX``/``target_lengths``)."""
    target = targets_of(batch, name).cpu()
    pred = values_of(prediction)
    if isinstance(pred, Tensor) and pred.is_floating_point():
        pred = pred.argmax(-1)
    preds = pred.tolist() if isinstance(pred, Tensor) else [list(p) for p in pred]
    golds = []
    for b, row in enumerate(target.tolist()):
        if batch.target_lengths is not None:
            row = row[: int(batch.target_lengths[b])]
        golds.append([t for t in row if t != IGNORE_INDEX])
    return preds, golds


class BLEU(Metric):
    """Corpus BLEU from summed n-gram statistics (sacrebleu): the value equals
    ``sacrebleu.corpus_bleu`` over the whole corpus, also when ranks hold parts of it.

    ``decode(ids) -> str`` turns predicted and target ids into text (the target vocab's
    decode, cutting at end-of-sequence); the default joins the ids with spaces."""

    name = "bleu"
    size = 2 + 2 * 4  # sys_len, ref_len, correct[1..4], total[1..4]

    def __init__(self, decode: Callable[[Sequence[int]], str] = _ids_to_text):
        self.decode = decode
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        from sacrebleu.metrics import BLEU as SacreBLEU

        preds, golds = _sequences(prediction, batch, self.name)
        hyps = [self.decode(p) for p in preds]
        refs = [self.decode(g) for g in golds]
        stats = SacreBLEU()._extract_corpus_statistics(hyps, [refs])
        self.stats += torch.tensor(stats, dtype=torch.float64).sum(0)

    def compute(self, stats: Tensor) -> float:
        from sacrebleu.metrics import BLEU as SacreBLEU

        s = [int(v) for v in stats.tolist()]
        return float(SacreBLEU.compute_bleu(s[2:6], s[6:10], s[0], s[1]).score)


class ExactMatch(Metric):
    """Fraction of output sequences equal to their target over the target's length."""

    name = "exact_match"
    size = 2

    def update(self, prediction: Any, batch: Batch) -> None:
        preds, golds = _sequences(prediction, batch, self.name)
        # A decoder's output runs to a fixed length; the target (ending in its end-of-sequence
        # id) says where the comparison stops.
        hits = sum(p[: len(g)] == g for p, g in zip(preds, golds, strict=True))
        self.stats += torch.tensor([hits, len(golds)], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)
