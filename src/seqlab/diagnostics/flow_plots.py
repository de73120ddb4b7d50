"""Pictures of gradient flow and receptive fields (Agg, PNG), for ``seqlab inspect``.

* :func:`plot_gradient_lines`: ``||dL/dh_t||`` against ``t`` on a log scale, one line per
  model (a recurrent encoder's top layer, forward direction; a convolutional encoder's
  ``||dL/dx_t||`` at its input). Steps whose gradient is exactly zero are not drawn.
* :func:`plot_gradient_heatmap`: ``log10 ||dL/d·_t||`` over (layer, t), one panel per model.
* :func:`plot_receptive_field`: ``||dL/dx_t||`` for the last output against the steps
  back, with the formula's field marked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .gradient_flow import RECURRENT, GradientFlow
from .plots import pyplot, save_figure
from .receptive_field import ReceptiveField

__all__ = ["line_of", "plot_gradient_heatmap", "plot_gradient_lines", "plot_receptive_field"]


def line_of(flow: GradientFlow) -> tuple[np.ndarray, str]:
    """The one line a model contributes to the comparison, and what it is."""
    if flow.kind in RECURRENT:
        forward = [i for i, rev in enumerate(flow.reverse) if not rev]
        i = forward[-1]
        return flow.norms[i], f"||dL/dh_t||, {flow.rows[i]}"
    return flow.input_norms, "||dL/dx_t||, input"


def _positive(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, y, np.nan)  # log scale: exact zeros (beyond a field) left out


def plot_gradient_lines(flows: Mapping[str, GradientFlow], path: str | os.PathLike) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for label, flow in flows.items():
        y, what = line_of(flow)
        ax.plot(np.arange(1, len(y) + 1), _positive(y), label=f"{label}: {what}")
    ax.set_yscale("log")
    ax.set_xlabel("time step t (1 = first input)")
    ax.set_ylabel("gradient norm (loss units per unit of state)")
    T = max(f.steps for f in flows.values())
    ax.set_title(f"Gradient flow back through time (T = {T}; loss at the last step)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_gradient_heatmap(flows: Mapping[str, GradientFlow], path: str | os.PathLike) -> Path:
    plt = pyplot()
    n = len(flows)
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.2 + 1.3 * n), dpi=100, squeeze=False)
    for ax, (label, flow) in zip(axes[:, 0], flows.items(), strict=True):
        with np.errstate(divide="ignore"):
            z = np.log10(np.where(flow.norms > 0, flow.norms, np.nan))
        extent = (0.5, flow.steps + 0.5, len(flow.rows) - 0.5, -0.5)
        im = ax.imshow(z, aspect="auto", interpolation="nearest", cmap="viridis", extent=extent)
        ax.set_yticks(range(len(flow.rows)), flow.rows, fontsize=7)
        ax.set_xlabel("time step t")
        what = "h_t" if flow.kind in RECURRENT else "block input at t"
        ax.set_title(f"{label}: log10 ||dL/d {what}|| (white: exactly 0)", fontsize=9)
        fig.colorbar(im, ax=ax, label="log10 norm")
    return save_figure(fig, path)


def plot_receptive_field(rf: ReceptiveField, path: str | os.PathLike, label: str = "") -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    back = np.arange(rf.length)[::-1]  # steps back from the last output
    ax.bar(
        back, _positive(rf.influence), width=1.0, color="tab:blue", label="||dL/dx_t|| (measured)"
    )
    ax.axvline(
        rf.formula - 0.5, color="tab:red", linestyle="--", label=f"formula: {rf.formula} steps"
    )
    ax.set_yscale("log")
    ax.set_xlabel("steps back from the last output (0 = the output's own step)")
    ax.set_ylabel("gradient norm of the last output")
    name = f"{label} " if label else ""
    ax.set_title(f"{name}{rf.kind} receptive field: measured {rf.measured}, formula {rf.formula}")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
