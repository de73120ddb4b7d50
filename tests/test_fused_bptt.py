"""seqlab.nn.fused.bptt: the explicit-BPTT cells equal the reference loop, and fall back.

Every variant on the fast path (peephole / layer-norm LSTM, layer-norm GRU, recurrent
dropout) against ``impl="reference"`` with seeded random weights: outputs, final states,
gradients of the input, the initial states and every parameter, with lengths, several
layers, both directions and dropout masks fixed by a seed; gradcheck of each Function;
the fallback when no library can be built.
"""

import logging
import zlib

import pytest
import torch

import seqlab.nn as snn
from seqlab.nn.fused import blas, bptt, build
from stream_paths import needs_c_compiler

pytestmark = needs_c_compiler

VARIANTS = {
    "lstm-peephole": (snn.LSTM, {"peephole": True}),
    "lstm-ln": (snn.LSTM, {"layer_norm": True}),
    "lstm-peephole-ln": (snn.LSTM, {"peephole": True, "layer_norm": True}),
    "lstm-rec-dropout": (snn.LSTM, {"recurrent_dropout": 0.3}),
    "lstm-all": (snn.LSTM, {"peephole": True, "layer_norm": True, "recurrent_dropout": 0.3}),
    "gru-ln": (snn.GRU, {"layer_norm": True}),
    "gru-rec-dropout": (snn.GRU, {"recurrent_dropout": 0.3}),
    "gru-ln-rec-dropout": (snn.GRU, {"layer_norm": True, "recurrent_dropout": 0.3}),
    "lstm-ln-no-bias": (snn.LSTM, {"layer_norm": True, "bias": False}),
    "gru-ln-no-bias": (snn.GRU, {"layer_norm": True, "bias": False}),
    "gru-reset-before": (snn.GRU, {"reset_after": False}),
    "gru-reset-before-rec-dropout": (snn.GRU, {"reset_after": False, "recurrent_dropout": 0.3}),
    "gru-reset-before-no-bias": (snn.GRU, {"reset_after": False, "bias": False}),
    "rnn-rec-dropout": (snn.RNN, {"recurrent_dropout": 0.3}),
    "rnn-relu-rec-dropout": (snn.RNN, {"recurrent_dropout": 0.3, "nonlinearity": "relu"}),
}
CONFIGS = {
    "plain": ({}, False, False),
    "lengths": ({}, True, False),
    "state": ({}, False, True),
    "2-layers-bi-lengths-state": ({"num_layers": 2, "bidirectional": True}, True, True),
    "2-layers-bi-sum-dropout": (
        {"num_layers": 2, "bidirectional": True, "merge": "sum", "dropout": 0.4},
        True,
        False,
    ),
}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def make(kind, cfg, dtype):
    cls, opts = VARIANTS[kind]
    layer = cls(5, 6, **opts, **cfg).to(dtype)
    gen = torch.Generator().manual_seed(zlib.crc32(f"{kind}{cfg}".encode()))
    with torch.no_grad():  # seeded random weights (norm gains and peepholes too), not 0/1
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.5)
    return layer


def run(layer, x, state, lengths, seed):
    """Output, final state and the gradients of x, the initial state and every parameter
    for a loss with random weights on each; dropout masks drawn from ``seed``."""
    x = x.clone().requires_grad_()
    state = None if state is None else tuple(s.clone().requires_grad_() for s in state)
    torch.manual_seed(seed)
    arg = state if state is None or len(state) == 2 else state[0]
    out, final = layer(x, arg, lengths=lengths)
    final = final if isinstance(final, tuple) else (final,)
    gen = torch.Generator().manual_seed(1)
    loss = sum(
        (t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in (out, *final)
    )
    inputs = [x, *(state or ()), *layer.parameters()]
    return [out, *final, *torch.autograd.grad(loss, inputs)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(VARIANTS))
def test_fused_equals_reference(kind, config, dtype):
    cfg, with_lengths, with_state = CONFIGS[config]
    layer = make(kind, cfg, dtype)
    B, T = 4, 7
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(B, T, 5, generator=gen, dtype=dtype)
    lengths = torch.tensor([7, 3, 5, 1]) if with_lengths else None
    state = None
    if with_state:
        shape = (layer.num_layers * layer.num_directions, B, 6)
        n = layer.cell.state_size
        state = tuple(torch.randn(shape, generator=gen, dtype=dtype) for _ in range(n))
    assert layer.fused_path(x).name == "bptt" and not layer.uses_fused_kernel()
    got = run(layer, x, state, lengths, seed=3)
    layer.impl = "reference"
    want = run(layer, x, state, lengths, seed=3)
    names = ["output", *(f"state[{i}]" for i in range(layer.cell.state_size)), "grad x"]
    names += [f"grad state[{i}]" for i in range(len(state or ()))]
    names += [f"grad {n}" for n, _ in layer.named_parameters()]
    assert len(names) == len(got) == len(want)
    tol = TOL[dtype]
    for name, g, w in zip(names, got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=tol, atol=tol, msg=lambda m, n=name: f"{n}: {m}")
    if with_lengths:
        assert got[0][1, 3:].abs().sum() == 0  # zeros past a length


def assert_paths_equal(layer, x, lengths, state=None, tol=1e-10, threads=None):
    """The fast path (on ``threads`` torch threads) against the reference loop (on one: its
    hundreds of tiny ops on two threads of a loaded machine take seconds)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        got = run(layer, x, state, lengths, seed=3)
    finally:
        torch.set_num_threads(before)
    impl, layer.impl = layer.impl, "reference"
    want = run(layer, x, state, lengths, seed=3)
    layer.impl = impl
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(g, w, rtol=tol, atol=tol, msg=lambda m, i=i: f"result {i}: {m}")


needs_blas = pytest.mark.skipif(
    blas.gemm_pointer(torch.float64) is None,
    reason="this torch exports no MKL ?gemm_: bptt runs its per-step loop (tested below)",
)


@needs_blas
@pytest.mark.parametrize("batch", [3, 1])
@pytest.mark.parametrize(
    "kind", ["lstm-all", "lstm-peephole-ln", "gru-ln-rec-dropout", "gru-reset-before-rec-dropout"]
)
def test_time_loop_on_two_threads_equals_reference(kind, batch):
    """The C time loop splits the batch rows over the threads (rnn_cells.c: *_seq): uneven
    blocks (3 rows), one row (a thread with none), lengths, two layers, both directions."""
    layer = make(kind, {"num_layers": 2, "bidirectional": True}, torch.float64)
    x = torch.randn(batch, 6, 5, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 3][:batch])
    shape = (4, batch, 6)
    state = tuple(torch.randn(shape, dtype=torch.float64) for _ in range(layer.cell.state_size))
    assert_paths_equal(layer, x, lengths, state, threads=2)
    layer32 = make(kind, {"num_layers": 2, "bidirectional": True}, torch.float32)
    assert_paths_equal(layer32, x.float(), lengths, tol=1e-5, threads=2)
    # inference on the threads: the input half made per step inside the C loop
    want = run(layer, x, state, lengths, seed=3)[0]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(3)
        arg = state if len(state) == 2 else state[0]
        with torch.no_grad():
            got = layer(x, arg, lengths=lengths)[0]
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "kind", ["lstm-all", "lstm-ln-no-bias", "gru-ln-rec-dropout", "gru-reset-before-rec-dropout"]
)
def test_per_step_loop_equals_reference(monkeypatch, kind):
    """Without PyTorch's BLAS (torch not built on MKL) the time loop runs in Python, one
    torch.mm per step, the elementwise half in C: the same function."""
    monkeypatch.setattr(bptt, "gemm_pointer", lambda dtype: None)
    layer = make(kind, {"num_layers": 2, "bidirectional": True}, torch.float64)
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    assert layer.fused_path(x).name == "bptt"
    assert_paths_equal(layer, x, torch.tensor([6, 2, 5]))


def test_gemm_pointer_is_the_blas_torch_calls_or_none():
    for dtype in (torch.float32, torch.float64):
        found = blas.gemm_pointer(dtype)
        assert found is None or (isinstance(found, int) and found > 0)
        if not torch.backends.mkl.is_available():
            assert found is None
    assert blas.gemm_pointer(torch.float16) is None  # no half-precision BLAS: per-step loop


@pytest.mark.parametrize(
    "kind",
    ["lstm-all", "gru-ln-rec-dropout", "lstm-peephole", "gru-reset-before-rec-dropout",
     "rnn-relu-rec-dropout"],
)  # fmt: skip
def test_inference_forward_equals_training_forward(kind):
    """Without grad the step buffers are one step and a ring of two (rnn_cells.c: keep),
    and the C loop makes the input half per step (RawInput): equal up to rounding."""
    layer = make(kind, {"num_layers": 2, "bidirectional": True}, torch.float64)
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5])
    torch.manual_seed(0)
    with torch.no_grad():
        out, state = layer(x, lengths=lengths)
    torch.manual_seed(0)
    out2, state2 = layer(x.requires_grad_(), lengths=lengths)
    torch.testing.assert_close(out, out2.detach(), rtol=1e-10, atol=1e-10)
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    state2 if isinstance(state2, tuple) else (state2,), strict=True):  # fmt: skip
        torch.testing.assert_close(a, b.detach(), rtol=1e-10, atol=1e-10)


def test_plain_cells_keep_torch_kernels_and_take_bptt_for_recurrent_dropout():
    x = torch.randn(2, 3, 4)
    assert snn.LSTM(4, 5).fused_path(x).name == "torch"
    lstm = snn.LSTM(4, 5, recurrent_dropout=0.2)
    assert lstm.fused_path(x).name == "bptt"
    lstm.eval()
    assert lstm.fused_path(x).name == "torch"  # no dropout in eval: torch's kernel
    assert snn.GRU(4, 5, reset_after=False, recurrent_dropout=0.2).fused_path(x).name == "bptt"
    assert snn.GRU(4, 5, reset_after=False).fused_path(x).name == "bptt"  # torch has no kernel
    assert snn.RNN(4, 5, recurrent_dropout=0.2).fused_path(x).name == "bptt"
    assert snn.RNN(4, 5).fused_path(x).name == "torch"
    assert snn.LSTM(4, 5, peephole=True).fused_path(x.half()) is None  # float32/64 only
    assert snn.LSTM(4, 5, peephole=True, impl="reference").fused_path(x) is None


def _function_inputs(kind, T=4, B=3, H=2, lengths=True, mask=True, from_x=False):
    """The inputs of ``FUNCTIONS[kind]``; the LSTM's and GRU's with LN_ih's gain, and
    their input half given as gx (W_ih x before the norm) or, ``from_x``, as x and W_ih."""
    gen = torch.Generator().manual_seed(4)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_()

    G = {"lstm": 4 * H, "gru": 3 * H, "gru_rb": 3 * H, "elman": H}[kind]
    drop = (torch.rand(B, H, generator=gen) > 0.3).double() / 0.7 if mask else None
    valid = None
    if lengths:
        valid = (torch.arange(T).unsqueeze(1) < torch.tensor([T, 2, 1])).to(torch.uint8)
    lib = bptt.cell_library(torch.float64)
    gx, source = rand(T, B, G), (None, None, rand(G))  # x, w_ih, ln_ih_w
    if from_x:
        gx, source = None, (rand(T, B, 3), rand(G, 3), rand(G))
    if kind == "lstm":
        return (gx, rand(G), rand(B, H), rand(B, H), rand(G, H), rand(3 * H), rand(G), rand(G),
                rand(H), rand(H), drop, valid, True, 1e-5, lib, *source)  # fmt: skip
    if kind == "elman":
        return (rand(T, B, G), rand(G), rand(B, H), rand(G, H), drop, valid, True, False, lib)
    if kind == "gru_rb":
        return (rand(T, B, G), rand(G), rand(B, H), rand(G, H), drop, valid, True, lib)
    return (gx, rand(G), rand(B, H), rand(G, H), rand(G), rand(G), rand(G), drop, valid, True,
            1e-5, lib, *source)  # fmt: skip


FUNCTIONS = {
    "lstm": bptt.LSTMFunction,
    "gru": bptt.GRUFunction,
    "gru_rb": bptt.GRUResetBeforeFunction,
    "elman": bptt.ElmanFunction,
}


@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("mask", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_rb", "elman", "elman-relu"])
def test_gradcheck_functions(kind, mask, lengths):
    args = _function_inputs(kind.removesuffix("-relu"), lengths=lengths, mask=mask)
    if kind == "elman-relu":
        args = (*args[:7], True, args[8])
    assert torch.autograd.gradcheck(FUNCTIONS[kind.removesuffix("-relu")].apply, args)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_rb", "elman"])
def test_gradcheck_functions_without_options(kind):
    """No bias, peepholes or norms (the None inputs): the plain cell with a dropout mask."""
    args = list(_function_inputs(kind))
    nones = {"lstm": [1, 5, 6, 7, 8, 9, 17], "gru": [1, 4, 5, 6, 14], "gru_rb": [1], "elman": [1]}
    for i in nones[kind]:
        args[i] = None
    assert torch.autograd.gradcheck(FUNCTIONS[kind].apply, tuple(args))


@pytest.mark.parametrize("ln", [True, False], ids=["ln-ih", "no-ln-ih"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_functions_making_the_input_half(kind, ln):
    """gx = x W_ih^T made inside the Function (its training path), LN_ih in the C steps
    or (no-ln-ih) the bias in the GEMM: the gradients of x, W_ih and LN_ih's gain."""
    args = list(_function_inputs(kind, from_x=True))
    if not ln:
        args[-1] = None
    assert torch.autograd.gradcheck(FUNCTIONS[kind].apply, tuple(args))


@pytest.mark.parametrize("kind", ["lstm-peephole", "gru-ln", "rnn-rec-dropout"])
def test_double_backward_is_refused(kind):
    layer = make(kind, {}, torch.float64)
    x = torch.randn(2, 5, 5, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"double backward .* impl='reference'"):
        torch.autograd.grad(layer(x)[0].sum(), x, create_graph=True)
    layer.impl = "reference"  # the loop differentiates twice
    (g,) = torch.autograd.grad(layer(x)[0].sum(), x, create_graph=True)
    g.square().sum().backward()


@pytest.fixture
def fresh_loader(monkeypatch):
    monkeypatch.setattr(build, "_loaded", {})
    monkeypatch.setattr(bptt, "_LIBS", {})


@pytest.mark.parametrize("why", ["SEQLAB_NATIVE=0", "no compiler"])
def test_fallback_is_the_loop_when_no_library(fresh_loader, monkeypatch, caplog, why):
    if why == "SEQLAB_NATIVE=0":
        monkeypatch.setenv("SEQLAB_NATIVE", "0")
    else:
        monkeypatch.setenv("CC", "/nonexistent/cc")
    layer = make("lstm-peephole-ln", {"num_layers": 2}, torch.float64)
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    with caplog.at_level(logging.WARNING, logger="seqlab.nn.fused.build"):
        assert layer.fused_path(x) is None
        got = run(layer, x, None, torch.tensor([4, 2, 3]), seed=0)
        layer(x)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("seqlab runs the PyTorch path instead of rnn")
    layer.impl = "reference"
    want = run(layer, x, None, torch.tensor([4, 2, 3]), seed=0)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_a_compiler_without_openmp_builds_the_one_thread_library(
    fresh_loader, monkeypatch, caplog, tmp_path
):
    """Where ``-fopenmp`` is refused (clang without libomp) the source builds without it:
    one log line, and the time loop runs on one thread, with the same results."""
    cc = tmp_path / "cc-no-openmp"
    cc.write_text('#!/bin/sh\nfor a; do [ "$a" = -fopenmp ] && exit 1; done\nexec cc "$@"\n')
    cc.chmod(0o755)
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="seqlab.nn.fused.build"):
        lib = bptt.cell_library(torch.float64)
    assert lib is not None and lib.rnn_openmp() == 0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("seqlab builds rnn_cells.c without -fopenmp")
    layer = make("lstm-all", {"bidirectional": True}, torch.float64)
    assert_paths_equal(layer, torch.randn(3, 5, 5, dtype=torch.float64), torch.tensor([5, 2, 4]))
