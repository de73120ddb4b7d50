"""seqlab's cells against an independent NumPy implementation of the textbook equations.

The NumPy code below is written from the papers, not from seqlab's code: peephole LSTM
(Gers & Schmidhuber 2002), layer-norm LSTM (Ba, Kiros & Hinton 2016), layer-norm GRU, the
original Cho et al. GRU (reset before W_hn) and the Elman RNN. Whole sequences, seeded
random weights, float64 to 1e-10, through the layer (reference path) and the cell.
"""

import numpy as np
import pytest
import torch

import seqlab.nn as snn


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def layer_norm(x, gain, shift, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gain + shift


def np_lstm(x, w, H, peephole, ln):
    """x (B, T, I); w: dict of numpy arrays by seqlab's cell weight names."""
    B, T, _ = x.shape
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    hs = []
    for t in range(T):
        a_x = x[:, t] @ w["weight_ih"].T
        a_h = h @ w["weight_hh"].T
        if ln:
            a_x = layer_norm(a_x, w["ln_ih_weight"], w["ln_ih_bias"])
            a_h = layer_norm(a_h, w["ln_hh_weight"], w["ln_hh_bias"])
        a = a_x + a_h + w["bias_ih"] + w["bias_hh"]
        a_i, a_f, a_g, a_o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        if peephole:
            p = w["weight_ch"]
            a_i = a_i + p[:H] * c  # input gate peeks at c_{t-1}
            a_f = a_f + p[H : 2 * H] * c  # forget gate peeks at c_{t-1}
        c = sigmoid(a_f) * c + sigmoid(a_i) * np.tanh(a_g)
        if peephole:
            a_o = a_o + w["weight_ch"][2 * H :] * c  # output gate peeks at the new c_t
        c_out = layer_norm(c, w["ln_c_weight"], w["ln_c_bias"]) if ln else c
        h = sigmoid(a_o) * np.tanh(c_out)
        hs.append(h)
    return np.stack(hs, 1), h, c


def np_gru(x, w, H, ln, reset_after):
    B, T, _ = x.shape
    h = np.zeros((B, H))
    hs = []
    Wih, Whh, bih, bhh = w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    for t in range(T):
        gi = x[:, t] @ Wih.T
        if ln:
            gi = layer_norm(gi, w["ln_ih_weight"], w["ln_ih_bias"])
        gi = gi + bih
        if reset_after:
            gh = h @ Whh.T
            if ln:
                gh = layer_norm(gh, w["ln_hh_weight"], w["ln_hh_bias"])
            gh = gh + bhh
            r = sigmoid(gi[:, :H] + gh[:, :H])
            z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
            n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        else:
            r = sigmoid(gi[:, :H] + h @ Whh[:H].T + bhh[:H])
            z = sigmoid(gi[:, H : 2 * H] + h @ Whh[H : 2 * H].T + bhh[H : 2 * H])
            n = np.tanh(gi[:, 2 * H :] + (r * h) @ Whh[2 * H :].T + bhh[2 * H :])
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, 1), h


def np_elman(x, w, relu):
    B, T, _ = x.shape
    h = np.zeros((B, w["weight_hh"].shape[0]))
    hs = []
    for t in range(T):
        a = x[:, t] @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"]
        h = np.maximum(a, 0) if relu else np.tanh(a)
        hs.append(h)
    return np.stack(hs, 1), h


def _randomize(layer, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.6)
    return {k: v.detach().numpy() for k, v in layer.cell_weights(0).items()}, gen


B, T, I, H = 3, 9, 4, 5


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("ln", [False, True])
def test_lstm_matches_numpy(peephole, ln):
    layer = snn.LSTM(I, H, peephole=peephole, layer_norm=ln, impl="reference").double()
    w, gen = _randomize(layer, seed=int(peephole) * 2 + int(ln))
    x = torch.randn(B, T, I, generator=gen, dtype=torch.float64)
    out, (h, c) = layer(x)
    ref_out, ref_h, ref_c = np_lstm(x.numpy(), w, H, peephole, ln)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(h[0].detach().numpy(), ref_h, atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(c[0].detach().numpy(), ref_c, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize(("ln", "reset_after"), [(False, True), (True, True), (False, False)])
def test_gru_matches_numpy(ln, reset_after):
    layer = snn.GRU(I, H, layer_norm=ln, reset_after=reset_after).double()
    w, gen = _randomize(layer, seed=10 + int(ln) * 2 + int(reset_after))
    x = torch.randn(B, T, I, generator=gen, dtype=torch.float64)
    out, h = layer(x)
    ref_out, ref_h = np_gru(x.numpy(), w, H, ln, reset_after)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(h[0].detach().numpy(), ref_h, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("impl", ["auto", "reference"])
def test_elman_matches_numpy(nonlinearity, impl):
    layer = snn.RNN(I, H, nonlinearity=nonlinearity, impl=impl).double()
    w, gen = _randomize(layer, seed=20)
    x = torch.randn(B, T, I, generator=gen, dtype=torch.float64)
    out, h = layer(x)
    ref_out, ref_h = np_elman(x.numpy(), w, nonlinearity == "relu")
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(h[0].detach().numpy(), ref_h, atol=1e-10, rtol=1e-10)


def test_standalone_cell_step_matches_numpy():
    cell = snn.LSTMCell(I, H, peephole=True, layer_norm=True).double()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x = torch.randn(B, 1, I, generator=gen, dtype=torch.float64)
    h, c = cell(x[:, 0])
    w = {k: v.detach().numpy() for k, v in cell.weights().items()}
    _, ref_h, ref_c = np_lstm(x.numpy(), w, H, True, True)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(c.detach().numpy(), ref_c, atol=1e-10, rtol=1e-10)
