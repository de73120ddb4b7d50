"""``classification``: many-to-one, a whole sequence in, one label (or value) out.

Data: labelled texts (a CSV/TSV/JSONL file with text and label columns, or a registered
dataset such as ``rotten_tomatoes``), or numeric sequences (a registered dataset such as
``mnist`` or ``adding_problem``, an ``.npz`` file, or a UEA/sktime ``.ts`` file:
:func:`seqlab.data.read_ts`; ``format`` names the reader when the file name does not).
Integer or string labels make a classifier (class ids through a label vocabulary: integers
in numeric order, names in sorted order; predictions give the names back); float labels
make a regressor.

Numeric sequences with no encoder ``kind`` in ``model:`` get :data:`NUMERIC_ENCODER`, a
TCN whose depth covers the longest training sequence (:func:`tcn_depth`), and
:data:`NUMERIC_POOLING` unless ``pooling`` is given (:meth:`ClassificationTask.model_defaults`;
encoder keys the TCN does not take, ``bidirectional`` say, keep the old default kind,
``lstm``). A named ``kind: tcn`` without ``num_layers`` is sized the same way; any other
named kind keeps the classifier's defaults. Texts keep the classifier's defaults.

Feature sequences are standardized per channel with the training split's mean and
standard deviation (``standardize``, on by default): sensor channels on different scales
otherwise swamp each other. Texts are tokenized (``tokenizer``), cut to ``max_length``
tokens, and mapped through a vocabulary of the training split.

.. code-block:: yaml

    task: classification
    data: {train: BasicMotions_TRAIN.ts, test: BasicMotions_TEST.ts}   # all a user needs

    task: classification
    data: {train: reviews.csv, text_column: review, label_column: sentiment}
    model: {encoder: {kind: gru, hidden_size: 128, bidirectional: true}, pooling: mean}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..checks import check_bool, check_choice
from ..config import ConfigError
from ..data import (
    LabelledTexts,
    NumericSequences,
    collate_classification,
    read_classification,
    read_npz,
    read_ts,
)
from ..data.batch import Batch
from ..data.collate import pad_sequences
from ..models.encoder_config import DEFAULT_KIND, EncoderConfig
from ..nn.tcn import levels_for_history
from .base import DataSource, Splits, Task, random_split
from .text import TextEncoder, Tokenizer, bucketed_loader, check_text_keys

__all__ = [
    "LABEL_SMOOTHING_FROM",
    "NUMERIC_ENCODER",
    "NUMERIC_LABEL_SMOOTHING",
    "NUMERIC_POOLING",
    "SMALL_DATA_MEMBERS",
    "ClassificationData",
    "ClassificationTask",
]

# Numeric sequences with no encoder kind given: a TCN (Bai et al. 2018) as deep as it takes
# for its receptive field to cover the longest training sequence (tcn_depth), max-pooled
# over the real steps, as ROCKET pools its random convolutions (Dempster et al. 2020).
# Measured in benchmarks/classification.py against GRU/LSTM (uni- and bidirectional) with
# last/mean/max/attention pooling: the best or level on MNIST rows, BasicMotions and
# JapaneseVowels, and among the fastest.
NUMERIC_ENCODER: dict[str, Any] = {"kind": "tcn"}
NUMERIC_POOLING = "max"
# ... and label smoothing (Szegedy et al. 2016) once the training split holds 100 series
# or more. Measured by benchmarks/classification_sweep.py (mean test accuracy, 3-5 seeds):
# 0.1 lifts JapaneseVowels (243 training series) from 97.6% to 98.7%, MiniRocket's level,
# MNIST rows from 97.1% to 97.5% and Covid3Month_disc from 53.6% to 55.2%; OSULeaf is a
# wash (65.6% to 64.2%, median 65.3% to 68.2%). Below 100 series it cost BasicMotions (36)
# a test series in 40 and GunPoint (45) up to 20 points (its smoothed validation loss
# stops the training early), so small sets train on the plain cross-entropy.
NUMERIC_LABEL_SMOOTHING = 0.1
LABEL_SMOOTHING_FROM = 100  # training series
# ... and below that, a deep ensemble of 3 (Lakshminarayanan et al. 2017: each member its
# own initial weights and loss, the prediction their mean probability), where one net's
# luck of the draw weighs most. benchmarks/classification_sweep.py, train seeds 0-2, one
# thread (benchmarks/results/classification_levers_2026-12-04.json): ArrowHead (32
# training series) 68.8% -> 74.3%, past logistic regression on the flattened input
# (73.1%); GunPoint 99.3% -> 99.6%, ItalyPowerDemand 96.2% -> 96.3%, BasicMotions 100%
# either way; a fit takes 1.5-3x as long. From 100 series it is left off: an ensemble of
# 3 was no better on JapaneseVowels (243).
SMALL_DATA_MEMBERS = 3


@dataclass
class ClassificationData(DataSource):
    text_column: str = "text"
    label_column: str = "label"
    format: str | None = None  # csv, tsv, jsonl, npz or ts; None: from the file name
    tokenizer: Tokenizer = "word"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    max_length: int | None = None  # tokens per text, the rest is cut
    standardize: bool = True  # feature sequences: per channel, training split's statistics

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text_keys(self)
        check_bool("standardize", self.standardize)
        check_choice("format", self.format, (None, "csv", "tsv", "jsonl", "npz", "ts"))


def _read(data: ClassificationData, path: str, labels=None):
    kind = data.format or _numeric_format(path)
    if kind == "npz":
        return read_npz(path)
    if kind == "ts":
        return read_ts(path)
    return read_classification(
        path, data.text_column, data.label_column, data.format, labels=labels
    )


class ClassificationTask(Task):
    name = "classification"
    model_kind = "classifier"
    data_class = ClassificationData
    # Training sized by the data where ``train:`` is silent: stop when the validation loss
    # has not improved for 10 epochs (the best epoch's weights restored), at most 3,000
    # optimizer steps. 40 training series then get ~100 epochs of 2 batches, where the
    # trainer's 10 epochs gave 20 steps (BasicMotions 25-72% at 10 epochs), and 4,000
    # digits stop after 16-24 epochs of 125. Early stopping waits for 300 steps: the
    # validation loss of a small set's 4 held-out series rose while the model had not
    # begun to learn, and stopped ArrowHead (one step an epoch) at epoch 16 with 39%
    # (benchmarks/classification_sweep.py, 3 seeds: ArrowHead 58.5% -> 69.1%,
    # ItalyPowerDemand 95.9% -> 96.2%, GunPoint, BasicMotions and JapaneseVowels equal).
    train_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 1000,
        "max_steps": 3000,
        "early_stopping": {"patience": 10, "min_steps": 300},
    }

    def __init__(self, data: ClassificationData):
        super().__init__(data)
        self.text: TextEncoder | None = None  # texts
        self.labels: list[str] | None = None  # classification: the label names, by id
        self.channels: dict[str, list[float]] | None = None  # features: mean and std
        self.outputs = 1  # regression: values per example

    # --- reading ----------------------------------------------------------------------
    def read(self) -> None:
        d = self.data
        if d.dataset is not None:
            whole = self.load_dataset((LabelledTexts, NumericSequences), "labelled sequences")
            parts = {"train": whole}
        else:
            parts = {"train": _read(d, d.train)}
            parts.update({k: _read(d, v) for k, v in d.files().items() if k != "train"})
        kinds = {type(p) for p in parts.values()}
        if len(kinds) > 1:
            raise ConfigError("data: train, val and test must all be texts or all sequences")
        examples = {k: list(zip(*_columns(p), strict=True)) for k, p in parts.items()}
        split = random_split(examples["train"], d, have=examples)
        self.splits = Splits(
            split.train, examples.get("val", split.val), examples.get("test", split.test)
        )

    def fit(self) -> None:
        d, train = self.data, self._require().train
        xs, ys = [x for x, _ in train], [y for _, y in train]
        if isinstance(xs[0], str):
            self.text = TextEncoder.fit(xs, d.tokenizer, d.min_freq, d.max_vocab, d.lowercase)
        else:
            stacked = np.concatenate([np.asarray(x, dtype=np.float64) for x in xs])  # (ΣT, C)
            std = stacked.std(0)
            self.channels = {
                "mean": stacked.mean(0).tolist() if d.standardize else [0.0] * stacked.shape[1],
                "std": np.where(std > 0, std, 1.0).tolist() if d.standardize else [1.0] * len(std),
            }
        if _is_float(ys):
            self.labels = None
            self.outputs = int(np.asarray(ys[0]).size)
        else:
            self.labels = sorted({str(y) for y in ys}, key=_label_order)
            if len(self.labels) < 2:
                raise ConfigError(f"data: the training split has one label only ({self.labels})")

    # --- what the data sets in the model ----------------------------------------------
    def model_defaults(self, model: Mapping[str, Any]) -> dict[str, Any]:
        """The ``model:`` section with the numeric-sequence defaults where it is silent
        (texts: as given). See :data:`NUMERIC_ENCODER` and :func:`tcn_depth`."""
        out = dict(model)
        if self.text is not None:
            return out
        encoder = dict(out.get("encoder") or {})
        if _numeric_default(encoder):
            encoder = {**NUMERIC_ENCODER, **encoder}
            out.setdefault("pooling", NUMERIC_POOLING)
        if self.labels is not None and len(self._require().train) >= LABEL_SMOOTHING_FROM:
            out.setdefault("label_smoothing", NUMERIC_LABEL_SMOOTHING)
        elif self.labels is not None:
            out.setdefault("members", SMALL_DATA_MEMBERS)
        encoder.setdefault("kind", DEFAULT_KIND)  # keys of another kind: that kind's default
        if encoder["kind"] == "tcn" and "num_layers" not in encoder and "channels" not in encoder:
            longest = max(len(x) for x, _ in self._require().train)
            encoder["num_layers"] = tcn_depth(longest, encoder.get("kernel_size", 2))
        out["encoder"] = encoder
        return out

    def _inputs(self) -> dict[str, Any]:
        if self.text is not None:
            return {"vocab_size": len(self.text.vocab)}
        return {"input_size": len(self.channels["mean"])}

    def model_sizes(self) -> dict[str, Any]:
        if self.labels is None:
            return {"inputs": self._inputs(), "task": "regression", "num_classes": self.outputs}
        return {"inputs": self._inputs(), "task": "classification", "num_classes": len(self.labels)}

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"inputs": {"vocab_size": 8}, "task": "classification", "num_classes": 2}

    def placeholder_model(self, model: Mapping[str, Any]) -> dict[str, Any]:
        """As checked before the data is read: an encoder with no kind whose keys only
        the numeric default takes (``kernel_size``, say) is checked as that kind, which
        numeric data gives it (:meth:`model_defaults`); texts refuse it once read."""
        out = super().placeholder_model(model)
        encoder = out.get("encoder")
        # keys the default kind takes are checked as that kind, as they were for texts
        numeric_only = isinstance(encoder, Mapping) and not _takes(DEFAULT_KIND, encoder)
        if numeric_only and _numeric_default(encoder):
            out["encoder"] = {**encoder, "kind": NUMERIC_ENCODER["kind"]}
        return out

    # --- batches ----------------------------------------------------------------------
    def _example(self, x: Any) -> torch.Tensor:
        if self.text is not None:
            ids = self.text.ids(x, self.data.max_length) or [self.text.vocab.unk_id]
            return torch.tensor(ids, dtype=torch.long)
        if isinstance(x, str):  # a line of input: the steps as JSON, [[x_1...], [x_2...]]
            try:
                x = json.loads(x)
            except json.JSONDecodeError:
                raise ValueError(
                    f"this run reads sequences of {len(self.channels['mean'])} features: give "
                    f"each as a JSON list of steps, e.g. [[0.5, 1.0], [0.2, 0.0]]; got {x[:40]!r}"
                ) from None
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"a sequence must be numbers (steps x features), got {x!r:.60}"
            ) from None
        if x.ndim == 1:
            x = x[:, None]
        C = len(self.channels["mean"])
        if x.ndim != 2 or x.shape[1] != C or len(x) == 0:
            raise ValueError(f"a sequence must be (T >= 1, {C}) values, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("a sequence has NaN or infinite values")
        mean, std = np.asarray(self.channels["mean"]), np.asarray(self.channels["std"])
        return torch.from_numpy((x - mean) / std).float()  # (T, C)

    def _target(self, y: Any):
        if self.labels is None:
            return torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1).squeeze(0)
        key = str(y)
        if key not in self._label_ids:
            raise ValueError(f"label {key!r} is not among the training labels {self.labels}")
        return self._label_ids[key]

    @property
    def _label_ids(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.labels or [])}

    def loader(self, split: str, shuffle: bool = False):
        items = [(self._example(x), self._target(y)) for x, y in self._require().get(split)]
        lengths = [len(x) for x, _ in items]
        return bucketed_loader(
            items, lengths, self.data.batch_size, collate_classification, shuffle, self.data.seed
        )

    # --- a saved run ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "text": self.text.state() if self.text is not None else None,
            "labels": self.labels,
            "channels": self.channels,
            "outputs": self.outputs,
        }

    @classmethod
    def restore(cls, data: ClassificationData, state: Mapping[str, Any]) -> ClassificationTask:
        task = cls(data)
        task.text = TextEncoder.from_state(state["text"]) if state.get("text") else None
        task.labels = state.get("labels")
        task.channels = state.get("channels")
        task.outputs = int(state.get("outputs", 1))
        return task

    # --- new inputs -------------------------------------------------------------------
    def encode(self, inputs: Sequence[Any]) -> Batch:
        padded, lengths = pad_sequences([self._example(x) for x in inputs])
        return Batch(padded, lengths=lengths)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        if self.labels is None:
            return [{"value": v.tolist()} for v in prediction["value"]]
        labels, probs = prediction["label"].tolist(), prediction["probability"].tolist()
        return [
            {"label": self.labels[k], "probability": round(p, 6)}
            for k, p in zip(labels, probs, strict=True)
        ]


def _numeric_default(encoder: Mapping[str, Any]) -> bool:
    """Whether numeric data gives this encoder section :data:`NUMERIC_ENCODER`: it names
    no kind and the numeric kind takes every key in it."""
    return "kind" not in encoder and _takes(NUMERIC_ENCODER["kind"], encoder)


def _takes(kind: str, keys) -> bool:
    """Whether an encoder of ``kind`` takes every one of ``keys``."""
    return EncoderConfig.variant(kind).bad_key(kind, keys) is None


def tcn_depth(steps: int, kernel_size: int = 2) -> int:
    """The fewest TCN blocks whose receptive field covers ``steps``
    (:func:`seqlab.nn.tcn.levels_for_history`: ``1 + 2(k-1)(2^n - 1) >= steps``); no
    TCN is built, so sizing the default draws nothing from the random generator and a
    saved config reproduces its run.

    >>> tcn_depth(28), tcn_depth(100), tcn_depth(29, kernel_size=3)
    (4, 6, 3)
    """
    return levels_for_history(steps, kernel_size)


def _numeric_format(path: str) -> str | None:
    """``npz`` or ``ts`` (UEA/sktime) from the name (a ``.ts`` may be gzipped), else None."""
    name = path.lower().removesuffix(".gz").removesuffix(".bz2")
    return "npz" if path.lower().endswith(".npz") else "ts" if name.endswith(".ts") else None


def _columns(part: LabelledTexts | NumericSequences) -> tuple[list, list]:
    if isinstance(part, LabelledTexts):
        return part.texts, part.labels
    return list(part.sequences), list(part.labels)


def _label_order(name: str) -> tuple:
    """Integer labels in numeric order (``2`` before ``10``), others by name."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)


def _is_float(labels: Sequence[Any]) -> bool:
    first = np.asarray(labels[0])
    return first.dtype.kind == "f" or first.ndim > 0
