"""A piano roll as a picture: time across, pitch up, each sounding key a filled cell.

The x axis is in quarter notes (a frame every ``step``), the y axis in MIDI pitch with
the C of each octave named (C4 = middle C = 60), cropped to the keys used (a fifth of
margin). A primer (the frames a generated piece was started from) is shaded grey and
marked off by a line, so what the model wrote stands apart. Drawn with matplotlib's Agg
backend and written as PNG by a temporary file and a rename (``seqlab[plots]``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.errors import atomic_write
from ..data.music import LOWEST_KEY, check_roll
from .plots import PLOTS_INSTALL, plots_available

__all__ = ["note_name", "plot_piano_roll"]

NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: int) -> str:
    """Scientific pitch name: 60 -> 'C4', 69 -> 'A4', 21 -> 'A0'."""
    return f"{NAMES[midi % 12]}{midi // 12 - 1}"


def plot_piano_roll(
    roll: np.ndarray,
    path: str | os.PathLike,
    step: float = 1.0,
    prime_frames: int = 0,
    title: str | None = None,
    lowest_key: int = LOWEST_KEY,
) -> Path:
    """Write ``roll`` (T, K) as a PNG at ``path``; the first ``prime_frames`` frames are
    drawn as the primer. Returns the path."""
    if not plots_available():
        raise ImportError(f"a piano-roll picture needs matplotlib: {PLOTS_INSTALL}")
    roll = check_roll(roll, "the piece", np.shape(roll)[-1] if np.ndim(roll) == 2 else 88)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    T, K = roll.shape
    used = np.flatnonzero(roll.any(0))
    lo = max(0, (used.min() if len(used) else 39) - 7)  # silence: around middle C
    hi = min(K - 1, (used.max() if len(used) else 39) + 7)
    cells = roll[:, lo : hi + 1].T.copy()  # (pitch, time)
    prime = min(max(int(prime_frames), 0), T)
    cells[:, :prime] *= 0.5  # primer notes drawn lighter
    fig, ax = plt.subplots(figsize=(min(16, 4 + T * step * 0.12), 5), dpi=100)
    cmap = ListedColormap(["white", "#9aa7b8", "#1f4e99"])
    ax.imshow(
        np.round(cells * 2) / 2, aspect="auto", origin="lower", interpolation="nearest",
        cmap=cmap, vmin=0, vmax=1,
        extent=(0, T * step, lowest_key + lo - 0.5, lowest_key + hi + 0.5),
    )  # fmt: skip
    if prime:
        ax.axvspan(0, prime * step, color="0.85", alpha=0.35, zorder=0)
        ax.axvline(prime * step, color="0.3", linestyle="--", linewidth=1)
        ax.text(prime * step, lowest_key + hi + 0.5, " generated ->", va="bottom", fontsize=8)
        ax.text(0, lowest_key + hi + 0.5, "primer", va="bottom", fontsize=8)
    cs = [m for m in range(lowest_key + lo, lowest_key + hi + 1) if m % 12 == 0]
    ax.set_yticks(cs, [f"{note_name(m)} ({m})" for m in cs])
    for m in cs:
        ax.axhline(m - 0.5, color="0.8", linewidth=0.5, zorder=0)
    ax.set_xlabel(f"time (quarter notes; a frame every {step:g})")
    ax.set_ylabel("pitch (MIDI)")
    ax.set_title(title or f"piano roll: {T} frames, {int(roll.sum())} key-frames on")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    mask = os.umask(0)  # 0666 less the umask, as open() gives (the temporary file is 0600)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)
    return path
