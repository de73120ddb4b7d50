"""The contract every non-recurrent ``seqlab.nn`` module keeps (Keras' run_layer_test):
shapes and documented sizes, dtypes, state_dict round trip, gradients, determinism in eval
mode, batch rows independent, causality, and bad arguments that raise a ``ValueError``
naming the argument. The recurrent layers have theirs in test_recurrent_contract.py.

One table of modules (``CASES``), one test per contract. A case says how to build the
module and its inputs, and what the output shapes and documented attributes are."""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from torch import nn

import seqlab.nn as snn
from seqlab.nn import receptive_field

B = 3


def lengths_mask(B, T):
    """(B, T) bool: rows of lengths T, min(5, T) and 1 (every row has a real key)."""
    lengths = torch.tensor([T, min(5, T), 1][:B])
    return torch.arange(T) < lengths[:, None]


def channels_first(C):
    return lambda B, T, dt: {"x": torch.randn(B, C, T, dtype=dt)}


def batch_first(C):
    return lambda B, T, dt: {"x": torch.randn(B, T, C, dtype=dt)}


def attention_inputs(Q, K, V=None, queries=None):
    def make(B, T, dt):
        q = torch.randn(B, Q, dtype=dt) if queries is None else torch.randn(B, queries, Q, dtype=dt)
        kw = {"query": q, "keys": torch.randn(B, T, K, dtype=dt), "mask": lengths_mask(B, T)}
        if V is not None:
            kw["values"] = torch.randn(B, T, V, dtype=dt)
        return kw

    return make


def token_ids(V):
    return lambda B, T, dt: {"ids": torch.randint(0, V, (B, T))}


@dataclass
class Case:
    make: Callable[[], nn.Module]
    inputs: Callable[[int, int, torch.dtype], dict]  # (B, T, dtype) -> forward's kwargs
    shapes: Callable[[int, int], list[tuple]]  # (B, T) -> the output shapes
    attrs: dict = field(default_factory=dict)  # documented attributes and their values
    primary: str = "x"  # the sequence argument the generic bad-input checks mutate
    channel_dim: int = -1
    time_dim: int = 1
    steps: tuple[int, ...] = (1, 9)  # sequence lengths the shape contract runs
    causal: bool = False  # output t sees primary inputs <= t only
    dropout: bool = False  # training mode is random

    @property
    def ids(self) -> bool:
        return self.primary == "ids"


CASES = {
    "causal-conv": Case(
        lambda: snn.CausalConv1d(3, 5, kernel_size=3, dilation=2),
        channels_first(3),
        lambda B, T: [(B, 5, T)],
        {"padding_left": 4, "padding_right": 0, "out_channels": 5},
        channel_dim=1,
        time_dim=2,
        causal=True,
    ),
    "causal-conv-two-sided-no-bias": Case(
        lambda: snn.CausalConv1d(3, 5, 3, dilation=2, causal=False, bias=False),
        channels_first(3),
        lambda B, T: [(B, 5, T)],
        {"padding_left": 2, "padding_right": 2},
        channel_dim=1,
        time_dim=2,
    ),
    "temporal-block": Case(
        lambda: snn.TemporalBlock(3, 5, kernel_size=3, dilation=2, dropout=0.2),
        channels_first(3),
        lambda B, T: [(B, 5, T)],
        {"output_size": 5},
        channel_dim=1,
        time_dim=2,
        causal=True,
        dropout=True,
    ),
    "temporal-block-identity-residual": Case(
        lambda: snn.TemporalBlock(4, 4, kernel_size=2, dilation=1, weight_norm=False),
        channels_first(4),
        lambda B, T: [(B, 4, T)],
        {"output_size": 4},
        channel_dim=1,
        time_dim=2,
        causal=True,
    ),
    "tcn": Case(
        lambda: snn.TCN(3, [6, 5], kernel_size=3, dropout=0.2),
        batch_first(3),
        lambda B, T: [(B, T, 5)],
        {"output_size": 5, "receptive_field": 13, "context": (12, 0), "dilations": [1, 2]},
        causal=True,
        dropout=True,
    ),
    "tcn-two-sided": Case(
        lambda: snn.TCN(3, [4, 4, 4], kernel_size=3, causal=False, weight_norm=False),
        batch_first(3),
        lambda B, T: [(B, T, 4)],
        {"output_size": 4, "receptive_field": receptive_field(3, [1, 2, 4]), "context": (14, 14)},
    ),
    "wavenet": Case(
        lambda: snn.WaveNet(3, 4, 6, kernel_size=2, dilation_cycles=2, layers_per_cycle=2,
                            dropout=0.2),
        batch_first(3),
        lambda B, T: [(B, T, 6)],
        {"output_size": 6, "receptive_field": 7, "dilations": [1, 2, 1, 2]},
        causal=True,
        dropout=True,
    ),
    "downsample-valid": Case(
        lambda: snn.Conv1dDownsample(3, 5, kernel_size=4, stride=2),
        batch_first(3),
        lambda B, T: [(B, (T - 4) // 2 + 1, 5)],
        {"output_size": 5},
        steps=(4, 9),
    ),
    "downsample-causal-tanh": Case(
        lambda: snn.Conv1dDownsample(3, 5, kernel_size=3, stride=2, padding="causal",
                                     activation="tanh"),
        batch_first(3),
        lambda B, T: [(B, (T - 1) // 2 + 1, 5)],
        {"output_size": 5},
    ),
    "additive-attention": Case(
        lambda: snn.AdditiveAttention(6, 4, hidden_size=8),
        attention_inputs(6, 4),
        lambda B, T: [(B, 4), (B, T)],
        primary="keys",
    ),
    "additive-attention-query-sequence": Case(
        lambda: snn.AdditiveAttention(6, 4, hidden_size=8),
        attention_inputs(6, 4, queries=2),
        lambda B, T: [(B, 2, 4), (B, 2, T)],
        primary="keys",
    ),
    "general-attention-values": Case(
        lambda: snn.MultiplicativeAttention(6, 4),
        attention_inputs(6, 4, V=3),
        lambda B, T: [(B, 3), (B, T)],
        primary="keys",
    ),
    "dot-attention": Case(
        lambda: snn.MultiplicativeAttention(4, 4, score="dot"),
        attention_inputs(4, 4, queries=2),
        lambda B, T: [(B, 2, 4), (B, 2, T)],
        primary="keys",
    ),
    "embedding": Case(
        lambda: snn.Embedding(10, 4),
        token_ids(10),
        lambda B, T: [(B, T, 4)],
        {"output_size": 4},
        primary="ids",
    ),
    "embedding-pretrained-frozen": Case(
        lambda: snn.Embedding(10, 4, pretrained=torch.randn(10, 4), freeze=True),
        token_ids(10),
        lambda B, T: [(B, T, 4)],
        {"output_size": 4, "frozen": True},
        primary="ids",
    ),
    "onehot": Case(
        lambda: snn.OneHot(5), token_ids(5), lambda B, T: [(B, T, 5)], {"output_size": 5},
        primary="ids",
    ),
}  # fmt: skip
NAMES = list(CASES)
FLOAT_NAMES = [n for n in NAMES if not CASES[n].ids]


def build(name, seed=0):
    torch.manual_seed(seed)
    return CASES[name].make()


def outputs(module, kwargs):
    out = module(**kwargs)
    return list(out) if isinstance(out, tuple) else [out]


def test_every_public_module_is_in_the_table():
    # the recurrent layers and cells keep test_recurrent_contract.py's contract
    recurrent = {"GRU", "LSTM", "RNN", "Recurrent", "RecurrentCell", "ElmanCell", "GRUCell",
                 "LSTMCell"}  # fmt: skip
    modules = {n for n in snn.__all__ if isinstance(getattr(snn, n), type)
               and issubclass(getattr(snn, n), nn.Module)}  # fmt: skip
    covered = {type(build(n)).__name__ for n in NAMES} | {"Attention"}  # the abstract base
    assert modules - recurrent == covered


# --- shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_documented_sizes(name):
    case, module = CASES[name], build(name)
    for T in case.steps:
        got = [tuple(o.shape) for o in outputs(module, case.inputs(B, T, torch.float32))]
        assert got == case.shapes(B, T), f"T={T}"
    for attr, want in case.attrs.items():
        assert getattr(module, attr) == want, attr


# --- dtypes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_dtype_follows_the_module(name):
    case, module = CASES[name], build(name).eval()
    torch.manual_seed(1)
    kw32 = case.inputs(B, 9, torch.float32)
    out32 = outputs(module, kw32)
    assert all(o.dtype == torch.float32 for o in out32)
    module.double()
    assert all(t.dtype == torch.float64 for t in [*module.parameters(), *module.buffers()])
    kw64 = {k: v.double() if v.is_floating_point() else v for k, v in kw32.items()}
    out64 = outputs(module, kw64)
    # OneHot has no parameters to follow: it always gives float32
    want = torch.float32 if name == "onehot" else torch.float64
    assert all(o.dtype == want for o in out64)
    for a, b in zip(out32, out64, strict=True):  # the same function in both precisions
        torch.testing.assert_close(a.double(), b.double(), rtol=1e-5, atol=1e-5)


# --- serialization --------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_into_a_fresh_module(name):
    case = CASES[name]
    a, b = build(name, seed=0).eval(), build(name, seed=1).eval()
    kw = case.inputs(B, 9, torch.float32)
    want = outputs(a, kw)
    if any(True for _ in a.parameters()):  # else there is nothing to load: b equals a anyway
        assert any(not torch.equal(x, y) for x, y in zip(outputs(b, kw), want, strict=True))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf))
    assert list(b.state_dict()) == list(a.state_dict())
    for x, y in zip(outputs(b, kw), want, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


# --- gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_trainable_parameter_and_the_input(name):
    case, module = CASES[name], build(name)  # training mode
    kw = case.inputs(B, 9, torch.float32)
    floats = [v.requires_grad_() for v in kw.values() if v.is_floating_point()]
    outs = outputs(module, kw)
    trainable = [p for p in module.parameters() if p.requires_grad]
    if not trainable and not floats:  # OneHot, a frozen embedding: nothing to train
        assert not any(o.requires_grad for o in outs)
        assert all(p.grad is None for p in module.parameters())
        return
    # a random projection of every output (a plain sum of softmax weights has no gradient)
    sum(((o * torch.randn_like(o)).sum() for o in outs), torch.zeros(())).backward()
    for pname, p in module.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, pname
        else:
            assert p.grad is None, pname
    for v in floats:
        assert v.grad is not None and v.grad.abs().sum() > 0


# --- determinism and independence -----------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_eval_mode_is_deterministic(name):
    case, module = CASES[name], build(name)
    kw = case.inputs(B, 9, torch.float32)
    if case.dropout:  # training mode samples dropout masks: two calls differ
        assert any(
            not torch.equal(x, y)
            for x, y in zip(outputs(module, kw), outputs(module, kw), strict=True)
        )
    module.eval()
    for x, y in zip(outputs(module, kw), outputs(module, kw), strict=True):
        assert torch.equal(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_batch_rows_are_independent(name):
    case, module = CASES[name], build(name).eval()
    kw = case.inputs(B, 9, torch.float32)
    together = outputs(module, kw)
    for b in range(B):
        alone = outputs(module, {k: v[b : b + 1] for k, v in kw.items()})
        for x, y in zip(alone, together, strict=True):
            torch.testing.assert_close(x, y[b : b + 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n].causal])
def test_causal_modules_never_see_the_future(name):
    case, module = CASES[name], build(name).double().eval()
    kw = case.inputs(B, 12, torch.float64)
    x, t0 = kw[case.primary], 7
    later = x.clone()
    later.narrow(case.time_dim, t0, 12 - t0).normal_()  # new inputs at t >= t0
    before = outputs(module, kw)[0]
    after = outputs(module, {**kw, case.primary: later})[0]
    past, now = slice(0, t0), slice(t0, t0 + 1)
    index = [slice(None)] * before.dim()
    index[case.time_dim] = past
    assert torch.equal(after[tuple(index)], before[tuple(index)])  # outputs t < t0: unchanged
    index[case.time_dim] = now
    assert not torch.equal(after[tuple(index)], before[tuple(index)])  # t0 sees its input


# --- bad arguments --------------------------------------------------------------------------
BAD_ARGS = [
    (lambda: snn.CausalConv1d(3, 5, kernel_size=1), "kernel_size must be an int >= 2, got 1"),
    (lambda: snn.CausalConv1d(3, 5, 3, dilation=0), "dilation must be a positive int, got 0"),
    (lambda: snn.CausalConv1d(3.0, 5, 3), "in_channels must be a positive int, got 3.0"),
    (lambda: snn.CausalConv1d(3, 0, 3), "out_channels must be a positive int, got 0"),
    (lambda: snn.CausalConv1d(3, 5, 3, causal="yes"), "causal must be true or false, got 'yes'"),
    (lambda: snn.CausalConv1d(3, 5, 3, bias=1), "bias must be true or false, got 1"),
    (lambda: snn.TemporalBlock(3, 5, 3, 1, dropout=-0.1), "dropout must be a number in [0.0, 1.0), got -0.1"),
    (lambda: snn.TemporalBlock(3, 5, 3, 1, weight_norm=None), "weight_norm must be true or false, got None"),
    (lambda: snn.TemporalBlock(3, 5, 3, dilation=2.0), "dilation must be a positive int, got 2.0"),
    (lambda: snn.TCN(3, 8), "channels must be a list of ints >= 1, got 8"),
    (lambda: snn.TCN(3, [4, 2.5]), "channels[1] must be a positive int, got 2.5"),
    (lambda: snn.TCN(3, []), "channels must list at least one block's width, got []"),
    (lambda: snn.TCN(True, [4]), "input_size must be a positive int, got True"),
    (lambda: snn.TCN(3, [4], kernel_size=2.0), "kernel_size must be an int >= 2, got 2.0"),
    (lambda: snn.TCN(3, [4], dropout=float("nan")), "dropout must be a number in [0.0, 1.0), got nan"),
    (lambda: snn.TCN(3, [4], causal=1), "causal must be true or false, got 1"),
    (lambda: snn.TCN(3, [4], weight_norm="no"), "weight_norm must be true or false, got 'no'"),
    (lambda: snn.TCN.for_history(3, 100, hidden=0), "hidden must be a positive int, got 0"),
    (lambda: snn.TCN.for_history(3, 0, hidden=4), "history must be a positive int, got 0"),
    (lambda: receptive_field(3, [1, -2]), "dilations[1] must be a positive int, got -2"),
    (lambda: receptive_field(3, 4), "dilations must be a list of ints >= 1, got 4"),
    (lambda: receptive_field(3, [1], convs_per_block=0), "convs_per_block must be a positive int, got 0"),
    (lambda: snn.WaveNet(0, 4, 4), "input_size must be a positive int, got 0"),
    (lambda: snn.WaveNet(3, 4, 0), "skip_channels must be a positive int, got 0"),
    (lambda: snn.WaveNet(3, 4, 4, dilation_cycles=0), "dilation_cycles must be a positive int, got 0"),
    (lambda: snn.WaveNet(3, 4, 4, kernel_size=3.5), "kernel_size must be an int >= 2, got 3.5"),
    (lambda: snn.WaveNet(3, 4, 4, dropout=1.0), "dropout must be a number in [0.0, 1.0), got 1.0"),
    (lambda: snn.AdditiveAttention(0, 4, 8), "query_size must be a positive int, got 0"),
    (lambda: snn.AdditiveAttention(6, -4, 8), "key_size must be a positive int, got -4"),
    (lambda: snn.AdditiveAttention(6, 4, None), "hidden_size must be a positive int, got None"),
    (lambda: snn.MultiplicativeAttention(6, 4, score="cosine"), "score must be one of ['general', 'dot'], got 'cosine'"),
    (lambda: snn.MultiplicativeAttention(6, 4, score="dot"), "the dot score needs query_size == key_size, got 6 and 4"),
    (lambda: snn.Conv1dDownsample(3, 5, kernel_size=0), "kernel_size must be a positive int, got 0"),
    (lambda: snn.Conv1dDownsample(3, 5, stride=1.5), "stride must be a positive int, got 1.5"),
    (lambda: snn.Conv1dDownsample(3, 0), "output_size must be a positive int, got 0"),
    (lambda: snn.Conv1dDownsample(3, 5, padding="same"), "padding must be one of ['valid', 'causal'], got 'same'"),
    (lambda: snn.Conv1dDownsample(3, 5, activation="gelu"), "activation must be one of [None, 'relu', 'tanh'], got 'gelu'"),
    (lambda: snn.Conv1dDownsample(3, 5, activation=["relu"]), "activation must be one of [None, 'relu', 'tanh'], got ['relu']"),
    (lambda: snn.Conv1dDownsample(3, 5).output_length(-1), "length must be an int >= 0, got -1"),
    (lambda: snn.Conv1dDownsample(3, 5).output_lengths(torch.tensor([4.0])), "lengths must be a tensor of integers, got dtype torch.float32"),
    (lambda: snn.Embedding(0, 4), "num_embeddings must be a positive int, got 0"),
    (lambda: snn.Embedding(10, 4.0), "embedding_dim must be a positive int, got 4.0"),
    (lambda: snn.Embedding(10, 4, padding_idx=10), "padding_idx must be None or an int in [0, 10), got 10"),
    (lambda: snn.Embedding(10, 4, pretrained=torch.zeros(9, 4)), "pretrained embeddings must have shape (10, 4), got (9, 4)"),
    (lambda: snn.Embedding(10, 4, pretrained=np.zeros((10, 4))), "pretrained embeddings must have shape (10, 4), got ndarray"),
    (lambda: snn.Embedding(10, 4, padding_idx=2.5), "padding_idx must be None or an int in [0, 10), got 2.5"),
    (lambda: snn.Embedding(10, 4, freeze="no"), "freeze must be true or false, got 'no'"),
    (lambda: snn.OneHot(0), "num_classes must be a positive int, got 0"),
    (lambda: snn.OneHot(5.0), "num_classes must be a positive int, got 5.0"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "message"), BAD_ARGS, ids=[m for _, m in BAD_ARGS])
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def _more_channels(case):
    def mutate(v):
        extra = v.narrow(case.channel_dim, 0, 1)
        return torch.cat([v, extra], dim=case.channel_dim)

    return mutate


# (what is wrong, how the primary float input is changed, the message it gets); {n} is the
# argument's name, {m} the module's class
BAD_FLOAT_INPUTS = [
    ("numpy", lambda c: lambda v: v.numpy(), r"{n} must be a torch\.Tensor, got ndarray \(convert it with torch\.from_numpy\)"),
    ("list", lambda c: lambda v: v.tolist(), r"{n} must be a torch\.Tensor, got list"),
    ("no-batch-axis", lambda c: lambda v: v[0], r"{n} must have shape \(batch, "),
    ("channels", _more_channels, r"{n} must have shape \(batch, .*\), got \("),
    ("int64", lambda c: lambda v: v.long(), r"{n} must be a floating-point tensor, got dtype torch\.int64"),
    ("bool", lambda c: lambda v: v > 0, r"{n} must be a floating-point tensor, got dtype torch\.bool"),
    ("no-steps", lambda c: lambda v: v.narrow(c.time_dim, 0, 0), r"{n} must have at least one time step, got shape \("),
    ("float64-into-float32", lambda c: lambda v: v.double(), r"{n} has dtype torch\.float64 but {m}'s parameters are torch\.float32: call \.double\(\) on the module or cast the input \({n}\.float\(\)\)"),
]  # fmt: skip
BAD_FLOAT_CASES = [
    (name, kind) for name in FLOAT_NAMES for kind, *_ in BAD_FLOAT_INPUTS
    if not (name == "dot-attention" and kind == "float64-into-float32")  # no parameters
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind"), BAD_FLOAT_CASES, ids=[f"{n}-{k}" for n, k in BAD_FLOAT_CASES]
)
def test_bad_float_inputs_are_named(name, kind):
    case, module = CASES[name], build(name)
    _, change, message = next(b for b in BAD_FLOAT_INPUTS if b[0] == kind)
    kw = case.inputs(B, 9, torch.float32)
    kw[case.primary] = change(case)(kw[case.primary])
    if kind == "no-steps" and "mask" in kw:
        kw["mask"] = kw["mask"][:, :0]
    message = message.format(n=case.primary, m=type(module).__name__)
    with pytest.raises(ValueError, match=message):
        module(**kw)


@pytest.mark.parametrize("name", [n for n in FLOAT_NAMES if n != "dot-attention"])
def test_float32_input_into_a_float64_module_says_how_to_fix_it(name):
    case, module = CASES[name], build(name).double()
    n = case.primary
    with pytest.raises(
        ValueError, match=rf"call \.float\(\) on the module or cast the input \({n}\.double\(\)\)"
    ):
        module(**case.inputs(B, 9, torch.float32))  # fmt: skip


BAD_IDS = [
    (lambda v: v.numpy(), "token ids must be a tensor of integer ids, got ndarray"),
    (lambda v: v.float(), "token ids must be integers, got dtype torch.float32"),
    (lambda v: v > 0, "token ids must be integers, got dtype torch.bool"),
    (lambda v: v.index_fill(1, torch.tensor([2]), 99), "token id 99 is out of range"),
    (lambda v: v.index_fill(1, torch.tensor([2]), -1), "token id -1 is out of range"),
]


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n].ids])
@pytest.mark.parametrize(("change", "message"), BAD_IDS, ids=[m for _, m in BAD_IDS])
def test_bad_token_ids_are_named(name, change, message):
    case, module = CASES[name], build(name)
    with pytest.raises(ValueError, match=re.escape(message)):
        module(ids=change(case.inputs(B, 9, torch.float32)["ids"]))


def _call(name, **changes):
    """Call case ``name``'s module with its inputs (B=3, T=9), some of them changed."""

    def run():
        case = CASES[name]
        kw = case.inputs(B, 9, torch.float32)
        kw.update({k: f(kw) for k, f in changes.items()})
        return build(name)(**kw)

    return run


def _stream(make, batch_size=2, **kwargs):
    return lambda: make().eval().stream(batch_size, **kwargs)


def _tcn():
    return snn.TCN(3, [4, 4])


def _wavenet():
    return snn.WaveNet(3, 4, 4, layers_per_cycle=2)


ATT = "additive-attention"
BAD_CALLS = [
    (_call("tcn", x=lambda kw: kw["x"].transpose(1, 2)), "x must have shape (batch, time, 3), got (3, 3, 9)"),
    (_call("causal-conv", x=lambda kw: kw["x"].transpose(1, 2)), "x must have shape (batch, 3, time), got (3, 9, 3)"),
    (_call("temporal-block", x=lambda kw: kw["x"][None]), "x must have shape (batch, 3, time), got (1, 3, 3, 9)"),
    (_call("wavenet", x=lambda kw: kw["x"].flatten(1)), "x must have shape (batch, time, 3), got (3, 27)"),
    (_call("downsample-valid", x=lambda kw: kw["x"][:, :3]), "x has T=3 steps, fewer than kernel_size=4 (padding='valid')"),
    (_call(ATT, query=lambda kw: kw["query"][0]), "query must have shape (batch, 6) or (batch, time, 6), got (6,)"),
    (_call(ATT, query=lambda kw: kw["query"][:, :5]), "query must have shape (batch, 6), got (3, 5)"),
    (_call(ATT, query=lambda kw: kw["query"].numpy()), "query must be a torch.Tensor, got ndarray"),
    (_call(ATT, query=lambda kw: kw["query"].long()), "query must be a floating-point tensor, got dtype torch.int64"),
    (_call(ATT, query=lambda kw: kw["query"].double()), "query has dtype torch.float64 but AdditiveAttention's parameters are torch.float32"),
    (_call(ATT, query=lambda kw: kw["query"][:2]), "query and keys must have the same batch size, got 2 and 3"),
    (_call("additive-attention-query-sequence", query=lambda kw: kw["query"][:, :0]), "query must have at least one time step, got shape (3, 0, 6)"),
    (_call(ATT, mask=lambda kw: kw["mask"][:, :8]), "mask must have shape (3, 9), got (3, 8)"),
    (_call(ATT, mask=lambda kw: kw["mask"].long()), "mask must be a bool tensor, True at real keys, got dtype torch.int64"),
    (_call(ATT, mask=lambda kw: kw["mask"].numpy()), "mask must be a bool tensor, True at real keys, got ndarray"),
    (_call(ATT, mask=lambda kw: kw["mask"].index_fill(0, torch.tensor([2]), False)), "mask rows [2] have no valid key (all False)"),
    (_call("general-attention-values", values=lambda kw: kw["values"][:, :8]), "values must have shape (3, 9, V) like keys, got (3, 8, 3)"),
    (_call("general-attention-values", values=lambda kw: kw["values"][:2]), "values must have shape (3, 9, V) like keys, got (2, 9, 3)"),
    (_call("general-attention-values", values=lambda kw: kw["values"][0]), "values must have shape (batch, time, C), got (9, 3)"),
    (_call("general-attention-values", values=lambda kw: kw["values"].half()), "values has dtype torch.float16 but MultiplicativeAttention's parameters are torch.float32: call .half() on the module or cast the input (values.float())"),
    (_call("dot-attention", query=lambda kw: kw["query"].double()), "query has dtype torch.float64 but keys have torch.float32: cast them to one dtype"),
    (_stream(_tcn, 0), "batch_size must be a positive int, got 0"),
    (_stream(_tcn, 2.5), "batch_size must be a positive int, got 2.5"),
    (_stream(_tcn, True), "batch_size must be a positive int, got True"),
    (_stream(_wavenet, -1), "batch_size must be a positive int, got -1"),
    (_stream(_wavenet, "4"), "batch_size must be a positive int, got '4'"),
    (_stream(_tcn, 2, native="yes"), "native must be None, True or False, got 'yes'"),
    (lambda: _tcn().stream(2).step(np.zeros((2, 3))), "x must be a torch.Tensor, got ndarray"),
    (lambda: _tcn().stream(2).step(torch.zeros(2, 3, dtype=torch.long)), "x must be a floating-point tensor, got dtype torch.int64"),
    (lambda: _wavenet().stream(2).step(torch.zeros(3)), "x must have shape (2, 3), got (3,)"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "message"), BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_forward_arguments(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_input_dtype_is_not_checked_under_autocast():
    # autocast runs the convolutions in bfloat16 on purpose: the inner layers get bfloat16
    # inputs while their parameters stay float32
    tcn = snn.TCN(3, [4, 4], kernel_size=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = tcn(torch.randn(2, 9, 3))
    assert y.shape == (2, 9, 4)
