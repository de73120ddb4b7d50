"""The containers the readers return: sequences of examples (``len``, indexing), ready
for a collate after encoding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError

__all__ = [
    "FeaturedTexts",
    "LabelledTexts",
    "NumericSequences",
    "TaggedSentences",
    "TextPairs",
    "TimeSeries",
]


@dataclass
class LabelledTexts:
    """Texts with one label each (many-to-one classification)."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.texts[i], self.labels[i]

    @property
    def label_names(self) -> list[str]:
        """The sorted label set; a label's class id is its position here."""
        return sorted(set(self.labels))

    def label_ids(self, names: Sequence[str] | None = None) -> list[int]:
        """Class ids by ``names`` (default :attr:`label_names`; pass the training split's)."""
        index = {n: i for i, n in enumerate(names if names is not None else self.label_names)}
        missing = sorted(set(self.labels) - index.keys())
        if missing:
            raise DataError(f"labels {missing} are not among the known labels {list(index)}")
        return [index[y] for y in self.labels]


@dataclass
class TextPairs:
    """(source, target) string pairs (encoder-decoder); ``groups``, where given, one name
    per pair (e.g. its Bible book), so that whole groups can be held out."""

    pairs: list[tuple[str, str]]
    groups: list[str] | None = None

    def __post_init__(self) -> None:
        if self.groups is not None and len(self.groups) != len(self.pairs):
            raise ValueError(f"{len(self.groups)} groups for {len(self.pairs)} pairs")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.pairs[i]


@dataclass
class TaggedSentences:
    """Sentences as (tokens, tags) with one tag per token (many-to-many tagging)."""

    sentences: list[tuple[list[str], list[str]]]

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[list[str], list[str]]:
        return self.sentences[i]

    @property
    def tag_names(self) -> list[str]:
        return sorted({t for _, tags in self.sentences for t in tags})


@dataclass
class NumericSequences:
    """Float sequences (T_i, C) with one label each; ``labels`` is (N,) (ints or floats)."""

    sequences: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sequences[i], self.labels[i]

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


@dataclass
class TimeSeries:
    """A regular time series: ``values`` (N, O + F), the targets first, then covariates.

    ``issues`` lists the gaps and missing values found in the file and what was done.
    """

    times: np.ndarray
    values: np.ndarray
    target_names: list[str]
    covariate_names: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def targets(self) -> np.ndarray:
        """(N, O)"""
        return self.values[:, : len(self.target_names)]

    @property
    def covariates(self) -> np.ndarray:
        """(N, F)"""
        return self.values[:, len(self.target_names) :]


@dataclass
class FeaturedTexts:
    """Texts with a numeric feature vector each: ``features`` (N, F) float64, named by
    ``columns`` (generation conditioned on a vector, captioning-style)."""

    texts: list[str]
    features: np.ndarray
    columns: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray]:
        return self.texts[i], self.features[i]
