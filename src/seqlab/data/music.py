"""Polyphonic music as sequences of piano-roll vectors: Bach chorales from music21.

A piece is a list of notes ``(onset, duration, midi pitch)`` in quarter notes; the piano
roll samples it every ``step`` quarter notes: row t has a 1 for every key that sounds at
time ``t * step`` (``onset <= t * step < onset + duration``), over the 88 piano keys MIDI
21..108. This is the encoding of the JSB Chorales benchmark (Boulanger-Lewandowski et al.
2012, quarter-note steps), used for music modelling in Bai et al. (2018): predict row t+1
from rows up to t, a many-to-many task over multi-hot vectors.

>>> roll = piano_roll([(0.0, 2.0, 60), (0.0, 1.0, 64), (1.5, 0.5, 67)], step=1.0)
>>> roll.shape                                  # (T, 88): 2 quarter-note steps
(2, 88)
>>> [sorted((roll[t].nonzero()[0] + LOWEST_KEY).tolist()) for t in range(2)]
[[60, 64], [60]]

Parsing the 371 chorales takes a minute or two, so :func:`bach_chorales` keeps the rolls
of a full parse in seqlab's cache folder (``$SEQLAB_CACHE_DIR``, else
``~/.cache/seqlab``), keyed by the music21 version and the step; ``cache=False`` parses
again. :func:`check_roll` is the one check of a roll given from outside.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_bool, check_float, check_int
from .errors import DataError, atomic_write

LOWEST_KEY, HIGHEST_KEY = 21, 108  # A0 .. C8, the 88 piano keys
KEYS = HIGHEST_KEY - LOWEST_KEY + 1
ROLL_VERSION = 1
MUSIC21_INSTALL = "pip install music21 (about 115 MB with its corpus)"


def check_roll(roll: Any, what: str = "roll", keys: int = KEYS) -> np.ndarray:
    """``roll`` as a float32 (T, keys) array of 0/1 with T >= 1, or a ValueError naming
    ``what`` and the problem (empty, the wrong number of keys, values other than 0/1)."""
    try:
        r = np.asarray(roll, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"{what} must be a (T, {keys}) piano roll of 0/1, got {roll!r:.60}"
        ) from None
    if r.ndim != 2 or r.shape[1] != keys:
        raise ValueError(
            f"{what} must be a (T, {keys}) piano roll ({keys} keys, MIDI {LOWEST_KEY}.."
            f"{LOWEST_KEY + keys - 1}), got shape {r.shape}"
        )
    if r.shape[0] == 0:
        raise ValueError(f"{what} is empty: a piano roll needs at least one frame")
    if not np.all((r == 0) | (r == 1)):
        bad = r[(r != 0) & (r != 1)][0]
        raise ValueError(f"{what} must hold 0 (key off) and 1 (key on) only, got {bad:g}")
    return r


def piano_roll(notes: Iterable[tuple[float, float, int]], step: float = 1.0) -> np.ndarray:
    """Notes ``(onset, duration, midi)`` -> float32 (T, 88), sampled every ``step``."""
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step!r}")
    notes = list(notes)
    if not notes:
        raise ValueError("a piece needs at least one note")
    for onset, duration, midi in notes:
        if onset < 0 or duration <= 0 or not LOWEST_KEY <= midi <= HIGHEST_KEY:
            raise ValueError(
                f"note (onset {onset}, duration {duration}, midi {midi}) needs onset >= 0, "
                f"duration > 0 and a pitch in [{LOWEST_KEY}, {HIGHEST_KEY}]"
            )
    end = max(onset + duration for onset, duration, _ in notes)
    steps = math.ceil(end / step - 1e-9)
    roll = np.zeros((steps, HIGHEST_KEY - LOWEST_KEY + 1), dtype=np.float32)  # (T, 88)
    times = np.arange(steps) * step
    for onset, duration, midi in notes:
        sounding = (times >= onset - 1e-9) & (times < onset + duration - 1e-9)
        roll[sounding, midi - LOWEST_KEY] = 1.0
    return roll


def score_notes(score) -> list[tuple[float, float, int]]:
    """The notes of a music21 score (chords give one note per pitch)."""
    return [
        (float(n.offset), float(n.quarterLength), int(p.midi))
        for n in score.flatten().notes
        if n.quarterLength > 0
        for p in n.pitches
    ]


def bach_chorales(
    limit: int | None = None, step: float = 1.0, cache: bool = True
) -> list[np.ndarray]:
    """Bach's four-part chorales in music21's corpus (371; the JSB set has 382) as piano
    rolls (T_i, 88), sampled every ``step`` quarter notes (1.0: the JSB resolution).
    ``limit`` takes the first ones in corpus order (a short parse); a full parse is
    cached (module doc) unless ``cache=False``."""
    from .datasets import package_dir  # the registry's install check, without a cycle

    check_int("limit", limit, min=1, none=True)
    check_float("step", step, min=0.0, min_open=True)
    check_bool("cache", cache)
    package_dir("music21", "bach_chorales", MUSIC21_INSTALL)
    import music21
    from music21 import corpus

    # keyed by what decides the rolls: the corpus (music21 version), the step, and the
    # encoding (ROLL_VERSION, raised whenever piano_roll or score_notes change)
    name = f"bach_chorales-v{ROLL_VERSION}-music21-{music21.__version__}-step{step:g}.npz"
    path = _cache_path(name)
    if cache and path.is_file():
        rolls = read_rolls_npz(path)
        return rolls[:limit]
    rolls = []
    for k, score in enumerate(corpus.chorales.Iterator()):
        if limit is not None and k >= limit:
            break
        rolls.append(piano_roll(score_notes(score), step))
    if cache and limit is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_rolls_npz(path, rolls)
        except OSError:  # a read-only cache folder costs the next parse, nothing else
            pass
    return rolls


def _cache_path(name: str) -> Path:
    if folder := os.environ.get("SEQLAB_CACHE_DIR"):
        return Path(folder) / "music" / name
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqlab" / "music" / name


def save_rolls_npz(path: str | os.PathLike, rolls: list[np.ndarray]) -> None:
    """Piano rolls as one ``.npz``: ``x`` (sum T_i, K) uint8 and ``offsets`` (N + 1,), the
    ragged layout of :func:`seqlab.data.save_npz` (no pickle); written atomically."""
    rolls = [check_roll(r, f"roll {i}", np.shape(r)[-1]) for i, r in enumerate(rolls)]
    if not rolls:
        raise ValueError("rolls must hold at least one piano roll")
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rolls])]).astype(np.int64)
    with atomic_write(path) as f:
        np.savez_compressed(f, x=np.concatenate(rolls).astype(np.uint8), offsets=offsets)


def read_rolls_npz(path: str | os.PathLike, keys: int = KEYS) -> list[np.ndarray]:
    """The piano rolls :func:`save_rolls_npz` wrote (``x`` and ``offsets``); any other
    content is a :class:`DataError` naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data or "offsets" not in data:
                raise DataError(
                    f"expected arrays 'x' (frames, {keys}) and 'offsets' (pieces + 1), "
                    f"got {sorted(data)}",
                    path=path,
                )
            x, offsets = data["x"], data["offsets"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"not a readable .npz of piano rolls ({e})", path=path) from None
    if offsets.ndim != 1 or len(offsets) < 2 or offsets.dtype.kind not in "iu":
        raise DataError("'offsets' must be (pieces + 1,) integers", path=path)
    if offsets[0] != 0 or offsets[-1] != len(x) or np.any(np.diff(offsets) < 0):
        raise DataError(f"'offsets' must rise from 0 to len(x)={len(x)}", path=path)
    rolls = []
    for i in range(len(offsets) - 1):
        piece = x[offsets[i] : offsets[i + 1]]
        try:
            rolls.append(check_roll(piece, f"piece {i}", keys))
        except ValueError as e:
            raise DataError(str(e), path=path) from None
    return rolls
