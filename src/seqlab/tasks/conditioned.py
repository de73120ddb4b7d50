"""The condition of a per-example language model: a label or a numeric vector per text.

Generation "conditioned on a feature vector" (image-captioning style, one-to-many): each
record is one sequence ``<bos> text <eos>`` with a vector ``f`` that the model reads
(``LanguageModel``: ``condition: init`` sets the initial state to ``tanh(W f)``,
``concat`` appends ``f`` to every step's input). ``f`` comes from

* ``label``: a categorical column (a sentiment, a speaker), one-hot over the training
  split's label names (sorted; saved with the run), so ``F`` is the number of labels;
* ``features``: numeric columns, standardized with the training split's mean and
  standard deviation (``standardize``; saved with the run), so ``F`` is their number.

:class:`Condition` maps a raw value (a label name, or the numbers in the data's units)
to ``f``, and refuses an unknown label or a vector of the wrong length by name.

>>> c = Condition.fit("label", ["rotten", "fresh", "fresh"])
>>> c.size, c.vector("rotten").tolist()
(2, [0.0, 1.0])
>>> v = Condition.fit("features", [(1.0, 10.0), (3.0, 30.0)], columns=["a", "b"])
>>> v.vector("2, 20").tolist()
[0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..config import ConfigError
from ..data.containers import FeaturedTexts, LabelledTexts
from ..data.readers import read_classification, read_featured_texts

__all__ = ["Condition", "read_records"]


class Condition:
    """Raw condition values -> the model's feature vector ``f`` (F,)."""

    def __init__(
        self,
        kind: str,
        labels: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        if kind not in ("label", "features"):
            raise ValueError(f"condition kind must be 'label' or 'features', got {kind!r}")
        self.kind = kind
        self.labels = list(labels or [])
        self.columns = list(columns or [])
        self.mean = np.asarray(mean if mean is not None else [], dtype=np.float64)
        self.std = np.asarray(std if std is not None else [], dtype=np.float64)

    @classmethod
    def fit(
        cls,
        kind: str,
        values: Sequence[Any],
        columns: Sequence[str] | None = None,
        standardize: bool = True,
    ) -> Condition:
        """Fitted on the training split's raw values: label names, or (N, F) numbers."""
        if kind == "label":
            labels = sorted({str(v) for v in values})
            if len(labels) < 2:
                raise ConfigError(
                    f"data: the training split has one label only ({labels}); a condition "
                    "needs two or more"
                )
            return cls("label", labels=labels)
        x = np.asarray(values, dtype=np.float64)  # (N, F)
        mean, std = x.mean(0), x.std(0)
        if not standardize:
            mean, std = np.zeros_like(mean), np.ones_like(std)
        return cls("features", columns=columns, mean=mean, std=np.where(std > 0, std, 1.0))

    @property
    def size(self) -> int:
        """F, the feature vector's length."""
        return len(self.labels) if self.kind == "label" else len(self.columns)

    def describe(self) -> str:
        if self.kind == "label":
            return f"a label, one of {self.labels}"
        return f"{self.size} numbers (columns {self.columns}), comma-separated"

    def vector(self, value: Any) -> torch.Tensor:
        """``f`` (F,) float32 for a raw value: a label name, or F numbers (a sequence, or
        one string of comma-separated numbers) in the data's units."""
        if self.kind == "label":
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise ValueError(f"condition must be {self.describe()}, got {value!r:.60}")
            name = str(value)
            if name not in self.labels:
                raise ValueError(f"condition {name!r} is not among this run's labels {self.labels}")
            f = torch.zeros(self.size)
            f[self.labels.index(name)] = 1.0
            return f
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
            try:
                value = [float(p) for p in parts]
            except ValueError:
                bad = next(p for p in parts if not _is_number(p))
                raise ValueError(
                    f"condition value {bad!r} is not a number; this run takes {self.describe()}"
                ) from None
        try:
            x = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"condition must be {self.describe()}, got {value!r:.60}") from None
        if len(x) != self.size:
            raise ValueError(f"condition has {len(x)} value(s); this run takes {self.describe()}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"condition {x.tolist()} has a NaN or infinite value")
        return torch.from_numpy((x - self.mean) / self.std).float()

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": self.labels,
            "columns": self.columns,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Condition:
        return cls(state["kind"], state.get("labels"), state.get("columns"),
                   state.get("mean"), state.get("std"))  # fmt: skip


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_records(data: Any, path: str, labels: Sequence[str] | None = None) -> list[tuple]:
    """(text, raw condition) per record of a CSV/TSV/JSONL file: the label (``condition:
    label``; ``labels``, when given, is the set a val/test file must keep to) or the tuple
    of numbers (``condition: features``)."""
    if data.condition == "label":
        part: LabelledTexts = read_classification(
            path, data.text_column, data.label_column, data.format, labels=labels
        )
        return list(zip(part.texts, part.labels, strict=True))
    part: FeaturedTexts = read_featured_texts(
        path, data.text_column, data.feature_columns, data.format
    )
    return [(t, tuple(row.tolist())) for t, row in zip(part.texts, part.features, strict=True)]
