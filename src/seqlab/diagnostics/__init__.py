"""Seeing what a run and a network do: pictures of training (more to come: gradient flow
through time, receptive fields)."""

from .plots import plot_training, plots_available

__all__ = ["plot_training", "plots_available"]
