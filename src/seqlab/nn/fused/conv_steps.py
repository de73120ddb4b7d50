"""Native streaming steps of a TCN and a WaveNet: the C loops of ``conv_steps.c``.

A stream's step runs one short matmul per layer, each on the previous one's output; at
batch 1 each of those PyTorch ops costs more in dispatch (about a microsecond) than in
arithmetic. :class:`NativeTCNStep` and :class:`NativeWaveNetStep` run the whole chain in
one C call on the stream's own buffers (:class:`~seqlab.nn.streaming.DilatedTaps`): the
same equations, the same ring slots written, so a stream can switch between the two paths
at any step. The batched refresh of the past taps stays in PyTorch (its BLAS products are
the large part of the arithmetic and already fast).

CPU only, float32 and float64; the library is compiled on first use
(:mod:`seqlab.nn.fused.build`). :func:`native_library` decides whether a stream runs it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import torch
from torch import Tensor

from ..streaming import DilatedTaps
from .build import NativeUnavailable, load_library

__all__ = ["NativeTCNStep", "NativeWaveNetStep", "native_library"]

_C_TYPES = {torch.float32: "float", torch.float64: "double"}
_ptr, _int = ctypes.c_void_p, ctypes.c_int64


class _ConvLayer(ctypes.Structure):  # conv_layer in conv_steps.c
    _fields_ = [
        ("w", _ptr), ("ring", _ptr), ("partial", _ptr),
        ("c_in", _int), ("c_out", _int), ("ring_size", _int), ("dilation", _int),
    ]  # fmt: skip


class _TemporalBlock(ctypes.Structure):
    _fields_ = [
        ("conv1", _ConvLayer), ("conv2", _ConvLayer),
        ("down_w", _ptr), ("down_b", _ptr), ("input_nonneg", _int),
    ]  # fmt: skip


class _TCN(ctypes.Structure):
    _fields_ = [("blocks", ctypes.POINTER(_TemporalBlock)), ("n_blocks", _int)]


class _GatedLayer(ctypes.Structure):
    _fields_ = [("gated", _ConvLayer), ("res_w", _ptr), ("res_b", _ptr), ("skip_w", _ptr)]


class _WaveNet(ctypes.Structure):
    _fields_ = [
        ("layers", ctypes.POINTER(_GatedLayer)), ("n_layers", _int),
        ("in_w", _ptr), ("in_b", _ptr), ("c_in", _int),
        ("skip_b", _ptr), ("skip_channels", _int),
        ("out_w", _ptr), ("out_b", _ptr), ("c_out", _int),
        ("scratch", _ptr),
    ]  # fmt: skip


# Past this batch size the step's products are big enough for PyTorch's BLAS (which also
# uses every intra-op thread) to match the plain C loops: at 8x64 channels, kernel 7, the
# two paths were level at batch 64 and the C loop 7% slower at 256 (one and two threads).
AUTO_MAX_BATCH = 32


def native_library(
    dtype: torch.dtype, device: torch.device, batch_size: int, native: bool | None
) -> ctypes.CDLL | None:
    """The compiled steps for ``dtype``, or None when the stream runs its PyTorch path.

    ``native=None`` takes the native step where it runs and pays (CPU, float32 or
    float64, a library built, ``batch_size <= AUTO_MAX_BATCH``); ``False`` never does;
    ``True`` insists, at any batch size, and raises ``RuntimeError`` with the reason
    when it cannot.
    """
    if native is not None and not isinstance(native, bool):
        raise ValueError(f"native must be None, True or False, got {native!r}")
    if native is False or (native is None and batch_size > AUTO_MAX_BATCH):
        return None
    try:
        if torch.device(device).type != "cpu":
            raise NativeUnavailable(f"native steps run on the CPU, this stream is on {device}")
        if dtype not in _C_TYPES:
            raise NativeUnavailable(f"native steps take float32 or float64, not {dtype}")
        return load_library("conv_steps.c", {"REAL": _C_TYPES[dtype]})
    except NativeUnavailable as e:
        if native:
            raise RuntimeError(f"native=True, but {e}") from None
        return None


class _NativeStep:
    """What both steps share: the tensors the C structs point into, and the call."""

    def __init__(self, taps: DilatedTaps, out_features: int):
        self.batch_size = taps.batch_size
        w = taps.current_taps[0]
        self._out = dict(dtype=w.dtype, device=w.device)
        self._out_shape = (taps.batch_size, out_features)
        self._keep: list[object] = []  # every tensor and struct a pointer refers to

    def _pointer(self, tensor: Tensor | None) -> int | None:
        if tensor is None:
            return None
        if not tensor.is_contiguous():
            raise ValueError("native steps need contiguous buffers")
        self._keep.append(tensor)
        return tensor.data_ptr()

    def _conv_layer(self, taps: DilatedTaps, layer: int) -> _ConvLayer:
        w, ring, rows = taps.current_taps[layer], taps.ring(layer), taps.partial_rows(layer)
        return _ConvLayer(
            self._pointer(w), self._pointer(ring), self._pointer(rows),
            w.shape[0], w.shape[1], ring.shape[0], rows.shape[0] // taps.batch_size,
        )  # fmt: skip

    def __call__(self, x: Tensor, phase: int) -> Tensor:
        """The step's output for input ``x`` (B, C_in, contiguous, the stream's dtype, CPU)
        at ``phase`` (the value :meth:`DilatedTaps.begin` returned)."""
        out = torch.empty(self._out_shape, **self._out)
        self._function(self._net, self.batch_size, phase, x.data_ptr(), out.data_ptr())
        return out

    def _bind(self, lib: ctypes.CDLL, name: str, net: ctypes.Structure) -> None:
        self._keep.append(net)
        self._net = ctypes.addressof(net)
        self._function = getattr(lib, name)
        self._function.argtypes = [_ptr, _int, _int, _ptr, _ptr]
        self._function.restype = None


class NativeTCNStep(_NativeStep):
    """A :class:`~seqlab.nn.TCNStream`'s step in C.

    Args:
        lib: from :func:`native_library`.
        taps: the stream's buffers; block ``i`` runs layers ``2i`` and ``2i+1``.
        blocks: per block, its 1x1 residual as ``(bias, weight^T)`` or None for the
            identity, and whether its input is known to be ``>= 0`` (then the final ReLU
            of ``relu(y + h)`` is the identity and is skipped, as in the PyTorch step).
    """

    def __init__(
        self,
        lib: ctypes.CDLL,
        taps: DilatedTaps,
        blocks: Sequence[tuple[tuple[Tensor, Tensor] | None, bool]],
    ):
        super().__init__(taps, taps.current_taps[-1].shape[1])
        array = (_TemporalBlock * len(blocks))()
        for i, (down, input_nonneg) in enumerate(blocks):
            down_b, down_w = down if down is not None else (None, None)
            array[i] = _TemporalBlock(
                self._conv_layer(taps, 2 * i), self._conv_layer(taps, 2 * i + 1),
                self._pointer(down_w), self._pointer(down_b), int(input_nonneg),
            )  # fmt: skip
        self._keep.append(array)
        self._bind(lib, "tcn_step", _TCN(array, len(blocks)))


class NativeWaveNetStep(_NativeStep):
    """A :class:`~seqlab.nn.WaveNetStream`'s step in C.

    Args:
        lib: from :func:`native_library`.
        taps: the stream's buffers, one gated convolution (``2 R`` outputs) per layer.
        input, output: the input and output 1x1 convolutions as ``(bias, weight^T)``.
        residual: per layer but the last, its residual 1x1 convolution ``(bias, weight^T)``.
        skip: per layer, its skip weight^T ``(R, S)``.
        skip_bias: the sum of the skip biases ``(S,)``.
    """

    def __init__(
        self,
        lib: ctypes.CDLL,
        taps: DilatedTaps,
        input: tuple[Tensor, Tensor],
        residual: Sequence[tuple[Tensor, Tensor]],
        skip: Sequence[Tensor],
        skip_bias: Tensor,
        output: tuple[Tensor, Tensor],
    ):
        n, B = taps.num_layers, taps.batch_size
        R, S = taps.current_taps[0].shape[0], skip_bias.shape[0]
        super().__init__(taps, output[1].shape[1])
        array = (_GatedLayer * n)()
        for i in range(n):
            res_b, res_w = residual[i] if i + 1 < n else (None, None)
            array[i] = _GatedLayer(
                self._conv_layer(taps, i),
                self._pointer(res_w), self._pointer(res_b), self._pointer(skip[i]),
            )  # fmt: skip
        self._keep.append(array)
        scratch = torch.empty(B * (3 * R + S), **self._out)  # [f, g], z, skips
        net = _WaveNet(
            array, n,
            self._pointer(input[1]), self._pointer(input[0]), input[1].shape[0],
            self._pointer(skip_bias.contiguous()), S,
            self._pointer(output[1]), self._pointer(output[0]), output[1].shape[1],
            self._pointer(scratch),
        )  # fmt: skip
        self._bind(lib, "wavenet_step", net)
