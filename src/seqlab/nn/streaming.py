"""Ring buffers for running a stack of dilated causal convolutions one step at a time.

A causal convolution with kernel ``k`` and dilation ``d`` computes (weights ``w[:, :, j]``)

    y_t = b + sum_{j=0}^{k-1} w_j x_{t-(k-1-j)d}

so at step ``t`` a layer needs its current input and the ``k-1`` inputs ``d, 2d, ...,
(k-1)d`` steps back: it keeps only its last ``R = (k-1)d`` inputs in a ring buffer
(slot ``t mod R``), and a step costs O(layers), not O(receptive field). This is the
caching of fast WaveNet generation (Paine et al. 2016, "Fast Wavenet Generation
Algorithm"), with two twists for speed:

1. **Past taps ahead of time.** The past taps ``b + sum_{j<k-1} w_j x_{t-(k-1-j)d}`` of
   the next ``d`` steps ``t, ..., t+d-1`` read inputs ``<= t-1`` only, all known at step
   ``t``. So every ``d`` steps a layer computes them for ``d`` steps at once, one
   ``(d, (k-1) C_in) x ((k-1) C_in, C_out)`` product, and reads its past-tap weights
   once per ``d`` steps instead of every step. A stack with dilations ``1, 2, ..., 2^L``
   then reads about 2 layers' worth of past-tap weights per step, not ``L+1`` (the
   weights, not the arithmetic, bound a batch-1 step). Layers of one shape and dilation
   share one gather and one batched matmul.
2. **No copies.** Each layer's input is written straight into its ring slot, usually as
   the ``out=`` of the previous layer's matmul; which slot and which partial-sum row a
   step uses repeats every ``period = lcm(R_l)`` steps (``max R_l`` for doubling
   dilations), so the streams look their operands up once per phase, not per step.

The current input's tap is the only work left on the step's sequential path: one
``addmm`` per layer (:meth:`DilatedTaps.finish`).

::

    layer l ring (R_l = (k-1) d_l slots of C_in values), slot of step s = s mod R_l
        x_{t-R} ... x_{t-2d} ... x_{t-d} ...    <- the k-1 past taps of step t
    the rings of all layers with the same C_in live in one tensor (sum_l R_l, B, C_in)

Weights are copied (detached) when the buffers are made: a stream runs the network as it
was then. Used by :meth:`seqlab.nn.TCN.stream` and :meth:`seqlab.nn.WaveNet.stream`.

>>> import torch
>>> w = torch.randn(4, 3, 2)  # (C_out, C_in, k)
>>> taps = DilatedTaps([(w, None, 2)], batch_size=1)
>>> x = torch.randn(5, 3)
>>> ys = []
>>> for t in range(5):
...     phase = taps.begin()
...     ys.append(taps.finish(0, taps.slot(0, phase).copy_(x[t : t + 1]), phase))
...     taps.commit()
>>> full = torch.nn.functional.conv1d(torch.nn.functional.pad(x.T[None], (2, 0)), w, dilation=2)
>>> torch.allclose(torch.cat(ys), full[0].T, atol=1e-6)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..checks import check_int

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
    """A 1x1 convolution as ``addmm`` operands (copies): bias (C_out,), weight^T (C_in, C_out)."""
    return conv.bias.detach().clone(), conv.weight.detach()[:, :, 0].t().contiguous()


class ConvStream:
    """What the TCN and WaveNet streams share: the ring buffers, reset, the input check.

    Subclasses build ``convs`` from their network, define ``_torch_step`` and may set
    ``_native`` to a compiled step (:mod:`seqlab.nn.fused`) that ``step`` then runs.
    """

    def __init__(self, convs: Sequence[ConvSpec], batch_size: int, input_size: int):
        self.batch_size = batch_size
        self._taps = DilatedTaps(convs, batch_size)
        self._shape = (batch_size, input_size)
        self._dtype = convs[0][0].dtype
        self._native = None  # set by a subclass: its step in C (seqlab.nn.fused)

    @property
    def native(self) -> bool:
        """Whether :meth:`step` runs the compiled C loop (:mod:`seqlab.nn.fused`) rather
        than one PyTorch op at a time; both give the same outputs."""
        return self._native is not None

    def reset(self) -> None:
        """Forget the past: the next step is step 0 of a new sequence."""
        self._taps.reset()

    def step(self, x: Tensor) -> Tensor:
        """One time step: ``x`` (B, input_size), any floating dtype -> (B, output_size)."""
        if not isinstance(x, Tensor) or x.shape != self._shape or not x.is_floating_point():
            self._reject(x)
        # inference mode: no autograd bookkeeping on the many small ops
        with torch.inference_mode():
            phase = self._taps.begin()  # the batched past taps, in PyTorch on both paths
            y = self._torch_step(x, phase) if self._native is None else None
        if y is None:
            if x.dtype != self._dtype or x.device.type != "cpu" or not x.is_contiguous():
                x = x.to("cpu", self._dtype).contiguous()
            y = self._native(x, phase)
        else:
            y = y.clone()  # a normal tensor, not an inference tensor
        self._taps.commit()
        return y

    def _reject(self, x: object) -> None:
        """Raise the ``ValueError`` that says what is wrong with a step's input.

        Any floating dtype is taken (and cast to the stream's, as the native path must);
        integer or bool inputs are refused: token ids need an embedding first.
        """
        from .tcn import check_float_input  # tcn imports this module

        if isinstance(x, Tensor) and x.shape != self._shape:
            raise ValueError(f"x must have shape {self._shape}, got {tuple(x.shape)}")
        check_float_input("x", x, "bc", self._shape[1], None, type(self).__name__)

    def _torch_step(self, x: Tensor, phase: int) -> Tensor:
        """The step's layers at ``phase`` (see :meth:`DilatedTaps.begin`), as PyTorch ops."""
        raise NotImplementedError


class DilatedTaps:
    """Past inputs of a stack of dilated causal convolutions, one ring buffer per layer.

    Args:
        convs: one ``(weight, bias, dilation)`` per layer, in the order the network runs
            them; ``weight`` is ``(C_out, C_in, k)`` with ``k >= 2`` (tap ``k-1`` is the
            current input), ``bias`` is ``(C_out,)`` or None.
        batch_size: rows per step.

    A step is ``phase = begin()``; then, for each layer, its input ``x_l`` goes into
    ``slot(l, phase)`` (B, C_in) and ``y_l = finish(l, slot, phase)`` is its
    pre-activation output; then ``commit()`` advances time by one. Which buffers a step
    uses repeats every ``period`` steps, so a caller can look up ``partial`` and ``slot``
    views once per phase and reuse them.
    """

    def __init__(self, convs: Sequence[ConvSpec], batch_size: int):
        if not convs:
            raise ValueError("convs must hold at least one convolution, got none")
        check_int("batch_size", batch_size, min=1)
        dtype, device = convs[0][0].dtype, convs[0][0].device
        kw = dict(dtype=dtype, device=device)
        self.batch_size = B = batch_size
        self.num_layers = len(convs)
        self.current_taps: list[Tensor] = []  # (C_in, C_out): w_{k-1}^T, the current input's tap
        self.ring_sizes: list[int] = []  # R_l = (k-1) d_l
        for l, (w, _, d) in enumerate(convs):
            k = w.shape[2]
            if k < 2 or d < 1:
                raise ValueError(
                    f"layer {l}: need kernel_size >= 2 and dilation >= 1, got {k}, {d}"
                )
            self.current_taps.append(w[:, :, k - 1].detach().t().contiguous())
            self.ring_sizes.append((k - 1) * d)
        # Step t uses ring slot t mod R_l and partial row t mod d_l (d_l divides R_l): the
        # plan repeats every lcm(R_l) steps, max(R_l) for dilations that double.
        self.period = math.lcm(*self.ring_sizes)
        if self.period > 4 * sum(self.ring_sizes):
            raise ValueError(
                f"ring sizes (k-1)*d = {self.ring_sizes} repeat only every {self.period} "
                "steps: use dilations that divide one another (powers of two)"
            )

        # Rings: the layers with one input width share one memory (sum of R_l, B, C_in);
        # layer l's input of step t is written straight into row base_l + t mod R_l.
        by_width: dict[int, list[int]] = {}
        for l, (w, _, _) in enumerate(convs):
            by_width.setdefault(w.shape[1], []).append(l)
        self._memories: list[Tensor] = []
        memory_of, base = [0] * self.num_layers, [0] * self.num_layers
        self._rings: list[Tensor] = [torch.empty(0)] * self.num_layers  # (R_l, B, C_in)
        self._slots: list[list[Tensor]] = [[]] * self.num_layers  # [l][t mod R_l]
        for c_in, layers in by_width.items():
            offset = 0
            for l in layers:
                memory_of[l], base[l] = len(self._memories), offset
                offset += self.ring_sizes[l]
            memory = torch.zeros(offset, B, c_in, **kw)
            for l in layers:
                self._rings[l] = memory[base[l] : base[l] + self.ring_sizes[l]]
                self._slots[l] = list(self._rings[l].unbind(0))
            self._memories.append(memory)

        # Past taps: layers of one (C_out, C_in, k, d) share one gather and one batched
        # matmul, every d steps, for the next d steps (the module docstring).
        by_shape: dict[tuple[int, int, int, int], list[int]] = {}
        for l, (w, _, d) in enumerate(convs):
            by_shape.setdefault((*w.shape, d), []).append(l)
        self._partial_rows: list[Tensor] = [torch.empty(0)] * self.num_layers  # (d_l B, C_out)
        self._partials: list[list[Tensor]] = [[]] * self.num_layers  # [l][t mod d_l]
        self._refresh_plan: list[list[tuple[_Group, Tensor]]] = [[] for _ in range(self.period)]
        for (c_out, c_in, k, d), layers in by_shape.items():
            n, R = len(layers), (k - 1) * d
            # (C_out, C_in, k-1) -> ((k-1) C_in, C_out) per layer, tap-major as the gather
            w_past = [convs[l][0][:, :, : k - 1].detach().permute(2, 1, 0) for l in layers]
            bias = [convs[l][1] for l in layers]
            group = _Group(
                memory=self._memories[memory_of[layers[0]]],
                w_past=torch.stack([w.reshape(-1, c_out) for w in w_past]),
                bias=torch.stack(
                    [torch.zeros(c_out, **kw) if b is None else b.detach() for b in bias]
                ).unsqueeze(1),  # (n, 1, C_out)
                taps=torch.empty(n * d * (k - 1), B, c_in, **kw),
                partial=torch.empty(n, d * B, c_out, **kw),  # rows j*B:(j+1)*B: step t+j
                shape=(n, d, k - 1, B, c_in),
            )
            for i, l in enumerate(layers):
                self._partial_rows[l] = group.partial[i]
                self._partials[l] = list(group.partial[i].split(B))  # d views (B, C_out)
            # refresh at every t = 0 mod d, reading the ring slots of x_{t+j-m d}, j < d,
            # m = k-1 .. 1, which depend on t mod R only
            for t in range(0, R, d):
                rows = torch.tensor(
                    [base[l] + (t + j - m * d) % R
                     for l in layers for j in range(d) for m in range(k - 1, 0, -1)],
                    dtype=torch.long, device=device,
                )  # fmt: skip
                for phase in range(t, self.period, R):
                    self._refresh_plan[phase].append((group, rows))
        self.reset()

    def reset(self) -> None:
        """Forget every past input (as at the start of a sequence: zeros, the causal padding)."""
        for memory in self._memories:
            memory.zero_()
        self._t = 0

    def partial(self, layer: int, phase: int) -> Tensor:
        """``b + sum over past taps`` of ``layer`` at steps ``t = phase mod period``: (B, C_out).

        A view into a buffer that :meth:`begin` fills when a step of that phase starts.
        """
        views = self._partials[layer]
        return views[phase % len(views)]

    def slot(self, layer: int, phase: int) -> Tensor:
        """Where ``layer``'s input goes at steps ``t = phase mod period``: a (B, C_in) view."""
        views = self._slots[layer]
        return views[phase % len(views)]

    def ring(self, layer: int) -> Tensor:
        """``layer``'s ring buffer, (R_l, B, C_in): step ``t``'s input is row ``t mod R_l``."""
        return self._rings[layer]

    def partial_rows(self, layer: int) -> Tensor:
        """All of ``layer``'s partial sums, (d_l B, C_out); step ``t`` reads rows from
        ``(t mod d_l) B``."""
        return self._partial_rows[layer]

    def begin(self) -> int:
        """Start a step: fill the past taps that are due; returns the phase ``t mod period``."""
        phase = self._t % self.period
        for g, rows in self._refresh_plan[phase]:
            torch.index_select(g.memory, 0, rows, out=g.taps)
            past = g.past if g.past is not None else g.taps_as_rows()
            torch.baddbmm(g.bias, past, g.w_past, out=g.partial)
        return phase

    def finish(self, layer: int, x: Tensor, phase: int) -> Tensor:
        """Layer ``layer``'s pre-activation output for its current input ``x`` (B, C_in)."""
        return torch.addmm(self.partial(layer, phase), x, self.current_taps[layer])

    def commit(self) -> None:
        """End a step: every layer's input is in its slot; advance time by one."""
        self._t += 1


@dataclass(eq=False)
class _Group:
    """Layers of one shape and dilation: their past-tap weights, the gathered past inputs
    and the partial sums of their next ``d`` steps."""

    memory: Tensor  # (sum of R_l, B, C_in): the rings the gather reads
    w_past: Tensor  # (n, (k-1) C_in, C_out)
    bias: Tensor  # (n, 1, C_out)
    taps: Tensor  # (n d (k-1), B, C_in): gathered past inputs, order layer, step, tap
    partial: Tensor  # (n, d B, C_out): b + past taps of steps t .. t+d-1
    shape: tuple[int, int, int, int, int]  # n, d, k-1, B, C_in
    past: Tensor | None = field(init=False)

    def __post_init__(self):
        # a fixed view of the gather buffer when B == 1, a copy per refresh otherwise
        self.past = self.taps_as_rows() if self.shape[3] == 1 else None

    def taps_as_rows(self) -> Tensor:
        """The gathered taps as (n, d B, (k-1) C_in): rows (step, batch), columns (tap, channel)."""
        n, d, m, B, c = self.shape
        return self.taps.view(n, d, m, B, c).transpose(2, 3).reshape(n, d * B, m * c)
