"""Metrics per task, as plain functions and as accumulators the trainer can reduce.

========================= ============================== ===============================
task (file)               functions                      trivial baseline to beat
========================= ============================== ===============================
classification, tagging   ``accuracy``, ``macro_f1``     majority class
(``classification.py``)
BIO tagging (NER, chunks) ``entity_prf``                 F1 = 0 (no entity found)
(``tagging.py``)
language modelling        ``perplexity``,                uniform: perplexity = V,
(``language.py``)         ``bits_per_char``              bpc = log2 V
forecasting               ``mae``, ``rmse``, ``mape``,   MASE = 1 is the in-sample
(``forecasting.py``)      ``smape``, ``mase``,           seasonal naive forecast
                          ``coverage``
seq2seq (``seq2seq.py``)  ``bleu``, ``chrf``,            copying the source
                          ``exact_match``
polyphonic music          ``frame_nll``,                 ``frequency_nll`` (key
(``music.py``)            ``frame_accuracy``             frequencies), ``repeat_nll``
transcription             ``cer``, ``wer``               the empty transcript: 1
(``transcription.py``)
========================= ============================== ===============================

Accumulators (``Accuracy``, ``MacroF1``, ``EntityF1``, ``Perplexity``, ``BitsPerChar``,
``MAE`` … ``BLEU``, ``ExactMatch``, ``CER``, ``WER``) follow the ``Metric`` protocol of
``base.py``: they see one batch at a time and keep summed statistics, so that ``compute``
gives the exact corpus value over batches and data-parallel ranks. :func:`make_metric`
builds one by name (what a config's ``metrics: [...]`` lists); ``METRIC_NAMES`` are the
names it knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import Metric
from .classification import Accuracy, MacroF1, accuracy, confusion_matrix, macro_f1
from .forecasting import (
    MAE,
    MAPE,
    MASE,
    RMSE,
    SMAPE,
    Coverage,
    coverage,
    mae,
    mape,
    mase,
    naive_scale,
    rmse,
    smape,
)
from .language import BitsPerChar, Perplexity, bits_per_char, perplexity
from .music import FrameAccuracy, FrameNLL, FrequencyNLL, RepeatNLL, frame_nll
from .seq2seq import BLEU, ChrF, ExactMatch, bleu, chrf, exact_match
from .tagging import EntityF1, bio_entities, entity_prf
from .transcription import CER, WER, cer, edit_distance, wer

__all__ = [
    "BLEU",
    "CER",
    "MAE",
    "MAPE",
    "MASE",
    "METRIC_NAMES",
    "RMSE",
    "SMAPE",
    "WER",
    "Accuracy",
    "BitsPerChar",
    "ChrF",
    "Coverage",
    "EntityF1",
    "ExactMatch",
    "FrameAccuracy",
    "FrameNLL",
    "FrequencyNLL",
    "MacroF1",
    "Metric",
    "Perplexity",
    "RepeatNLL",
    "accuracy",
    "bio_entities",
    "bits_per_char",
    "bleu",
    "build_metrics",
    "cer",
    "chrf",
    "confusion_matrix",
    "coverage",
    "edit_distance",
    "entity_prf",
    "exact_match",
    "frame_nll",
    "macro_f1",
    "mae",
    "make_metric",
    "mape",
    "mase",
    "merge_options",
    "naive_scale",
    "perplexity",
    "rmse",
    "smape",
    "wer",
]

# name -> (accumulator, the task fact it needs or None, what that fact is, optional options)
_REGISTRY: dict[str, tuple[type[Metric], str | None, str, tuple[str, ...]]] = {
    "accuracy": (Accuracy, None, "", ()),
    "macro_f1": (MacroF1, "num_classes", "the number of classes, an int >= 2", ()),
    "entity_f1": (
        EntityF1, "tags", "the BIO tag names in id order, e.g. ['O', 'B-PER', 'I-PER']", ()
    ),
    "perplexity": (Perplexity, None, "", ()),
    "bits_per_char": (BitsPerChar, None, "", ()),
    "mae": (MAE, None, "", ()),
    "rmse": (RMSE, None, "", ()),
    "mape": (MAPE, None, "", ()),
    "smape": (SMAPE, None, "", ()),
    "coverage": (Coverage, None, "", ()),
    "mase": (MASE, "scale", "naive_scale(training series, season), a number > 0", ()),
    "bleu": (BLEU, None, "", ("decode",)),
    "chrf": (ChrF, None, "", ("decode",)),
    "exact_match": (ExactMatch, None, "", ()),
    "frame_nll": (FrameNLL, None, "", ()),
    "frame_accuracy": (FrameAccuracy, None, "", ()),
    "frequency_nll": (FrequencyNLL, "key_probs", "the training key frequencies (K,)", ()),
    "repeat_nll": (RepeatNLL, "epsilon", "the training flip rate, in [1e-6, 0.5]", ()),
    "cer": (CER, None, "", ("eos",)),
    "wer": (WER, "space", "the label id of the space between words (the task gives it)",
            ("eos",)),
}  # fmt: skip

METRIC_NAMES: tuple[str, ...] = tuple(_REGISTRY)
"""Every name :func:`make_metric` knows, grouped by task."""


def make_metric(name: str, **options: Any) -> Metric:
    """A metric accumulator by name (what a config's ``metrics: [...]`` lists).

    ``macro_f1`` needs ``num_classes``, ``entity_f1`` needs ``tags``, ``mase`` needs
    ``scale`` (:func:`naive_scale` of the training series); ``bleu`` takes an optional
    ``decode``. Option values are checked by the accumulators.

    >>> make_metric("macro_f1", num_classes=3).name
    'macro_f1'
    >>> make_metric("mase")
    Traceback (most recent call last):
    ...
    ValueError: metric 'mase' needs scale=... (naive_scale(training series, season), ...
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"unknown metric {name!r}; expected one of: {', '.join(sorted(METRIC_NAMES))}"
        )
    cls, needs, what, optional = _REGISTRY[name]
    takes = (needs,) if needs else ()
    unknown = sorted(set(options) - {*takes, *optional})
    if unknown:
        allowed = ", ".join(f"{k}=" for k in (*takes, *optional)) or "no options"
        raise ValueError(
            f"metric {name!r} takes {allowed}, got {', '.join(f'{k}=' for k in unknown)}"
        )
    if needs is not None and needs not in options:
        raise ValueError(
            f"metric {name!r} needs {needs}=... ({what}), e.g. make_metric({name!r}, {needs}=...)"
        )
    return cls(**options)


def merge_options(*sources: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Options by metric name from several sources (the model's, the data's), merged."""
    merged: dict[str, dict[str, Any]] = {}
    for source in sources:
        for name, options in source.items():
            merged[name] = {**merged.get(name, {}), **options}
    return merged


def build_metrics(
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
    supported: Sequence[str] | None = None,
    owner: str = "the model",
) -> list[Metric]:
    """The metrics ``names`` lists, each with its ``options``; with ``supported`` (what
    a task model says applies to it) a name outside it is an error naming the owner."""
    built = []
    for name in names:
        if supported is not None and name not in supported:
            raise ValueError(
                f"metric {name!r} does not apply to {owner}; it supports: "
                f"{', '.join(supported) or 'none'}"
            )
        built.append(make_metric(name, **options.get(name, {})))
    return built
