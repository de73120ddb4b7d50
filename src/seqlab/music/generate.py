"""``seqlab generate RUN_DIR --out piece.mid`` for a music run: sample a piece and write
it as MIDI, with the piano-roll PNG and the WAV beside it.

The generate command (:mod:`seqlab.cli.use`) is shared with language models; it adds
the options below and hands a music run to :func:`generate_music`. Every argument and
the three output paths are checked before sampling starts.
"""

from __future__ import annotations

import argparse
import sys

from ..config import ConfigError
from .piece import piece_paths, write_piece

__all__ = ["add_music_options", "generate_music", "refuse_music_options"]

MUSIC_OPTIONS = ("out", "prime", "prime_index", "prime_bars", "min_notes", "max_notes", "tempo")
TEXT_OPTIONS = {"top_k": None, "top_p": None, "greedy": False, "strict": False}


def add_music_options(parser: argparse.ArgumentParser) -> None:
    """The options a music run takes (``--length`` counts frames for it)."""
    m = parser.add_argument_group(
        "music runs (task: music; --length counts frames)", argument_default=argparse.SUPPRESS
    )  # not given: absent, so a language-model run can tell and refuse it
    m.add_argument(
        "--out", help="the MIDI file to write (PNG and WAV beside it; default piece.mid)"
    )
    m.add_argument(
        "--prime",
        choices=["test", "val", "silence"],
        help="start from a held-out chorale's opening bars, or silence (default test)",
    )
    m.add_argument("--prime-index", type=int, help="which held-out piece primes (default 0)")
    m.add_argument("--prime-bars", type=int, help="bars (of 4 quarter notes) of primer (default 2)")
    m.add_argument("--min-notes", type=int, help="at least this many notes at once (default 0)")
    m.add_argument("--max-notes", type=int, help="at most this many notes at once")
    m.add_argument("--tempo", type=float, help="quarter notes a minute (default 80)")  # fmt: skip


def refuse_music_options(args: argparse.Namespace) -> None:
    """For a language-model run: a music option given is an error naming it."""
    for name in MUSIC_OPTIONS:
        if getattr(args, name, None) is not None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} applies to a music run, not a language-model run")


def generate_music(run, args: argparse.Namespace) -> int:
    """Sample ``args.length`` frames from a music run and write the piece (module doc)."""
    args = argparse.Namespace(**{**dict.fromkeys(MUSIC_OPTIONS), **vars(args)})
    for name, default in TEXT_OPTIONS.items():
        if getattr(args, name, default) != default:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} applies to a language-model run, not a music run")
    if args.prompt not in (None, "\n"):
        raise ConfigError("--prompt is text for a language model; a music run takes --prime")
    if not args.temperature > 0:
        raise ConfigError(f"--temperature must be > 0, got {args.temperature:g}")
    if args.length is None or args.length < 1:
        raise ConfigError(f"--length must be a number of frames >= 1, got {args.length}")
    tempo = 80.0 if args.tempo is None else args.tempo
    if not tempo > 0:
        raise ConfigError(f"--tempo must be > 0 quarter notes a minute, got {tempo:g}")
    paths = piece_paths(args.out or "piece.mid")  # unwritable paths fail before sampling
    prime = args.prime or "test"
    try:
        roll, primed = run.task.generate(
            run.model, args.length, prime=prime,
            index=0 if args.prime_index is None else args.prime_index,
            bars=2 if args.prime_bars is None else args.prime_bars,
            temperature=args.temperature, seed=args.seed,
            min_notes=args.min_notes or 0, max_notes=args.max_notes,
        )  # fmt: skip
    except ValueError as e:
        raise ConfigError(str(e).replace("prime index", "--prime-index")
                          .replace("prime bars", "--prime-bars")
                          .replace("min_notes", "--min-notes")
                          .replace("max_notes", "--max-notes")) from None  # fmt: skip
    step = run.task.data.step
    source = "silence" if primed == 0 else f"{prime} piece {args.prime_index or 0}"
    title = (
        f"{len(roll) - primed} frames sampled after {primed} from {source}, T={args.temperature:g}"
    )
    written = write_piece(roll, paths["midi"], step=step, tempo=tempo, prime_frames=primed,
                          title=title)  # fmt: skip
    new = roll[primed:]
    print(f"{len(new)} frames ({len(new) * step:g} quarter notes) after a {primed}-frame primer, "
          f"{new.sum(1).mean():.2f} notes a frame", file=sys.stderr)  # fmt: skip
    for kind, path in written.items():
        print(f"{kind}\t{path}")
    return 0
