"""Training curves as pictures: the loss, and each metric, per epoch (train and val).

Drawn with matplotlib's Agg backend (no screen needed), written as PNG by a temporary
file and a rename. matplotlib is an extra (``pip install 'seqlab[plots]'``; ``make``
installs it): :func:`plots_available` says whether it is here.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_training", "plots_available", "pyplot", "save_figure"]

PLOTS_INSTALL = "pip install 'seqlab[plots]' (matplotlib)"


def plots_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def pyplot():
    """matplotlib's pyplot on the Agg backend (no screen); ImportError says what to install."""
    if not plots_available():
        raise ImportError(f"plots need matplotlib: {PLOTS_INSTALL}")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` by a temporary file and a rename; close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    for i, logs in enumerate(history):
        v = logs.get(key)
        if isinstance(v, int | float) and math.isfinite(v):
            epochs.append(i + 1)
            values.append(float(v))
    return epochs, values


def plot_training(history: Sequence[Mapping[str, Any]], directory: str | os.PathLike) -> list[Path]:
    """Write ``loss.png`` (train and val loss) and one ``<metric>.png`` per validation
    metric into ``directory``; return the paths."""
    if not plots_available():
        raise ImportError(f"plots need matplotlib: {PLOTS_INSTALL}")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = sorted({k[4:] for logs in history for k in logs if k.startswith("val_")} - {"loss"})
    written = []
    for name in ["loss", *names]:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for prefix, style in (("train_", "-"), ("val_", "--")):
            x, y = _series(history, prefix + name)
            if x:
                ax.plot(x, y, style, marker="o", markersize=3, label=prefix.rstrip("_"))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
        if name in ("loss", "perplexity") and all(
            v > 0 for k in ("train_", "val_") for v in _series(history, k + name)[1]
        ):
            ax.set_yscale("log")
        path = directory / f"{name}.png"
        tmp = directory / f".{name}.png.tmp-{os.getpid()}"
        fig.tight_layout()
        fig.savefig(tmp, format="png")
        plt.close(fig)
        os.replace(tmp, path)
        written.append(path)
    return written
