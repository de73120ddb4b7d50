"""The receptive field measured by gradients agrees with the formula, on several depths
and kernel sizes; every input inside the field reaches the last output, none outside."""

import pytest
import torch

from seqlab.diagnostics import UnsupportedModel
from seqlab.diagnostics.receptive_field import measure_receptive_field
from seqlab.models import build_encoder
from seqlab.models.encoder_config import EncoderConfig
from seqlab.nn import LSTM, TCN, WaveNet

torch.set_num_threads(1)


@pytest.mark.parametrize("blocks,k", [(1, 2), (2, 3), (3, 2), (4, 5), (5, 3)])
def test_tcn_field_measured_equals_the_formula(blocks, k):
    torch.manual_seed(blocks * 10 + k)
    tcn = TCN(3, [6] * blocks, kernel_size=k)
    rf = measure_receptive_field(tcn)
    assert rf.measured == rf.formula == 1 + 2 * (k - 1) * (2**blocks - 1)
    inside = rf.influence[rf.length - rf.formula :]
    assert (inside > 0).all() and (rf.influence[: rf.length - rf.formula] == 0).all()
    assert not rf.truncated
    assert next(tcn.parameters()).dtype == torch.float32  # given back as it was


@pytest.mark.parametrize("cycles,layers,k", [(1, 3, 2), (2, 4, 2), (1, 4, 3), (3, 2, 4)])
def test_wavenet_field_measured_equals_the_formula(cycles, layers, k):
    torch.manual_seed(cycles + layers + k)
    net = WaveNet(2, 4, 5, kernel_size=k, dilation_cycles=cycles, layers_per_cycle=layers)
    rf = measure_receptive_field(net)
    assert rf.measured == rf.formula == 1 + (k - 1) * cycles * (2**layers - 1)


def test_through_an_encoder_and_a_short_length():
    enc = build_encoder(EncoderConfig(kind="tcn", hidden_size=4, num_layers=3), 2)
    rf = measure_receptive_field(enc, length=10)  # field 15 > 10 steps: a lower bound
    assert rf.measured == 10 and rf.truncated


def test_recurrent_and_bad_length_are_refused():
    with pytest.raises(UnsupportedModel, match="a lstm encoder sees every earlier step"):
        measure_receptive_field(LSTM(1, 2))
    with pytest.raises(ValueError, match="length must be an int >= 1, got 0"):
        measure_receptive_field(TCN(1, [2]), length=0)
