"""``seqlab train`` and ``seqlab demo``: a config to a run directory."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import ConfigError
from ..run import CONFIG_FILE, load_run_config, train_run
from ..train.distributed import cleanup_distributed, init_distributed, is_main_process

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
    p.add_argument(
        "--nproc", type=int, default=1,
        help="processes on this machine: data parallel on torchrun (nccl when each has "
             "a GPU of its own, else gloo on the CPU)",
    )  # fmt: skip
    p.add_argument("--nnodes", type=int, default=1, help="machines (passed to torchrun)")
    p.add_argument("--node-rank", type=int, default=0, help="this machine's rank (torchrun)")
    p.add_argument("--master-addr", default="127.0.0.1", help="rank 0's address (torchrun)")
    p.add_argument("--master-port", type=int, default=29500, help="rank 0's port (torchrun)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # set by --nproc
    p.set_defaults(run=run_train)

    d = commands.add_parser(
        "demo",
        help="the first run: a character LSTM learns Shakespeare (--adding: the quick one)",
        add_help=False,
    )
    d.add_argument("options", nargs=argparse.REMAINDER, help="seqlab demo --help shows them")
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
    if not args.worker:  # the launcher checks once, before any rank writes
        check_out(out, args.resume)
        if args.nproc > 1 or args.nnodes > 1:
            return launch_ranks(args, out)
        existed = out.exists()
    else:
        init_distributed()
        existed = True  # the launcher owns the directory's fate
    try:
        run = train_run(config, out, resume=args.resume)
        main = is_main_process()
    except BaseException:
        # a run that failed before its first checkpoint leaves nothing behind
        if not existed and not (out / "last").is_dir() and not (out / "last.old").is_dir():
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if args.worker:
            cleanup_distributed()
    if main:
        print_metrics(run.history[-1] if run.history else {}, out)
    return 0


def check_out(out: Path, resume: bool) -> None:
    has_run = (out / "last").is_dir() or (out / "last.old").is_dir()
    if resume and not has_run:
        raise ConfigError(f"{out}: --resume needs a run directory with a last/ checkpoint")
    if not resume and (has_run or (out / CONFIG_FILE).exists()):
        raise ConfigError(
            f"{out}: a run directory is already there; continue it with --resume or choose "
            "another --out"
        )


def launch_ranks(args: argparse.Namespace, out: Path) -> int:
    """Run this command again as ``nproc`` processes per node on torchrun (PyTorch's own
    launcher), each a rank of one data-parallel run."""
    if args.nproc < 1 or args.nnodes < 1:
        raise ConfigError(f"--nproc and --nnodes must be >= 1, got {args.nproc}, {args.nnodes}")
    where = (
        ["--standalone"]
        if args.nnodes == 1
        else [f"--nnodes={args.nnodes}", f"--node-rank={args.node_rank}",
              f"--master-addr={args.master_addr}", f"--master-port={args.master_port}"]
    )  # fmt: skip
    again = ["train", args.config, "--out", str(out), "--worker"]
    again += [a for o in args.overrides for a in ("--set", o)]
    for flag, value in (("--device", args.device), ("--seed", args.seed)):
        if value is not None:
            again += [flag, str(value)]
    again += ["--resume"] * args.resume + ["--quiet"] * args.quiet
    cmd = [sys.executable, "-m", "torch.distributed.run", *where,
           f"--nproc-per-node={args.nproc}", "-m", "seqlab", *again]  # fmt: skip
    existed = out.exists()
    code = subprocess.run(cmd).returncode
    if code != 0 and not existed and not (out / "last").is_dir():
        shutil.rmtree(out, ignore_errors=True)
    return 0 if code == 0 else 2 if code == 2 else 1


def print_metrics(logs: dict, out: Path) -> None:
    width = max((len(k) for k in logs), default=0)
    print(f"run directory: {out}")
    for key, value in logs.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")
    sys.stdout.flush()


def run_demo(args: argparse.Namespace) -> int:
    from .. import demo

    demo.main([a for a in args.options if a != "--"])
    return 0
