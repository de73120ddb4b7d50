"""TCN: receptive field, causality, streaming equals the full sequence, weight norm, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.data import adding_problem as adding_sequences
from seqlab.nn import TCN, CausalConv1d, TemporalBlock, receptive_field
from seqlab.nn.streaming import DilatedTaps
from stream_paths import STREAM_PATHS


def seeded_tcn(*args, seed=0, dtype=torch.float32, **kwargs):
    torch.manual_seed(seed)
    return TCN(*args, **kwargs).to(dtype)


# --- receptive field ---------------------------------------------------------------------
def test_receptive_field_formula():
    assert receptive_field(2, [1]) == 3
    assert receptive_field(3, [1, 2, 4]) == 1 + 2 * 2 * 7
    assert receptive_field(7, [2**i for i in range(8)]) == 3061
    assert receptive_field(2, [1, 2, 4, 8], convs_per_block=1) == 16


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel_size=1, dilations=[1]), "kernel_size must be an int >= 2, got 1"),
        (dict(kernel_size=2, dilations=[1, 0]), r"dilations\[1\] must be a positive int, got 0"),
        (dict(kernel_size=2, dilations=[1], convs_per_block=0), "convs_per_block"),
    ],
)
def test_receptive_field_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        receptive_field(**kwargs)


def output_change(net, x, t_in, t_out):
    """|change| of output step t_out when input step t_in is perturbed."""
    x2 = x.clone()
    x2[:, t_in] += torch.randn_like(x2[:, t_in]) * 3
    with torch.no_grad():
        return (net(x2)[:, t_out] - net(x)[:, t_out]).abs().max().item()


@pytest.mark.parametrize("kernel_size, levels", [(2, 3), (3, 2), (5, 3)])
def test_causal_field_is_exactly_the_receptive_field(kernel_size, levels):
    tcn = seeded_tcn(3, [6] * levels, kernel_size=kernel_size, dtype=torch.float64)
    r = tcn.receptive_field
    assert r == receptive_field(kernel_size, [2**i for i in range(levels)])
    assert tcn.context == (r - 1, 0)
    T = r + 10
    t = T - 1
    x = torch.randn(4, T, 3, dtype=torch.float64)
    assert output_change(tcn, x, t - r + 1, t) > 0  # the oldest input inside the field
    assert output_change(tcn, x, t, t) > 0
    assert output_change(tcn, x, t - r, t) == 0  # just outside
    # causal: changing inputs after t leaves every output <= t unchanged
    x2 = x.clone()
    x2[:, t - 5 :] = torch.randn_like(x2[:, t - 5 :])
    with torch.no_grad():
        assert torch.equal(tcn(x2)[:, : t - 5], tcn(x)[:, : t - 5])


@pytest.mark.parametrize("kernel_size", [2, 3, 4])
def test_non_causal_field_is_two_sided(kernel_size):
    tcn = seeded_tcn(2, [5, 5, 5], kernel_size=kernel_size, causal=False, dtype=torch.float64)
    back, ahead = tcn.context
    assert back + ahead + 1 == tcn.receptive_field
    assert ahead > 0
    T = tcn.receptive_field + 12
    t = back + 6
    x = torch.randn(3, T, 2, dtype=torch.float64)
    assert output_change(tcn, x, t - back, t) > 0
    assert output_change(tcn, x, t + ahead, t) > 0
    assert output_change(tcn, x, t - back - 1, t) == 0
    assert output_change(tcn, x, t + ahead + 1, t) == 0


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("T", [1, 3, 9, 40])
@pytest.mark.parametrize("kernel_size, dilation", [(2, 1), (3, 4), (4, 16), (7, 32)])
def test_causal_conv_matches_padded_conv1d(causal, T, kernel_size, dilation):
    # the skipped taps (those that read padding only) must not change the output
    torch.manual_seed(1)
    conv = CausalConv1d(3, 5, kernel_size, dilation, causal=causal).double()
    x = torch.randn(2, 3, T, dtype=torch.float64)
    pad = (kernel_size - 1) * dilation
    left = pad if causal else pad // 2
    want = F.conv1d(F.pad(x, (left, pad - left)), conv.weight, conv.bias, dilation=dilation)
    torch.testing.assert_close(conv(x), want, rtol=0, atol=1e-12)


def test_short_sequences_are_correct_in_both_directions_of_autograd():
    torch.manual_seed(2)
    conv = CausalConv1d(2, 3, 5, dilation=8).double()
    x = torch.randn(1, 2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))


# --- shapes, options, parameters -------------------------------------------------------
def test_shapes_and_attributes():
    tcn = seeded_tcn(3, [8, 16, 4], kernel_size=3)
    y = tcn(torch.randn(5, 17, 3))
    assert y.shape == (5, 17, 4)
    assert tcn.output_size == 4
    assert tcn.dilations == [1, 2, 4]
    assert [b.downsample is not None for b in tcn.blocks] == [True, True, True]
    same = seeded_tcn(4, [4, 4])
    assert all(b.downsample is None for b in same.blocks)


def test_for_history_picks_the_shallowest_cover():
    for k in (2, 3, 7):
        for history in (1, 2, 10, 100, 1000, 3061, 3062):
            tcn = TCN.for_history(2, history, hidden=4, kernel_size=k)
            n = len(tcn.channels)
            assert tcn.receptive_field >= history
            if n > 1:
                assert receptive_field(k, [2**i for i in range(n - 1)]) < history
            assert tcn.channels == [4] * n
    assert TCN.for_history(2, 50, 4, kernel_size=3, dropout=0.1).dropout == 0.1


def test_weight_norm_parameters_train():
    tcn = seeded_tcn(2, [4, 4], kernel_size=3)
    names = dict(tcn.named_parameters())
    g = "blocks.0.conv1.parametrizations.weight.original0"
    v = "blocks.0.conv1.parametrizations.weight.original1"
    assert g in names and v in names
    assert names[g].shape == (4, 1, 1)
    tcn(torch.randn(3, 12, 2)).pow(2).sum().backward()
    for name, p in tcn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the effective weight is g v / ||v||
    conv = tcn.blocks[0].conv1
    w = names[g] * names[v] / names[v].norm(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(conv.weight, w)


def test_without_weight_norm_weights_are_plain():
    tcn = seeded_tcn(2, [4], weight_norm=False)
    assert "blocks.0.conv1.weight" in dict(tcn.named_parameters())


def test_state_dict_round_trip():
    a = seeded_tcn(3, [6, 6], kernel_size=3, seed=0)
    b = seeded_tcn(3, [6, 6], kernel_size=3, seed=1)
    x = torch.randn(2, 20, 3)
    assert not torch.allclose(a(x), b(x))
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)


def test_dropout_is_active_in_training_only():
    tcn = seeded_tcn(2, [16, 16], kernel_size=2, dropout=0.5)
    x = torch.randn(2, 10, 2)
    assert not torch.equal(tcn(x), tcn(x))
    tcn.eval()
    assert torch.equal(tcn(x), tcn(x))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_size=2, channels=[4], kernel_size=1), "kernel_size must be an int >= 2, got 1"),
        (dict(input_size=2, channels=[]), r"channels must list at least one"),
        (dict(input_size=2, channels=[4, 0]), r"channels\[1\] must be a positive int, got 0"),
        (dict(input_size=0, channels=[4]), "input_size must be a positive int, got 0"),
        (
            dict(input_size=2, channels=[4], dropout=1.0),
            r"dropout must be a number in \[0\.0, 1\.0\), got 1\.0",
        ),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TCN(**kwargs)


def test_bad_inputs_raise_value_error():
    tcn = seeded_tcn(3, [4])
    with pytest.raises(ValueError, match=r"x must have shape \(batch, time, 3\), got \(2, 5, 4\)"):
        tcn(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="history must be a positive int, got 0"):
        TCN.for_history(3, 0, 4)
    with pytest.raises(ValueError, match="dilation must be a positive int"):
        CausalConv1d(2, 2, 3, dilation=0)


def test_temporal_block_is_channels_first():
    block = TemporalBlock(3, 5, kernel_size=3, dilation=2)
    assert block(torch.randn(2, 3, 11)).shape == (2, 5, 11)


# --- streaming ----------------------------------------------------------------------------
def run_stream(stream, x):
    return torch.stack([stream.step(x[:, t]) for t in range(x.size(1))], dim=1)  # (B, T, C)


@pytest.mark.parametrize("native", STREAM_PATHS)
@pytest.mark.parametrize(
    "input_size, channels, kernel_size",
    [(3, [8, 8], 2), (1, [6, 6, 6, 6], 3), (4, [4, 7, 5], 4), (5, [5, 5, 5], 7)],
)
def test_stream_equals_full_sequence_float32(input_size, channels, kernel_size, native):
    tcn = seeded_tcn(input_size, channels, kernel_size=kernel_size).eval()
    T = tcn.receptive_field + 5
    x = torch.randn(3, T, input_size)
    with torch.no_grad():
        want = tcn(x)
    stream = tcn.stream(batch_size=3, native=native)
    assert stream.native == native
    torch.testing.assert_close(run_stream(stream, x), want, rtol=1e-5, atol=1e-5)
    # reset starts a new sequence: the same again
    stream.reset()
    x2 = torch.randn(3, 12, input_size)
    with torch.no_grad():
        torch.testing.assert_close(run_stream(stream, x2), tcn(x2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("native", STREAM_PATHS)
@pytest.mark.parametrize("kernel_size, channels", [(2, [4, 4, 4]), (3, [3, 6]), (5, [4, 4])])
def test_stream_equals_full_sequence_float64(kernel_size, channels, native):
    tcn = seeded_tcn(2, channels, kernel_size=kernel_size, dtype=torch.float64).eval()
    x = torch.randn(2, tcn.receptive_field * 2, 2, dtype=torch.float64)
    with torch.no_grad():
        want = tcn(x)
    got = run_stream(tcn.stream(2, native=native), x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("native", STREAM_PATHS)
def test_stream_without_no_grad_and_inputs_that_require_grad(native):
    tcn = seeded_tcn(2, [4, 4], kernel_size=2, dropout=0.3).eval()
    x = torch.randn(2, 9, 2, requires_grad=True)
    got = run_stream(tcn.stream(2, native=native), x)
    assert not got.requires_grad
    assert not got.is_inference()  # usable with autograd afterwards, e.g. under a trained head
    torch.testing.assert_close(got, tcn(x).detach(), rtol=1e-5, atol=1e-5)


def test_stream_rejects_training_mode_with_dropout_and_non_causal():
    tcn = seeded_tcn(2, [4], dropout=0.2)
    with pytest.raises(RuntimeError, match=r"needs eval mode when dropout > 0.*\.eval\(\)"):
        tcn.stream(1)
    seeded_tcn(2, [4]).stream(1)  # training mode without dropout is fine
    with pytest.raises(ValueError, match="causal=False sees the future"):
        seeded_tcn(2, [4], causal=False).stream(1)
    stream = seeded_tcn(2, [4]).stream(3)
    with pytest.raises(ValueError, match=r"x must have shape \(3, 2\), got \(2, 2\)"):
        stream.step(torch.randn(2, 2))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        seeded_tcn(2, [4]).stream(0)


def test_ring_buffers_hold_only_the_last_k_minus_1_times_d_inputs():
    tcn = seeded_tcn(3, [4, 4, 4], kernel_size=3).eval()
    stream = tcn.stream(2)
    slots = sum(memory.shape[0] for memory in stream._taps._memories)
    assert slots == sum(2 * (3 - 1) * d for d in tcn.dilations)  # two convs per block


def test_dilated_taps_with_mixed_shapes_and_no_bias():
    torch.manual_seed(3)
    specs = [(torch.randn(4, 2, 3), None, 1), (torch.randn(4, 4, 2), torch.randn(4), 5)]
    taps = DilatedTaps(specs, batch_size=2)
    x = torch.randn(2, 2, 20)  # (B, C, T)
    h1 = F.conv1d(F.pad(x, (2, 0)), specs[0][0])
    h2 = F.conv1d(F.pad(h1, (5, 0)), specs[1][0], specs[1][1], dilation=5)
    for t in range(20):
        phase = taps.begin()
        a = taps.finish(0, taps.slot(0, phase).copy_(x[:, :, t]), phase)
        b = taps.finish(1, taps.slot(1, phase).copy_(a), phase)
        taps.commit()
        torch.testing.assert_close(b, h2[:, :, t], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="at least one convolution"):
        DilatedTaps([], 1)
    # ring sizes 6, 7, 11 (k=2): the slots repeat only every 462 steps, a per-phase plan
    # larger than 4x the 24 ring slots: refused with the reason
    w = torch.randn(2, 2, 2)
    with pytest.raises(ValueError, match=r"\[6, 7, 11\] repeat only every 462 steps"):
        DilatedTaps([(w, None, 6), (w, None, 7), (w, None, 11)], 1)


def test_dilated_taps_past_taps_are_refreshed_every_d_steps_for_d_steps():
    # a period of 8 steps (d = 1, 2, 4 with k = 3): after 3 periods every refresh phase
    # has run several times; batch 2 takes the copying (non-view) path
    torch.manual_seed(4)
    specs = [(torch.randn(3, 3, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64), d)
             for d in (1, 2, 4)]  # fmt: skip
    taps = DilatedTaps(specs, batch_size=2)
    assert taps.period == 8 and taps.ring_sizes == [2, 4, 8]
    x = torch.randn(2, 3, 30, dtype=torch.float64)
    want, h = [], x
    for w, b, d in specs:
        h = F.conv1d(F.pad(h, (2 * d, 0)), w, b, dilation=d)
        want.append(h)
    for t in range(30):
        phase, h = taps.begin(), x[:, :, t]
        for l in range(3):
            h = taps.finish(l, taps.slot(l, phase).copy_(h), phase)
            torch.testing.assert_close(h, want[l][:, :, t], rtol=1e-12, atol=1e-12)
        taps.commit()


# --- learning ------------------------------------------------------------------------------
def adding_problem(n, T, seed):
    """(x (n, T, 2), y (n,)) tensors of seqlab.data's adding problem."""
    data = adding_sequences(n, T, seed=seed)
    return torch.as_tensor(np.stack(data.sequences)), torch.as_tensor(data.labels)


def train_adding(T, channels, kernel_size, steps, lr, seed=0):
    """Adding problem (Bai et al. 2018, Section 4.1): predict the sum of the two marked
    numbers; predicting 1 always gives MSE ~ 0.167. Returns the validation MSE."""
    torch.manual_seed(seed)
    tcn = TCN(2, channels, kernel_size=kernel_size)
    head = torch.nn.Linear(channels[-1], 1)
    params = [*tcn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    assert tcn.receptive_field >= T
    for step in range(steps):
        x, y = adding_problem(64, T, seed=1_000 * seed + step + 1)
        loss = F.mse_loss(head(tcn(x)[:, -1]).squeeze(-1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = adding_problem(500, T, seed=1_000 * seed)  # unseen: no training step uses this seed
    with torch.no_grad():
        return F.mse_loss(head(tcn(x)[:, -1]).squeeze(-1), y).item()


def test_tcn_learns_a_short_adding_problem():
    # T=20, 4 levels x 16 channels, kernel 3 (field 61), 300 Adam steps: a few seconds
    assert train_adding(T=20, channels=[16] * 4, kernel_size=3, steps=300, lr=3e-3) < 0.02


@pytest.mark.slow
def test_tcn_learns_the_adding_problem_t100():
    # Bai et al.: T=600 to near zero; here T=100, 6 levels x 24 channels, kernel 4 (field 379),
    # 1500 Adam steps of batch 64 (MSE 0.0004; 1 to 4.5 min on the shared 2-core machine).
    # Baseline (predict 1): MSE ~ 0.167.
    assert train_adding(T=100, channels=[24] * 6, kernel_size=4, steps=1500, lr=2e-3) < 0.01
