"""Seeing what a run and a network do: gradient flow through time
(:mod:`~seqlab.diagnostics.gradient_flow`), receptive fields measured by gradients
(:mod:`~seqlab.diagnostics.receptive_field`), and pictures of training
(:mod:`~seqlab.diagnostics.plots`)."""

from .gradient_flow import GradientFlow, UnsupportedModel, find_encoder, gradient_flow
from .plots import plot_training, plots_available

__all__ = [
    "GradientFlow",
    "UnsupportedModel",
    "find_encoder",
    "gradient_flow",
    "plot_training",
    "plots_available",
]
