"""Gradient flow through time: how much of the loss's gradient reaches each step.

Backpropagation through time writes the gradient at step ``t`` of a recurrent layer as
a product of Jacobians (Pascanu, Mikolov & Bengio 2013, eq. (3)-(5))::

    dL/dh_t = dL/dh_T · prod_{k=t+1..T} dh_k/dh_{k-1}

so its norm shrinks (or grows) geometrically with the distance ``T - t`` unless the
Jacobians stay near norm one: the LSTM's additive cell path and the GRU's update gate
keep them there, a tanh RNN at its default initialization does not. The parameter
gradient is the same sum written out over time, ``dL/dW = sum_t dL/dW|_t``.

:func:`gradient_flow` measures these on a user's own model and batch:

* **recurrent encoders** (rnn, lstm, gru; any layers, both directions): ``||dL/dh_t||``
  for every step, layer and direction. *How it is measured*: the layer runs its
  reference loop (the cell's own ``step`` over time, :meth:`seqlab.nn.Recurrent.run_stack`)
  with every state ``h_t`` kept in the graph, and each step reading its own view of the
  weights, so ``autograd.grad`` returns ``dL/dh_t`` and the per-step terms ``dL/dW|_t``
  directly. Where the model's forward would take a fused kernel (torch's ``_VF`` RNNs,
  seqlab's explicit-BPTT cells), the loop computes the same function with the same
  weights; ``tests/test_diagnostics_gradient_flow.py`` checks that the loss and
  ``sum_t dL/dW|_t`` equal the fused path's loss and gradient, and that ``dL/dh_t`` equals
  the gradient at the initial state of the fused kernel run from ``h_t`` over the rest
  of the sequence.
* **convolutional encoders** (tcn, wavenet): ``||dL/dx_t||`` at the encoder's input and at
  every block's input (a TCN's residual block, a WaveNet layer's residual stream).
  Gradients are exactly zero beyond the receptive field.

``L`` is the task model's loss at the last step: a many-to-one model's own loss (a
classifier, a forecaster); for per-step targets (language model, softmax tagger) the
loss at each sequence's last real step, or at step ``at``; for a seq2seq model its whole
(teacher-forced) loss. A bare encoder (an :class:`~seqlab.models.Encoder`, ``RNN``/
``LSTM``/``GRU``, ``TCN``, ``WaveNet``) given a float tensor ``(B, T, C)`` gets
``L = sum of its outputs at step at`` (default: the last step), a unit read-out.

Norms are per sequence (over the hidden units), averaged over the sequences real at
that step. Measured at initialization (seqlab's default init, torch's U(±1/sqrt(H)), LSTM
forget bias 1) on length 200, 8 unit-normal sequences of 1 feature, hidden 32, seed 0,
float64, unit read-out at the last step: ``||dL/dh_1|| / ||dL/dh_200||`` is 1.1e-44 for
the tanh RNN, 5.3e-13 for the LSTM and 1.6e-36 for the GRU (effective memory at 1%: 10,
16 and 9 steps); with the RNN's recurrent weights times 8 it is 1.1e+36 (explodes).
``tests/test_diagnostics_gradient_flow.py`` asserts these orders of magnitude.

>>> import torch
>>> from seqlab.nn import LSTM
>>> torch.manual_seed(0) and None
>>> flow = gradient_flow(LSTM(1, 8), torch.randn(2, 30, 1))
>>> flow.norms.shape, flow.rows
((1, 30), ['layer 1'])
>>> flow.summary()["layer 1"]["first_last_ratio"] < 1
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..data.batch import IGNORE_INDEX, Batch
from ..nn.fused.padding import reverse_padded, valid_steps
from ..nn.recurrent import Recurrent
from ..nn.tcn import TCN
from ..nn.wavenet import WaveNet

__all__ = ["GradientFlow", "UnsupportedModel", "find_encoder", "gradient_flow"]

RECURRENT, CONVOLUTIONAL = ("rnn", "lstm", "gru"), ("tcn", "wavenet")
MEMORY_THRESHOLD = 0.01  # effective memory: steps whose gradient stays above 1% of the end's


class UnsupportedModel(ValueError):
    """A model (or encoder kind) the diagnostic cannot measure; the message says why."""


@dataclass
class GradientFlow:
    """What :func:`gradient_flow` measured (arrays are NumPy, float64).

    ``rows``: one name per measured tensor: ``"layer 1"``, ``"layer 1 reverse"``, ... for
    recurrent encoders (the state ``h_t``), ``"block 1"``, ... (each block's input) for
    convolutional ones. ``norms`` (rows, T): the mean over sequences of ``||dL/d·_t||``.
    ``reverse`` (rows,): whether a row runs from the end to the start.
    ``input_norms`` (T,): ``||dL/dx_t||`` at the encoder's input. ``param_norms``
    (rows, T), recurrent only: ``||dL/dθ|_t||``, the norm of step ``t``'s term of the
    BPTT sum over that row's weights (a reverse row's step ``t`` counted from the end of
    the padded batch). ``at``: the step the loss is read at (None: the whole loss).
    """

    kind: str
    rows: list[str]
    norms: np.ndarray
    reverse: list[bool]
    input_norms: np.ndarray
    param_norms: np.ndarray | None = None
    at: int | None = None
    loss: float = math.nan
    grads: list[Tensor] | None = None  # keep_grads=True: per row, (B, T, C) in time order
    input_grad: Tensor | None = None  # keep_grads=True: dL/dx (B, T, C_in)

    @property
    def steps(self) -> int:
        return self.norms.shape[1]

    @property
    def param_share(self) -> np.ndarray | None:
        """Each step's share of the parameter gradient, summed over rows: (T,), sums to 1."""
        if self.param_norms is None:
            return None
        per_step = np.sqrt((self.param_norms**2).sum(axis=0))
        total = per_step.sum()
        return per_step / total if total > 0 else per_step

    def summary(self, threshold: float = MEMORY_THRESHOLD) -> dict[str, dict[str, Any]]:
        """Per row: ``first_last_ratio`` (the gradient's norm at the first step a row runs
        over, divided by its norm at the end, the step the loss reads it),
        ``memory_length`` (the effective memory: how many steps back from that end, the
        end included, the furthest step lies whose norm is at least ``threshold`` times its
        value there) and the ``end`` step."""
        out = {}
        for name, row, rev in zip(self.rows, self.norms, self.reverse, strict=True):
            out[name] = _row_summary(row[::-1] if rev else row, threshold, rev)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists), for ``gradients.json`` and the report."""
        d = {
            "kind": self.kind,
            "rows": self.rows,
            "reverse": self.reverse,
            "at": self.at,
            "loss": self.loss,
            "norms": self.norms.tolist(),
            "input_norms": self.input_norms.tolist(),
            "summary": self.summary(),
        }
        if self.param_norms is not None:
            d["param_share"] = self.param_share.tolist()
        return d


def _row_summary(row: np.ndarray, threshold: float, reverse: bool) -> dict[str, Any]:
    """``row`` in processing order: the end is the last step with a nonzero gradient."""
    T = len(row)
    nonzero = np.flatnonzero(row > 0)
    if nonzero.size == 0:
        return {"first_last_ratio": math.nan, "memory_length": 0, "end": None}
    end = int(nonzero[-1])
    last = row[end]
    # the furthest step back still at threshold x the end's norm (a dilated stack's
    # gradient has holes between its taps; a recurrent one decays steadily)
    memory = end - int(np.flatnonzero(row[: end + 1] >= threshold * last)[0]) + 1
    return {
        "first_last_ratio": float(row[0] / last),
        "memory_length": memory,
        "end": (T - 1 - end) if reverse else end,
    }


# --- finding the encoder ---------------------------------------------------------------


def find_encoder(model: nn.Module) -> tuple[str, nn.Module]:
    """``(kind, net)``: the seqlab layer a model (or an Encoder, or the layer itself)
    runs its sequences through; :class:`UnsupportedModel` when there is none."""
    net = model
    encoder = getattr(model, "encoder", None)
    if isinstance(encoder, nn.Module):
        net = encoder
    if hasattr(net, "net") and hasattr(net, "config") and hasattr(net.config, "kind"):
        net = net.net  # a seqlab.models.Encoder
    if isinstance(net, Recurrent):
        return _recurrent_kind(net), net
    if isinstance(net, TCN):
        return "tcn", net
    if isinstance(net, WaveNet):
        return "wavenet", net
    config = getattr(getattr(model, "config", None), "encoder", None)  # a task model's
    kind = getattr(config, "kind", getattr(getattr(encoder, "config", None), "kind", None))
    kind = kind or type(net).__name__
    raise UnsupportedModel(
        f"gradient flow is measured for encoders of kind {', '.join(RECURRENT + CONVOLUTIONAL)}; "
        f"this model's encoder is {kind!r}"
    )


def _recurrent_kind(net: Recurrent) -> str:
    name = type(net.cell).__name__
    return {"ElmanCell": "rnn", "LSTMCell": "lstm", "GRUCell": "gru"}.get(name, name)


# --- the loss --------------------------------------------------------------------------


def _last_real(lengths: Tensor | None, B: int, T: int) -> Tensor:
    if lengths is None:
        return torch.full((B,), T - 1, dtype=torch.long)
    return torch.as_tensor(lengths).to("cpu", torch.long) - 1


def _check_at(at: int | None, T: int) -> int | None:
    if at is None:
        return None
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < T:
        raise ValueError(f"at must be a step in [0, T={T}), got {at!r}")
    return at


def _task_batch(model: nn.Module, batch: Batch, at: int | None) -> tuple[Batch, int | None]:
    """The batch whose loss is ``L``: per-step targets kept at one step only."""
    targets, B, T = batch.targets, batch.inputs.size(0), batch.inputs.size(1)
    if targets is None:
        raise ValueError("gradient_flow needs a batch with targets (the loss is what flows back)")
    per_step = (
        targets.dim() == 2 and tuple(targets.shape) == (B, T) and not targets.is_floating_point()
    )
    per_step = per_step and getattr(model, "kind", "") in ("language_model", "tagger")
    if getattr(model, "crf", None) is not None or not per_step:
        if at is not None:
            raise UnsupportedModel(
                f"at= picks one step of per-step targets (a language model, a softmax tagger); "
                f"this {getattr(model, 'kind', type(model).__name__)} model's loss is "
                "measured whole"
            )
        return batch, None
    if at is None:  # each sequence's last real target
        keep = targets != IGNORE_INDEX
        steps = torch.arange(T, device=targets.device).expand(B, T)
        last = torch.where(keep, steps, -1).max(dim=1).values  # (B,)
        one = steps == last.unsqueeze(1)
    else:
        one = torch.zeros(B, T, dtype=torch.bool, device=targets.device)
        one[:, at] = True
    kept = torch.where(one, targets, torch.full_like(targets, IGNORE_INDEX))
    if not bool((kept != IGNORE_INDEX).any()):
        raise ValueError(f"no sequence in this batch has a target at step {at}")
    return dataclasses.replace(batch, targets=kept), at


# --- the recording loop ----------------------------------------------------------------


class _Recorder:
    """Stands in for ``Recurrent._run_loop``: the same loop, keeping every ``h_t`` and
    giving every step its own view of the weights (so ``dL/dW|_t`` is a gradient)."""

    def __init__(self) -> None:
        self.states: list[list[Tensor]] = []  # per layer-direction, per step: h_t (B, H)
        self.weights: list[list[list[Tensor]]] = []  # per layer-direction, per step

    def __call__(self, cell, w, seq, s, valid, h_mask):
        hs, outs, ws = [], [], []
        for t in range(seq.size(1)):
            w_t = {n: p.view_as(p) for n, p in w.items()}  # step t's use of W
            xp = cell.project_input(seq[:, t], w_t)  # (B, G*H)
            new = cell.step(xp, s, w_t, h_mask)
            if valid is not None:  # as the reference loop: padding keeps the state
                v = valid[:, t, None]
                new = tuple(torch.where(v, n, o) for n, o in zip(new, s, strict=True))
                outs.append(new[0] * v)
            else:
                outs.append(new[0])
            hs.append(new[0])
            ws.append(list(w_t.values()))
            s = new
        self.states.append(hs)
        self.weights.append(ws)
        return torch.stack(outs, dim=1), s  # (B, T, H)


@contextlib.contextmanager
def _recording(net: Recurrent) -> Iterator[_Recorder]:
    recorder = _Recorder()
    impl = net.impl
    net.impl = "reference"  # no fused path: the loop below runs, with its states kept
    net._run_loop = recorder  # an instance attribute shadows the static loop
    try:
        yield recorder
    finally:
        net.impl = impl
        del net._run_loop


@contextlib.contextmanager
def _input_leaf(net: nn.Module) -> Iterator[list[Tensor]]:
    """The encoder's input made a leaf that requires grad (its dL/dx is then a gradient)."""
    seen: list[Tensor] = []

    def hook(module, args):
        x = args[0].detach().requires_grad_(True)
        seen.append(x)
        return (x, *args[1:])

    handle = net.register_forward_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


@contextlib.contextmanager
def _block_inputs(kind: str, net: nn.Module) -> Iterator[list[Tensor]]:
    """Each block's input tensor as the forward sees it (TCN blocks; WaveNet's dilated
    convolutions, whose input is the residual stream transposed)."""
    seen: list[Tensor] = []
    modules = net.blocks if kind == "tcn" else net.gated
    handles = [m.register_forward_pre_hook(lambda m, a: seen.append(a[0])) for m in modules]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def _per_sequence(g: Tensor) -> Tensor:
    """(B, T, C) -> (B, T): the norm over the last axis."""
    return g.detach().double().pow(2).sum(-1).sqrt()


def _mean_real(norms: Tensor, valid: Tensor | None) -> np.ndarray:
    """(B, T) -> (T,): the mean over the sequences real at each step."""
    if valid is None:
        return norms.mean(0).cpu().numpy()
    v = valid.to(norms.device, norms.dtype)
    return (norms * v).sum(0).div(v.sum(0).clamp(min=1)).cpu().numpy()


# --- the measurement -------------------------------------------------------------------


def gradient_flow(
    model: nn.Module, batch: Batch | Tensor, at: int | None = None, keep_grads: bool = False
) -> GradientFlow:
    """Measure ``||dL/dh_t||`` (recurrent) or ``||dL/dx_t||`` (convolutional) at every
    step of ``model``'s encoder on ``batch``; see the module doc for ``L`` and ``at``.

    The model runs in eval mode (no dropout) and its parameters' ``.grad`` are left
    untouched; its training mode is restored afterwards. ``keep_grads=True`` also keeps
    the gradients themselves (``flow.grads``, ``flow.input_grad``).
    """
    kind, net = find_encoder(model)
    task_model = net is not model and not _is_bare_encoder(model)
    if isinstance(batch, Tensor):
        if task_model:
            raise ValueError("a task model needs a Batch (inputs and targets), got a tensor")
        batch = Batch(inputs=batch)
    if not isinstance(batch, Batch):
        raise ValueError(f"batch must be a Batch or a (B, T, C) tensor, got {type(batch).__name__}")
    if batch.inputs.dim() < 2 or batch.inputs.size(1) == 0:
        raise ValueError(
            f"the batch must have at least one time step, got {tuple(batch.inputs.shape)}"
        )
    T = batch.inputs.size(1)
    at = _check_at(at, T)
    was_training = model.training
    model.eval()
    try:
        with contextlib.ExitStack() as stack:
            recorder = stack.enter_context(_recording(net)) if kind in RECURRENT else None
            blocks = stack.enter_context(_block_inputs(kind, net)) if kind in CONVOLUTIONAL else []
            inputs = stack.enter_context(_input_leaf(net))
            with torch.enable_grad():
                if task_model:
                    loss_batch, at = _task_batch(model, batch, at)
                    loss = model(loss_batch).loss
                else:
                    loss = _readout_loss(model, batch, at)
            if loss is None or not loss.requires_grad:
                raise ValueError("the model's loss does not depend on its encoder's input")
            return _measure(kind, net, loss, inputs[0], recorder, blocks, batch, at, keep_grads)
    finally:
        model.train(was_training)


def _is_bare_encoder(model: nn.Module) -> bool:
    return isinstance(model, Recurrent | TCN | WaveNet) or (
        hasattr(model, "net") and hasattr(getattr(model, "config", None), "kind")
    )


def _readout_loss(model: nn.Module, batch: Batch, at: int | None) -> Tensor:
    """``L = sum over sequences and channels of y_at`` (each sequence's last real step
    when ``at`` is None)."""
    x = batch.inputs
    if not x.is_floating_point():
        raise ValueError(f"a bare encoder takes float inputs (B, T, C), got {x.dtype}")
    if isinstance(model, Recurrent) or hasattr(model, "net"):
        out, _ = (
            model(x, None, batch.lengths)
            if isinstance(model, Recurrent)
            else model(x, batch.lengths)
        )
    else:
        out = model(x)
    B, T = out.shape[:2]
    steps = _last_real(batch.lengths, B, T) if at is None else torch.full((B,), at)
    return out[torch.arange(B), steps.to(out.device)].sum()


def _measure(kind, net, loss, x, recorder, blocks, batch, at, keep) -> GradientFlow:
    T = x.size(1)
    lengths = batch.lengths
    valid = valid_steps(None if lengths is None else torch.as_tensor(lengths).cpu(), T, "cpu")
    if kind in RECURRENT:
        D = net.num_directions
        rows = [
            f"layer {k + 1}" + (" reverse" if d else "")
            for k in range(net.num_layers)
            for d in range(D)
        ]
        reverse = [bool(d) for k in range(net.num_layers) for d in range(D)]
        states = [h for hs in recorder.states for h in hs]
        weights = [p for ws in recorder.weights for w_t in ws for p in w_t]
        grads = torch.autograd.grad(loss, [x, *states, *weights], allow_unused=True)
        gx, gh, gw = grads[0], grads[1 : 1 + len(states)], grads[1 + len(states) :]
        norms, params, kept = [], [], []
        n_w = len(recorder.weights[0][0])
        for r in range(len(rows)):
            g = torch.stack(
                [_zero_if_none(gh[r * T + t], recorder.states[r][t]) for t in range(T)], 1
            )
            if reverse[r]:  # processing order -> the sequence's own time
                g = reverse_padded(g, None if lengths is None else torch.as_tensor(lengths))
            norms.append(_mean_real(_per_sequence(g), valid))
            kept.append(g.detach())
            terms = []
            for t in range(T):
                sq = 0.0
                for j in range(n_w):
                    gj = gw[(r * T + t) * n_w + j]
                    if gj is not None:
                        sq += float(gj.detach().double().pow(2).sum())
                terms.append(math.sqrt(sq))
            params.append(terms[::-1] if reverse[r] else terms)
        param_norms = np.asarray(params, dtype=np.float64)
    else:
        grads = torch.autograd.grad(loss, [x, *blocks], allow_unused=True)
        gx = grads[0]
        gb = [_zero_if_none(g, b).transpose(1, 2) for g, b in zip(grads[1:], blocks, strict=True)]
        if kind == "wavenet":  # h_{i+1} = h_i + res_i(z_i): dL/dh_i = conv path + dL/dh_{i+1}
            for i in range(len(gb) - 2, -1, -1):
                gb[i] = gb[i] + gb[i + 1]
        word = "block" if kind == "tcn" else "layer"
        rows = [f"{word} {i + 1}" for i in range(len(gb))]
        reverse = [False] * len(rows)
        norms = [_mean_real(_per_sequence(g), valid) for g in gb]
        kept = [g.detach() for g in gb]
        param_norms = None
    gx = _zero_if_none(gx, x)
    return GradientFlow(
        kind=kind,
        rows=rows,
        norms=np.asarray(norms, dtype=np.float64).reshape(len(rows), T),
        reverse=reverse,
        input_norms=_mean_real(_per_sequence(gx), valid),
        param_norms=param_norms,
        at=at,
        loss=float(loss.detach()),
        grads=kept if keep else None,
        input_grad=gx.detach() if keep else None,
    )


def _zero_if_none(g: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if g is None else g
