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
(``forecasting.py``)      ``mase``                       seasonal naive forecast
seq2seq (``seq2seq.py``)  ``bleu`` (sacrebleu),          copying the source
                          ``exact_match``
========================= ============================== ===============================

Accumulators (``Accuracy``, ``MacroF1``, ``EntityF1``, ``MAE`` … ) follow the ``Metric``
protocol of ``base.py``: they see one batch at a time and keep summed statistics, so that
``compute`` gives the exact corpus value over batches and data-parallel ranks.
:func:`make_metric` builds one by name (what a config's ``metrics: [...]`` lists).
"""

from __future__ import annotations

from typing import Any

from .base import Metric
from .classification import Accuracy, MacroF1, accuracy, confusion_matrix, macro_f1
from .forecasting import MAE, MAPE, MASE, RMSE, mae, mape, mase, naive_scale, rmse
from .language import BitsPerChar, Perplexity, bits_per_char, perplexity
from .seq2seq import BLEU, ExactMatch, bleu, exact_match
from .tagging import EntityF1, bio_entities, entity_prf

__all__ = [
    "BLEU",
    "MAE",
    "MAPE",
    "MASE",
    "RMSE",
    "Accuracy",
    "BitsPerChar",
    "EntityF1",
    "ExactMatch",
    "MacroF1",
    "Metric",
    "Perplexity",
    "accuracy",
    "bio_entities",
    "bits_per_char",
    "bleu",
    "confusion_matrix",
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

_SIMPLE: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "mae": MAE,
    "rmse": RMSE,
    "mape": MAPE,
    "exact_match": ExactMatch,
    "bleu": BLEU,
    "perplexity": Perplexity,
    "bits_per_char": BitsPerChar,
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
