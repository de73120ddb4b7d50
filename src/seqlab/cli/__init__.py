"""The ``seqlab`` command line (also ``python -m seqlab``).

::

    seqlab train CONFIG.yaml [--set key.sub=value ...] [--out RUN_DIR] [--resume]
    seqlab evaluate RUN_DIR [--split val|test] [--data NAME_OR_PATH] [--json]
    seqlab predict RUN_DIR [INPUT|-] [--format text|jsonl|csv] [--batch-size N] [--beam N]
    seqlab generate RUN_DIR [--prompt TEXT] [--length N] [--temperature T] ...
    seqlab forecast RUN_DIR [--input CSV] [--horizon H] [--plot PNG]
    seqlab datasets
    seqlab config TASK
    seqlab demo
    seqlab inspect gradients CONFIG_OR_RUN_DIR [--compare rnn,lstm,gru,tcn] [--length T]
    seqlab inspect receptive-field RUN_DIR_OR_CONFIG [--length T]
    seqlab report RUN_DIR [--out FILE]

Bad input (a config key, a file, a run directory, a value) is one line on stderr that
names it and says what was expected, and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Sequence

from ..config import ConfigError
from ..data.errors import DataError
from ..train.checkpoint import CheckpointError
from . import info, inspect, report, train, use

__all__ = ["UsageError", "main"]

USER_ERRORS = (ConfigError, DataError, CheckpointError, ValueError, FileNotFoundError)


def _warning_line(command: str):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"seqlab {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show


class UsageError(Exception):
    """A command-line argument that cannot work; the message says why."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="seqlab",
        description="Learning from sequences: RNN, LSTM, GRU, TCN and WaveNet models.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seqlab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, use, info, inspect, report):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:  # the demo has its own options (seqlab demo --help)
        argv = ["demo", "--", *argv[1:]]
    args = parser.parse_args(argv)
    shown = warnings.showwarning
    if not args.debug:  # a warning is one line naming the command, not a source location
        warnings.showwarning = _warning_line(args.command)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("seqlab: interrupted", file=sys.stderr)
        return 130
    except (*USER_ERRORS, UsageError) as e:
        if args.debug:
            traceback.print_exc()
        message = str(e) if not isinstance(e, FileNotFoundError) else f"{e.filename}: not found"
        print(f"seqlab {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `seqlab predict ... | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    finally:  # main() called from Python leaves the caller's warnings as they were
        warnings.showwarning = shown
