"""``music``: polyphonic music as next-frame prediction over 88-key piano rolls.

Data: the registered ``bach_chorales`` (371 four-part chorales from music21's corpus), or
the user's files: a ``.mid`` file, a folder of them, or an ``.npz`` of rolls
(:func:`seqlab.data.music.save_rolls_npz`). ``step`` is the time resolution in quarter
notes (1.0, one frame a beat, is the JSB Chorales resolution of Boulanger-Lewandowski et
al. 2012). Pieces are split at random (seeded by ``seed``) into train / val / test by
``val_fraction`` and ``test_fraction``; ``limit`` takes the first ``limit`` chorales of
the corpus (a short parse to try a config). Each piece is one example: inputs frames
``0 .. T-2``, targets frames ``1 .. T-1`` (the first frame is given, as in Bai et al.'s
code), so ``val_loss`` is the per-frame NLL of :mod:`seqlab.train.metrics.music`.

What the task fits on the training split and keeps in ``task.json``: the key
frequencies and the repeat-last flip rate (the two baselines,
:mod:`seqlab.music.baselines`, scored as ``frequency_nll`` and ``repeat_nll`` beside the
model's ``frame_nll``; the task's default ``train.metrics``), and the opening frames of
the val and test pieces, so ``seqlab generate`` can prime with a held-out chorale
without parsing the corpus again.

.. code-block:: yaml

    task: music
    data: {dataset: bach_chorales, step: 1.0, batch_size: 16}
    model: {encoder: {kind: lstm, hidden_size: 200}, dropout: 0.3}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..checks import check_float, check_int
from ..config import ConfigError
from ..data.batch import Batch
from ..data.collate import pad_sequences
from ..data.errors import DataError
from ..data.music import KEYS, LOWEST_KEY, check_roll, piano_roll, read_rolls_npz
from ..music.baselines import KeyFrequency, RepeatLast
from ..music.midi import read_midi
from .base import DataSource, Splits, Task, random_split
from .text import plain_loader

__all__ = ["MusicData", "MusicTask", "collate_rolls"]

OPENING_QUARTERS = 16  # what task.json keeps of each held-out piece: 4 bars of 4/4
BEATS_PER_BAR = 4  # a "bar" for priming; the chorales are mostly in 4/4


@dataclass
class MusicData(DataSource):
    step: float = 1.0  # quarter notes per frame

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("step", self.step, min=0.0, min_open=True)
        if "step" in self.options:
            raise ValueError("set the time resolution as data.step, not data.options.step")

    def check_files(self) -> None:
        """Every named file or folder of MIDI files exists."""
        for split, path in self.files().items():
            if not Path(path).exists():
                raise ConfigError(f"data.{split}: file or folder not found: {path}")


def collate_rolls(rolls: Sequence[np.ndarray]) -> Batch:
    """Pieces (T_i, K) -> inputs = frames ``0..T-2``, targets = frames ``1..T-1``,
    zero-padded (B, T_max - 1, K), with ``lengths`` = T_i - 1."""
    x, lengths = pad_sequences([torch.from_numpy(np.asarray(r[:-1])) for r in rolls])
    y, _ = pad_sequences([torch.from_numpy(np.asarray(r[1:])) for r in rolls])
    return Batch(x.float(), targets=y.float(), lengths=lengths)


def _sparse(roll: np.ndarray) -> list[list[int]]:
    """Frames as lists of sounding MIDI pitches (what ``task.json`` keeps)."""
    return [(np.flatnonzero(f) + LOWEST_KEY).tolist() for f in roll]


def _dense(frames: Sequence[Sequence[int]]) -> np.ndarray:
    roll = np.zeros((len(frames), KEYS), dtype=np.float32)
    for t, pitches in enumerate(frames):
        roll[t, [p - LOWEST_KEY for p in pitches]] = 1.0
    return roll


class MusicTask(Task):
    name = "music"
    model_kind = "music"
    data_class = MusicData
    train_defaults: ClassVar[dict[str, Any]] = {
        "metrics": ["frame_nll", "frequency_nll", "repeat_nll"]
    }

    def __init__(self, data: MusicData):
        super().__init__(data)
        self.key_probs: list[float] | None = None
        self.epsilon: float | None = None
        self.openings: dict[str, list[list[list[int]]]] = {}

    # --- reading ----------------------------------------------------------------------
    def read_file(self, path: str | Path) -> list[np.ndarray]:
        """The pieces of one file or folder: ``.npz`` rolls, a ``.mid``, or ``.mid`` files."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".mid", ".midi"))
            if not files:
                raise DataError("no .mid files in this folder", path=path)
            return [r for f in files for r in self.read_file(f)]
        if path.suffix.lower() == ".npz":
            return read_rolls_npz(path)
        if path.suffix.lower() in (".mid", ".midi"):
            notes = read_midi(path)
            try:
                return [piano_roll(notes, self.data.step)]
            except ValueError as e:
                raise DataError(str(e), path=path) from None
        raise DataError("expected a .mid file, a folder of them, or an .npz of rolls", path=path)

    def read(self) -> None:
        d = self.data
        if d.dataset is not None:
            from ..data import list_datasets, load

            music = [i.name for i in list_datasets() if i.task.startswith("music")]
            if d.dataset not in music:
                raise ConfigError(
                    f"data.dataset: {d.dataset!r} is not a music dataset; expected one of {music}"
                )
            options = dict(d.options)
            if d.limit is not None and "limit" not in options:
                options["limit"] = d.limit  # parse only the first ones
            rolls = load(d.dataset, step=d.step, **options)
            given = {}
        else:
            given = {k: self.read_file(v) for k, v in d.files().items()}
            rolls = given.pop("train")
        for i, r in enumerate(rolls):
            if check_roll(r, f"piece {i + 1}").shape[0] < 2:
                raise DataError(f"piece {i + 1} has one frame; next-frame prediction needs two")
        splits = random_split(rolls, d, have=given)
        self.splits = Splits(
            splits.train, given.get("val", splits.val), given.get("test", splits.test)
        )

    def fit(self) -> None:
        s = self._require()
        self.key_probs = KeyFrequency.fit(s.train).to_list()
        self.epsilon = RepeatLast.fit(s.train).eps
        frames = max(1, round(OPENING_QUARTERS / self.data.step))
        self.openings = {k: [_sparse(r[:frames]) for r in s.get(k)] for k in ("val", "test")}

    def model_sizes(self) -> dict[str, Any]:
        return {"keys": KEYS}

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"keys": KEYS}

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        if self.key_probs is None:
            return {}
        return {"frequency_nll": {"key_probs": self.key_probs},
                "repeat_nll": {"epsilon": self.epsilon}}  # fmt: skip

    def loader(self, split: str, shuffle: bool = False):
        d = self.data
        return plain_loader(
            self._require().get(split), d.batch_size, collate_rolls, shuffle, d.seed
        )

    # --- a saved run ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"key_probs": self.key_probs, "epsilon": self.epsilon, "step": self.data.step,
                "openings": self.openings}  # fmt: skip

    @classmethod
    def restore(cls, data: MusicData, state: Mapping[str, Any]) -> MusicTask:
        task = cls(data)
        task.key_probs = [float(p) for p in state["key_probs"]]
        task.epsilon = float(state["epsilon"])
        task.openings = {k: list(v) for k, v in state.get("openings", {}).items()}
        return task

    # --- new inputs -------------------------------------------------------------------
    def encode(self, inputs: Sequence[Any]) -> Batch:
        """Each input a roll (T, 88) or the path of a MIDI file (read at ``data.step``)."""
        rolls = []
        for i, x in enumerate(inputs):
            if isinstance(x, str | Path):
                x = self.read_file(x)[0]
            rolls.append(torch.from_numpy(check_roll(x, f"input {i + 1}")))
        padded, lengths = pad_sequences(rolls)
        return Batch(padded, lengths=lengths)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        probs = prediction["next_frame"].double().cpu().numpy()  # (B, K)
        return [
            {"next_notes": (np.flatnonzero(p > 0.5) + LOWEST_KEY).tolist(),
             "probabilities": [round(float(v), 6) for v in p]}
            for p in probs
        ]  # fmt: skip

    def opening(self, split: str = "test", index: int = 0, bars: int = 2) -> np.ndarray:
        """The first ``bars`` bars (of 4 quarter notes) of held-out piece ``index``."""
        if split not in ("val", "test"):
            raise ValueError(f"a primer comes from the 'val' or 'test' split, got {split!r}")
        pieces = self.openings.get(split, [])
        if not pieces:
            raise ValueError(f"this run has no {split} pieces to prime with; use silence")
        check_int("prime index", index, min=0, max=len(pieces) - 1)
        most = OPENING_QUARTERS // BEATS_PER_BAR
        check_int("prime bars", bars, min=1, max=most)
        frames = max(1, round(bars * BEATS_PER_BAR / self.data.step))
        return _dense(pieces[index][:frames])

    def generate(
        self, model, length: int, prime: str = "test", index: int = 0, bars: int = 2,
        **sampling: Any,
    ) -> tuple[np.ndarray, int]:  # fmt: skip
        """A piece: the primer (``prime``: ``test``/``val`` opening bars, or ``silence``)
        and ``length`` sampled frames (``sampling``: temperature, seed, min_notes,
        max_notes). Returns the roll (T, 88) and the primer's frame count."""
        first = None if prime == "silence" else torch.from_numpy(self.opening(prime, index, bars))
        new = model.generate(first, length, **sampling).numpy()
        if first is None:
            return new, 0
        return np.concatenate([first.numpy(), new]), len(first)
