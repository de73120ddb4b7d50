"""Polyphonic music around the piano roll: the floors a model's NLL must beat
(``baselines``), standard MIDI files in and out (``midi``, through mido), a WAV a person
can play (``audio``, additive synthesis), and a generated piece written as all three
beside a piano-roll PNG (``piece``). The model is :class:`seqlab.models.MusicModel`, the
pipeline ``task: music`` (:mod:`seqlab.tasks.music`)."""

from .audio import synthesize, write_wav
from .baselines import KeyFrequency, RepeatLast
from .midi import read_midi, write_midi
from .piece import piece_paths, write_piece

__all__ = [
    "KeyFrequency",
    "RepeatLast",
    "piece_paths",
    "read_midi",
    "synthesize",
    "write_midi",
    "write_piece",
    "write_wav",
]
