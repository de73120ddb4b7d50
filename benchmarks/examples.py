"""Every example config, trained in full as it is written: its test result and its time.

    python benchmarks/examples.py [NAME ...]

Each ``examples/NAME.yaml`` runs through :func:`seqlab.train_run` (what ``seqlab train``
does) into a temporary run directory; the row holds the test split's metrics from its
``summary.json`` (the best epoch's model), the epochs run, and the wall time with the
machine's load average beside it (on a shared machine the time is an upper bound). The
README's examples table quotes ``benchmarks/results/examples.json``; names given on the
command line rerun only those and keep the other rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from seqlab import load_run_config, train_run
from seqlab.run import git_commit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "examples.json"


def run_example(path: Path) -> dict:
    config = load_run_config(path, ["train.progress=false"])
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run = train_run(config, Path(tmp) / "run")
        seconds = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    metrics = summary.get("metrics", {})
    return {
        "example": path.stem,
        "task": config.task,
        "test": metrics.get("test") or metrics.get("val"),
        "split": "test" if metrics.get("test") else "val",
        "epochs": len(run.history),
        "parameters": summary.get("parameters"),
        "seconds": round(seconds, 1),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="examples to run (default: all)")
    args = p.parse_args(argv)
    os.chdir(ROOT)  # the examples name their data files from the project root
    paths = sorted((ROOT / "examples").glob("*.yaml"))
    if args.names:
        unknown = sorted(set(args.names) - {q.stem for q in paths})
        if unknown:
            raise SystemExit(f"no example {unknown}")
        paths = [q for q in paths if q.stem in args.names]
    result = json.loads(OUT.read_text()) if OUT.is_file() else {"rows": {}}
    for path in paths:
        row = run_example(path)
        row.update(
            commit=git_commit(short=True),
            torch=torch.__version__,
            python=platform.python_version(),
            threads=torch.get_num_threads(),
        )
        result["rows"][path.stem] = row
        shown = {k: round(v, 4) for k, v in (row["test"] or {}).items()}
        print(f"{path.stem}: {row['split']} {shown}, {row['epochs']} epochs, "
              f"{row['seconds']} s (load {row['load_before'][0]})", flush=True)  # fmt: skip
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
