"""``transcription``: a sequence of feature frames in, a character sequence out, unaligned
(speech or handwriting to text), trained with CTC (:class:`~seqlab.models.CTCTranscriber`).

Data, one of:

* a registered dataset of spoken utterances (``spoken_words``: words and phrases spoken by
  espeak-ng, see :mod:`seqlab.data.speech`), read as WAV and turned into log-mel frames
  (``features``: :class:`~seqlab.data.speech.LogMelConfig`);
* a table (``.tsv``/``.csv``/``.jsonl``) with an ``audio_column`` of WAV paths (relative
  to the table's folder) and a ``text_column`` of transcripts, featurized the same way;
* an ``.npz`` of feature frames already made: ``x`` (sum T_i, C) float, ``offsets``
  (N + 1,) ints (utterance ``i`` is ``x[offsets[i]:offsets[i + 1]]``), ``text`` (N,)
  strings, and optionally ``group`` (N,) strings; no pickle.

Splits are cut by *group*, so that no group is in two splits: the dataset's folds (a
held-out word is never heard in training), an npz's ``group``, else the transcript (all
recordings of one sentence on one side). Frames are standardized per channel with the
training split's statistics (``standardize``), then ``stack`` consecutive frames are
joined into one step (a lower frame rate, Sak et al. 2015: ``stack`` times fewer steps
for the encoder, ``stack * C`` features each; the last step repeats the final frame).

The labels are the CTC blank (0), ``<unk>`` (1: a character of a val/test transcript that
training never saw; it counts as an error) and the training transcripts' characters.
A transcript that its frames cannot emit (``L`` labels plus ``R`` adjacent repeats need
``L + R`` steps) is an error naming the utterance, never a silent skip or an infinite
loss; so is an empty transcript or utterance, and frames of another width.

``seqlab predict RUN inputs.txt`` reads one WAV path (a run trained on audio), ``.npz``
path (``x`` (T, C)) or JSON list of frames per line and prints the transcript.

The same data, features and splits with an attention decoder instead of CTC:
``task: transcription_attention`` (:mod:`seqlab.tasks.transcription_attention`).

.. code-block:: yaml

    task: transcription
    data: {dataset: spoken_words, features: {n_mels: 40}, stack: 3}
    model: {encoder: {kind: lstm, hidden_size: 128, num_layers: 2, bidirectional: true}}
    train: {metrics: [cer], monitor: val_cer, mode: min}
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..checks import check_bool, check_int
from ..config import ConfigError
from ..data import collate_seq2seq
from ..data.batch import Batch
from ..data.collate import pad_sequences
from ..data.errors import DataError
from ..data.files import read_table
from ..data.npz import _load_arrays, _whole_numbers
from ..data.speech import LogMel, LogMelConfig, SpokenUtterances, read_wav
from .base import DataSource, Splits, Task
from .text import bucketed_loader

__all__ = ["TranscriptionData", "TranscriptionTask", "group_split", "read_transcribed_npz"]

UNK = "<unk>"
SPECIAL_LABELS = ("<blank>", UNK)  # ids 0 (the CTC blank) and 1


@dataclass
class TranscriptionData(DataSource):
    audio_column: str = "audio"
    text_column: str = "text"
    format: str | None = None  # csv, tsv or jsonl; None: from the file name
    features: LogMelConfig = field(default_factory=LogMelConfig)
    stack: int = 1  # frames joined into one encoder step
    standardize: bool = True
    lowercase: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("stack", self.stack, min=1)
        check_bool("standardize", self.standardize)
        check_bool("lowercase", self.lowercase)


@dataclass
class Utterance:
    """``source``: a WAV path or frames (T, C); ``where``: how errors name it."""

    source: Path | np.ndarray
    text: str
    group: str
    where: str


def read_transcribed_npz(path: str | Path) -> list[Utterance]:
    """Utterances from an ``.npz`` of frames (the module doc's layout), checked: every
    problem is a :class:`DataError` naming the file and the utterance."""
    path = Path(path)
    arrays = _load_arrays(path, allow_pickle=False)
    missing = [k for k in ("x", "offsets", "text") if k not in arrays]
    if missing:
        raise DataError(
            f"missing array(s) {missing}; expected x (sum T_i, C) frames, offsets (N + 1,) and "
            f"text (N,) transcripts; arrays are {list(arrays)}",
            path,
        )
    x, text = arrays["x"], arrays["text"]
    offsets = _whole_numbers("offsets", arrays["offsets"], path)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not (
        np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
    ):
        raise DataError(f"'x' must be numeric (sum T_i, C) frames, got {x.dtype} {x.shape}", path)
    if text.ndim != 1 or text.dtype.kind != "U":
        raise DataError(
            f"'text' must be (N,) strings, got {text.dtype} of shape {text.shape}", path
        )
    n = len(text)
    if (
        len(offsets) != n + 1
        or offsets[0] != 0
        or offsets[-1] != len(x)
        or np.any(np.diff(offsets) < 0)
    ):
        raise DataError(
            f"'offsets' must rise from 0 to len(x) = {len(x)} in N + 1 = {n + 1} steps, got "
            f"{len(offsets)} offsets",
            path,
        )
    groups = arrays.get("group")
    if groups is not None and (groups.shape != (n,) or groups.dtype.kind != "U"):
        raise DataError(
            f"'group' must be (N,) = ({n},) strings, got {groups.dtype} {groups.shape}", path
        )
    out = []
    texts = [str(t) for t in text]
    for i in range(n):
        frames = x[offsets[i] : offsets[i + 1]].astype(np.float32)
        where = f"{path}, utterance {i}"
        if len(frames) == 0:
            raise DataError(
                f"utterance {i} ({texts[i]!r}) has no frames "
                f"(offsets {offsets[i]}, {offsets[i + 1]})",
                path,
            )
        bad = np.argwhere(~np.isfinite(frames))
        if len(bad):
            t, c = bad[0]
            raise DataError(f"utterance {i}, frame {t}, channel {c}: value {frames[t, c]}", path)
        out.append(
            Utterance(
                frames, str(text[i]), str(groups[i]) if groups is not None else str(text[i]), where
            )
        )
    return out


def _read_table(data: TranscriptionData, path: str) -> list[Utterance]:
    folder = Path(path).parent
    rows = read_table(path, [data.audio_column, data.text_column], data.format)
    out = []
    for line, (audio, text) in rows:
        if audio is None or not audio.strip():
            raise DataError(f"no audio file in column {data.audio_column!r}", path, line)
        wav = folder / audio.strip()
        if not wav.is_file():
            raise DataError(f"audio file not found: {wav}", path, line)
        out.append(Utterance(wav, text or "", text or "", f"{path}, line {line}"))
    if not out:
        raise DataError("no utterances", path=path)
    return out


def _read_file(data: TranscriptionData, path: str) -> list[Utterance]:
    return read_transcribed_npz(path) if str(path).endswith(".npz") else _read_table(data, path)


def group_split(items: Sequence[Utterance], source: DataSource, have=()) -> Splits:
    """A seeded sample of ``source.limit`` items, cut into train / val / test by group:
    ``val_fraction`` and ``test_fraction`` of the groups (at least one each when the
    fraction is above 0), so that no group is in two splits."""
    order = list(range(len(items)))
    random.Random(source.seed).shuffle(order)
    order = sorted(order[: source.limit])
    names = sorted({items[i].group for i in order})
    random.Random(source.seed).shuffle(names)
    n = len(names)
    cut = lambda f, split: 0 if split in have or f == 0 else max(1, round(n * f))  # noqa: E731
    n_val, n_test = cut(source.val_fraction, "val"), cut(source.test_fraction, "test")
    if n - n_val - n_test < 1:
        raise ConfigError(
            f"data: {n} groups of utterances leave none to train on after the val/test cut "
            f"({n_val} + {n_test}); lower val_fraction/test_fraction or give more data"
        )
    where = {g: "val" for g in names[:n_val]} | {g: "test" for g in names[n_val : n_val + n_test]}
    parts: dict[str, list[Utterance]] = {"train": [], "val": [], "test": []}
    for i in order:
        parts[where.get(items[i].group, "train")].append(items[i])
    return Splits(parts["train"], parts["val"], parts["test"])


class TranscriptionTask(Task):
    name = "transcription"
    model_kind = "ctc"
    data_class = TranscriptionData
    special_labels: ClassVar[tuple[str, ...]] = SPECIAL_LABELS  # the first label ids
    output_key: ClassVar[str] = "labels"  # what the model's predict() gives the labels as
    silent_labels: ClassVar[tuple[str, ...]] = ("<blank>",)  # read as nothing; other specials: ?

    def __init__(self, data: TranscriptionData):
        super().__init__(data)
        self.labels: list[str] | None = None  # by id: blank, <unk>, characters
        self.channels: dict[str, list[float]] | None = None  # per feature: mean and std
        self.audio = True  # trained on audio (WAV) rather than frames from an npz
        self._frames: dict[Path, np.ndarray] = {}  # features of WAVs already read
        self._mels: dict[int, LogMel] = {}  # by sample rate

    # --- reading ----------------------------------------------------------------------
    def read(self) -> None:
        d = self.data
        if d.dataset is not None:
            spoken = self.load_dataset(SpokenUtterances, "spoken utterances")
            items = [
                Utterance(p, t, g, str(p))
                for p, t, g in zip(spoken.paths, spoken.texts, spoken.groups, strict=True)
            ]
            parts = {"train": items}
        else:
            parts = {k: _read_file(d, v) for k, v in d.files().items()}
        kinds = {isinstance(u.source, Path) for part in parts.values() for u in part}
        if len(kinds) > 1:
            raise ConfigError(
                "data: train, val and test must all be audio tables or all .npz frames"
            )
        self.audio = kinds == {True}
        split = group_split(parts["train"], d, have=parts)
        self.splits = Splits(
            split.train, parts.get("val", split.val), parts.get("test", split.test)
        )
        for part in (self.splits.train, self.splits.val, self.splits.test):
            for u in part:
                if not self._clean(u.text):
                    raise DataError(
                        f"{u.where}: empty transcript (every utterance needs at least one "
                        "character to learn from)"
                    )

    def _clean(self, text: str) -> str:
        text = " ".join(text.split())
        return text.lower() if self.data.lowercase else text

    def fit(self) -> None:
        train = self._require().train
        if not train:
            raise ConfigError("data: the training split is empty")
        chars = sorted({c for u in train for c in self._clean(u.text)})
        self.labels = [*self.special_labels, *chars]
        frames = [self._raw_frames(u) for u in train]
        width = frames[0].shape[1]
        for u, f in zip(train, frames, strict=True):
            self._check_width(f, width, u.where)
        stacked = np.concatenate(frames).astype(np.float64)  # (sum T, C)
        std = stacked.std(0)
        self.channels = {
            "mean": stacked.mean(0).tolist() if self.data.standardize else [0.0] * width,
            "std": np.where(std > 0, std, 1.0).tolist() if self.data.standardize else [1.0] * width,
        }

    # --- features ---------------------------------------------------------------------
    def _raw_frames(self, u: Utterance | Path | np.ndarray) -> np.ndarray:
        source = u.source if isinstance(u, Utterance) else u
        if not isinstance(source, Path):
            return source
        if source not in self._frames:
            samples, rate = read_wav(source)
            if rate not in self._mels:
                try:
                    self._mels[rate] = LogMel(self.data.features, rate)
                except ValueError as e:
                    raise DataError(str(e), path=source) from None
            self._frames[source] = self._mels[rate](samples).numpy()
        return self._frames[source]

    @staticmethod
    def _check_width(frames: np.ndarray, width: int, where: str) -> None:
        if frames.ndim != 2 or frames.shape[1] != width or len(frames) == 0:
            raise DataError(
                f"{where}: frames must be (T >= 1, {width}) like the training data's, got shape "
                f"{frames.shape}"
            )

    @property
    def width(self) -> int:
        return len(self.channels["mean"])

    def steps(self, frames: np.ndarray, where: str) -> torch.Tensor:
        """Standardized frames, ``stack`` joined per step: (ceil(T / stack), stack * C)."""
        self._check_width(frames, self.width, where)
        mean, std = np.asarray(self.channels["mean"]), np.asarray(self.channels["std"])
        x = (frames - mean) / std  # (T, C)
        k = self.data.stack
        pad = -len(x) % k
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])  # (k * T', C)
        return torch.from_numpy(x.reshape(len(x) // k, k * x.shape[1])).float()  # (T', kC)

    def label_ids(self, text: str) -> list[int]:
        index = {c: i for i, c in enumerate(self.labels)}
        unk = self.special_labels.index(UNK)
        return [index.get(c, unk) for c in self._clean(text)]

    def text_of(self, ids: Sequence[int]) -> str:
        """Labels as text: the ``silent_labels`` (the CTC blank) left out, any other special
        label (``<unk>``, never predicted once trained) as ``?``: it is an error the CER
        metric counts, so the text a user reads scores as the metric does."""
        n = len(self.special_labels)
        silent = {self.special_labels.index(s) for s in self.silent_labels}
        return "".join(self.labels[i] if i >= n else "?" for i in ids if i not in silent)

    # --- what the data sets in the model ----------------------------------------------
    def model_sizes(self) -> dict[str, Any]:
        return {
            "inputs": {"input_size": self.width * self.data.stack},
            "num_labels": len(self.labels),
        }

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"inputs": {"input_size": 8}, "num_labels": 4}

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        space = self.labels.index(" ") if " " in self.labels else len(self.labels)
        return {"wer": {"space": space}}

    # --- batches ----------------------------------------------------------------------
    def _example(self, u: Utterance) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.steps(self._raw_frames(u), u.where)
        return x, self.target(u, len(x))

    def target(self, u: Utterance, steps: int) -> torch.Tensor:
        """``u``'s label ids, checked to be emittable by CTC from ``steps`` encoder steps."""
        y = torch.tensor(self.label_ids(u.text), dtype=torch.long)
        need = len(y) + int((y[1:] == y[:-1]).sum())
        if need > steps:
            raise DataError(
                f"{u.where}: {steps} steps cannot emit the transcript {self._clean(u.text)!r}, "
                f"which needs {need} ({len(y)} labels and a blank between repeats)"
                + (f"; lower data.stack (now {self.data.stack})" if self.data.stack > 1 else "")
            )
        return y

    def loader(self, split: str, shuffle: bool = False):
        items = [self._example(u) for u in self._require().get(split)]
        lengths = [len(x) for x, _ in items]
        return bucketed_loader(
            items, lengths, self.data.batch_size, collate_seq2seq, shuffle, self.data.seed
        )

    # --- a saved run ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"labels": self.labels, "channels": self.channels, "audio": self.audio}

    @classmethod
    def restore(cls, data: TranscriptionData, state: Mapping[str, Any]) -> TranscriptionTask:
        task = cls(data)
        labels, specials = state.get("labels"), list(cls.special_labels)
        if not isinstance(labels, list) or labels[: len(specials)] != specials:
            raise ConfigError(f"task.json: labels must start with {specials}, got {labels!r:.80}")
        task.labels, task.channels = labels, state["channels"]
        task.audio = bool(state.get("audio", True))
        return task

    # --- new inputs -------------------------------------------------------------------
    def _input_frames(self, item: Any) -> tuple[np.ndarray, str]:
        if isinstance(item, np.ndarray | list | tuple):
            return np.asarray(item, dtype=np.float64), "an input"
        if isinstance(item, Path) or (
            isinstance(item, str) and item.strip().lower().endswith((".wav", ".npz"))
        ):
            path = Path(str(item).strip())
            if path.suffix.lower() == ".wav":
                if not self.audio:
                    raise ValueError(
                        f"{path}: this run was trained on .npz frames, not audio; give frames"
                    )
                return self._raw_frames(path), str(path)
            arrays = _load_arrays(path, allow_pickle=False)
            if "x" not in arrays:
                raise DataError(
                    f"expected an array 'x' of (T, {self.width}) frames, got {list(arrays)}", path
                )
            return np.asarray(arrays["x"], dtype=np.float64), str(path)
        if isinstance(item, str):
            try:
                return np.asarray(json.loads(item), dtype=np.float64), "an input line"
            except (json.JSONDecodeError, ValueError, TypeError):
                raise ValueError(
                    "an input is a WAV path, an .npz path or a JSON list of frames of "
                    f"{self.width} features, got {item[:40]!r}"
                ) from None
        raise ValueError(
            f"an input is a WAV path, an .npz path or frames, got {type(item).__name__}"
        )

    def encode(self, inputs: Sequence[Any]) -> Batch:
        steps = []
        for item in inputs:
            frames, where = self._input_frames(item)
            if frames.ndim == 1 and self.width == 1:
                frames = frames[:, None]
            if frames.size == 0:
                raise ValueError(f"{where}: an empty sequence of frames; nothing to transcribe")
            if not np.all(np.isfinite(frames)):
                raise ValueError(f"{where}: frames hold NaN or infinite values")
            steps.append(self.steps(frames, where))
        padded, lengths = pad_sequences(steps)
        return Batch(padded, lengths=lengths)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        rows = []
        for labels, n, score in zip(
            prediction[self.output_key].tolist(),
            prediction["lengths"].tolist(),
            prediction["scores"].tolist(),
            strict=True,
        ):
            rows.append({"output": self.text_of(labels[:n]), "score": round(score, 6)})
        return rows
