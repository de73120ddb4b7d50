"""Temporal convolutional networks: dilated causal convolutions with residual blocks.

Bai, Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional and
Recurrent Networks for Sequence Modeling", Section 3: block ``i`` has two dilated
convolutions with dilation ``2^i``, each followed by weight norm (Salimans & Kingma
2016), ReLU and dropout, and a residual connection (a 1x1 convolution when the channel
counts differ). Its receptive field is computed, not guessed (Section 3.2):

    r = 1 + convs_per_block * (k - 1) * sum_i d_i

Layout: ``CausalConv1d`` and ``TemporalBlock`` are convolution layers and take
channels-first ``(B, C, T)`` like ``torch.nn.Conv1d``; ``TCN`` is the batch-first
boundary, ``(B, T, C)`` in and out, and transposes once on each side.

The causal convolution pads ``(k-1)*d`` zeros on the left only. The original code pads
both sides and chomps the right end off again, which computes ``(k-1)*d`` outputs per
layer only to throw them away; and taps that can only ever read padding (offset
``>= T``, common in deep layers on short sequences) are skipped altogether.

>>> import torch
>>> tcn = TCN(3, [16, 16, 8], kernel_size=3)
>>> tcn(torch.randn(2, 50, 3)).shape
torch.Size([2, 50, 8])
>>> tcn.receptive_field  # 1 + 2 * (3 - 1) * (1 + 2 + 4)
29
>>> TCN.for_history(1, history=200, hidden=8, kernel_size=3).channels
[8, 8, 8, 8, 8, 8]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from ..checks import check_bool, check_dropout, check_int
from .fused import NativeTCNStep, native_library
from .streaming import ConvStream, check_streamable, pointwise_operands

__all__ = [
    "TCN",
    "CausalConv1d",
    "TCNStream",
    "TemporalBlock",
    "check_float_input",
    "levels_for_history",
    "receptive_field",
]


def _check_kernel_size(kernel_size: object) -> int:
    return check_int("kernel_size", kernel_size, min=2)


def _check_int_list(name: str, values: object) -> list[int]:
    """A list (or any iterable but a string) of positive ints: ``channels``, ``dilations``."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a list of ints >= 1, got {values!r}")
    return [check_int(f"{name}[{i}]", v, min=1) for i, v in enumerate(values)]


# the Tensor/Module method that casts to each dtype, for the dtype-mismatch message
_CAST = {
    torch.float16: "half",
    torch.bfloat16: "bfloat16",
    torch.float32: "float",
    torch.float64: "double",
}


def check_float_input(
    name: str, x: object, layout: str, size: int | None, dtype: torch.dtype | None, owner: str
) -> Tensor:
    """``x`` as a floating-point tensor of ``layout`` (``"btc"`` batch-first, ``"bct"``
    channels-first, ``"bc"`` one step) with ``size`` channels, at least one time step,
    and the dtype ``dtype`` of ``owner``'s parameters; else a ``ValueError`` that says
    which of these failed and echoes what came (rather than a traceback from a kernel).

    The dtype check is skipped under autocast, which runs layers in a lower precision
    than their parameters on purpose.
    """
    if not isinstance(x, Tensor):
        hint = " (convert it with torch.from_numpy)" if type(x).__module__ == "numpy" else ""
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}{hint}")
    c = "C" if size is None else size
    want = {"btc": f"(batch, time, {c})", "bct": f"(batch, {c}, time)", "bc": f"(batch, {c})"}
    channel_dim = 1 if layout == "bct" else -1
    if x.dim() != len(layout) or (size is not None and x.size(channel_dim) != size):
        raise ValueError(f"{name} must have shape {want[layout]}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if "t" in layout and x.size(layout.index("t")) == 0:
        raise ValueError(f"{name} must have at least one time step, got shape {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        to_module, to_input = _CAST.get(x.dtype), _CAST.get(dtype)
        fix_module = f".{to_module}()" if to_module else f".to({x.dtype})"
        fix_input = f"{name}.{to_input}()" if to_input else f"{name}.to({dtype})"
        raise ValueError(
            f"{name} has dtype {x.dtype} but {owner}'s parameters are {dtype}: call "
            f"{fix_module} on the module or cast the input ({fix_input})"
        )
    return x


def receptive_field(kernel_size: int, dilations: Sequence[int], convs_per_block: int = 2) -> int:
    """Input steps that reach one output: ``1 + convs_per_block * (k-1) * sum(dilations)``.

    Each convolution with dilation ``d`` widens the field by ``(k-1)*d`` steps (Bai et al.
    2018, Section 3.2); a TCN block has two of them, a WaveNet layer one.

    >>> receptive_field(7, [2**i for i in range(8)])  # 8 levels, kernel 7
    3061
    >>> receptive_field(2, [1, 2, 4, 8], convs_per_block=1)  # a WaveNet cycle
    16
    """
    _check_kernel_size(kernel_size)
    check_int("convs_per_block", convs_per_block, min=1)
    dilations = _check_int_list("dilations", dilations)
    return 1 + convs_per_block * (kernel_size - 1) * sum(dilations)


def levels_for_history(history: int, kernel_size: int = 2) -> int:
    """The fewest TCN levels (dilations 1, 2, 4, ...) whose receptive field covers
    ``history`` steps: the least ``n`` with ``1 + 2(k-1)(2^n - 1) >= history``. Arithmetic
    only, so a config default sized by it draws nothing from the random generator.

    >>> levels_for_history(28), levels_for_history(100), levels_for_history(29, 3)
    (4, 6, 3)
    """
    check_int("history", history, min=1)
    _check_kernel_size(kernel_size)
    # 2^n >= 1 + (history - 1) / (2 (k - 1))
    levels = max(1, math.ceil(math.log2(1 + (history - 1) / (2 * (kernel_size - 1)))))
    while receptive_field(kernel_size, [2**i for i in range(levels)]) < history:
        levels += 1  # guards float rounding in log2
    return levels


def pointwise(conv: nn.Conv1d, x: Tensor) -> Tensor:
    """A 1x1 ``conv`` over batch-first ``x`` (B, T, C_in) -> (B, T, C_out), as one GEMM.

    Same result as ``conv(x.transpose(1, 2)).transpose(1, 2)``, with no layout
    conversion: the transpose of :class:`CausalConv1d`'s time-major output is a
    contiguous batch-first tensor.
    """
    return F.linear(x, conv.weight[:, :, 0], conv.bias)


class CausalConv1d(nn.Conv1d):
    """A dilated 1-D convolution whose output at ``t`` sees inputs ``<= t`` only.

    ``(B, C_in, T) -> (B, C_out, T)``, channels first like ``nn.Conv1d`` (its weight and
    bias, same names). ``causal=True`` pads ``(k-1)*d`` zeros in front and nothing
    behind; ``causal=False`` splits the same padding over both sides (``(k-1)*d // 2``
    in front), for tasks that see the whole sequence (tagging, classification).
    Taps that would read only padding for this ``T`` are skipped (same output, less work).
    The output is time-major in memory (strides ``(T*C_out, 1, C_out)``, the layout of
    ``x.transpose(1, 2)`` for a batch-first ``x``), the layout this convolution runs
    fastest on; a channels-first input is converted once.

    >>> conv = CausalConv1d(2, 4, kernel_size=3, dilation=2)
    >>> conv(torch.randn(1, 2, 10)).shape
    torch.Size([1, 4, 10])
    >>> conv.padding_left, conv.padding_right
    (4, 0)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        causal: bool = True,
        bias: bool = True,
    ):
        check_int("in_channels", in_channels, min=1)
        check_int("out_channels", out_channels, min=1)
        _check_kernel_size(kernel_size)
        check_int("dilation", dilation, min=1)
        check_bool("bias", bias)
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.causal = check_bool("causal", causal)
        total = (kernel_size - 1) * dilation
        self.padding_left = total if causal else total // 2
        self.padding_right = total - self.padding_left

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight  # computed here under weight norm: read it once
        check_float_input("x", x, "bct", self.in_channels, weight.dtype, type(self).__name__)
        k, d, T = self.kernel_size[0], self.dilation[0], x.size(-1)
        left, right = self.padding_left, self.padding_right
        # tap j reads x[t + j*d - left]: useful only if that offset lies in (-T, T)
        lo = max(0, -((T - 1 - left) // d))
        hi = min(k - 1, (left + T - 1) // d)
        if lo > hi:  # every tap reads padding only (non-causal, T <= padding): bias alone
            out = x.new_zeros(x.size(0), self.out_channels, T)  # (B, C_out, T)
            return out if self.bias is None else out + self.bias[:, None]
        if lo > 0 or hi < k - 1:
            weight = weight[:, :, lo : hi + 1]
            left, right = left - lo * d, right - (k - 1 - hi) * d
        # As a 2-D convolution over (B, C, 1, T) in channels-last memory, i.e. time-major
        # (B, T, C) underneath: oneDNN's direct convolution runs about 2x faster on that
        # layout than on channels-first on the CPU (benchmarks/tcn.py), and the output
        # stays time-major, so a stack of these never converts between layouts.
        x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)  # (B, C_in, 1, T)
        if left or right:
            x = F.pad(x, (left, right))  # (B, C_in, 1, T + left + right)
        return F.conv2d(x, weight.unsqueeze(2), self.bias, dilation=(1, d)).squeeze(2)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", causal={self.causal}"


class TemporalBlock(nn.Module):
    """Two dilated convolutions, each weight-normed, ReLU, dropout; residual; final ReLU.

    ``(B, C_in, T) -> (B, C_out, T)`` (channels first, as its convolutions). The
    residual path is the identity when ``C_in == C_out``, else a 1x1 convolution
    (``downsample``), as in Bai et al. 2018, Figure 1b.

    >>> block = TemporalBlock(3, 8, kernel_size=2, dilation=4)
    >>> block(torch.randn(2, 3, 20)).shape
    torch.Size([2, 8, 20])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.0,
        causal: bool = True,
        weight_norm: bool = True,
    ):
        super().__init__()
        check_bool("weight_norm", weight_norm)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = CausalConv1d(in_channels, out_channels, kernel_size, dilation, causal)
        self.conv2 = CausalConv1d(out_channels, out_channels, kernel_size, dilation, causal)
        if weight_norm:  # w = g v / ||v||, one g per output channel (dim 0)
            self.conv1 = _weight_norm(self.conv1)
            self.conv2 = _weight_norm(self.conv2)
        self.dropout = nn.Dropout(check_dropout("dropout", dropout))
        self.downsample = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None
        )

    @property
    def output_size(self) -> int:
        return self.out_channels

    def forward(self, x: Tensor) -> Tensor:
        dtype = self.conv1.bias.dtype
        check_float_input("x", x, "bct", self.in_channels, dtype, type(self).__name__)
        out = self.dropout(torch.relu_(self.conv1(x)))
        out = self.dropout(torch.relu_(self.conv2(out)))
        if self.downsample is None:
            res = x
        else:  # (B, C_in, T) time-major -> (B, C_out, T) time-major
            res = pointwise(self.downsample, x.transpose(1, 2)).transpose(1, 2)
        return torch.relu_(out + res)


class TCN(nn.Module):
    """A stack of temporal blocks, block ``i`` with dilation ``2^i``: ``(B, T, C_in) -> (B, T, C)``.

    Args:
        input_size: features per input step.
        channels: output channels of each block, one block per entry; the output has
            ``channels[-1]`` features (``output_size``).
        kernel_size: taps per convolution (>= 2).
        dropout: dropout after each convolution's ReLU (Bai et al. use 0.0-0.2).
        causal: ``True`` (default): output ``t`` sees inputs ``<= t`` only, for forecasting,
            language models and streaming. ``False``: padding on both sides, output ``t``
            sees ``context[0]`` steps back and ``context[1]`` ahead.
        weight_norm: reparametrize each dilated convolution's weight as ``g v / ||v||``
            (``torch.nn.utils.parametrizations.weight_norm``).

    Attributes: ``receptive_field`` (input steps one output sees), ``context`` (steps
    back, steps ahead), ``output_size``, ``dilations``.
    """

    def __init__(
        self,
        input_size: int,
        channels: Sequence[int],
        kernel_size: int = 2,
        dropout: float = 0.0,
        causal: bool = True,
        weight_norm: bool = True,
    ):
        super().__init__()
        self.input_size = check_int("input_size", input_size, min=1)
        self.channels = channels = _check_int_list("channels", channels)
        if not channels:
            raise ValueError("channels must list at least one block's width, got []")
        self.kernel_size = _check_kernel_size(kernel_size)
        self.dropout = check_dropout("dropout", dropout)
        self.causal = check_bool("causal", causal)
        self.weight_norm = check_bool("weight_norm", weight_norm)
        self.dilations = [2**i for i in range(len(channels))]
        sizes = [input_size, *channels]
        self.blocks = nn.ModuleList(
            TemporalBlock(sizes[i], sizes[i + 1], kernel_size, d, dropout, causal, weight_norm)
            for i, d in enumerate(self.dilations)
        )
        self.receptive_field = receptive_field(kernel_size, self.dilations)
        back = sum(2 * b.conv1.padding_left for b in self.blocks)
        self.context = (back, self.receptive_field - 1 - back)

    @property
    def output_size(self) -> int:
        return self.channels[-1]

    @classmethod
    def for_history(
        cls, input_size: int, history: int, hidden: int, kernel_size: int = 2, **kwargs
    ) -> TCN:
        """The shallowest TCN of width ``hidden`` whose receptive field covers ``history`` steps.

        Levels ``n`` = the least with ``1 + 2(k-1)(2^n - 1) >= history``.

        >>> TCN.for_history(1, history=100, hidden=16, kernel_size=4).receptive_field
        187
        """
        check_int("hidden", hidden, min=1)
        levels = levels_for_history(history, kernel_size)
        return cls(input_size, [hidden] * levels, kernel_size, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        dtype = self.blocks[0].conv1.bias.dtype
        check_float_input("x", x, "btc", self.input_size, dtype, type(self).__name__)
        h = x.transpose(1, 2)  # (B, C_in, T)
        for block in self.blocks:
            h = block(h)
        return h.transpose(1, 2)  # (B, T, C_out)

    def stream(self, batch_size: int, native: bool | None = None) -> TCNStream:
        """One-step-at-a-time runner equal to ``forward`` (see :class:`TCNStream`)."""
        return TCNStream(self, batch_size, native)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, channels={self.channels}, "
            f"kernel_size={self.kernel_size}, receptive_field={self.receptive_field}, "
            f"causal={self.causal}"
        )


class TCNStream(ConvStream):
    """Runs a causal :class:`TCN` one step at a time: ``step(x_t: (B, C_in)) -> (B, C_out)``.

    ``step`` returns what ``tcn(x)[:, t]`` gives for the same inputs (float32 to 1e-5);
    each convolution keeps its last ``(k-1)*d`` inputs in a ring buffer
    (:class:`~seqlab.nn.streaming.DilatedTaps`), so a step costs O(levels). The weights
    (weight norm applied) are copied when the stream is made; make a new stream after
    changing them. No gradients flow through ``step``. ``reset()`` starts a new sequence.

    On the CPU (float32 or float64) the chain of layers runs as one compiled C loop
    (:class:`~seqlab.nn.fused.NativeTCNStep`, built on first use with the machine's C
    compiler), which takes a batch-1 step from about 85 to about 35 microseconds for 8
    levels of 64 channels; elsewhere, or without a compiler, as PyTorch ops. ``native``
    chooses: None (default) the C loop where it can run, up to batch 32 (past that
    PyTorch's BLAS is as fast), False never, True always (a ``RuntimeError`` says why it
    cannot). ``stream.native`` tells which runs.

    >>> tcn = TCN(2, [8, 8], kernel_size=3).eval()
    >>> x = torch.randn(4, 30, 2)
    >>> stream = tcn.stream(batch_size=4)
    >>> y = torch.stack([stream.step(x[:, t]) for t in range(30)], dim=1)  # (B, T, 8)
    >>> torch.allclose(y, tcn(x), atol=1e-5)
    True
    """

    def __init__(self, tcn: TCN, batch_size: int, native: bool | None = None):
        check_streamable(tcn, tcn.dropout, tcn.causal)
        check_int("batch_size", batch_size, min=1)
        self.input_size = tcn.input_size
        convs, blocks = [], []
        with torch.no_grad():
            for i, block in enumerate(tcn.blocks):
                for conv in (block.conv1, block.conv2):
                    convs.append((conv.weight.detach().clone(), conv.bias, conv.dilation[0]))
                ds = block.downsample
                down = None if ds is None else pointwise_operands(ds)
                # relu(relu(h2) + res) == relu(h2) + res when res >= 0, i.e. when res is the
                # (ReLU'd) output of the previous block: skip that ReLU.
                blocks.append((2 * i, down, i > 0 and down is None))
        super().__init__(convs, batch_size, tcn.input_size)
        taps, w, n = self._taps, self._taps.current_taps, len(convs)
        lib = native_library(self._dtype, w[0].device, batch_size, native)
        if lib is not None:
            self._native = NativeTCNStep(lib, taps, [(down, nonneg) for _, down, nonneg in blocks])
            return
        # per phase of the ring buffers: layer 0's slot, and per block its operands
        self._plans = []
        for p in range(taps.period):
            plan = []
            for l, down, res_nonneg in blocks:
                out = taps.slot(l + 2, p) if l + 2 < n else None  # next block's input slot
                conv1 = (taps.partial(l, p), w[l], taps.slot(l + 1, p))
                conv2 = (taps.partial(l + 1, p), w[l + 1], out)
                plan.append((conv1, conv2, down, res_nonneg))
            self._plans.append((taps.slot(0, p), plan))

    def _torch_step(self, x: Tensor, phase: int) -> Tensor:
        slot0, blocks = self._plans[phase]
        h = slot0.copy_(x)
        # each layer's output goes straight into the next layer's ring slot (out=);
        # the last block's has none and is a new tensor, the step's result
        for (p1, w1, slot1), (p2, w2, out), down, res_nonneg in blocks:
            a = torch.addmm(p1, h, w1, out=slot1).relu_()
            if res_nonneg:  # relu(relu(conv2) + h) == relu(conv2) + h for h >= 0
                h = torch.addmm(p2, a, w2, out=out).relu_().add_(h)
            elif down is None:
                h = torch.addmm(p2, a, w2, out=out).relu_().add_(h).relu_()
            else:  # relu(relu(conv2) + 1x1(h))
                y = torch.addmm(p2, a, w2).relu_()
                h = torch.addmm(down[0], h, down[1], out=out).add_(y).relu_()
        return h
