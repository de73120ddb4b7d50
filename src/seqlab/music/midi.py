"""Piano rolls to and from standard MIDI files, through mido (a maintained library: the
file format is its business, not a hand-written encoder's).

A roll is rendered note by note: each unbroken run of frames with a key on is one note
(a piano roll cannot tell a held note from a repeated one; this is the usual reading),
on one track, channel 0, at ``tempo`` quarter notes a minute. Reading gives the notes
``(onset, duration, midi)`` in quarter notes, all tracks and channels merged, which
:func:`seqlab.data.music.piano_roll` samples back into the same roll.

>>> import numpy as np, tempfile, os
>>> roll = np.zeros((4, 88), dtype=np.float32); roll[0:2, 60 - 21] = 1; roll[2, 64 - 21] = 1
>>> path = os.path.join(tempfile.mkdtemp(), "two.mid")
>>> write_midi(roll, path, step=1.0)
>>> read_midi(path)
[(0.0, 2.0, 60), (2.0, 1.0, 64)]
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import numpy as np

from ..checks import check_float, check_int
from ..data.errors import DataError, MissingPackageError, atomic_write
from ..data.music import LOWEST_KEY, check_roll

__all__ = ["MIDI_INSTALL", "check_writable", "read_midi", "readable", "roll_notes", "write_midi"]

MIDI_INSTALL = "pip install 'seqlab[music]' (mido)"
TICKS_PER_QUARTER = 480


def _mido():
    if importlib.util.find_spec("mido") is None:
        raise MissingPackageError(f"MIDI files need mido: {MIDI_INSTALL}")
    import mido

    return mido


def roll_notes(roll: np.ndarray, step: float = 1.0, lowest_key: int = LOWEST_KEY):
    """The notes ``(onset, duration, midi)`` in quarter notes of a roll (T, K): one per
    unbroken run of frames with the key on, in order of onset then pitch."""
    r = np.asarray(roll) > 0.5
    padded = np.pad(r, ((1, 1), (0, 0))).astype(np.int8)  # (T + 2, K)
    edges = np.diff(padded, axis=0)  # +1 where a run starts, -1 one past its end
    notes = []
    for key in range(r.shape[1]):
        starts = np.flatnonzero(edges[:, key] == 1)
        ends = np.flatnonzero(edges[:, key] == -1)
        for s, e in zip(starts, ends, strict=True):
            notes.append((float(s * step), float((e - s) * step), int(key + lowest_key)))
    return sorted(notes)


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """``path`` as a Path whose folder exists and can be written, or a DataError naming
    it (checked before a piece is generated, so no work is lost to a typo)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DataError(f"the {what} path is a directory, expected a file name", path=path)
    if not folder.is_dir():
        raise DataError(f"cannot write the {what}: folder {folder} does not exist", path=path)
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DataError(f"cannot write the {what}: permission denied", path=path)
    return path


def readable(path: Path) -> None:
    """Give a written file the mode a plain ``open`` would (0666 less the umask): the
    atomic writer's temporary file is private (0600), but a piece is for sharing."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_midi(
    roll: np.ndarray,
    path: str | os.PathLike,
    step: float = 1.0,
    tempo: float = 80.0,
    program: int = 0,
    velocity: int = 80,
    lowest_key: int = LOWEST_KEY,
) -> None:
    """Write ``roll`` (T, 88), one frame every ``step`` quarter notes, as a type-1 MIDI
    file at ``tempo`` quarter notes a minute with General MIDI ``program`` (0: piano,
    19: church organ). Atomic: a temporary file, renamed."""
    mido = _mido()
    roll = check_roll(roll, "the piece", np.shape(roll)[-1] if np.ndim(roll) == 2 else 88)
    check_float("step", step, min=0.0, min_open=True)
    check_float("tempo", tempo, min=0.0, min_open=True)
    check_int("program", program, min=0, max=127)
    check_int("velocity", velocity, min=1, max=127)
    path = check_writable(path, "MIDI file")
    events = []  # (tick, 0 = off before 1 = on at the same tick, pitch)
    for onset, duration, pitch in roll_notes(roll, step, lowest_key):
        start = round(onset * TICKS_PER_QUARTER)
        events += [(start, 1, pitch), (start + round(duration * TICKS_PER_QUARTER), 0, pitch)]
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    now = 0
    for tick, on, pitch in sorted(events):
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity if on else 0,
                                  channel=0, time=tick - now))  # fmt: skip
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    try:
        with atomic_write(path) as f:
            f.write(buffer.getvalue())
        readable(path)
    except OSError as e:
        raise DataError(f"cannot write the MIDI file ({e.strerror or e})", path=path) from None


def read_midi(path: str | os.PathLike) -> list[tuple[float, float, int]]:
    """The notes ``(onset, duration, midi)`` of a MIDI file, in quarter notes, sorted
    (every track and channel; a note-on of velocity 0 ends a note; a note still sounding
    at the end lasts to the last event). A file mido cannot read is a DataError."""
    mido = _mido()
    try:
        midi = mido.MidiFile(os.fspath(path))
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise DataError(f"not a readable MIDI file ({e})", path=path) from None
    per_quarter = float(midi.ticks_per_beat)
    notes, last = [], 0
    for track in midi.tracks:
        tick, sounding = 0, {}
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off"):
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault(key, tick)  # a repeated note-on keeps the first onset
            elif key in sounding:
                start = sounding.pop(key)
                if tick > start:
                    notes.append((start / per_quarter, (tick - start) / per_quarter, msg.note))
        last = max(last, tick)
        for (_, note), start in sounding.items():
            if last > start:
                notes.append((start / per_quarter, (last - start) / per_quarter, note))
    return sorted(notes)
