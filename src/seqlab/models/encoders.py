"""``build_encoder(config, input_size)``: the sequence encoder a task model runs on.

One config (:mod:`seqlab.models.encoder_config`, a class per kind) picks any of seqlab's
encoders, so swapping an LSTM for a TCN is one key:

========== ============================================== ==============================
kind       built from                                     notes
========== ============================================== ==============================
rnn        :class:`seqlab.nn.RNN` (tanh or relu)          bidirectional allowed
lstm       :class:`seqlab.nn.LSTM`                        peephole, layer_norm, chrono
gru        :class:`seqlab.nn.GRU`                         layer_norm, chrono
tcn        :class:`seqlab.nn.TCN` (causal)                channels or hidden x layers
wavenet    :class:`seqlab.nn.WaveNet`                     skip_channels, cycles
mlp        only for :class:`~seqlab.models.Forecaster`    the flattened-window baseline
========== ============================================== ==============================

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

from typing import Any

import torch
from torch import Tensor, nn

from .. import nn as snn
from .encoder_config import (
    EncoderConfig,
    MLPEncoderConfig,
    RecurrentEncoderConfig,
    TCNEncoderConfig,
    WaveNetEncoderConfig,
)

__all__ = ["Encoder", "EncoderConfig", "build_encoder"]


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


def build_encoder(config: EncoderConfig, input_size: int) -> Encoder:
    """Build the encoder ``config`` describes for inputs of ``input_size`` features."""
    c = config
    if isinstance(c, MLPEncoderConfig):
        raise ValueError("encoder kind 'mlp' works on fixed windows: use it in a Forecaster")
    if isinstance(c, RecurrentEncoderConfig):
        common = dict(
            num_layers=c.num_layers,
            bidirectional=c.bidirectional,
            dropout=c.dropout if c.num_layers > 1 else 0.0,
            recurrent_dropout=c.recurrent_dropout,
        )
        chrono = c.chrono or None  # 0: off
        if c.kind == "rnn":
            net = snn.RNN(input_size, c.hidden_size, nonlinearity=c.nonlinearity, **common)
        elif c.kind == "lstm":
            net = snn.LSTM(
                input_size, c.hidden_size, peephole=c.peephole, layer_norm=c.layer_norm,
                chrono=chrono, **common,
            )  # fmt: skip
        else:
            net = snn.GRU(
                input_size, c.hidden_size, layer_norm=c.layer_norm, chrono=chrono, **common
            )
    elif isinstance(c, TCNEncoderConfig):
        channels = list(c.channels) or [c.hidden_size] * (c.num_layers or 1)
        net = snn.TCN(
            input_size,
            channels,
            kernel_size=c.kernel_size,
            dropout=c.dropout,
            causal=True,
            weight_norm=c.weight_norm,
        )
    elif isinstance(c, WaveNetEncoderConfig):
        net = snn.WaveNet(
            input_size,
            c.hidden_size,
            c.skip_channels or c.hidden_size,
            kernel_size=c.kernel_size,
            dilation_cycles=c.dilation_cycles,
            layers_per_cycle=c.num_layers,
            dropout=c.dropout,
        )
    else:
        raise ValueError(f"config must be an EncoderConfig, got {type(c).__name__}")
    return Encoder(c, net, input_size)
