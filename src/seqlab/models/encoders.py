"""``EncoderConfig`` + ``build_encoder``: the sequence encoder a task model runs on.

One config picks any of seqlab's encoders, so swapping an LSTM for a TCN is one key:

========== ============================================== ==========================
kind       built from                                     notes
========== ============================================== ==========================
rnn        :class:`seqlab.nn.RNN` (tanh)                  bidirectional allowed
lstm       :class:`seqlab.nn.LSTM`                        peephole, layer_norm
gru        :class:`seqlab.nn.GRU`                         layer_norm
tcn        :class:`seqlab.nn.TCN` (causal)                channels or hidden x layers
wavenet    :class:`seqlab.nn.WaveNet`                     skip_channels, cycles
mlp        only for :class:`~seqlab.models.Forecaster`    the flattened-window baseline
========== ============================================== ==========================

Every encoder is wrapped in :class:`Encoder`: ``forward(x (B, T, C), lengths=None,
state=None) -> (output (B, T, output_size), state)`` with outputs past each length set
to zero, and ``stream(batch_size)`` for step-by-step use (generation): recurrent
encoders carry their state, convolutional ones run the TCN/WaveNet streaming path.

Convolutional encoders are causal: step ``t`` sees steps ``<= t`` only, so padding after
a sequence's end never changes its real steps.

>>> import torch
>>> enc = build_encoder(EncoderConfig(kind="gru", hidden_size=8, bidirectional=True), 3)
>>> out, h = enc(torch.randn(2, 5, 3), lengths=torch.tensor([5, 2]))
>>> out.shape, enc.output_size, enc.causal
(torch.Size([2, 5, 16]), 16, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .. import nn as snn

__all__ = ["Encoder", "EncoderConfig", "build_encoder"]

RECURRENT = ("rnn", "lstm", "gru")
CONVOLUTIONAL = ("tcn", "wavenet")


@dataclass
class EncoderConfig:
    """Which encoder, and its sizes. Keys that do not apply to a kind are ignored by it.

    ``hidden_size``: recurrent hidden size, TCN channels per layer (unless ``channels``),
    WaveNet residual channels. ``num_layers``: recurrent layers, TCN blocks, WaveNet
    layers per dilation cycle, MLP hidden layers.
    """

    kind: Literal["rnn", "lstm", "gru", "tcn", "wavenet", "mlp"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    peephole: bool = False
    layer_norm: bool = False
    channels: list[int] = field(default_factory=list)
    kernel_size: int = 2
    weight_norm: bool = True
    skip_channels: int = 0  # 0: same as hidden_size
    dilation_cycles: int = 1

    def __post_init__(self):
        for name in ("hidden_size", "num_layers", "kernel_size", "dilation_cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.skip_channels < 0:
            raise ValueError(f"skip_channels must be >= 0, got {self.skip_channels}")
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels must all be positive, got {self.channels}")
        if self.bidirectional and self.kind not in RECURRENT:
            raise ValueError(
                f"bidirectional needs a recurrent kind {RECURRENT}, got kind={self.kind!r}"
            )

    @property
    def recurrent(self) -> bool:
        return self.kind in RECURRENT


class _RecurrentStream:
    """Step-by-step runner of a recurrent encoder: the state is carried between steps."""

    def __init__(self, net: nn.Module, state: Any = None):
        self.net, self.state, self._initial = net, state, state

    def step(self, x_t: Tensor) -> Tensor:
        out, self.state = self.net(x_t.unsqueeze(1), self.state)  # (B, 1, H)
        return out[:, 0]

    def reset(self) -> None:
        self.state = self._initial


class Encoder(nn.Module):
    """A built encoder (see the module doc). ``net`` is the seqlab layer inside."""

    def __init__(self, config: EncoderConfig, net: nn.Module, input_size: int):
        super().__init__()
        self.config = config
        self.net = net
        self.input_size = input_size

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def recurrent(self) -> bool:
        return self.config.recurrent

    @property
    def causal(self) -> bool:
        """Whether step ``t``'s output depends on steps ``<= t`` only."""
        return not self.config.bidirectional

    @property
    def output_size(self) -> int:
        return self.net.output_size

    @property
    def num_directions(self) -> int:
        return 2 if self.config.bidirectional else 1

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: Any = None):
        if self.recurrent:
            out, state = self.net(x, state, lengths)
            return out, state
        if state is not None:
            raise ValueError(f"a {self.kind} encoder carries no state; use stream() to step it")
        if x.dim() != 3 or x.size(2) != self.input_size:
            raise ValueError(
                f"x must be (B, T, {self.input_size}) for the {self.kind} encoder, "
                f"got {tuple(x.shape)}"
            )
        out = self.net(x)  # (B, T, C_out); causal, so padding after a length is harmless
        if lengths is not None:
            T = x.size(1)
            lengths = torch.as_tensor(lengths).to(x.device)
            if lengths.shape != (x.size(0),) or bool(((lengths < 1) | (lengths > T)).any()):
                raise ValueError(f"lengths must be (B,) in [1, T={T}], got {lengths.tolist()}")
            mask = torch.arange(T, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)
            out = out * mask.unsqueeze(-1).to(out.dtype)  # zero past each length
        return out, None

    def stream(self, batch_size: int, state: Any = None):
        """A step runner: ``.step(x_t (B, C_in)) -> (B, output_size)`` and ``.reset()``."""
        if not self.causal:
            raise ValueError("a bidirectional encoder cannot run step by step")
        if self.recurrent:
            return _RecurrentStream(self.net, state)
        if state is not None:
            raise ValueError(f"a {self.kind} encoder takes no initial state")
        return self.net.stream(batch_size)


def _conv_class(name: str):
    cls = getattr(snn, name, None)
    if cls is None:
        raise ValueError(f"encoder kind {name.lower()!r} needs seqlab.nn.{name}, not available")
    return cls


def build_encoder(config: EncoderConfig, input_size: int) -> Encoder:
    """Build the encoder ``config`` describes for inputs of ``input_size`` features."""
    c = config
    if c.kind == "mlp":
        raise ValueError("encoder kind 'mlp' works on fixed windows: use it in a Forecaster")
    if c.recurrent:
        common = dict(
            num_layers=c.num_layers,
            bidirectional=c.bidirectional,
            dropout=c.dropout if c.num_layers > 1 else 0.0,
            recurrent_dropout=c.recurrent_dropout,
        )
        if c.kind == "rnn":
            net = snn.RNN(input_size, c.hidden_size, **common)
        elif c.kind == "lstm":
            net = snn.LSTM(
                input_size, c.hidden_size, peephole=c.peephole, layer_norm=c.layer_norm, **common
            )
        else:
            net = snn.GRU(input_size, c.hidden_size, layer_norm=c.layer_norm, **common)
    elif c.kind == "tcn":
        channels = list(c.channels) or [c.hidden_size] * c.num_layers
        net = _conv_class("TCN")(
            input_size,
            channels,
            kernel_size=c.kernel_size,
            dropout=c.dropout,
            causal=True,
            weight_norm=c.weight_norm,
        )
    else:
        net = _conv_class("WaveNet")(
            input_size,
            c.hidden_size,
            c.skip_channels or c.hidden_size,
            kernel_size=c.kernel_size,
            dilation_cycles=c.dilation_cycles,
            layers_per_cycle=c.num_layers,
            dropout=c.dropout,
        )
    return Encoder(c, net, input_size)
