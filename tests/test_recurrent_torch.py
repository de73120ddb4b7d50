"""seqlab.nn.RNN/LSTM/GRU equal torch.nn.RNN/LSTM/GRU with the same (seeded random) weights.

Both paths (torch's fused kernel and the reference loop over the cell's equation), 1-3
layers, one or two directions, with and without lengths and initial state: outputs,
final states, input gradients and every parameter gradient.
"""

import itertools
import zlib

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqlab.nn as snn
from seqlab.nn.fused.torch_kernels import packs_lengths


def tol(dtype):
    """The project's equivalence tolerances: float64 to 1e-10, float32 to 1e-5."""
    if dtype == torch.float64:
        return {"atol": 1e-10, "rtol": 1e-10}
    return {"atol": 1e-5, "rtol": 1e-5}


KINDS = {
    "rnn_tanh": (lambda **kw: snn.RNN(**kw), lambda **kw: torch.nn.RNN(**kw)),
    "rnn_relu": (
        lambda **kw: snn.RNN(nonlinearity="relu", **kw),
        lambda **kw: torch.nn.RNN(nonlinearity="relu", **kw),
    ),
    "lstm": (lambda **kw: snn.LSTM(**kw), lambda **kw: torch.nn.LSTM(**kw)),
    "gru": (lambda **kw: snn.GRU(**kw), lambda **kw: torch.nn.GRU(**kw)),
}

CASES = [
    (*case, pack)
    for case in itertools.product(
        KINDS,
        [1, 2, 3],  # layers
        [False, True],  # bidirectional
        [False, True],  # lengths
        [False, True],  # initial state
        ["auto", "reference"],
        [torch.float32, torch.float64],
    )
    # with lengths, the fused path runs padded (the CPU default) or packed (CUDA's)
    for pack in ([False, True] if case[3] and case[5] == "auto" else [None])
]


def _run(module, x, state, lengths, is_torch):
    if is_torch and lengths is not None:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, final = module(packed, state)
        out = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0]
        return out, final
    if is_torch:
        return module(x, state)
    return module(x, state, lengths=lengths)


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize(
    ("kind", "layers", "bidir", "use_lengths", "use_state", "impl", "dtype", "pack"), CASES
)
def test_equals_torch(kind, layers, bidir, use_lengths, use_state, impl, dtype, pack):
    B, T, I, H = 4, 7, 5, 6
    gen = torch.Generator().manual_seed(zlib.crc32(f"{kind}{layers}{bidir}".encode()))
    make_ours, make_torch = KINDS[kind]
    ref = make_torch(input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidir,
                     batch_first=True).to(dtype)  # fmt: skip
    with torch.no_grad():  # seeded random weights, wider than the default init
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.5)
    ours = make_ours(input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidir,
                     impl=impl).to(dtype)  # fmt: skip
    ours.load_state_dict(ref.state_dict())
    ours.pack_lengths = pack
    assert ours.uses_fused_kernel() == (impl == "auto")

    x = torch.randn(B, T, I, generator=gen, dtype=dtype)
    lengths = torch.tensor([7, 3, 5, 1]) if use_lengths else None
    D = 2 if bidir else 1
    n_state = 2 if kind == "lstm" else 1
    state = None
    if use_state:
        state = tuple(
            torch.randn(layers * D, B, H, generator=gen, dtype=dtype) for _ in range(n_state)
        )

    results = []
    for module, is_torch in ((ref, True), (ours, False)):
        xi = x.clone().requires_grad_()
        si = None if state is None else tuple(s.clone().requires_grad_() for s in state)
        si_arg = si if si is None or n_state == 2 else si[0]
        out, final = _run(module, xi, si_arg, lengths, is_torch)
        final = _as_tuple(final)
        # A loss that weights every output and state entry differently (seeded).
        g = torch.Generator().manual_seed(1)
        loss = (out * torch.randn(out.shape, generator=g, dtype=dtype)).sum()
        for f in final:
            loss = loss + (f * torch.randn(f.shape, generator=g, dtype=dtype)).sum()
        module.zero_grad()
        loss.backward()
        grads = {n: p.grad.clone() for n, p in module.named_parameters()}
        state_grads = None if si is None else [s.grad for s in si]
        results.append((out.detach(), [f.detach() for f in final], xi.grad, state_grads, grads))

    (o1, f1, gx1, gs1, gp1), (o2, f2, gx2, gs2, gp2) = results
    t = tol(dtype)
    torch.testing.assert_close(o2, o1, **t)
    for a, b in zip(f2, f1, strict=True):
        torch.testing.assert_close(a, b, **t)
    torch.testing.assert_close(gx2, gx1, **t)
    if gs1 is not None:
        for a, b in zip(gs2, gs1, strict=True):
            torch.testing.assert_close(a, b, **t)
    assert gp1.keys() == gp2.keys()  # torch's parameter names
    for name in gp1:
        torch.testing.assert_close(gp2[name], gp1[name], **t, msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_loads_into_torch(kind):
    make_ours, make_torch = KINDS[kind]
    ours = make_ours(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    ref = make_torch(
        input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True
    )
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(ours(x)[0], ref(x)[0])


def test_multi_layer_dropout_matches_torch_rng():
    """dropout between layers on the fused path is torch's own (same RNG draws)."""
    ref = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5, batch_first=True)
    ours = snn.LSTM(3, 4, num_layers=2, dropout=0.5)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 3)
    torch.manual_seed(7)
    a = ref(x)[0]
    torch.manual_seed(7)
    b = ours(x)[0]
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_padded_path_ignores_padding_content(kind):
    """The padded fused path never computes on padding: NaN there changes nothing."""
    layer = KINDS[kind][0](input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x = torch.randn(3, 6, 3, requires_grad=True)
    lengths = torch.tensor([6, 2, 4])
    out, state = layer(x, lengths=lengths)
    dirty = x.detach().clone()
    dirty[1, 2:] = float("nan")
    dirty[2, 4:] = float("inf")
    out2, state2 = layer(dirty, lengths=lengths)
    torch.testing.assert_close(out2, out)
    for a, b in zip(_as_tuple(state2), _as_tuple(state), strict=True):
        torch.testing.assert_close(a, b)
    (out.sum() + sum(s.sum() for s in _as_tuple(state))).backward()
    assert x.grad[1, 2:].abs().sum() == 0 and x.grad.isfinite().all()


def test_lengths_path_choice():
    x = torch.randn(2, 4, 3)
    assert not packs_lengths(snn.LSTM(3, 4), x)  # CPU: padded oneDNN kernels
    assert packs_lengths(snn.RNN(3, 4, nonlinearity="relu"), x)  # unbounded state: pack
    forced = snn.GRU(3, 4)
    forced.pack_lengths = True
    assert packs_lengths(forced, x)
