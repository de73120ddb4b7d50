"""Does the condition matter? The conditioned example trained as written, then scored.

    python benchmarks/conditioned.py [RUN_DIR] [--set model.condition=concat ...] [--out JSON]

Trains ``examples/reviews_conditioned_lstm.yaml`` (Rotten Tomatoes reviews, the LSTM's
initial state set from the sentiment) and scores the test reviews twice: bits per
character with each review's own label, and with the other label. If the model reads its
condition, the own label costs fewer bits, and choosing, per review, the label under
which it is more likely is a sentiment classifier (Bayes' rule with equal priors); its
accuracy is the third number (the majority class is 58%). Writes
``benchmarks/results/conditioned.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab import load_run, load_run_config, train_run
from seqlab.data.batch import IGNORE_INDEX, Batch
from seqlab.run import git_commit

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "reviews_conditioned_lstm.yaml"
OUT = ROOT / "benchmarks" / "results" / "conditioned.json"


def nll_per_review(model, batch: Batch, features: torch.Tensor) -> torch.Tensor:
    """(B,) summed next-token NLL of each review (and its <eos>) under ``features``."""
    logits = model(Batch(batch.inputs, lengths=batch.lengths, features=features)).prediction
    nll = F.cross_entropy(
        logits.transpose(1, 2), batch.targets, ignore_index=IGNORE_INDEX, reduction="none"
    )  # (B, T)
    return nll.sum(1)


def score(run_dir: Path) -> dict:
    run = load_run(run_dir)
    task, model = run.task, run.model
    task.read()
    own = other = 0.0
    tokens = right = reviews = 0
    with torch.no_grad():
        for batch in task.loader("test"):
            a = nll_per_review(model, batch, batch.features)
            b = nll_per_review(model, batch, batch.features.flip(-1))  # the other label
            own, other = own + float(a.sum()), other + float(b.sum())
            tokens += int((batch.targets != IGNORE_INDEX).sum())
            right += int((a < b).sum())
            reviews += batch.size
    bits = tokens * math.log(2)
    return {
        "test_bits_per_char_own_label": round(own / bits, 4),
        "test_bits_per_char_other_label": round(other / bits, 4),
        "label_by_likelihood_accuracy": round(right / reviews, 4),
        "test_reviews": reviews,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", help="keep the run here (default: a temporary one)")
    parser.add_argument("--set", action="append", default=[], help="a config override")
    parser.add_argument("--out", default=str(OUT), help="where the JSON result goes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(args.run_dir) if args.run_dir else Path(tmp) / "run"
        load = os.getloadavg()
        start = time.perf_counter()
        train_run(load_run_config(CONFIG, ["train.progress=false", *args.set]), run_dir)
        seconds = time.perf_counter() - start
        summary = json.loads((run_dir / "summary.json").read_text())
        result = {
            "config": CONFIG.name,
            "overrides": args.set,
            "train_seconds": round(seconds, 1),
            "epochs": summary["epochs"],
            "test": summary["metrics"].get("test"),
            **score(run_dir),
            "threads": torch.get_num_threads(),
            "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "git_commit": git_commit(short=True),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
