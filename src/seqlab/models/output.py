"""``Output``: what every task model's ``forward(batch)`` returns.

The trainer reads ``output.loss`` to step and ``output.prediction`` for metrics, and
never asks which model it has (nanoGPT's ``logits, loss = model(x, y)``). A stateful
model (a language model trained with truncated BPTT) also returns its final recurrent
``state``, which the trainer detaches and feeds to the next chunk. ``weight`` says how
many targets the mean ``loss`` averages over, so that the trainer's epoch loss is the
exact mean over all targets (per token for a language model, per sequence for a
classifier) without guessing from the targets' shape.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor


class Output(NamedTuple):
    """``prediction``: the model's output (logits, values, tag ids …); ``loss``: a scalar
    tensor when the batch carries targets, else ``None``; ``state``: the recurrent state
    after the batch, for models that carry it across chunks, else ``None``; ``weight``:
    the number of targets ``loss`` is the mean over (an int or a 0-dim tensor), ``None``
    for one per sequence (the batch size)."""

    prediction: Any
    loss: Tensor | None = None
    state: Any = None
    weight: int | Tensor | None = None
