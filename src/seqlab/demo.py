"""The first run: a character-level LSTM learns Shakespeare, then writes some.

``seqlab demo`` (``make demo`` sets everything up first) trains an LSTM of 512 units on
the first 2.9 million characters of Shakespeare's works with truncated BPTT: 32 parallel
streams cut into chunks of 128 characters, the state carried from chunk to chunk
(Williams & Peng's BPTT(k), the layout of pytorch/examples' word language model) and
started again from zero every 4 chunks (the language_model task's
``tbptt.reset_every``), so that the model also learns to begin from nothing, as it does
from a prompt. It reads the text once: one pass over three times the text beats three
passes over a third of it in the same time. On fresh 64-character windows
(``benchmarks/demo.py``) it scores 1.59 nats per character; without the resets 1.67, and
the three passes 1.77. The progress bar shows the training loss falling; the end prints
the validation loss in bits per character (a uniform guess over the ~80 characters costs
about 6.3; the held-out text is the 2% after the training part), and the run directory
gets checkpoints, the curves as pictures and a summary. Then the model writes a scene,
one character at a time, from the prompt of a speaker's name. On two CPU cores this
takes about three and a half minutes.

``seqlab demo --adding`` is the quick one: a small LSTM learns the adding problem
(Hochreiter & Schmidhuber 1997; Bai et al. 2018) in seconds: each step is a number in
[0, 1) and a marker; the target is the sum of the two marked numbers. Always predicting
the mean sum 1.0 gives MSE ≈ 0.167 (the variance of a sum of two U(0, 1)), so a loss
well below that means the network remembers across time.

Both are the library as a user drives it: a run config (task, data, model, train),
:func:`seqlab.train_run`, and the trained :class:`seqlab.Run`.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

import torch

from seqlab import run_config, train_run
from seqlab.data import adding_problem
from seqlab.train import Callback

BATCH = 64
EPOCHS = 6
# the Shakespeare demo's length and size (benchmarks/demo.py measures them)
DEFAULT_STEPS, DEFAULT_EPOCHS, DEFAULT_HIDDEN = 702, 1, 512


def shakespeare_config(steps_per_epoch: int, epochs: int, hidden: int, progress: bool) -> dict:
    """The demo's run config: ``steps_per_epoch`` chunks of 32 x 128 characters."""
    streams, bptt = 32, 128
    train_chars = steps_per_epoch * streams * bptt
    limit = math.ceil(train_chars / 0.96)  # 2% val and 2% test held out at the end
    return {
        "task": "language_model",
        "data": {
            "dataset": "shakespeare",
            "tokenizer": "char",
            "bptt": bptt,
            "batch_size": streams,
            "limit": limit,
            "val_fraction": 0.02,
            "test_fraction": 0.02,
        },
        "model": {
            "inputs": {"embedding_dim": 64},
            "encoder": {"kind": "lstm", "hidden_size": hidden},
        },
        "train": {
            "epochs": epochs,
            "metrics": ["bits_per_char"],
            "optimizer": {"name": "adam", "lr": 3e-3},
            "clip": {"norm": 1.0},
            "progress": progress,
            "tensorboard": False,
        },
    }


def shakespeare(args: argparse.Namespace) -> float:
    out = Path(args.out)
    if out.exists():
        if not (out / "config.yaml").exists():
            raise SystemExit(f"seqlab demo: {out} exists and is not a run directory; --out")
        shutil.rmtree(out)  # the demo's own run directory from an earlier demo
    config = run_config(shakespeare_config(args.steps, args.epochs, args.hidden, not args.quiet))
    print(
        f"training a character LSTM ({args.hidden} units) on Shakespeare, truncated BPTT: "
        f"{args.steps} chunks of 32 x 128 characters, {args.epochs} time(s) over\n",
        flush=True,
    )
    start = time.perf_counter()
    run = train_run(config, out)
    val = run.history[-1]["val_bits_per_char"]
    print(
        f"\nvalidation: {val:.3f} bits per character ({val * math.log(2):.3f} nats) after "
        f"{time.perf_counter() - start:.0f} s; run directory: {out}\n",
        flush=True,
    )
    print("--- the model writes (temperature 0.8) ---")
    sys.stdout.write(args.prompt)
    run.task.generate(
        run.model, args.prompt, args.sample, temperature=0.8, seed=args.seed,
        on_text=lambda t: (sys.stdout.write(t), sys.stdout.flush()),
    )  # fmt: skip
    print("\n---\n")
    print("try next:")
    print(f"  seqlab generate {out} --prompt 'HAMLET.\\n' --length 400 --temperature 0.7")
    print(f"  seqlab evaluate {out} --split test")
    print("  seqlab train examples/dates_attention.yaml    # and the other examples/*.yaml")
    print("  seqlab config forecasting > my.yaml           # a starter config for your data")
    return val


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


def adding(args: argparse.Namespace) -> float:
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seqlab demo",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--adding", action="store_true", help="the quick demo: the adding problem")
    p.add_argument("--steps", type=int, help="chunks per epoch (adding: steps in all)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="Shakespeare: passes")
    p.add_argument("--hidden", type=int, help="hidden units (default: 512; adding: 32)")
    p.add_argument("--length", type=int, default=50, help="adding: sequence length")
    p.add_argument("--sample", type=int, default=600, help="Shakespeare: characters written")
    p.add_argument(
        "--prompt", default="\n\nROMEO.\n", help="Shakespeare: what the sample continues"
    )
    p.add_argument("--out", default="runs/demo", help="Shakespeare: the run directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> float:
    p = parser()
    args = p.parse_args(argv)
    for name in ("steps", "hidden"):  # 0 is an error, not "the default"
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name} must be a positive int, got {value}")
    if args.adding:
        args.steps, args.hidden = args.steps or 600, args.hidden or 32
        return adding(args)
    args.steps, args.hidden = args.steps or DEFAULT_STEPS, args.hidden or DEFAULT_HIDDEN
    return shakespeare(args)


if __name__ == "__main__":
    main()
