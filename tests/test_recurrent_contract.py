"""The contract every recurrent layer keeps (Keras' run_layer_test, for seqlab):
shapes, dtypes, state in and out, state_dict round-trip, padding, dropout, bad arguments."""

import io

import pytest
import torch

import seqlab.nn as snn

LAYERS = {
    "rnn": lambda **kw: snn.RNN(4, 6, **kw),
    "rnn-relu": lambda **kw: snn.RNN(4, 6, nonlinearity="relu", **kw),
    "lstm": lambda **kw: snn.LSTM(4, 6, **kw),
    "lstm-peephole": lambda **kw: snn.LSTM(4, 6, peephole=True, **kw),
    "lstm-ln": lambda **kw: snn.LSTM(4, 6, layer_norm=True, **kw),
    "lstm-peephole-ln": lambda **kw: snn.LSTM(4, 6, peephole=True, layer_norm=True, **kw),
    "gru": lambda **kw: snn.GRU(4, 6, **kw),
    "gru-ln": lambda **kw: snn.GRU(4, 6, layer_norm=True, **kw),
    "gru-cho": lambda **kw: snn.GRU(4, 6, reset_after=False, **kw),
}
CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "merge": "sum"},
    {"num_layers": 2, "bidirectional": True, "merge": "ave"},
    {"bidirectional": True, "merge": "mul"},
]
CASES = [(k, c) for k in LAYERS for c in CONFIGS]
IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in c.items()) or 'default'}" for k, c in CASES]


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize(("kind", "cfg"), CASES, ids=IDS)
def test_layer_contract(kind, cfg):
    layer = LAYERS[kind](**cfg)
    B, T = 3, 8
    x = torch.randn(B, T, 4)
    D = 2 if cfg.get("bidirectional") else 1
    L = cfg.get("num_layers", 1)
    out, state = layer(x)
    width = 6 * D if cfg.get("merge", "concat") == "concat" else 6
    assert out.shape == (B, T, width) == (B, T, layer.output_size)
    n_state = 2 if kind.startswith("lstm") else 1
    assert len(_parts(state)) == n_state
    for s in _parts(state):
        assert s.shape == (L * D, B, 6)

    # dtype follows the module
    out64, _ = layer.double()(x.double())
    assert out64.dtype == torch.float64
    layer.float()

    # state round-trip: the first half's state carried into the second half equals one run
    # (one direction only: a reverse direction needs the future by definition)
    if D == 1:
        first, s1 = layer(x[:, :5])
        second, s2 = layer(x[:, 5:], s1)
        torch.testing.assert_close(torch.cat([first, second], 1), out)
        for a, b in zip(_parts(s2), _parts(state), strict=True):
            torch.testing.assert_close(a, b)

    # state_dict round-trip through a file, into a fresh layer
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    fresh = LAYERS[kind](**cfg)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    torch.testing.assert_close(fresh(x)[0], out)

    # padding never changes a sequence's outputs or state: alone vs padded in a batch
    lengths = torch.tensor([8, 5, 2])
    padded, pstate = layer(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, astate = layer(x[b : b + 1, :n])
        torch.testing.assert_close(padded[b : b + 1, :n], alone, atol=1e-6, rtol=1e-5)
        assert padded[b, n:].abs().sum() == 0
        for a, p in zip(_parts(astate), _parts(pstate), strict=True):
            torch.testing.assert_close(p[:, b : b + 1], a, atol=1e-6, rtol=1e-5)


def test_parameter_names_are_torchs():
    names = set(dict(snn.LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()))
    ref = set(dict(torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()))
    assert names == ref
    peep = dict(
        snn.LSTM(3, 4, bidirectional=True, peephole=True, layer_norm=True).named_parameters()
    )
    assert {
        "weight_ch_l0",
        "weight_ch_l0_reverse",
        "ln_ih_weight_l0",
        "ln_c_bias_l0_reverse",
    } <= set(peep)
    assert peep["weight_ch_l0"].shape == (12,)


def test_forget_bias_init():
    lstm = snn.LSTM(3, 4)
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    torch.testing.assert_close(b[4:8], torch.ones(4))
    lstm = snn.LSTM(3, 4, forget_bias=None)
    assert not torch.allclose(lstm.bias_ih_l0[4:8], torch.ones(4))


def test_chrono_init_spreads_the_lstm_forget_bias_and_mirrors_it_on_the_input_gate():
    # Tallec & Ollivier 2018: b_f = log u, u ~ U(1, T_max - 1), b_i = -b_f; bias_hh 0 there
    torch.manual_seed(0)
    H, T = 2000, 100
    lstm = snn.LSTM(3, H, num_layers=2, bidirectional=True, layer_norm=True, chrono=T)
    bound = 1 / H**0.5
    for suffix in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        b_ih, b_hh = getattr(lstm, "bias_ih" + suffix), getattr(lstm, "bias_hh" + suffix)
        b_i, b_f, b_g, b_o = b_ih.detach().chunk(4)
        u = b_f.exp()
        assert u.min() >= 1 and u.max() <= T - 1
        assert abs(u.mean().item() - T / 2) < 2.5  # U(1, 99): mean 50, std of the mean 0.6
        torch.testing.assert_close(b_i, -b_f)
        assert torch.equal(b_hh[: 2 * H], torch.zeros(2 * H))
        for rest in (b_g, b_o, b_hh[2 * H :]):  # torch's uniform init, untouched
            assert rest.abs().max() <= bound and rest.std() > bound / 3
    torch.manual_seed(0)
    again = snn.LSTM(3, H, num_layers=2, bidirectional=True, layer_norm=True, chrono=T)
    assert torch.equal(again.bias_ih_l1, lstm.bias_ih_l1)  # seeded: the same draw


def test_chrono_init_sets_the_gru_update_gate_bias():
    torch.manual_seed(1)
    H, T = 1000, 20
    gru = snn.GRU(3, H, chrono=T)
    b_r, b_z, b_n = gru.bias_ih_l0.detach().chunk(3)
    u = b_z.exp()
    assert u.min() >= 1 and u.max() <= T - 1 and u.std() > 4  # U(1, 19): std 5.2
    assert torch.equal(gru.bias_hh_l0[H : 2 * H], torch.zeros(H))
    assert b_r.abs().max() <= 1 / H**0.5 and b_n.abs().max() <= 1 / H**0.5
    z = torch.sigmoid(b_z)  # the keep gate at a zero input and state: u / (1 + u)
    torch.testing.assert_close(z, u / (1 + u))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"chrono": 2}, "chrono must be None or an int >= 3"),
        ({"chrono": 10.0}, "chrono must be None or an int >= 3"),
        ({"chrono": 10, "bias": False}, "chrono sets gate biases: it needs bias=True"),
    ],
)
@pytest.mark.parametrize("layer", [snn.LSTM, snn.GRU])
def test_chrono_refuses_what_it_cannot_set(layer, kwargs, words):
    with pytest.raises(ValueError, match=words):
        layer(3, 4, **kwargs)


def test_layer_norm_init_gain_one_shift_zero():
    lstm = snn.LSTM(3, 4, layer_norm=True)
    assert torch.equal(lstm.ln_ih_weight_l0, torch.ones(16))
    assert torch.equal(lstm.ln_c_bias_l0, torch.zeros(4))


def test_recurrent_wraps_user_cells_and_keeps_their_weights():
    cells = [snn.LSTMCell(3, 5, peephole=True), snn.LSTMCell(5, 5, peephole=True)]
    layer = snn.Recurrent(cells)
    torch.testing.assert_close(layer.weight_ch_l0, cells[0].weight_ch)
    x = torch.randn(2, 4, 3)
    # the first layer's first step equals the standalone cell's step
    h, _ = cells[0](x[:, 0])
    first_layer = snn.Recurrent([cells[0]])
    out, _ = first_layer(x)
    torch.testing.assert_close(out[:, 0], h)
    assert layer.cell.peephole and layer(x)[0].shape == (2, 4, 5)
    assert sum(1 for _ in layer.cells[0].parameters()) == 0  # the layer owns the weights


def test_recurrent_dropout_mask_fixed_over_time(monkeypatch):
    layer = snn.LSTM(3, 4, recurrent_dropout=0.5, bidirectional=True)
    assert not layer.uses_fused_kernel()  # a variational mask: not torch's kernel
    layer.impl = "reference"  # the spy watches the loop (the BPTT path is tested equal to it)
    seen = []
    step = type(layer.cell).step

    def spy(self, xp, state, w, h_mask=None):
        seen.append(h_mask)
        return step(self, xp, state, w, h_mask)

    monkeypatch.setattr(type(layer.cell), "step", spy)
    layer(torch.randn(2, 6, 3))
    fwd, bwd = seen[:6], seen[6:]
    assert all(m is fwd[0] for m in fwd) and all(m is bwd[0] for m in bwd)
    assert fwd[0] is not bwd[0]
    assert set(fwd[0].unique().tolist()) <= {0.0, 2.0}  # inverted dropout, keep prob 0.5
    seen.clear()
    layer.eval()
    layer.impl = "auto"
    assert layer.uses_fused_kernel()  # eval mode: no dropout, torch's kernel
    out_eval = layer(torch.randn(2, 6, 3))[0]
    assert out_eval.shape == (2, 6, 8) and not seen


def test_dropout_between_layers_only_in_training():
    layer = snn.GRU(3, 4, num_layers=2, dropout=0.5, impl="reference")
    x = torch.randn(2, 5, 3)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0])
    layer.train()
    assert not torch.equal(layer(x)[0], layer(x)[0])


BAD_ARGS = [
    (lambda: snn.LSTM(3, 0), "hidden_size must be a positive int, got 0"),
    (lambda: snn.LSTM(0, 3), "input_size must be a positive int, got 0"),
    (lambda: snn.GRU(3, 4, num_layers=0), "num_layers must be a positive int, got 0"),
    (lambda: snn.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity must be 'tanh' or 'relu'"),
    (lambda: snn.LSTM(3, 4, dropout=1.0), "dropout must be a float in [0, 1), got 1.0"),
    (lambda: snn.LSTM(3, 4, recurrent_dropout=-0.1), "recurrent_dropout must be a float"),
    (lambda: snn.LSTM(3, 4, merge="stack"), "merge must be one of"),
    (
        lambda: snn.GRU(3, 4, layer_norm=True, reset_after=False),
        "layer_norm=True needs reset_after",
    ),
    (lambda: snn.LSTM(3, 4, impl="cuda"), "impl must be one of"),
    (lambda: snn.Recurrent([]), "cells must hold at least one cell"),
    (
        lambda: snn.Recurrent([snn.LSTMCell(3, 4), snn.LSTMCell(5, 4)]),
        "cell 1 must take input_size=4",
    ),
]


@pytest.mark.parametrize(("make", "message"), BAD_ARGS, ids=[m for _, m in BAD_ARGS])
def test_bad_constructor_arguments(make, message):
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        make()


BAD_CALLS = [
    (lambda: torch.randn(5, 3), {}, r"x must be a 3-D tensor \(batch, time, features\), got \(5, 3\)"),
    (lambda: torch.randn(2, 5, 4), {}, "x must have 3 features"),
    (lambda: torch.randn(2, 0, 3), {}, "at least one time step"),
    (lambda: torch.randn(2, 5, 3), {"lengths": torch.tensor([5, 0])}, r"lengths\[1\] must be in \[1, T=5\], got 0"),
    (lambda: torch.randn(2, 5, 3), {"lengths": torch.tensor([6, 2])}, r"lengths\[0\] must be in \[1, T=5\], got 6"),
    (lambda: torch.randn(2, 5, 3), {"lengths": torch.tensor([5])}, r"lengths must have shape \(2,\)"),
    (lambda: torch.randn(2, 5, 3), {"lengths": torch.tensor([5.0, 2.0])}, "lengths must be integers"),
    (lambda: torch.randn(2, 5, 3), {"state": torch.zeros(1, 2, 4)}, r"state must be \(h, c\)"),
    (lambda: torch.randn(2, 5, 3), {"state": (torch.zeros(1, 3, 4),) * 2}, r"state tensors must have shape \(1, 2, 4\)"),
]  # fmt: skip


@pytest.mark.parametrize(("make_x", "kwargs", "message"), BAD_CALLS, ids=[m for *_, m in BAD_CALLS])
def test_bad_forward_arguments(make_x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        snn.LSTM(3, 4)(make_x(), **kwargs)
