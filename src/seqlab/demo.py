"""A first look: a small LSTM learns the adding problem and its loss falls.

The adding problem (Hochreiter & Schmidhuber 1997; Bai et al. 2018): each input step
is (a random number in [0, 1), a marker); exactly two markers are 1, and the target is
the sum of the two marked numbers. Always predicting the mean sum 1.0 gives MSE ≈ 0.167
(the variance of a sum of two U(0, 1)), so a loss well below that means the network
remembers across time.

The demo is the library as a user drives it: a run config (task, data, model, train),
:func:`seqlab.train_run` (the registered ``adding_problem`` dataset, a many-to-one
regressor on an LSTM encoder, the trainer with gradient clipping), and the trained
:class:`seqlab.Run` predicting new sequences.

Run: ``python -m seqlab.demo`` (``make demo`` sets everything up first).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from seqlab import run_config, train_run
from seqlab.data import adding_problem
from seqlab.train import Callback

BATCH = 64
EPOCHS = 6


class PrintEpochs(Callback):
    """One line per epoch: the validation MSE, and the time so far."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        print(
            f"epoch {epoch + 1}/{trainer.config.epochs}  train MSE {logs['train_loss']:.4f}  "
            f"val MSE {logs['val_loss']:.4f}  ({time.perf_counter() - self.start:.1f}s)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps in all")
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train_examples = math.ceil(args.steps / EPOCHS) * BATCH
    config = run_config(
        {
            "task": "classification",  # many-to-one; float targets make it a regressor
            "data": {
                "dataset": "adding_problem",
                "options": {
                    "n": round(train_examples / 0.8),
                    "length": args.length,
                    "seed": args.seed,
                },
                "val_fraction": 0.1,
                "test_fraction": 0.1,
                "batch_size": BATCH,
            },
            "model": {"encoder": {"kind": "lstm", "hidden_size": args.hidden}},
            "train": {
                "epochs": EPOCHS,
                "optimizer": {"lr": 1e-2},
                "clip": {"norm": 1.0},
                "seed": args.seed,
                "progress": False,
            },
        }
    )
    unseen = adding_problem(1000, args.length, seed=args.seed + 1)
    x, y = unseen.sequences, unseen.labels
    baseline = float(((torch.as_tensor(y) - 1.0) ** 2).mean())
    print(f"adding problem, T={args.length}: baseline MSE (always predict 1.0) = {baseline:.4f}")
    run = train_run(config, callbacks=[PrintEpochs()])
    val = run.history[-1]["val_loss"]
    rows = list(run.predict([x[0], x[1]]))
    for i, row in enumerate(rows):
        print(f"sequence {i + 1}: predicted sum {row['value'][0]:.3f}, true {float(y[i]):.3f}")
    return val


if __name__ == "__main__":
    main()
