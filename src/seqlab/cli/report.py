"""``seqlab report RUN_DIR [--out FILE]``: the run as one self-contained HTML page
(:func:`seqlab.diagnostics.report.write_report`)."""

from __future__ import annotations

import argparse

from ..diagnostics.report import write_report

__all__ = ["add_commands"]


def add_commands(commands) -> None:
    p = commands.add_parser(
        "report",
        help="one HTML page of a run: plots, metrics, config, samples",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", help="a run directory written by seqlab train")
    p.add_argument("--out", help="the HTML file (default: RUN_DIR/report.html)")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    path = write_report(args.run_dir, args.out)
    print(f"wrote {path}")
    return 0
