"""WaveNet: a stack of gated, dilated causal convolutions with residual and skip paths.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", Section 2 and
Figure 4. A 1x1 convolution lifts the input to ``residual_channels``; then each layer
``i`` (dilation ``d_i``) computes the gated activation unit (Eq. 2)

    z = tanh(W_f * x) ⊙ σ(W_g * x)        (* a dilated causal convolution)

and sends ``z`` through one 1x1 convolution into the residual path (``x <- x + res(z)``)
and another into the skip path (``skip <- skip + skip_i(z)``). Dilations double within a
cycle and the cycle repeats (``1, 2, ..., 2^(L-1), 1, 2, ...``; the paper uses 1..512
three times). The filter and gate convolutions are one convolution with ``2 R`` outputs
(first half filter, second half gate).

Output: ``relu(out(relu(sum of skips)))``, ``(B, T, skip_channels)``, i.e. the paper's
post-processing up to its last 1x1 convolution and softmax, which belong to the task head
(a linear layer over ``output_size`` features).

Receptive field: ``1 + (k-1) * sum(dilations)`` (one dilated convolution per layer).

>>> import torch
>>> net = WaveNet(1, residual_channels=8, skip_channels=16, dilation_cycles=2, layers_per_cycle=4)
>>> net(torch.randn(3, 40, 1)).shape
torch.Size([3, 40, 16])
>>> net.dilations, net.receptive_field
([1, 2, 4, 8, 1, 2, 4, 8], 31)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_dropout, check_int
from .fused import NativeWaveNetStep, native_library
from .streaming import ConvStream, check_streamable, pointwise_operands
from .tcn import (
    CausalConv1d,
    _check_kernel_size,
    check_float_input,
    pointwise,
    receptive_field,
)

__all__ = ["WaveNet", "WaveNetStream"]


class WaveNet(nn.Module):
    """Gated residual stack, batch-first: ``(B, T, input_size) -> (B, T, skip_channels)``.

    Args:
        input_size: features per input step.
        residual_channels: width ``R`` of the residual path (each gated convolution has
            ``2 R`` outputs: filter and gate).
        skip_channels: width of the skip path and of the output (``output_size``).
        kernel_size: taps of each dilated convolution (>= 2; the paper uses 2).
        dilation_cycles: how many times the cycle of doubling dilations repeats.
        layers_per_cycle: layers per cycle, dilations ``1 .. 2^(layers_per_cycle-1)``
            (default 10: 1..512 as in the paper).
        dropout: dropout on each layer's gated activation ``z``.

    Attributes: ``receptive_field``, ``dilations``, ``output_size``.
    """

    def __init__(
        self,
        input_size: int,
        residual_channels: int,
        skip_channels: int,
        kernel_size: int = 2,
        dilation_cycles: int = 1,
        layers_per_cycle: int = 10,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.input_size = check_int("input_size", input_size, min=1)
        R = self.residual_channels = check_int("residual_channels", residual_channels, min=1)
        S = self.skip_channels = check_int("skip_channels", skip_channels, min=1)
        self.kernel_size = _check_kernel_size(kernel_size)
        check_int("dilation_cycles", dilation_cycles, min=1)
        check_int("layers_per_cycle", layers_per_cycle, min=1)
        self.dropout = check_dropout("dropout", dropout)
        self.dilations = [2**i for i in range(layers_per_cycle)] * dilation_cycles
        n = len(self.dilations)
        self.input_conv = nn.Conv1d(input_size, R, 1)
        self.gated = nn.ModuleList(CausalConv1d(R, 2 * R, kernel_size, d) for d in self.dilations)
        # the last layer's residual output would feed nothing: it has none
        self.residual = nn.ModuleList(nn.Conv1d(R, R, 1) for _ in range(n - 1))
        self.skip = nn.ModuleList(nn.Conv1d(R, S, 1) for _ in range(n))
        self.output_conv = nn.Conv1d(S, S, 1)
        self.drop = nn.Dropout(self.dropout)
        self.receptive_field = receptive_field(kernel_size, self.dilations, convs_per_block=1)

    @property
    def output_size(self) -> int:
        return self.skip_channels

    def forward(self, x: Tensor) -> Tensor:
        dtype = self.input_conv.weight.dtype
        check_float_input("x", x, "btc", self.input_size, dtype, type(self).__name__)
        # batch-first (B, T, C) throughout: each 1x1 convolution is a linear map over the
        # last axis, and the dilated convolution takes and returns time-major memory
        h = pointwise(self.input_conv, x)  # (B, T, R)
        skips = None
        for i, conv in enumerate(self.gated):
            f, g = conv(h.transpose(1, 2)).transpose(1, 2).chunk(2, dim=2)  # (B, T, R) each
            z = self.drop(torch.tanh(f) * torch.sigmoid(g))  # Eq. 2: filter, gate
            s = pointwise(self.skip[i], z)  # (B, T, S)
            skips = s if skips is None else skips + s
            if i < len(self.residual):
                h = h + pointwise(self.residual[i], z)
        return torch.relu(pointwise(self.output_conv, torch.relu(skips)))  # (B, T, S)

    def stream(self, batch_size: int, native: bool | None = None) -> WaveNetStream:
        """One-step-at-a-time runner equal to ``forward`` (see :class:`WaveNetStream`)."""
        return WaveNetStream(self, batch_size, native)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, residual_channels={self.residual_channels}, "
            f"skip_channels={self.skip_channels}, kernel_size={self.kernel_size}, "
            f"layers={len(self.dilations)}, receptive_field={self.receptive_field}"
        )


class WaveNetStream(ConvStream):
    """Runs a :class:`WaveNet` one step at a time: ``step(x_t: (B, C_in)) -> (B, skip_channels)``.

    Equal to the matching step of ``net(x)`` (float32 to 1e-5); each gated convolution
    keeps its last ``(k-1)*d`` inputs in a ring buffer (fast WaveNet, Paine et al. 2016).
    Weights are copied when the stream is made; ``reset()`` starts a new sequence.
    ``native`` as for :class:`~seqlab.nn.TCNStream`: on the CPU the layers run as one
    compiled C loop (:class:`~seqlab.nn.fused.NativeWaveNetStep`), elsewhere as PyTorch ops.

    >>> net = WaveNet(2, 4, 6, kernel_size=3, layers_per_cycle=3).eval()
    >>> x = torch.randn(2, 25, 2)
    >>> stream = net.stream(batch_size=2)
    >>> y = torch.stack([stream.step(x[:, t]) for t in range(25)], dim=1)  # (B, T, 6)
    >>> torch.allclose(y, net(x), atol=1e-5)
    True
    """

    def __init__(self, net: WaveNet, batch_size: int, native: bool | None = None):
        check_streamable(net, net.dropout)
        check_int("batch_size", batch_size, min=1)
        self.residual_channels = net.residual_channels
        with torch.no_grad():
            convs = [(c.weight.detach().clone(), c.bias, c.dilation[0]) for c in net.gated]
            self._input = pointwise_operands(net.input_conv)
            self._residual = [pointwise_operands(c) for c in net.residual]
            self._skip = [pointwise_operands(c)[1] for c in net.skip]
            # every skip bias is added once per step: start the skip sum from their total
            skip_bias = sum(c.bias.detach() for c in net.skip)
            self._output = pointwise_operands(net.output_conv)
        super().__init__(convs, batch_size, net.input_size)
        taps, n = self._taps, len(convs)
        lib = native_library(self._dtype, skip_bias.device, batch_size, native)
        if lib is not None:
            self._native = NativeWaveNetStep(
                lib, taps, self._input, self._residual, self._skip, skip_bias, self._output
            )
            return
        self._skip_bias = skip_bias.expand(batch_size, -1)
        # per phase of the ring buffers: layer 0's slot, and per layer its partial sums
        # and the next layer's slot
        self._plans = [
            (
                taps.slot(0, p),
                [
                    (taps.partial(i, p), taps.slot(i + 1, p) if i + 1 < n else None)
                    for i in range(n)
                ],
            )
            for p in range(taps.period)
        ]

    def _torch_step(self, x: Tensor, phase: int) -> Tensor:
        slot0, plan = self._plans[phase]
        b, w = self._input
        h = torch.addmm(b, x, w, out=slot0)  # (B, R), layer 0's input
        skips = self._skip_bias
        layers = zip(plan, self._taps.current_taps, self._skip, strict=True)
        for i, ((partial, next_slot), w_tap, w_skip) in enumerate(layers):
            f, g = torch.addmm(partial, h, w_tap).chunk(2, dim=1)  # (B, R) each
            z = f.tanh_().mul_(g.sigmoid_())
            skips = torch.addmm(skips, z, w_skip)
            if next_slot is not None:  # h + res(z), straight into the next layer's slot
                b, w = self._residual[i]
                h = torch.addmm(h, z, w, out=next_slot).add_(b)
        b, w = self._output
        return torch.addmm(b, skips.relu(), w).relu_()
