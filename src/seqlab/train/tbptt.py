"""Truncated backpropagation through time: carry the state, cut the graph.

A stream too long to backpropagate through in one piece is cut into chunks of ``k1``
steps (the stream batcher's chunks, fed in order). The recurrent state at the end of a
chunk is the right start for the next one, so it is carried over; but it is *detached*
first (:func:`repackage_hidden`), so the backward pass of a chunk stops at its start and
memory does not grow with the length of the stream::

    stream  x_1 ........................................................ x_N
            |-- chunk 1 --|-- chunk 2 --|-- chunk 3 --|-- ...
    forward  s_0 ──► s_k ═══► s_k ──► s_2k ═══► s_2k ──► s_3k ═══► ...
    backward ◄─────────┘      ◄─────────┘      ◄─────────┘
                           ═══ repackage_hidden: same values, no graph behind them

The *values* flow through the whole stream (the model can use information from far
back); the *gradient* reaches back at most one chunk. That is BPTT(k) of Williams & Peng
(1990). Their BPTT(k2; k1) backpropagates ``k2 > k1`` steps every ``k1`` steps: here
``backprop_chunks = m`` gives ``k2 = m * k1``. Each update re-runs the last ``m`` chunks
from the detached state at the start of that window, and the loss is the last chunk's
(the ``k1`` new steps); the gradient flows back through all ``m`` chunks::

    backprop_chunks = 2:     window for update j
                        |-- chunk j-1 --|-- chunk j --|
                       s (detached)  ──►  ──►  ──► loss of chunk j
                        ◄────────────────────────────┘  gradient over k2 = 2 k1 steps

Memory holds ``m`` chunks of graph, whatever the stream length; the price is ``m``
forward passes per update.

``reset_every = r`` starts the streams again from the model's initial state every ``r``
chunks (Keras' ``reset_states()`` on a schedule). A model that only ever carries its
state sees the zero state once per stream per epoch, and learns little about starting
from scratch, which is where it is when a user generates from a prompt or scores a fresh
window. The values still reach back up to ``r * k1`` steps.

What "state" is depends on the model, and the trainer never looks inside: any tensor,
or tuple / list / dict of them, returned in ``Output.state`` is carried. For RNN, GRU and
LSTM it is ``h`` or ``(h, c)``. TCN and WaveNet encoders carry no state across chunks
(their past is a window of inputs, not a summary): a model built on one returns
``Output.state=None``, and :meth:`TruncatedBPTT.forward` refuses it with that reason;
train such models on whole windows (``tbptt.stateful=False``), or generate with their
streaming path (``LanguageModel.generate``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from torch import Tensor, nn

from ..data.batch import Batch
from ..models.output import Output

__all__ = ["TruncatedBPTT", "repackage_hidden"]


def repackage_hidden(state: Any) -> Any:
    """The same state with no autograd history: tensors are detached, containers rebuilt.

    Called between chunks so that ``backward`` stops at the chunk boundary (the name is
    pytorch/examples' ``word_language_model``'s). ``None`` stays ``None``.

    >>> import torch
    >>> h = torch.zeros(1, 2, 3, requires_grad=True) * 2
    >>> h2, c2 = repackage_hidden((h, h + 1))
    >>> h.requires_grad, h2.requires_grad, h2.shape
    (True, False, torch.Size([1, 2, 3]))
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a NamedTuple
        return type(state)(*(repackage_hidden(s) for s in state))
    if isinstance(state, list | tuple):
        return type(state)(repackage_hidden(s) for s in state)
    if isinstance(state, dict):
        return {k: repackage_hidden(v) for k, v in state.items()}
    raise TypeError(
        f"cannot detach a recurrent state of type {type(state).__name__}; "
        "return tensors, or tuples/lists/dicts of tensors, in Output.state"
    )


class TruncatedBPTT:
    """Runs chunks of a stream in order, carrying the detached state between them.

    ``forward(model, chunk)`` returns the model's ``Output`` for ``chunk`` with a graph
    that reaches back ``backprop_chunks`` chunks. ``reset()`` starts a new stream (the
    trainer calls it at every epoch, and after a skipped non-finite step).

    >>> import torch
    >>> from seqlab.nn import LSTM
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.rnn = LSTM(2, 4)
    ...     def forward(self, batch, state=None):
    ...         out, state = self.rnn(batch.inputs, state)
    ...         return Output(out, out.pow(2).mean(), state)
    >>> tbptt = TruncatedBPTT()
    >>> x = torch.randn(3, 10, 2)   # 3 streams of 10 steps, chunks of k1 = 5
    >>> for chunk in (Batch(x[:, :5]), Batch(x[:, 5:])):
    ...     out = tbptt.forward(Tiny(), chunk)
    ...     out.loss.backward()
    >>> out.prediction.shape, tbptt.state[0].shape, tbptt.state[0].requires_grad
    (torch.Size([3, 5, 4]), torch.Size([1, 3, 4]), False)
    """

    def __init__(self, backprop_chunks: int = 1, reset_every: int | None = None):
        for name, value in (("backprop_chunks", backprop_chunks), ("reset_every", reset_every)):
            if value is None and name == "reset_every":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.backprop_chunks = backprop_chunks
        self.reset_every = reset_every
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next chunk starts from the model's initial state."""
        self._chunks = 0  # chunks run since the last reset
        self._window: deque[Batch] = deque(maxlen=self.backprop_chunks)
        self._start: Any = None  # detached state at the start of window[0]
        self._next_start: Any = None  # detached state at the start of window[1]
        self.state: Any = None  # detached state after the latest chunk

    def state_dict(self) -> dict[str, Any]:
        """The carried (detached) states, for a mid-epoch checkpoint; the chunks of the
        window are not saved: :meth:`replay` puts them back."""
        return {
            "start": self._start,
            "next_start": self._next_start,
            "state": self.state,
            "window": len(self._window),  # fewer than backprop_chunks after a reset
            "chunks": self._chunks,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (after :meth:`replay` of the chunks trained on)."""
        self._start, self._next_start = state["start"], state["next_start"]
        self.state = state["state"]
        self._chunks = state.get("chunks", 0)  # absent in checkpoints before reset_every
        while len(self._window) > state["window"]:
            self._window.popleft()

    def replay(self, chunk: Batch) -> None:
        """Remember ``chunk`` as trained on, without running it (resuming mid-stream):
        the window keeps the last ``backprop_chunks`` of them."""
        if self.reset_every is not None and self._chunks == self.reset_every:
            self.reset()
        self._window.append(chunk)
        self._chunks += 1

    def forward(self, model: nn.Module, chunk: Batch) -> Output:
        if self.reset_every is not None and self._chunks == self.reset_every:
            self.reset()  # this chunk starts the streams again from the initial state
        self._chunks += 1
        if len(self._window) == self.backprop_chunks:  # window[0] leaves; window[1] starts
            self._start = self._next_start
        self._window.append(chunk)
        state = self._start
        out: Output | None = None
        for i, part in enumerate(self._window):
            out = model(part, state=state)
            if out.state is None:
                raise ValueError(
                    f"{type(model).__name__}.forward returned Output.state=None: truncated "
                    "BPTT (tbptt.stateful=True) carries a recurrent state from chunk to chunk, "
                    "which rnn, lstm and gru encoders have and tcn and wavenet ones do not; "
                    "train those on whole sequences (tbptt.stateful=False)"
                )
            state = out.state
            if i == 0:
                self._next_start = repackage_hidden(state)
        assert out is not None  # the window holds at least the new chunk
        self.state = repackage_hidden(out.state)
        return out
