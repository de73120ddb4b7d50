"""A strided 1-D convolution that shortens a long sequence before a recurrent layer.

An RNN over 10 000 steps is slow and forgets; a convolution with stride ``s`` first turns
the sequence into ``~T/s`` steps, each summarising ``kernel_size`` inputs, and can learn
short local patterns (Géron, *Hands-On Machine Learning*, ch. 15: a ``Conv1D(20,
kernel_size=4, strides=2)`` ahead of GRU layers). ``padding="valid"`` keeps only full
windows, ``T' = (T - k) // s + 1``; ``padding="causal"`` puts ``k-1`` zeros in front,
``T' = (T - 1) // s + 1``, and output ``j`` sees inputs ``<= j*s`` only.

>>> import torch
>>> down = Conv1dDownsample(3, 16, kernel_size=4, stride=2)
>>> down(torch.randn(2, 100, 3)).shape
torch.Size([2, 49, 16])
>>> down.output_lengths(torch.tensor([100, 9]))
tensor([49,  3])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_choice, check_int
from .tcn import check_float_input

__all__ = ["Conv1dDownsample"]

PADDINGS = ("valid", "causal")
ACTIVATIONS = {None: None, "relu": torch.relu, "tanh": torch.tanh}


class Conv1dDownsample(nn.Module):
    """``(B, T, input_size) -> (B, T', output_size)`` with ``T' ~ T / stride``.

    Args:
        input_size, output_size: features per step in and out.
        kernel_size: inputs per output window (default 4).
        stride: steps between windows (default 2).
        padding: ``"valid"`` (full windows only) or ``"causal"`` (``k-1`` zeros in front).
        activation: ``None`` (linear, default), ``"relu"`` or ``"tanh"``.

    ``output_lengths(lengths)`` maps true sequence lengths to the lengths after the
    convolution, for the recurrent layer that follows: an output step counts when the
    last input of its window is a real step.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        kernel_size: int = 4,
        stride: int = 2,
        padding: str = "valid",
        activation: str | None = None,
    ):
        super().__init__()
        self.input_size = check_int("input_size", input_size, min=1)
        self.output_size = check_int("output_size", output_size, min=1)
        self.kernel_size = check_int("kernel_size", kernel_size, min=1)
        self.stride = check_int("stride", stride, min=1)
        check_choice("padding", padding, PADDINGS)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        self.padding = padding
        self.activation = activation
        self.conv = nn.Conv1d(input_size, output_size, kernel_size, stride=stride)

    def output_length(self, length: int) -> int:
        """Steps out for ``length`` steps in (0 when a valid window does not fit)."""
        check_int("length", length, min=0)
        pad = self.kernel_size - 1 if self.padding == "causal" else 0
        return max(0, (length + pad - self.kernel_size) // self.stride + 1)

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Lengths after the convolution: output ``j`` counts if its last input is real."""
        if not isinstance(lengths, Tensor) or lengths.is_floating_point() or lengths.is_complex():
            is_tensor = isinstance(lengths, Tensor)
            got = f"dtype {lengths.dtype}" if is_tensor else type(lengths).__name__
            raise ValueError(f"lengths must be a tensor of integers, got {got}")
        pad = self.kernel_size - 1 if self.padding == "causal" else 0
        return (
            (lengths + pad - self.kernel_size).div(self.stride, rounding_mode="floor") + 1
        ).clamp(min=0)

    def forward(self, x: Tensor) -> Tensor:
        dtype = self.conv.weight.dtype
        check_float_input("x", x, "btc", self.input_size, dtype, type(self).__name__)
        if self.output_length(x.size(1)) < 1:
            raise ValueError(
                f"x has T={x.size(1)} steps, fewer than kernel_size={self.kernel_size} "
                "(padding='valid'); use padding='causal' or a longer sequence"
            )
        h = x.transpose(1, 2)  # (B, C_in, T)
        if self.padding == "causal":
            h = F.pad(h, (self.kernel_size - 1, 0))  # (B, C_in, T + k - 1)
        out = self.conv(h)  # (B, C_out, T')
        act = ACTIVATIONS[self.activation]
        if act is not None:
            out = act(out)
        return out.transpose(1, 2)  # (B, T', C_out)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.output_size}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r}, activation={self.activation!r}"
        )
