"""Metrics per task, as plain functions and as accumulators the trainer can reduce.

Plain functions take whole tensors (or lists of strings) and return a float:

========================= ============================== ===============================
task                      functions                      trivial baseline to beat
========================= ============================== ===============================
classification, tagging   ``accuracy``, ``macro_f1``     majority class
BIO tagging (NER, chunks) ``entity_prf``                 F1 = 0 (no entity found)
language modelling        ``perplexity``,                uniform: perplexity = V,
                          ``bits_per_char``              bpc = log2 V
forecasting               ``mae``, ``rmse``, ``mape``,   MASE = 1 is the in-sample
                          ``mase``                       seasonal naive forecast
seq2seq                   ``bleu`` (sacrebleu),          copying the source
                          ``exact_match``
========================= ============================== ===============================

Accumulators (``Accuracy``, ``MacroF1``, ``EntityF1``, ``MAE`` … ) see one batch at a time
through ``update(prediction, batch)`` and keep *sufficient statistics* in one float64
tensor (sums and counts, a confusion matrix, n-gram match counts), so that data-parallel
ranks reduce them with one ``all_reduce(SUM)`` and ``compute`` gives the exact corpus
value, never an average of per-batch or per-rank averages.

>>> import torch
>>> accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
0.75
>>> round(macro_f1(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), num_classes=3), 4)
0.7778
>>> entity_prf(["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-ORG"])
(0.5, 0.5, 0.5)
>>> round(perplexity(math.log(10.0)), 6), bits_per_char(math.log(2.0))
(10.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from ..data.batch import IGNORE_INDEX, Batch

__all__ = [
    "BLEU",
    "MAE",
    "MAPE",
    "MASE",
    "RMSE",
    "Accuracy",
    "EntityF1",
    "ExactMatch",
    "MacroF1",
    "Metric",
    "accuracy",
    "bio_entities",
    "bits_per_char",
    "bleu",
    "entity_prf",
    "exact_match",
    "macro_f1",
    "mae",
    "make_metric",
    "mape",
    "mase",
    "naive_scale",
    "perplexity",
    "rmse",
]


def _labels(prediction: Tensor, target: Tensor) -> Tensor:
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


def _kept(pred: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    keep = target != ignore_index
    return pred[keep].long(), target[keep].long()


# ----------------------------------------------------------------------------- classification


def accuracy(prediction: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """Fraction of positions where the class is right; ``ignore_index`` targets (padding)
    are left out. ``prediction``: ids like ``target``, or logits with a trailing class dim."""
    pred, gold = _kept(_labels(prediction, target), target, ignore_index)
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
    pred, gold = _kept(_labels(prediction, target), target, ignore_index)
    if num_classes is None:
        num_classes = int(max(pred.max(), gold.max())) + 1 if gold.numel() else 1
    return _macro_f1_from_confusion(confusion_matrix(pred, gold, num_classes))


# ----------------------------------------------------------------------------- BIO entities


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


# ----------------------------------------------------------------------------- language models


def perplexity(mean_nll: float) -> float:
    """``exp`` of the mean negative log-likelihood per token (in nats)."""
    return math.exp(mean_nll)


def bits_per_char(mean_nll: float) -> float:
    """Mean negative log-likelihood per character in bits: nats / ln 2."""
    return mean_nll / math.log(2.0)


# ----------------------------------------------------------------------------- forecasting


def _pair(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction shape {tuple(prediction.shape)} does not match target shape "
            f"{tuple(target.shape)}"
        )
    return prediction.double(), target.double()


def mae(prediction: Tensor, target: Tensor) -> float:
    """Mean absolute error."""
    p, t = _pair(prediction, target)
    return (p - t).abs().mean().item()


def rmse(prediction: Tensor, target: Tensor) -> float:
    """Root mean squared error."""
    p, t = _pair(prediction, target)
    return (p - t).pow(2).mean().sqrt().item()


def mape(prediction: Tensor, target: Tensor) -> float:
    """Mean absolute percentage error, in percent: ``100 * mean |y - ŷ| / |y|``.

    Undefined where a target is 0: that is a ValueError, not a silent infinity (use MAE
    or MASE for series that touch zero)."""
    p, t = _pair(prediction, target)
    if (t == 0).any():
        raise ValueError("mape: a target value is 0, where MAPE is undefined; use mae or mase")
    return 100.0 * ((p - t).abs() / t.abs()).mean().item()


def naive_scale(insample: Tensor, season: int = 1) -> float:
    """Mean absolute error of the seasonal naive forecast ``y_t = y_{t-m}`` on the training
    series (time on the last dim for a (T,) series, the middle dim for (B, T, C)): the
    denominator of MASE (Hyndman & Koehler 2006, eq. 7)."""
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    y = insample.double()
    dim = 1 if y.dim() == 3 else -1
    T = y.size(dim)
    if season >= T:
        raise ValueError(f"naive_scale: in-sample series of length {T} <= season {season}")
    diff = y.narrow(dim, season, T - season) - y.narrow(dim, 0, T - season)
    scale = diff.abs().mean().item()
    if scale == 0:
        raise ValueError("naive_scale: the in-sample series is constant, so MASE is undefined")
    return scale


def mase(prediction: Tensor, target: Tensor, insample: Tensor, season: int = 1) -> float:
    """Mean absolute scaled error: MAE divided by the in-sample MAE of the seasonal naive
    forecast (Hyndman & Koehler 2006). Below 1 beats the naive forecast."""
    return mae(prediction, target) / naive_scale(insample, season)


# ----------------------------------------------------------------------------- seq2seq


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


# ----------------------------------------------------------------------------- accumulators


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


def _targets(batch: Batch, name: str) -> Tensor:
    if batch.targets is None:
        raise ValueError(f"metric {name!r} needs batch.targets, got None")
    return batch.targets


def _values(prediction: Any) -> Tensor:
    return prediction.detach().cpu() if isinstance(prediction, Tensor) else prediction


class Accuracy(Metric):
    name = "accuracy"
    size = 2  # correct, count

    def update(self, prediction: Any, batch: Batch) -> None:
        target = _targets(batch, self.name).cpu()
        pred, gold = _kept(_labels(_values(prediction), target), target, IGNORE_INDEX)
        self.stats += torch.tensor([(pred == gold).sum().item(), gold.numel()], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return (stats[0] / stats[1]).item() if stats[1] > 0 else float("nan")


class MacroF1(Metric):
    """Macro-F1 over ``num_classes`` classes from a summed confusion matrix."""

    name = "macro_f1"

    def __init__(self, num_classes: int):
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.size = num_classes * num_classes
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        target = _targets(batch, self.name).cpu()
        pred, gold = _kept(_labels(_values(prediction), target), target, IGNORE_INDEX)
        self.stats += confusion_matrix(pred, gold, self.num_classes).flatten()

    def compute(self, stats: Tensor) -> float:
        cm = stats.view(self.num_classes, self.num_classes)
        return _macro_f1_from_confusion(cm) if cm.sum() > 0 else float("nan")


class EntityF1(Metric):
    """Entity-level F1 for BIO tag ids; ``tags[i]`` is the name of tag id ``i``.

    ``stats`` = (correct, predicted, gold) entity counts; ``precision`` and ``recall`` are
    reported next to ``f1`` by :meth:`scores`."""

    name = "entity_f1"
    size = 3

    def __init__(self, tags: Sequence[str]):
        self.tags = list(tags)
        super().__init__()

    def update(self, prediction: Any, batch: Batch) -> None:
        target = _targets(batch, self.name).cpu()
        pred = _labels(_values(prediction), target)
        predicted, gold = [], []
        for p_row, g_row in zip(pred.tolist(), target.tolist(), strict=True):
            keep = [i for i, g in enumerate(g_row) if g != IGNORE_INDEX]
            predicted.append([self.tags[p_row[i]] for i in keep])
            gold.append([self.tags[g_row[i]] for i in keep])
        self.stats += torch.tensor(_entity_counts(predicted, gold), dtype=torch.float64)

    def scores(self, stats: Tensor) -> tuple[float, float, float]:
        return _prf(*stats.tolist())

    def compute(self, stats: Tensor) -> float:
        return self.scores(stats)[2]


class _Regression(Metric):
    size = 2  # sum of per-element errors, count

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, prediction: Any, batch: Batch) -> None:
        p, t = _pair(_values(prediction), _targets(batch, self.name).cpu())
        e = self.error(p, t)
        self.stats += torch.tensor([e.sum().item(), e.numel()], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return (stats[0] / stats[1]).item() if stats[1] > 0 else float("nan")


class MAE(_Regression):
    name = "mae"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).abs()


class RMSE(_Regression):
    name = "rmse"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).pow(2)

    def compute(self, stats: Tensor) -> float:
        return math.sqrt(super().compute(stats))


class MAPE(_Regression):
    name = "mape"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        if (t == 0).any():
            raise ValueError("mape: a target value is 0, where MAPE is undefined; use mae or mase")
        return 100.0 * (p - t).abs() / t.abs()


class MASE(MAE):
    """MAE over the validation data divided by ``scale`` = :func:`naive_scale` of the
    training series (computed once by the caller, who has the training data)."""

    name = "mase"

    def __init__(self, scale: float):
        if not scale > 0:
            raise ValueError(f"scale must be > 0 (naive_scale of the training series), got {scale}")
        self.scale = float(scale)
        super().__init__()

    def compute(self, stats: Tensor) -> float:
        return super().compute(stats) / self.scale


def _ids_to_text(ids: Sequence[int]) -> str:
    return " ".join(str(i) for i in ids)


def _sequences(prediction: Any, batch: Batch, name: str) -> tuple[list[list[int]], list[list[int]]]:
    """Predicted and target id lists, cut at padding (``IGNORE_INDEX``/``target_lengths``)."""
    target = _targets(batch, name).cpu()
    pred = _values(prediction)
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
        return (stats[0] / stats[1]).item() if stats[1] > 0 else float("nan")


_SIMPLE: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "mae": MAE,
    "rmse": RMSE,
    "mape": MAPE,
    "exact_match": ExactMatch,
    "bleu": BLEU,
}


def make_metric(name: str, **options: Any) -> Metric:
    """A metric accumulator by name (what a config's ``metrics: [...]`` lists).

    ``macro_f1`` needs ``num_classes``, ``entity_f1`` needs ``tags``, ``mase`` needs
    ``scale``; ``bleu`` takes an optional ``decode``.

    >>> make_metric("macro_f1", num_classes=3).name
    'macro_f1'
    """
    if name in _SIMPLE:
        return _SIMPLE[name](**options)
    needs = {
        "macro_f1": (MacroF1, "num_classes"),
        "entity_f1": (EntityF1, "tags"),
        "mase": (MASE, "scale"),
    }
    if name in needs:
        cls, key = needs[name]
        if key not in options:
            raise ValueError(f"metric {name!r} needs {key}=..., e.g. make_metric({name!r}, {key}=)")
        return cls(**options)
    known = sorted([*_SIMPLE, *needs])
    raise ValueError(f"unknown metric {name!r}; expected one of: {', '.join(known)}")
