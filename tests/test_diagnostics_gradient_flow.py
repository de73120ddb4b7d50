"""gradient_flow: dL/dh_t through time, checked against the fused kernels' own gradients,
and the lectures' claims measured (vanishing in a tanh RNN, not in an LSTM; explosion with
large recurrent weights; clipping bounds the update)."""

import math

import numpy as np
import pytest
import torch

from seqlab.data.batch import IGNORE_INDEX, Batch
from seqlab.diagnostics.gradient_flow import (
    UnsupportedModel,
    _Recorder,
    _recording,
    gradient_flow,
)
from seqlab.models import build_model
from seqlab.nn import GRU, LSTM, RNN, TCN, WaveNet
from seqlab.train.step import clip_gradients

torch.set_num_threads(1)


def _suffix_grad(net, x, t):
    """dL/dh_t through the model's own (fused) forward: run the kernel on x[:, :t+1] for
    the state at t, then from that state over the rest; L = sum of the last output."""
    _, state = net(x[:, : t + 1])
    h, *rest = (state,) if isinstance(state, torch.Tensor) else state
    h0 = h.detach().requires_grad_(True)
    s0 = h0 if not rest else (h0, rest[0].detach())
    out, _ = net(x[:, t + 1 :], s0)
    (g,) = torch.autograd.grad(out[:, -1].sum(), h0)
    return g[-1]  # the top layer's (B, H)


@pytest.mark.parametrize("cls,layers", [(RNN, 1), (LSTM, 1), (GRU, 2), (LSTM, 2)])
def test_hidden_gradients_equal_the_fused_kernel_run_from_the_retained_state(cls, layers):
    torch.manual_seed(0)
    net = cls(3, 5, num_layers=layers).double().eval()
    assert net.uses_fused_kernel()  # what the model's own forward runs
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    flow = gradient_flow(net, x, keep_grads=True)
    top = flow.grads[-1]  # (B, T, H), the top layer
    for t in range(8):
        torch.testing.assert_close(top[:, t], _suffix_grad(net, x, t), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(top[:, 8], torch.ones(2, 5, dtype=torch.float64))
    assert flow.norms.shape == (layers, 9)
    np.testing.assert_allclose(flow.norms[-1], top.norm(dim=2).mean(0).numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3, 4, num_layers=2, bidirectional=True),  # torch's kernel
        lambda: LSTM(3, 4, peephole=True, layer_norm=True),  # seqlab's explicit BPTT
        lambda: GRU(3, 4, layer_norm=True, bidirectional=True),
    ],
    ids=["lstm-torch", "lstm-peephole-ln", "gru-ln-bi"],
)
def test_the_bptt_sum_written_out_equals_the_fused_paths_gradient(make):
    """dL/dW = sum_t dL/dW|_t: the loop's per-step terms add up to the gradient the
    model's fused forward gives, and its loss is the fused loss."""
    torch.manual_seed(1)
    net = make().double().eval()
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 4, 6])
    out, _ = net(x, lengths=lengths)
    fused_loss = out[:, 2].sum()
    fused = torch.autograd.grad(fused_loss, list(net.parameters()))
    with _recording(net) as rec:
        out, _ = net(x, lengths=lengths)
    loss = out[:, 2].sum()
    torch.testing.assert_close(loss, fused_loss, rtol=1e-12, atol=1e-12)
    per_step = [p for ws in rec.weights for w_t in ws for p in w_t]
    terms = torch.autograd.grad(loss, per_step, allow_unused=True)
    names = list(net.cell_weights(0, 0))
    for r, ws in enumerate(rec.weights):
        k, d = divmod(r, net.num_directions)
        for j, name in enumerate(names):
            total = sum(
                terms[(r * len(ws) + t) * len(names) + j]
                for t in range(len(ws))
                if terms[(r * len(ws) + t) * len(names) + j] is not None
            )
            param = getattr(net, net._param_name(name, k, d))
            want = fused[[p is param for p in net.parameters()].index(True)]
            torch.testing.assert_close(total, want, rtol=1e-10, atol=1e-12)
    assert not hasattr(net, "_run_loop") or net._run_loop is not rec  # restored
    assert net.impl == "auto"


def test_padding_and_reversal_average_each_sequence_at_its_own_steps():
    """A padded batch's norms are the mean over the sequences real at each step of what
    each sequence alone gives (the reverse direction starts at each one's own end)."""
    torch.manual_seed(2)
    net = GRU(2, 4, num_layers=2, bidirectional=True).double()
    x = torch.randn(2, 8, 2, dtype=torch.float64)
    lengths = torch.tensor([8, 5])
    padded = gradient_flow(net, Batch(inputs=x, lengths=lengths))
    alone = [gradient_flow(net, x[b : b + 1, : int(n)]).norms for b, n in enumerate(lengths)]
    want = np.stack([alone[0][:, :5], alone[1]]).mean(0)
    np.testing.assert_allclose(padded.norms[:, :5], want, rtol=1e-10)
    np.testing.assert_allclose(padded.norms[:, 5:], alone[0][:, 5:], rtol=1e-10)
    assert padded.rows == ["layer 1", "layer 1 reverse", "layer 2", "layer 2 reverse"]
    # the top reverse state at the read-out step has seen only that step; nothing earlier
    # in its own run (later in time) reaches the loss
    s = gradient_flow(net, x).summary()["layer 2 reverse"]
    assert s["end"] == 7 and s["memory_length"] == 1


def test_parameter_share_sums_to_one_and_grows_toward_the_loss():
    torch.manual_seed(3)
    flow = gradient_flow(RNN(2, 8), torch.randn(4, 30, 2))
    share = flow.param_share
    assert share.shape == (30,) and math.isclose(share.sum(), 1.0, rel_tol=1e-9)
    assert share[-1] > 100 * share[0]  # vanishing: early steps barely move W


# --- the lectures' claims, measured -----------------------------------------------------


def _ratio(cls, seed=0, T=200, **kw):
    torch.manual_seed(seed)
    net = cls(1, 32, **kw).double()
    flow = gradient_flow(net, torch.randn(8, T, 1, dtype=torch.float64))
    return flow.summary()["layer 1"]


def test_tanh_rnn_vanishes_where_the_lstm_keeps_its_gradient():
    """Length 200, hidden 32, seqlab's default init (torch's: U(±1/sqrt(H)); LSTM forget
    bias 1), 8 unit-normal sequences of 1 feature, seed 0, float64. Seen: ||dL/dh_1|| /
    ||dL/dh_200|| = 1.1e-44 (tanh RNN), 5.3e-13 (LSTM), 1.6e-36 (GRU); effective memory
    (1%) 10, 16 and 9 steps."""
    rnn, lstm, gru = _ratio(RNN), _ratio(LSTM), _ratio(GRU)
    assert gru["first_last_ratio"] < 1e-20  # at this init the GRU's update gate is open
    assert rnn["first_last_ratio"] < 1e-35
    assert lstm["first_last_ratio"] > 1e-16
    assert lstm["first_last_ratio"] / rnn["first_last_ratio"] > 1e25  # orders of magnitude
    assert rnn["memory_length"] < lstm["memory_length"]


def test_large_recurrent_weights_explode_and_clipping_bounds_the_update():
    torch.manual_seed(0)
    net = RNN(1, 32).double()
    with torch.no_grad():
        net.weight_hh_l0.mul_(8.0)  # spectral radius well above 1
    x = torch.randn(8, 200, 1, dtype=torch.float64)
    s = gradient_flow(net, x).summary()["layer 1"]
    assert s["first_last_ratio"] > 1e20 and s["memory_length"] == 200  # seen: 1.1e36
    out, _ = net(x)
    out[:, -1].sum().backward()
    before = [p.detach().clone() for p in net.parameters()]
    norm = clip_gradients(net.parameters(), max_norm=1.0)
    assert norm > 1e20  # the pre-clip norm the trainer logs
    lr = 0.1
    torch.optim.SGD(net.parameters(), lr=lr).step()
    step = torch.cat(
        [(p.detach() - b).flatten() for p, b in zip(net.parameters(), before, strict=True)]
    )
    assert step.norm() <= lr * 1.0 + 1e-12


# --- convolutional encoders ---------------------------------------------------------------


def test_tcn_block_inputs_and_zero_beyond_the_receptive_field():
    torch.manual_seed(0)
    tcn = TCN(2, [4, 4, 4], kernel_size=2).double()  # field 1 + 2*1*7 = 15
    x = torch.randn(3, 40, 2, dtype=torch.float64, requires_grad=True)
    flow = gradient_flow(tcn, x.detach(), keep_grads=True)
    (want,) = torch.autograd.grad(tcn(x)[:, -1].sum(), x)
    torch.testing.assert_close(flow.input_grad, want)
    torch.testing.assert_close(flow.grads[0], want)  # block 1's input is x
    assert flow.rows == ["block 1", "block 2", "block 3"]
    assert (flow.input_norms[: 40 - 15] == 0).all() and (flow.input_norms[40 - 15 :] > 0).all()
    assert flow.summary()["block 1"]["end"] == 39


def test_wavenet_residual_stream_gradient_maps_back_to_the_input():
    """dL/dh_0 (the residual stream after the input 1x1 convolution) is the sum of each
    layer's paths; x -> h_0 is linear per step, so dL/dx_t = W_in^T dL/dh_0,t."""
    torch.manual_seed(0)
    net = WaveNet(3, 4, 5, dilation_cycles=1, layers_per_cycle=3).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    flow = gradient_flow(net, x, keep_grads=True)
    w_in = net.input_conv.weight[:, :, 0]  # (R, C_in)
    torch.testing.assert_close(flow.grads[0] @ w_in, flow.input_grad, rtol=1e-10, atol=1e-12)
    assert flow.rows == ["layer 1", "layer 2", "layer 3"]


# --- task models ----------------------------------------------------------------------------


def test_a_classifier_measures_its_own_loss_and_at_is_refused():
    torch.manual_seed(0)
    model = build_model(
        "classifier",
        {
            "inputs": {"vocab_size": 20, "embedding_dim": 4},
            "num_classes": 3,
            "encoder": {"kind": "lstm", "hidden_size": 6},
        },
    )
    batch = Batch(
        inputs=torch.randint(4, 20, (3, 10)),
        targets=torch.tensor([0, 2, 1]),
        lengths=torch.tensor([10, 7, 3]),
    )
    model.train()
    flow = gradient_flow(model, batch)
    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        assert math.isclose(flow.loss, model(batch).loss.item(), rel_tol=1e-6)
    assert flow.norms.shape == (1, 10) and (flow.norms[0] > 0).all()
    with pytest.raises(UnsupportedModel, match="at= picks one step"):
        gradient_flow(model, batch, at=3)
    with pytest.raises(ValueError, match="needs a Batch"):
        gradient_flow(model, batch.inputs)


def test_a_language_model_reads_the_loss_at_one_step():
    torch.manual_seed(0)
    model = build_model(
        "language_model",
        {
            "inputs": {"vocab_size": 12, "embedding_dim": 4},
            "encoder": {"kind": "gru", "hidden_size": 6},
        },
    )
    inputs = torch.randint(4, 12, (2, 9))
    targets = torch.randint(4, 12, (2, 9))
    targets[1, 6:] = IGNORE_INDEX
    flow = gradient_flow(model, Batch(inputs=inputs, targets=targets), at=4)
    assert (flow.norms[0, 5:] == 0).all() and (flow.norms[0, :5] > 0).all()
    last = gradient_flow(model, Batch(inputs=inputs, targets=targets))
    assert last.summary()["layer 1"]["end"] == 8  # each sequence's last real target


@pytest.mark.parametrize(
    "model,batch,message",
    [
        (
            build_model(
                "forecaster",
                {
                    "input_size": 1,
                    "output_size": 1,
                    "horizon": 2,
                    "window": 5,
                    "encoder": {"kind": "mlp", "hidden_size": 4},
                },
            ),
            Batch(inputs=torch.randn(2, 5, 1), targets=torch.randn(2, 2, 1)),
            "this model's encoder is 'mlp'",
        ),
        (LSTM(1, 2), torch.randn(2, 0, 1), "at least one time step"),
        (LSTM(1, 2), torch.randint(0, 3, (2, 4, 1)), "float inputs"),
    ],
    ids=["mlp", "length-0", "ints"],
)
def test_bad_input_is_one_clear_error(model, batch, message):
    with pytest.raises(ValueError, match=message):
        gradient_flow(model, batch)


def test_at_out_of_range():
    with pytest.raises(ValueError, match=r"at must be a step in \[0, T=4\), got 4"):
        gradient_flow(LSTM(1, 2), torch.randn(1, 4, 1), at=4)


def test_the_recorder_is_the_reference_loop():
    torch.manual_seed(0)
    net = LSTM(2, 3, num_layers=2).double()
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    want, _ = net(x)
    with _recording(net) as rec:
        got, _ = net(x)
    assert isinstance(rec, _Recorder) and len(rec.states) == 2 and len(rec.states[0]) == 5
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_memory_length_reaches_past_the_holes_between_dilated_taps():
    from seqlab.diagnostics.gradient_flow import _row_summary

    row = np.array([0.0, 5.0, 0.0, 0.0, 0.5, 0.0, 100.0, 0.0])
    s = _row_summary(row, 0.01, reverse=False)
    assert s == {"first_last_ratio": 0.0, "memory_length": 6, "end": 6}
    assert _row_summary(row, 0.01, reverse=True)["end"] == 1  # step 6 from the end
    assert _row_summary(np.zeros(3), 0.01, False)["memory_length"] == 0
