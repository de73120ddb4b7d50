"""WaveNet: shapes, receptive field, gated unit, streaming equals the full sequence, errors."""

import pytest
import torch

from seqlab.nn import WaveNet, receptive_field
from stream_paths import STREAM_PATHS


def seeded_wavenet(*args, seed=0, dtype=torch.float32, **kwargs):
    torch.manual_seed(seed)
    return WaveNet(*args, **kwargs).to(dtype)


def test_shapes_dilations_and_receptive_field():
    net = seeded_wavenet(3, 8, 12, kernel_size=3, dilation_cycles=2, layers_per_cycle=3)
    assert net(torch.randn(2, 15, 3)).shape == (2, 15, 12)
    assert net.output_size == 12
    assert net.dilations == [1, 2, 4, 1, 2, 4]
    assert net.receptive_field == receptive_field(3, net.dilations, convs_per_block=1) == 29
    assert len(net.residual) == 5 and len(net.skip) == 6  # the last layer has no residual out


def test_output_is_relu_of_output_conv_of_relu_skip_sum():
    # an independent reference of the stack written out with plain conv1d calls
    net = seeded_wavenet(2, 4, 5, kernel_size=2, layers_per_cycle=3, dtype=torch.float64)
    x = torch.randn(3, 10, 2, dtype=torch.float64)
    F = torch.nn.functional
    h = F.conv1d(x.transpose(1, 2), net.input_conv.weight, net.input_conv.bias)
    skip = 0
    for i, d in enumerate(net.dilations):
        c = net.gated[i]
        y = F.conv1d(F.pad(h, (d, 0)), c.weight, c.bias, dilation=d)
        z = torch.tanh(y[:, :4]) * torch.sigmoid(y[:, 4:])
        skip = skip + F.conv1d(z, net.skip[i].weight, net.skip[i].bias)
        if i < 2:
            h = h + F.conv1d(z, net.residual[i].weight, net.residual[i].bias)
    out = torch.relu(F.conv1d(torch.relu(skip), net.output_conv.weight, net.output_conv.bias))
    torch.testing.assert_close(net(x), out.transpose(1, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel_size, cycles, layers", [(2, 1, 4), (3, 2, 2)])
def test_field_and_causality(kernel_size, cycles, layers):
    net = seeded_wavenet(2, 6, 6, kernel_size, cycles, layers, dtype=torch.float64)
    r = net.receptive_field
    T = r + 8
    t = T - 1
    x = torch.randn(3, T, 2, dtype=torch.float64)

    def change(t_in):
        x2 = x.clone()
        x2[:, t_in] += 3 * torch.randn_like(x2[:, t_in])
        with torch.no_grad():
            return (net(x2) - net(x)).abs()

    assert change(t - r + 1)[:, t].max() > 0
    assert change(t - r)[:, t].max() == 0
    assert change(t - 3)[:, : t - 3].max() == 0  # nothing before t-3 sees input t-3


def run_stream(stream, x):
    return torch.stack([stream.step(x[:, t]) for t in range(x.size(1))], dim=1)


@pytest.mark.parametrize("native", STREAM_PATHS)
@pytest.mark.parametrize(
    "input_size, R, S, kernel_size, cycles, layers",
    [(1, 8, 8, 2, 1, 5), (3, 6, 10, 3, 2, 3), (2, 4, 4, 4, 1, 2)],
)
def test_stream_equals_full_sequence(input_size, R, S, kernel_size, cycles, layers, native):
    net = seeded_wavenet(input_size, R, S, kernel_size, cycles, layers).eval()
    x = torch.randn(3, net.receptive_field + 6, input_size)
    with torch.no_grad():
        want = net(x)
    stream = net.stream(3, native=native)
    assert stream.native == native
    torch.testing.assert_close(run_stream(stream, x), want, rtol=1e-5, atol=1e-5)
    stream.reset()
    x2 = torch.randn(3, 7, input_size)
    with torch.no_grad():
        torch.testing.assert_close(run_stream(stream, x2), net(x2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("native", STREAM_PATHS)
def test_stream_equals_full_sequence_float64(native):
    net = seeded_wavenet(2, 5, 7, 3, 2, 3, dtype=torch.float64).eval()
    x = torch.randn(2, 40, 2, dtype=torch.float64)
    with torch.no_grad():
        want = net(x)
    torch.testing.assert_close(
        run_stream(net.stream(2, native=native), x), want, rtol=1e-12, atol=1e-12
    )


def test_gradients_reach_every_parameter_and_state_dict_round_trip():
    a = seeded_wavenet(2, 4, 6, 2, 1, 3, seed=0)
    a(torch.randn(2, 9, 2)).sum().backward()
    for name, p in a.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    b = seeded_wavenet(2, 4, 6, 2, 1, 3, seed=1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 9, 2)
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)


def test_errors():
    with pytest.raises(ValueError, match="kernel_size must be an int >= 2, got 1"):
        WaveNet(2, 4, 4, kernel_size=1)
    with pytest.raises(ValueError, match="residual_channels must be a positive int, got 0"):
        WaveNet(2, 0, 4)
    with pytest.raises(ValueError, match="layers_per_cycle must be a positive int, got 0"):
        WaveNet(2, 4, 4, layers_per_cycle=0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0\.0, 1\.0\), got 1\.5"):
        WaveNet(2, 4, 4, dropout=1.5)
    net = WaveNet(2, 4, 4, layers_per_cycle=2, dropout=0.1)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, time, 2\)"):
        net(torch.randn(2, 3))
    with pytest.raises(RuntimeError, match="needs eval mode when dropout > 0"):
        net.stream(1)
    with pytest.raises(ValueError, match=r"x must have shape \(1, 2\), got \(1, 3\)"):
        net.eval().stream(1).step(torch.randn(1, 3))
