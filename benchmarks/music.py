"""Polyphonic music: test per-frame NLL of LSTM, GRU, RNN and TCN on the Bach chorales,
beside the two baselines and the TCN paper's JSB Chorales figures.

Run: ``.venv/bin/python benchmarks/music.py`` (prints a table, writes
results/music.json). ``--models lstm tcn``, ``--epochs N``, ``--seed S``. The LSTM row
is ``examples/chorales_lstm.yaml``'s model and trainer; every model trains up to 50
epochs with early stopping (patience 8) on ``val_loss`` and is scored at its best epoch.

**This is not the JSB Chorales benchmark split.** Bai et al. (2018, Table 1) and
Boulanger-Lewandowski et al. (2012) use the 382 chorales of the JSB set with Allan &
Williams' (2005) fixed 229 / 76 / 77 train / valid / test split. music21's corpus has 371
chorales (a different edition, not the same pieces one for one), and here they are split
at random with a seed: 80 % / 10 % / 10 % (297 / 37 / 37 pieces). Rolls are sampled every
quarter note (``step: 1.0``, the JSB resolution), 88 keys, the first frame of a piece given
and every later one predicted. So the paper's figures stand beside ours as a reference of
scale, not as the same experiment.

Metric: per-frame NLL in nats, summed over keys and averaged over all test frames pooled
(:mod:`seqlab.train.metrics.music`), the model at its best validation epoch. Floors:
the key-frequency model (add-one smoothing) and "repeat the last frame" with the flip rate
eps fitted on the training pieces (both in :mod:`seqlab.music.baselines`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from seqlab import run_config, train_run

PAPER_JSB = {"lstm": 8.45, "gru": 8.43, "rnn": 8.91, "tcn": 8.10}  # Bai et al. 2018, Table 1
DATA = {"dataset": "bach_chorales", "step": 1.0, "batch_size": 8, "seed": 0,
        "val_fraction": 0.1, "test_fraction": 0.1}  # fmt: skip
# encoder and trainer per model: sizes in the range of the paper's (TCN: 4 levels of 150
# channels, kernel 5, dropout 0.25, Adam 1e-3, as locuslab/TCN's music_test.py)
MODELS = {
    "lstm": {"encoder": {"kind": "lstm", "hidden_size": 200}, "dropout": 0.5},
    "gru": {"encoder": {"kind": "gru", "hidden_size": 200}, "dropout": 0.5},
    "rnn": {"encoder": {"kind": "rnn", "hidden_size": 200}, "dropout": 0.5},
    "tcn": {"encoder": {"kind": "tcn", "hidden_size": 150, "num_layers": 4, "kernel_size": 5,
                        "dropout": 0.25}},
}  # fmt: skip
LR = {"lstm": 2e-3, "gru": 2e-3, "rnn": 1e-3, "tcn": 1e-3}


def train_one(name: str, epochs: int, seed: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    config = run_config({
        "task": "music", "data": DATA, "model": MODELS[name],
        "train": {"epochs": epochs, "seed": seed, "progress": False,
                  "metrics": ["frame_nll", "frequency_nll", "repeat_nll", "frame_accuracy"],
                  "optimizer": {"name": "adam", "lr": LR[name]}, "clip": {"norm": 1.0},
                  "early_stopping": {"patience": 8}},
    })  # fmt: skip
    start = time.perf_counter()
    run = train_run(config)  # the best validation epoch's weights come back
    seconds = time.perf_counter() - start
    test = run.evaluate("test")
    best = min(run.history, key=lambda h: h.get("val_loss", float("inf")))
    splits = run.task.splits
    return {
        "test": test,
        "best_epoch": run.history.index(best) + 1,
        "epochs_run": len(run.history),
        "val_frame_nll": best.get("val_frame_nll"),
        "val_curve": [round(h["val_frame_nll"], 4) for h in run.history if "val_frame_nll" in h],
        "train_seconds": round(seconds, 1),
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "pieces": [len(splits.train), len(splits.val), len(splits.test)],
        "frames_test": sum(len(r) - 1 for r in splits.test),
        "repeat_eps": run.task.epsilon,
        "config": config.to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared machine)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "music.json"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = {}
    for name in args.models:
        rows[name] = train_one(name, args.epochs, args.seed, args.threads)
        t = rows[name]["test"]
        print(f"{name:5s} test NLL {t['frame_nll']:.3f}  (paper JSB {PAPER_JSB[name]:.2f})  "
              f"best epoch {rows[name]['best_epoch']}/{rows[name]['epochs_run']}  "
              f"{rows[name]['train_seconds']:.0f} s", flush=True)  # fmt: skip
    first = next(iter(rows.values()))["test"]
    baselines = {"key_frequency": first["frequency_nll"], "repeat_last": first["repeat_nll"]}
    print(f"\n{'model':14s} {'test NLL':>9s} {'paper JSB':>10s} {'vs paper':>9s}")
    for name, row in rows.items():
        nll = row["test"]["frame_nll"]
        print(f"{name:14s} {nll:9.3f} {PAPER_JSB[name]:10.2f} {nll / PAPER_JSB[name] - 1:+9.1%}")
    for name, nll in baselines.items():
        print(f"{name:14s} {nll:9.3f}")
    result = {
        "what": "test per-frame NLL (nats), Bach chorales from music21, seeded random split",
        "split": "371 music21 chorales, random 80/10/10 (seed 0): NOT the 229/76/77 JSB split",
        "time_resolution": "one frame per quarter note (step 1.0), 88 keys",
        "paper_jsb": PAPER_JSB,
        "baselines": baselines,
        "models": rows,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "threads": args.threads,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
