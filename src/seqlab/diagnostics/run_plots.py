"""The pictures of a run, written by ``train_run`` into ``RUN_DIR/plots/``.

Always (from the history and ``steps.csv``):

* ``loss.png`` and one ``<metric>.png`` per validation metric, by epoch (:mod:`.plots`);
* ``lr.png``: the learning rate at every optimizer step;
* ``grad_norm.png``: the global gradient norm *before* clipping at every step, on a log
  scale, with the clipping bound drawn: the exploding-gradient picture of the run itself
  (Pascanu et al. 2013, Section 3.2).

Per task, from the finished model on the validation split (the test split where there is
no validation split):

* classification: ``confusion.png``, true by predicted label (counts); a regression (float
  labels, e.g. the adding problem): ``regression.png``, predicted against true values;
* seq2seq: ``attention.png``, the decoder's attention, output by source token, for the
  first three pairs (what :meth:`seqlab.models.Seq2Seq.predict` returns as ``attention``);
* forecasting: ``forecast.png``, the last window's history, the truth after it and the
  forecast with its quantile band (lowest to highest level), in the data's units.
* music: ``piece.png``, a piano roll of 32 frames sampled after the opening bars of the
  first held-out chorale (seed 0).

Language models get samples instead: :class:`~seqlab.diagnostics.samples.SampleLog`
writes a few generated texts per epoch to ``RUN_DIR/samples.txt``.

Each plot has a title, labelled axes with units, and a legend where it has more than one
line; Agg backend, PNG, written by a temporary file and a rename.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .plots import plot_training, pyplot, save_figure

__all__ = [
    "plot_attention",
    "plot_confusion",
    "plot_forecast",
    "plot_regression",
    "plot_run",
    "plot_steps",
    "read_steps",
]

ATTENTION_PAIRS = 3


def read_steps(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``steps.csv`` as columns of floats (missing or non-numeric cells are NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}

    def number(v: str | None) -> float:
        try:
            return float(v)
        except (TypeError, ValueError):
            return math.nan

    return {k: np.array([number(r.get(k)) for r in rows]) for k in rows[0]}


def plot_steps(
    steps: Mapping[str, np.ndarray], directory: str | os.PathLike, clip_norm: float | None = None
) -> list[Path]:
    """``lr.png`` and ``grad_norm.png`` from the per-step columns of ``steps.csv``."""
    plt = pyplot()
    directory = Path(directory)
    if "step" not in steps or not len(steps["step"]):
        return []
    from matplotlib.ticker import MaxNLocator

    step = steps["step"]
    marker = "." if len(step) < 50 else None  # a short run: show each step
    written = []
    if "lr" in steps:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.plot(step, steps["lr"], color="tab:green", marker=marker)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate (per step)")
        ax.set_title("learning rate schedule")
        ax.grid(alpha=0.3)
        written.append(save_figure(fig, directory / "lr.png"))
    if "grad_norm" in steps:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        g = steps["grad_norm"]
        ax.plot(
            step, np.where(g > 0, g, np.nan), label="pre-clip gradient norm", lw=1, marker=marker
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if clip_norm is not None:
            ax.axhline(clip_norm, color="tab:red", ls="--", label=f"clip.norm = {clip_norm:g}")
        if np.nanmax(np.where(g > 0, g, np.nan), initial=0) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("global L2 norm of the gradient")
        ax.set_title("gradient norm before clipping, per step")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        written.append(save_figure(fig, directory / "grad_norm.png"))
    return written


def plot_confusion(
    true: Sequence[int], predicted: Sequence[int], labels: Sequence[str], path
) -> Path:
    """Counts of (true, predicted) label pairs; cells annotated when there are few classes."""
    plt = pyplot()
    K = len(labels)
    counts = np.zeros((K, K), dtype=np.int64)
    for t, p in zip(true, predicted, strict=True):
        counts[int(t), int(p)] += 1
    size = min(4 + 0.35 * K, 14)
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=100)
    im = ax.imshow(counts, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="sequences (count)")
    if K <= 30:
        ax.set_xticks(range(K), [str(x) for x in labels], rotation=90 if K > 8 else 0)
        ax.set_yticks(range(K), [str(x) for x in labels])
    if K <= 12:
        top = counts.max() or 1
        for i in range(K):
            for j in range(K):
                color = "white" if counts[i, j] > top / 2 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"confusion matrix ({counts.sum()} sequences, accuracy {accuracy:.3f})")
    return save_figure(fig, path)


def plot_regression(true: np.ndarray, predicted: np.ndarray, path) -> Path:
    """Predicted against true values, with the line of perfect predictions."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    ax.scatter(true, predicted, s=8, alpha=0.6, label="sequences")
    lo, hi = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="tab:red", ls="--", label="predicted = true")
    mse = float(np.mean((predicted - true) ** 2))
    ax.set_xlabel("true value (target units)")
    ax.set_ylabel("predicted value (target units)")
    ax.set_title(f"predicted vs true ({len(true)} sequences, MSE {mse:.4g})")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_attention(pairs: Sequence[tuple[list[str], list[str], np.ndarray]], path) -> Path:
    """``pairs`` of (source tokens, output tokens, weights (output, source)): one panel each."""
    plt = pyplot()
    n = len(pairs)
    fig, axes = plt.subplots(
        1, n, figsize=(4.5 * n + 1, 4.8), dpi=100, squeeze=False, layout="constrained"
    )
    for k, (ax, (src, out, w)) in enumerate(zip(axes[0], pairs, strict=True)):
        src, out = [_shown(t) for t in src], [_shown(t) for t in out]
        im = ax.imshow(w, cmap="viridis", vmin=0.0, aspect="auto", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="attention weight (sums to 1 per row)")
        small = 7 if max(len(src), len(out)) > 20 else 9
        ax.set_xticks(range(len(src)), src, rotation=90, fontsize=small)
        ax.set_yticks(range(len(out)), out, fontsize=small)
        ax.set_xlabel("source token")
        ax.set_ylabel("output token")
        ax.set_title(f"validation pair {k + 1}", fontsize=10)
    fig.suptitle("decoder attention over the source (greedy decoding)")
    return save_figure(fig, path)


def _shown(token: str) -> str:
    """A token as a tick label: blanks made visible."""
    return {" ": "␣", "\n": "\\n", "\t": "\\t", "": "∅"}.get(token, token)


def widest_band(by_level: dict[float, np.ndarray]) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(low, high, label) of a forecast's lowest and highest quantile levels, the band
    :func:`plot_forecast` shades; ``None`` with fewer than two levels."""
    if len(by_level) < 2:
        return None
    lo, hi = min(by_level), max(by_level)
    return by_level[lo], by_level[hi], f"{lo:g}-{hi:g} quantile band"


def plot_forecast(
    history: np.ndarray,
    truth: np.ndarray | None,
    forecast: np.ndarray,
    band: tuple[np.ndarray, np.ndarray, str] | None,
    path,
    name: str = "value",
    title: str | None = None,
) -> Path:
    """One series: ``history`` (W,), ``truth`` (``None``: the future is unknown) and
    ``forecast`` (H,), ``band`` (low, high, its label) around the forecast."""
    plt = pyplot()
    W, H = len(history), len(forecast)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    past, ahead = np.arange(-W + 1, 1), np.arange(1, H + 1)
    ax.plot(past, history, color="black", lw=1, label="history")
    if truth is not None:
        ax.plot(ahead, truth, color="black", ls="--", marker=".", label="truth")
    ax.plot(ahead, forecast, color="tab:blue", marker=".", label="forecast")
    if band is not None:
        low, high, label = band
        ax.fill_between(ahead, low, high, color="tab:blue", alpha=0.25, label=label)
    ax.axvline(0.5, color="grey", lw=0.8)
    ax.set_xlabel("steps relative to the forecast origin (time steps)")
    ax.set_ylabel(f"{name} (data units)")
    if title is None:
        title = "forecast against truth, last validation window"
    ax.set_title(f"{title} ({H} steps ahead)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


# --- per task -----------------------------------------------------------------------------


def _split(task) -> str | None:
    for name in ("val", "test"):
        if task.splits is not None and task.splits.get(name):
            return name
    return None


def _confusion(task, model, directory: Path) -> list[Path]:
    labels = getattr(task, "labels", None)
    split = _split(task)
    if split is None:  # nothing held out
        return []
    true, predicted = [], []
    device = next(model.parameters()).device
    for batch in task.loader(split):
        out = model.predict(batch.to(device))
        if labels is None:  # a regressor: its first output against the first target
            t = batch.targets.double()
            true.append((t if t.dim() == 1 else t[:, 0]).numpy())
            predicted.append(out["value"][:, 0].double().cpu().numpy())
        else:
            true += batch.targets.tolist()
            predicted += out["label"].tolist()
    if labels is None:
        path = directory / "regression.png"
        return [plot_regression(np.concatenate(true), np.concatenate(predicted), path)]
    return [plot_confusion(true, predicted, labels, directory / "confusion.png")]


def _attention(task, model, directory: Path) -> list[Path]:
    split = _split(task)
    if split is None:
        return []
    batch = next(iter(task.loader(split)), None)
    if batch is None:
        return []
    n = min(ATTENTION_PAIRS, batch.size)
    device = next(model.parameters()).device
    small = type(batch)(
        inputs=batch.inputs[:n], lengths=None if batch.lengths is None else batch.lengths[:n]
    )
    out = model.predict(small.to(device))
    pairs = []
    for i in range(n):
        S = int(small.lengths[i]) if small.lengths is not None else small.inputs.size(1)
        L = int(out["lengths"][i])
        src = [task.source.vocab.token(int(t)) for t in small.inputs[i, :S]]
        tgt = [task.target.vocab.token(int(t)) for t in out["tokens"][i, :L]]
        pairs.append((src, tgt, out["attention"][i, :L, :S].float().cpu().numpy()))
    return [plot_attention(pairs, directory / "attention.png")]


def _forecast(task, model, directory: Path) -> list[Path]:
    split = _split(task)
    if split is None:
        return []
    last = None
    for batch in task.loader(split):
        last = batch
    if last is None:
        return []
    device = next(model.parameters()).device
    one = type(last)(inputs=last.inputs[-1:], targets=last.targets[-1:])
    known = None if last.features is None else last.features[-1:]  # known-future inputs
    out = model.predict(type(one)(inputs=one.inputs, features=known).to(device))
    targets = list(task.targets)
    units = lambda x: task.from_model(np.asarray(x, dtype=np.float64))  # noqa: E731
    history = units(one.inputs[0][:, targets].double().numpy())[:, 0]  # (W,)
    truth_t = one.targets[0]
    truth = units((truth_t if truth_t.dim() == 2 else truth_t[:, None]).double().numpy())[:, 0]
    forecast = units(out["forecast"][0].double().cpu().numpy())[:, 0]
    band = None
    if "quantiles" in out:
        q = out["quantiles"][0].double().cpu().numpy()  # (H, O, Q), rising with the level
        levels = out["levels"].tolist()
        band = widest_band({lv: units(q[..., i])[:, 0] for i, lv in enumerate(levels)})
    name = task.names[0] if getattr(task, "names", None) else "value"
    return [plot_forecast(history, truth, forecast, band, directory / "forecast.png", name)]


def _piece(task, model, directory: Path) -> list[Path]:
    """A piano roll of a generated piece: 32 frames sampled (seed 0) after the opening
    bars of the first held-out chorale, or from silence when none is held out."""
    from .piano_roll import plot_piano_roll

    prime = next((s for s in ("test", "val") if task.splits and task.splits.get(s)), "silence")
    roll, primed = task.generate(model, 32, prime=prime, temperature=1.0, seed=0)
    source = "silence" if primed == 0 else f"the opening of {prime} piece 0"
    title = f"32 frames sampled after {source} (temperature 1, seed 0)"
    return [plot_piano_roll(roll, directory / "piece.png", step=task.data.step,
                            prime_frames=primed, title=title)]  # fmt: skip


TASK_PLOTS = {
    "classification": _confusion,
    "seq2seq": _attention,
    "forecasting": _forecast,
    "music": _piece,
}


def plot_run(
    directory: str | os.PathLike,
    history: Sequence[Mapping[str, Any]],
    task=None,
    model: torch.nn.Module | None = None,
    clip_norm: float | None = None,
) -> list[Path]:
    """Every picture of a finished run (see the module doc) into ``directory/plots``."""
    directory = Path(directory)
    plots = directory / "plots"
    written = plot_training(history, plots)
    steps = directory / "steps.csv"
    if steps.is_file():
        written += plot_steps(read_steps(steps), plots, clip_norm)
    draw = TASK_PLOTS.get(getattr(task, "name", None))
    if draw is not None and model is not None:
        written += draw(task, model, plots)
    return written
