"""Conv1dDownsample: lengths, shapes, causal padding, errors."""

import pytest
import torch

from seqlab.nn import GRU, Conv1dDownsample


@pytest.mark.parametrize("padding", ["valid", "causal"])
@pytest.mark.parametrize("kernel_size, stride", [(4, 2), (3, 3), (5, 1)])
def test_output_length_matches_the_convolution(padding, kernel_size, stride):
    torch.manual_seed(0)
    down = Conv1dDownsample(3, 4, kernel_size, stride, padding=padding, activation="relu")
    for T in (kernel_size, kernel_size + 1, 37):
        y = down(torch.randn(2, T, 3))
        assert y.shape == (2, down.output_length(T), 4)
        assert (y >= 0).all()
    lengths = torch.tensor([37, kernel_size, 20])
    want = torch.tensor([down.output_length(int(n)) for n in lengths])
    assert torch.equal(down.output_lengths(lengths), want)


def test_valid_is_conv1d_and_causal_sees_no_future():
    torch.manual_seed(1)
    down = Conv1dDownsample(2, 3, kernel_size=4, stride=2, padding="causal").double()
    x = torch.randn(1, 20, 2, dtype=torch.float64)
    y = down(x)
    assert y.shape == (1, 10, 3)  # ceil(20 / 2)
    x2 = x.clone()
    x2[:, 9:] += 1.0  # output j sees inputs <= 2j: outputs 0..4 unchanged, 5 changes
    y2 = down(x2)
    assert torch.equal(y2[:, :5], y[:, :5]) and not torch.equal(y2[:, 5], y[:, 5])
    valid = Conv1dDownsample(2, 3, kernel_size=4, stride=2).double()
    want = torch.nn.functional.conv1d(
        x.transpose(1, 2), valid.conv.weight, valid.conv.bias, stride=2
    )
    torch.testing.assert_close(valid(x), want.transpose(1, 2))


def test_front_end_before_a_recurrent_layer():
    down = Conv1dDownsample(1, 8, kernel_size=4, stride=2, activation="relu")
    gru = GRU(8, 16)
    x, lengths = torch.randn(3, 100, 1), torch.tensor([100, 60, 9])
    out, h = gru(down(x), lengths=down.output_lengths(lengths))
    assert out.shape == (3, 49, 16) and h.shape == (1, 3, 16)


def test_errors():
    with pytest.raises(ValueError, match="padding must be one of"):
        Conv1dDownsample(2, 2, padding="same")
    with pytest.raises(ValueError, match="activation must be one of"):
        Conv1dDownsample(2, 2, activation="gelu")
    with pytest.raises(ValueError, match="stride must be a positive int, got 0"):
        Conv1dDownsample(2, 2, stride=0)
    with pytest.raises(ValueError, match="x has T=3 steps, fewer than kernel_size=4"):
        Conv1dDownsample(2, 2)(torch.randn(1, 3, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, time, 2\)"):
        Conv1dDownsample(2, 2)(torch.randn(1, 8, 3))
