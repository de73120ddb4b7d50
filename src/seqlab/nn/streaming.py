"""Ring buffers for running a stack of dilated causal convolutions one step at a time.

A causal convolution with kernel ``k`` and dilation ``d`` computes (weights ``w[:, :, j]``)

    y_t = b + sum_{j=0}^{k-1} w_j x_{t-(k-1-j)d}

so at step ``t`` a layer needs its current input and the ``k-1`` inputs ``d, 2d, ...,
(k-1)d`` steps back: it keeps only its last ``R = (k-1)d`` inputs in a ring buffer
(slot ``t mod R``), and a step costs O(layers), not O(receptive field). This is the
caching of fast WaveNet generation (Paine et al. 2016, "Fast Wavenet Generation
Algorithm"), with one twist for speed: the past taps do not depend on the current step,
so all layers' past taps are read with **one** gather and multiplied with **one**
batched matmul per group of same-shaped layers at the start of a step (:meth:`begin`);
each layer then adds only its current input's tap (:meth:`finish`, one ``addmm``), and
all layers' inputs are written back with one ``index_copy_`` (:meth:`commit`).

::

    layer l ring (R_l = (k-1) d_l slots of C_in values), slot of step t = t mod R_l
        x_{t-R} ... x_{t-2d} ... x_{t-d} ...    <- the k-1 past taps of step t
    the rings of all layers of one shape live side by side in one tensor
    (B, sum_l R_l, C_in), so memory[:, gather_index] holds every past tap of every
    one of those layers for the current step.

Weights are copied (detached) when the buffers are made: a stream runs the network as it
was then. Used by :meth:`seqlab.nn.TCN.stream` and :meth:`seqlab.nn.WaveNet.stream`.

>>> import torch
>>> w = torch.randn(4, 3, 2)  # (C_out, C_in, k)
>>> taps = DilatedTaps([(w, None, 2)], batch_size=1)
>>> x = torch.randn(5, 3)
>>> ys = []
>>> for t in range(5):
...     partial = taps.begin()
...     ys.append(taps.finish(0, x[t : t + 1], partial))
...     taps.commit([x[t : t + 1]])
>>> full = torch.nn.functional.conv1d(torch.nn.functional.pad(x.T[None], (2, 0)), w, dilation=2)
>>> torch.allclose(torch.cat(ys), full[0].T, atol=1e-6)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["ConvStream", "DilatedTaps", "check_streamable", "pointwise_operands"]

ConvSpec = tuple[Tensor, Tensor | None, int]  # weight (C_out, C_in, k), bias (C_out,), dilation


def check_streamable(module: nn.Module, dropout: float, causal: bool = True) -> None:
    """A stream runs a fixed, causal network: no future inputs, no dropout noise."""
    name = type(module).__name__
    if not causal:
        raise ValueError(f"a {name} with causal=False sees the future and cannot stream")
    if module.training and dropout > 0:
        raise RuntimeError(
            f"{name}.stream needs eval mode when dropout > 0 (dropout={dropout}): "
            "call .eval() first"
        )


def pointwise_operands(conv: nn.Conv1d) -> tuple[Tensor, Tensor]:
    """A 1x1 convolution as ``addmm`` operands: bias (C_out,), weight^T (C_in, C_out)."""
    return conv.bias.detach(), conv.weight.detach()[:, :, 0].t()


class ConvStream:
    """What the TCN and WaveNet streams share: the ring buffers, reset, the input check.

    Subclasses build ``convs`` from their network and define ``step``.
    """

    def __init__(self, convs: Sequence[ConvSpec], batch_size: int, input_size: int):
        self.batch_size = batch_size
        self._taps = DilatedTaps(convs, batch_size)
        self._shape = (batch_size, input_size)

    def reset(self) -> None:
        """Forget the past: the next step is step 0 of a new sequence."""
        self._taps.reset()

    def _check_step_input(self, x: Tensor) -> None:
        if x.shape != self._shape:
            raise ValueError(f"x must have shape {self._shape}, got {tuple(x.shape)}")


class DilatedTaps:
    """Past inputs of a stack of dilated causal convolutions, one ring buffer per layer.

    Args:
        convs: one ``(weight, bias, dilation)`` per layer, in the order the network runs
            them; ``weight`` is ``(C_out, C_in, k)`` with ``k >= 2`` (tap ``k-1`` is the
            current input), ``bias`` is ``(C_out,)`` or None.
        batch_size: rows per step.

    A step is ``partial = begin()``; for each layer ``y_l = finish(l, x_l, partial)``
    (the pre-activation output); then ``commit([x_0, x_1, ...])`` with every layer's
    input of this step, which advances time by one.
    """

    def __init__(self, convs: Sequence[ConvSpec], batch_size: int):
        if not convs:
            raise ValueError("convs must hold at least one convolution, got none")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        dtype, device = convs[0][0].dtype, convs[0][0].device
        self.batch_size = batch_size
        self.num_layers = len(convs)
        self.current_taps: list[Tensor] = []  # (C_in, C_out): w_{k-1}^T, the current input's tap
        by_shape: dict[tuple[int, int, int], list[int]] = {}
        for l, (w, _, d) in enumerate(convs):
            c_out, c_in, k = w.shape
            if k < 2 or d < 1:
                raise ValueError(
                    f"layer {l}: need kernel_size >= 2 and dilation >= 1, got {k}, {d}"
                )
            self.current_taps.append(w[:, :, k - 1].detach().t().contiguous())
            by_shape.setdefault((c_in, c_out, k), []).append(l)

        # Layers of one shape share one memory (B, sum of their R_l slots, C_in): layer l's
        # ring is its own slice of slots. Gather order: layer by layer, oldest tap first;
        # the past taps' weights are laid out the same way, (k-1)*C_in per row.
        long = dict(dtype=torch.long, device=device)
        self._groups = []
        for (c_in, c_out, k), layers in by_shape.items():
            index, base, period, w_past, bias, offset = [], [], [], [], [], 0
            for l in layers:
                w, b, d = convs[l]
                R = (k - 1) * d  # ring slots; step t lives in slot t mod R
                for m in range(k - 1, 0, -1):  # taps t - m d; m = k-1 is slot t mod R
                    index.append(offset + (-m * d) % R)  # its slot at t = 0
                    base.append(offset)
                    period.append(R)
                offset += R
                # (C_out, C_in, k-1) -> ((k-1) C_in, C_out), tap-major as the gather
                w_past.append(w[:, :, : k - 1].detach().permute(2, 1, 0).reshape(-1, c_out))
                bias.append(torch.zeros(c_out, dtype=dtype, device=device) if b is None else b)
            group = _Group(
                layers=layers,
                width=(k - 1) * c_in,
                memory=torch.zeros(batch_size, offset, c_in, dtype=dtype, device=device),
                w_past=torch.stack(w_past),  # (n, (k-1) C_in, C_out)
                bias=torch.stack(bias).detach().unsqueeze(1),  # (n, 1, C_out)
                start_index=torch.tensor(index, **long),
                base=torch.tensor(base, **long),
                period=torch.tensor(period, **long),
                write_select=torch.arange(0, len(index), k - 1, **long),  # the m = k-1 taps
            )
            self._groups.append(group)
        # preallocated outputs of begin(): the gathered taps and, per layer, a view of the
        # partial sums (no per-step allocation or unbind)
        self._partial: list[Tensor] = [None] * self.num_layers  # type: ignore[list-item]
        for g in self._groups:
            n = len(g.layers)
            shape = (batch_size, g.start_index.numel(), g.memory.shape[2])  # (B, n (k-1), C_in)
            g.taps = torch.empty(shape, dtype=dtype, device=device)
            g.past = g.taps.view(batch_size, n, g.width).transpose(0, 1)  # (n, B, (k-1) C_in)
            g.partial = torch.empty(n, batch_size, g.bias.shape[2], dtype=dtype, device=device)
            for l, view in zip(g.layers, g.partial.unbind(0), strict=True):
                self._partial[l] = view
        self._single = len(self._groups) == 1
        self.reset()

    def reset(self) -> None:
        """Forget every past input (as at the start of a sequence: zeros, the causal padding)."""
        for g in self._groups:
            g.memory.zero_()
            g.index = g.start_index.clone()
            g.rel = g.index - g.base  # slot inside each layer's ring
            g.write_index = g.index[g.write_select]

    def begin(self) -> list[Tensor]:
        """Per layer, ``b + sum over past taps``: (B, C_out) each, one gather per group.

        The returned views live in buffers that the next ``begin`` overwrites.
        """
        for g in self._groups:
            torch.index_select(g.memory, 1, g.index, out=g.taps)  # (B, n (k-1), C_in)
            torch.baddbmm(g.bias, g.past, g.w_past, out=g.partial)  # (n, B, C_out)
        return self._partial

    def finish(self, layer: int, x: Tensor, partial: Sequence[Tensor]) -> Tensor:
        """Layer ``layer``'s pre-activation output for its current input ``x`` (B, C_in)."""
        return torch.addmm(partial[layer], x, self.current_taps[layer])

    def commit(self, inputs: Sequence[Tensor]) -> None:
        """Store this step's input of every layer (in layer order) and advance one step."""
        for g in self._groups:
            src = inputs if self._single else [inputs[l] for l in g.layers]
            g.memory.index_copy_(1, g.write_index, torch.stack(src, 1))  # (B, n, C_in)
            g.rel.add_(1).remainder_(g.period)
            torch.add(g.rel, g.base, out=g.index)
            torch.index_select(g.index, 0, g.write_select, out=g.write_index)


@dataclass(eq=False)
class _Group:
    """Layers of one shape (C_in, C_out, k): their rings, gather indices and past-tap weights."""

    layers: list[int]
    width: int
    memory: Tensor
    w_past: Tensor
    bias: Tensor
    start_index: Tensor
    base: Tensor
    period: Tensor
    write_select: Tensor
    index: Tensor = field(init=False)
    rel: Tensor = field(init=False)
    write_index: Tensor = field(init=False)
    taps: Tensor = field(init=False)
    past: Tensor = field(init=False)
    partial: Tensor = field(init=False)
