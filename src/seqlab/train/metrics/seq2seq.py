"""Sequence-to-sequence metrics: corpus BLEU (Papineni et al. 2002, as sacrebleu computes
it, Post 2018), corpus chrF (Popović 2015, character 6-grams, beta 2) and exact match.

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

__all__ = ["BLEU", "ChrF", "ExactMatch", "bleu", "chrf", "exact_match"]


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) with sacrebleu's standard 13a tokenization, one reference each."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100), sacrebleu's defaults (character n-grams up to 6, beta = 2)."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return float(sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score)


def exact_match(hypotheses: Sequence[Any], references: Sequence[Any]) -> float:
    """Fraction of outputs equal to their reference (strings, or lists of ids)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("exact_match: no references")
    return sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)


_ORDER = 4  # BLEU-4: n-grams of order 1..4, sacrebleu's default max_ngram_order


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
    if len(preds) != len(golds):
        raise ValueError(f"metric {name!r}: {len(preds)} predictions but {len(golds)} targets")
    return preds, golds


class BLEU(Metric):
    """Corpus BLEU from summed n-gram statistics (sacrebleu): the value equals
    ``sacrebleu.corpus_bleu`` over the whole corpus, also when batches and ranks hold
    parts of it, because BLEU is a function of corpus-wide sums (Papineni et al. 2002,
    sec. 2.2.1: clipped n-gram matches and n-gram counts for n = 1..4, hypothesis and
    reference lengths).

    ``decode(ids) -> str`` turns predicted and target ids into text (the target vocab's
    decode, cutting at end-of-sequence); the default joins the ids with spaces. Scoring
    uses sacrebleu's defaults (13a tokenization, ``exp`` smoothing), as ``corpus_bleu``
    does; no sentence seen gives nan.
    """

    name = "bleu"
    # sys_len, ref_len, correct[1..4], total[1..4], sentences
    size = 2 + 2 * _ORDER + 1

    def __init__(self, decode: Callable[[Sequence[int]], str] = _ids_to_text):
        from sacrebleu.metrics import BLEU as SacreBLEU

        if not callable(decode):
            raise ValueError(f"decode must be a function from ids to text, got {decode!r}")
        self.decode = decode
        self.scorer = SacreBLEU(max_ngram_order=_ORDER)
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        preds, golds = _sequences(prediction, batch, self.name)
        if not golds:  # an empty batch: sacrebleu refuses an empty corpus
            return
        hyps = [self.decode(p) for p in preds]
        refs = [self.decode(g) for g in golds]
        score = self.scorer.corpus_score(hyps, [refs])
        stats = [score.sys_len, score.ref_len, *score.counts, *score.totals, len(golds)]
        self.stats += torch.tensor(stats, dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        s = [int(v) for v in stats.tolist()]
        if s[-1] == 0:
            return float("nan")
        n = _ORDER
        scorer = self.scorer
        score = scorer.compute_bleu(
            correct=s[2 : 2 + n],
            total=s[2 + n : 2 + 2 * n],
            sys_len=s[0],
            ref_len=s[1],
            smooth_method=scorer.smooth_method,
            smooth_value=scorer.smooth_value,
            effective_order=scorer.effective_order,
            max_ngram_order=n,
        )
        return float(score.score)


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


class ChrF(Metric):
    """Corpus chrF from summed character (and word, with ``word_order``) n-gram statistics,
    as ``sacrebleu.corpus_chrf`` sums them over sentences: equal to it over the whole
    corpus when batches and ranks hold parts of it. ``decode`` as for :class:`BLEU`."""

    name = "chrf"
    size = 3 * 6 + 1  # sacrebleu's (hyp, ref, match) counts for orders 1..6, sentences

    def __init__(self, decode: Callable[[Sequence[int]], str] = _ids_to_text):
        from sacrebleu.metrics import CHRF

        if not callable(decode):
            raise ValueError(f"decode must be a function from ids to text, got {decode!r}")
        self.decode = decode
        self.scorer = CHRF()
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        preds, golds = _sequences(prediction, batch, self.name)
        if not golds:
            return
        hyps = [self.decode(p) for p in preds]
        refs = [self.decode(g) for g in golds]
        stats = self.scorer._extract_corpus_statistics(hyps, [refs])  # per sentence
        summed = torch.tensor(stats, dtype=torch.float64).sum(0)
        self.stats += torch.cat([summed, torch.tensor([float(len(golds))], dtype=torch.float64)])

    def compute(self, stats: Tensor) -> float:
        if stats[-1] == 0:
            return float("nan")
        counts = [int(v) for v in stats[:-1].tolist()]
        return float(self.scorer._compute_score_from_stats(counts).score)
