"""``Output``: what every task model's ``forward(batch)`` returns.

The trainer reads ``output.loss`` to step and ``output.prediction`` for metrics, and
never asks which model it has (nanoGPT's ``logits, loss = model(x, y)``). A stateful
model (a language model trained with truncated BPTT) also returns its final recurrent
``state``, which the trainer detaches and feeds to the next chunk.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor


class Output(NamedTuple):
    """``prediction``: the model's output (logits, values, tag ids …); ``loss``: a scalar
    tensor when the batch carries targets, else ``None``; ``state``: the recurrent state
    after the batch, for models that carry it across chunks, else ``None``."""

    prediction: Any
    loss: Tensor | None = None
    state: Any = None
