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
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..checks import check_float, check_int

LOWEST_KEY, HIGHEST_KEY = 21, 108  # A0 .. C8, the 88 piano keys
MUSIC21_INSTALL = "pip install music21 (about 115 MB with its corpus)"


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


def bach_chorales(limit: int | None = None, step: float = 1.0) -> list[np.ndarray]:
    """Bach's four-part chorales in music21's corpus (371; the JSB set has 382) as piano
    rolls (T_i, 88). Parsing all of them takes a minute or two; ``limit`` takes the first."""
    from .datasets import package_dir  # the registry's install check, without a cycle

    check_int("limit", limit, min=1, none=True)
    check_float("step", step, min=0.0, min_open=True)
    package_dir("music21", "bach_chorales", MUSIC21_INSTALL)
    from music21 import corpus

    rolls = []
    for k, score in enumerate(corpus.chorales.Iterator()):
        if limit is not None and k >= limit:
            break
        rolls.append(piano_roll(score_notes(score), step))
    return rolls
