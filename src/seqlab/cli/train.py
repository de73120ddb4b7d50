"""``seqlab train`` and ``seqlab demo``: a config to a run directory."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ..config import ConfigError
from ..run import CONFIG_FILE, load_run_config, train_run

__all__ = ["add_commands"]


def add_commands(commands) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = commands.add_parser(
        "train", help="train a model from a YAML run config", formatter_class=fmt
    )
    p.add_argument("config", help="the run config (task, data, model, train)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.encoder.hidden_size=128 (repeatable)",
    )  # fmt: skip
    p.add_argument("--out", help="the run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the config's)")
    p.add_argument("--seed", type=int, help="the run's seed (default: the config's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_train)

    d = commands.add_parser(
        "demo", help="a first run: a small LSTM learns the adding problem", formatter_class=fmt
    )
    d.add_argument("--steps", type=int, default=600, help="optimizer steps in all")
    d.set_defaults(run=run_demo)


def run_train(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.device is not None:
        overrides.append(f"train.device={args.device}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.quiet:
        overrides.append("train.progress=false")
    config = load_run_config(args.config, overrides)  # the whole config, before any data
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    has_run = (out / "last").is_dir() or (out / "last.old").is_dir()
    if args.resume and not has_run:
        raise ConfigError(f"{out}: --resume needs a run directory with a last/ checkpoint")
    if not args.resume and (has_run or (out / CONFIG_FILE).exists()):
        raise ConfigError(
            f"{out}: a run directory is already there; continue it with --resume or choose "
            "another --out"
        )
    existed = out.exists()
    try:
        run = train_run(config, out, resume=args.resume)
    except BaseException:
        # a run that failed before its first checkpoint leaves nothing behind
        if not existed and not (out / "last").is_dir() and not (out / "last.old").is_dir():
            shutil.rmtree(out, ignore_errors=True)
        raise
    print_metrics(run.history[-1] if run.history else {}, out)
    return 0


def print_metrics(logs: dict, out: Path) -> None:
    width = max((len(k) for k in logs), default=0)
    print(f"run directory: {out}")
    for key, value in logs.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")
    sys.stdout.flush()


def run_demo(args: argparse.Namespace) -> int:
    from .. import demo

    demo.main(["--steps", str(args.steps)])
    return 0
