"""``Task``: the path from a data spec to batches, and from a model's predictions back to
what a user reads, for one task shape.

A run config names a task (``classification``, ``tagging``, ``language_model``,
``seq2seq``, ``forecasting``); its task class knows

* its ``data:`` section (:class:`DataSource` plus the task's own keys) and how to read it
  (a registered dataset or the user's files) into train / val / test splits;
* what the data decides about the model (vocabulary size, number of classes or tags,
  channels, horizon): :meth:`Task.model_sizes`, merged into the user's ``model:`` section,
  where setting one of those keys by hand is an error;
* what it must remember to encode new inputs the same way (vocabularies, label names, a
  scaler): :meth:`Task.state`, saved as JSON next to each checkpoint's weights and read
  back by :meth:`Task.restore` without the training data;
* how to turn raw inputs into a :class:`~seqlab.data.Batch` (:meth:`Task.encode`) and a
  model's ``predict()`` output into rows of plain values (:meth:`Task.decode`).

The trainer never sees any of this: it gets loaders, a model and the metric facts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..checks import check_float, check_int
from ..config import ConfigError, from_dict
from ..data import load
from ..data.batch import Batch
from ..data.datasets import check_dataset

__all__ = ["DataSource", "Splits", "Task", "merge_sizes", "random_split"]


@dataclass
class DataSource:
    """Where a task's examples come from, and how they are batched.

    ``dataset``: a registered dataset (``seqlab.data.list_datasets()``), with ``options``
    for its loader (``n``, ``root``, ...); or ``train`` (and optionally ``val``, ``test``):
    the user's files. A split that is not given is cut from the training examples:
    ``val_fraction`` and ``test_fraction`` of them (at random with ``seed``, or the last
    part for time-ordered data). ``batch_size``: examples per batch. ``limit``: use at most
    this many examples (a random sample, seeded; the first steps of a series, the first
    characters of a text), to try a config on a little of the data first.
    """

    dataset: str | None = None
    options: dict = field(default_factory=dict)
    train: str | None = None
    val: str | None = None
    test: str | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    batch_size: int = 32
    seed: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        if (self.dataset is None) == (self.train is None):
            raise ValueError(
                "set exactly one of dataset (a registered dataset name) and train (a file), "
                f"got dataset={self.dataset!r}, train={self.train!r}"
            )
        if self.dataset is None and self.options:
            raise ValueError("options go to a registered dataset's loader: set dataset too")
        if self.dataset is not None and (self.val or self.test):
            raise ValueError("val and test files go with train files, not with a dataset")
        if self.dataset is not None:
            check_dataset(self.dataset, self.options)  # a misspelt name fails before any read
        check_float("val_fraction", self.val_fraction, min=0.0, max=1.0, max_open=True)
        check_float("test_fraction", self.test_fraction, min=0.0, max=1.0, max_open=True)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1, got {self.val_fraction} + "
                f"{self.test_fraction}"
            )
        check_int("batch_size", self.batch_size, min=1)
        check_int("seed", self.seed, min=0)
        check_int("limit", self.limit, min=1, none=True)

    def files(self) -> dict[str, str]:
        """The files this source names, by split."""
        return {k: v for k in ("train", "val", "test") if (v := getattr(self, k)) is not None}

    def check_files(self) -> None:
        """Every named file exists (checked before a run starts, not when it is reloaded)."""
        for split, path in self.files().items():
            if not Path(path).is_file():
                raise ConfigError(f"data.{split}: file not found: {path}")


@dataclass
class Splits:
    """Examples by split; ``val`` and ``test`` may be empty."""

    train: Sequence[Any]
    val: Sequence[Any]
    test: Sequence[Any]

    def get(self, name: str) -> Sequence[Any]:
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {name!r}")
        return getattr(self, name)


def random_split(items: Sequence[Any], source: DataSource, have: Iterable[str] = ()) -> Splits:
    """Cut val and test (unless ``have`` them already) from ``items`` at random (seeded)."""
    have = set(have)
    order = list(range(len(items)))
    random.Random(source.seed).shuffle(order)
    order = order[: source.limit]  # a random sample of ``limit`` examples
    n = len(order)
    n_val = 0 if "val" in have else round(n * source.val_fraction)
    n_test = 0 if "test" in have else round(n * source.test_fraction)
    if n - n_val - n_test < 1:
        raise ConfigError(f"data: {n} examples leave none to train on after the val/test cut")
    pick = lambda idx: [items[i] for i in idx]  # noqa: E731
    return Splits(
        pick(order[n_val + n_test :]), pick(order[:n_val]), pick(order[n_val : n_val + n_test])
    )


def merge_sizes(user: Mapping[str, Any], sizes: Mapping[str, Any], prefix: str = "model."):
    """``user`` (the ``model:`` section) with the data's ``sizes`` filled in; a key the
    data decides that the user also set is an error naming it."""
    merged = dict(user)
    for key, value in sizes.items():
        if isinstance(value, Mapping):
            inner = merged.get(key, {})
            if not isinstance(inner, Mapping):
                raise ConfigError(f"{prefix}{key}: expected a mapping, got {inner!r}")
            merged[key] = merge_sizes(inner, value, prefix=f"{prefix}{key}.")
        elif key in merged:
            raise ConfigError(
                f"{prefix}{key}: set from the data ({value!r} here); leave it out of the config"
            )
        else:
            merged[key] = value
    return merged


class Task:
    """One task shape's data pipeline (see the module doc). Subclasses set the class
    attributes and implement the methods below."""

    name: ClassVar[str]  # the run config's ``task:``
    model_kind: ClassVar[str]  # the task model it trains (seqlab.models.build_model)
    data_class: ClassVar[type[DataSource]]
    # train: settings the task needs unless the user says otherwise (e.g. truncated BPTT)
    train_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, data: DataSource):
        if not isinstance(data, self.data_class):
            raise TypeError(f"{type(self).__name__} needs a {self.data_class.__name__}")
        self.data = data
        self.splits: Splits | None = None

    @classmethod
    def data_config(cls, mapping: Mapping[str, Any]) -> DataSource:
        return from_dict(cls.data_class, mapping, prefix="data.")

    @classmethod
    def defaults_for(cls, data: DataSource, model: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The ``train:`` and ``model:`` settings this data (and the user's ``model:``
        section, e.g. its encoder kind) need unless the user says otherwise
        (:attr:`train_defaults`, unless the data section changes them). Defaults that
        need the data read are :meth:`ClassificationTask.model_defaults`' kind."""
        return {"train": cls.train_defaults, "model": {}}

    @classmethod
    def check_train(cls, data: DataSource, train: Any) -> None:
        """Refuse a trainer config that cannot train on this data (a ConfigError)."""

    # --- reading and fitting (a new run) --------------------------------------------
    def prepare(self) -> None:
        """Read the data, split it, and fit what is fitted on the training split."""
        self.read()
        self.fit()

    def read(self) -> None:
        """Read the data into :attr:`splits` (a saved run reads it again to evaluate)."""
        raise NotImplementedError

    def fit(self) -> None:
        """Fit the encoders (vocabularies, label names, a scaler) on the training split."""
        raise NotImplementedError

    def model_sizes(self) -> dict[str, Any]:
        """The model config keys the data decides (after :meth:`prepare`)."""
        raise NotImplementedError

    def placeholder_sizes(self) -> dict[str, Any]:
        """Stand-ins for :meth:`model_sizes` (the same keys), to check a ``model:``
        section before any data is read."""
        raise NotImplementedError

    def placeholder_model(self, model: Mapping[str, Any]) -> dict[str, Any]:
        """The ``model:`` section as it is checked before any data is read: the user's
        keys with :meth:`placeholder_sizes` filled in."""
        return merge_sizes(model, self.placeholder_sizes())

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        """Options of metrics that only the data knows (tag names, a series' scale)."""
        return {}

    def loader(self, split: str, shuffle: bool = False) -> Iterable[Batch]:
        raise NotImplementedError

    # --- remembering (a saved run) --------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON data that :meth:`restore` rebuilds the encoders from."""
        raise NotImplementedError

    @classmethod
    def restore(cls, data: DataSource, state: Mapping[str, Any]) -> Task:
        raise NotImplementedError

    def state_files(self) -> dict[str, Any]:
        """JSON data saved as checkpoint files of their own, by name (a subword model)."""
        return {}

    @classmethod
    def restore_saved(
        cls, data: DataSource, state: Mapping[str, Any], files: Mapping[str, Any]
    ) -> Task:
        """:meth:`restore` from a checkpoint, whose ``files`` hold :meth:`state_files`."""
        return cls.restore(data, state)

    # --- new inputs -----------------------------------------------------------------
    def encode(self, inputs: Sequence[Any]) -> Batch:
        """A batch of raw inputs (text lines, token lists, series), as the model reads."""
        raise NotImplementedError

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        """One row of plain values per input, from ``model.predict(batch)``."""
        raise NotImplementedError

    def load_dataset(self, expected: type | tuple[type, ...], what: str) -> Any:
        """The registered dataset ``data.dataset`` names, which must give ``expected``."""
        d = self.data
        value = load(d.dataset, **d.options)
        if not isinstance(value, expected):
            raise ConfigError(
                f"data.dataset: {d.dataset!r} is not {what} (it gives a "
                f"{type(value).__name__}); pick a {self.name} dataset"
            )
        return value

    def _require(self) -> Splits:
        if self.splits is None:
            raise RuntimeError(f"{type(self).__name__}.prepare() has not been called")
        return self.splits
