"""A piece written three ways beside each other: ``piece.mid`` (standard MIDI), ``piece.png``
(the piano roll, :func:`seqlab.diagnostics.piano_roll.plot_piano_roll`) and ``piece.wav``
(additive synthesis). Every path is checked before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.music import check_roll
from ..diagnostics.plots import PLOTS_INSTALL, plots_available
from .audio import synthesize, write_wav
from .midi import check_writable, write_midi

__all__ = ["piece_paths", "write_piece"]


def piece_paths(out: str | os.PathLike) -> dict[str, Path]:
    """The MIDI path ``out`` and the PNG and WAV beside it (same name), each checked
    writable (:func:`~seqlab.music.midi.check_writable`)."""
    midi = Path(out)
    paths = {"midi": midi, "png": midi.with_suffix(".png"), "wav": midi.with_suffix(".wav")}
    if midi.suffix.lower() in (".png", ".wav"):
        raise ValueError(f"{midi}: the output is the MIDI file; name it .mid")
    for kind, path in paths.items():
        check_writable(path, f"{kind.upper()} file")
    return paths


def write_piece(
    roll: np.ndarray,
    out: str | os.PathLike,
    step: float = 1.0,
    tempo: float = 80.0,
    prime_frames: int = 0,
    title: str | None = None,
    program: int = 0,
) -> dict[str, Path | str]:
    """Write ``roll`` (T, 88) as MIDI at ``out`` with the PNG and WAV beside it; returns
    the paths (the PNG's entry says why when matplotlib is missing)."""
    from ..diagnostics.piano_roll import plot_piano_roll

    roll = check_roll(roll, "the piece")
    paths: dict[str, Path | str] = dict(piece_paths(out))
    write_midi(roll, paths["midi"], step=step, tempo=tempo, program=program)
    write_wav(synthesize(roll, step=step, tempo=tempo), paths["wav"])
    if plots_available():
        plot_piano_roll(roll, paths["png"], step=step, prime_frames=prime_frames, title=title)
    else:
        paths["png"] = f"not drawn: {PLOTS_INSTALL}"
    return paths
