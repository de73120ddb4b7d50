"""The receptive field of a TCN or WaveNet, measured by gradients next to its formula.

The formula (Bai et al. 2018, Section 3.2; :func:`seqlab.nn.tcn.receptive_field`) says
how many input steps reach one output: ``1 + convs_per_block (k-1) sum(d_i)``. The
measurement reads it off the network itself: the gradient of the output at the last step
with respect to every input step (:func:`~seqlab.diagnostics.gradient_flow`, random
normal inputs, float64) is exactly zero before the field and nonzero inside it, so the
measured field is ``T`` minus the first step with a nonzero gradient. Both agree on every
depth and kernel size tested (``tests/test_diagnostics_receptive_field.py``).

>>> from seqlab.nn import TCN
>>> rf = measure_receptive_field(TCN(2, [4, 4, 4], kernel_size=3))
>>> rf.formula, rf.measured
(29, 29)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .gradient_flow import CONVOLUTIONAL, UnsupportedModel, find_encoder, gradient_flow

__all__ = ["ReceptiveField", "measure_receptive_field"]


@dataclass
class ReceptiveField:
    """``formula`` and ``measured`` fields in steps; ``influence`` (T,): ``||dL/dx_t||``
    for the output at the last step ``T - 1``; ``length``: ``T``. ``measured`` is a
    lower bound (``truncated``) when ``T`` is not longer than the field."""

    kind: str
    formula: int
    measured: int
    influence: np.ndarray
    length: int

    @property
    def truncated(self) -> bool:
        return self.measured >= self.length

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "formula": self.formula,
            "measured": self.measured,
            "length": self.length,
            "influence": self.influence.tolist(),
        }


def measure_receptive_field(
    model: nn.Module, length: int | None = None, seed: int = 0
) -> ReceptiveField:
    """Measure the field of ``model``'s TCN/WaveNet encoder on ``length`` steps (default:
    the formula's field plus a quarter, so the field's edge lies inside)."""
    kind, net = find_encoder(model)
    if kind not in CONVOLUTIONAL:
        raise UnsupportedModel(
            f"a receptive field is measured for tcn and wavenet encoders; a {kind} encoder "
            "sees every earlier step (its reach is the effective memory of "
            "`seqlab inspect gradients`)"
        )
    formula = int(net.receptive_field)
    T = formula + max(8, formula // 4) if length is None else length
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"length must be an int >= 1, got {length!r}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, T, net.input_size, generator=generator, dtype=torch.float64)
    dtype, device = next(net.parameters()).dtype, next(net.parameters()).device
    x = x.to(device)
    was = net.training
    try:
        net.double()  # exact zeros outside the field, no rounding to them inside
        flow = gradient_flow(net, x)
    finally:
        net.to(dtype).train(was)
    influence = flow.input_norms
    nonzero = np.flatnonzero(influence > 0)
    measured = T - int(nonzero[0]) if nonzero.size else 0
    return ReceptiveField(kind, formula, measured, influence, T)
