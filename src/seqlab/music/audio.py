"""A piano roll as sound a person can play: additive synthesis into a 16-bit mono WAV,
with numpy and the standard library's ``wave`` module.

Each note (an unbroken run of frames, :func:`seqlab.music.midi.roll_notes`) is a sum of
harmonics ``k = 1..6`` of its equal-tempered frequency ``f = 440 * 2**((m - 69) / 12)``,
amplitude ``1 / k**1.5``, each decaying as ``exp(-k t / tau)`` (upper partials die first,
as on a struck string), under a 10 ms attack and a 60 ms release so that no note clicks.
Partials at or above the Nyquist frequency are left out. The mix is scaled to a peak of
0.8 (silence stays silent).

>>> import numpy as np
>>> roll = np.zeros((2, 88), dtype=np.float32); roll[:, 69 - 21] = 1   # A4 for 2 beats
>>> x = synthesize(roll, step=1.0, tempo=60.0, sample_rate=8000)
>>> x.shape, round(float(np.abs(x).max()), 3)                       # 2 s at 8 kHz
((16000,), 0.8)
"""

from __future__ import annotations

import os
import wave

import numpy as np

from ..checks import check_float, check_int
from ..data.errors import DataError, atomic_write
from ..data.music import LOWEST_KEY, check_roll
from .midi import check_writable, readable, roll_notes

__all__ = ["synthesize", "write_wav"]

HARMONICS, ATTACK_S, RELEASE_S, DECAY_S, PEAK = 6, 0.010, 0.060, 1.5, 0.8


def synthesize(
    roll: np.ndarray,
    step: float = 1.0,
    tempo: float = 80.0,
    sample_rate: int = 22050,
    lowest_key: int = LOWEST_KEY,
) -> np.ndarray:
    """float32 samples in [-0.8, 0.8] of ``roll`` (T, K), a frame every ``step`` quarter
    notes at ``tempo`` quarter notes a minute (module doc)."""
    roll = check_roll(roll, "the piece", np.shape(roll)[-1] if np.ndim(roll) == 2 else 88)
    check_float("step", step, min=0.0, min_open=True)
    check_float("tempo", tempo, min=0.0, min_open=True)
    check_int("sample_rate", sample_rate, min=1000)
    seconds = 60.0 / tempo  # per quarter note
    out = np.zeros(round(len(roll) * step * seconds * sample_rate), dtype=np.float64)
    for onset, duration, midi in roll_notes(roll, step, lowest_key):
        start = round(onset * seconds * sample_rate)
        n = min(round(duration * seconds * sample_rate), len(out) - start)
        t = np.arange(n) / sample_rate
        f = 440.0 * 2.0 ** ((midi - 69) / 12.0)
        tone = np.zeros(n)
        for k in range(1, HARMONICS + 1):
            if k * f >= sample_rate / 2:
                break
            tone += np.sin(2 * np.pi * k * f * t) * np.exp(-k * t / DECAY_S) / k**1.5
        envelope = np.minimum(1.0, np.minimum(t / ATTACK_S, (n / sample_rate - t) / RELEASE_S))
        out[start : start + n] += tone * np.clip(envelope, 0.0, 1.0)
    peak = np.abs(out).max() if len(out) else 0.0
    return (out * (PEAK / peak) if peak > 0 else out).astype(np.float32)


def write_wav(samples: np.ndarray, path: str | os.PathLike, sample_rate: int = 22050) -> None:
    """Write mono samples in [-1, 1] as a 16-bit PCM WAV (atomic)."""
    check_int("sample_rate", sample_rate, min=1000)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"samples must be a 1-D array of finite numbers, got shape {x.shape}")
    path = check_writable(path, "WAV file")
    pcm = (np.clip(x, -1.0, 1.0) * 32767).round().astype("<i2")
    try:
        with atomic_write(path) as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(pcm.tobytes())
        readable(path)
    except OSError as e:
        raise DataError(f"cannot write the WAV file ({e.strerror or e})", path=path) from None
