"""Recurrent layers under CPU bfloat16 autocast: every path runs, on any CPU.

oneDNN's bf16 LSTM primitive needs AVX-512 (bf16) hardware: without it even
``torch.nn.LSTM`` fails under ``torch.autocast("cpu", dtype=torch.bfloat16)``. seqlab's
layers run their recurrence in the parameters' dtype with autocast off (see
``Recurrent.forward``), so they train under bf16 autocast everywhere.
"""

import pytest
import torch

import seqlab.nn as snn

LAYERS = {
    "rnn": lambda **kw: snn.RNN(3, 16, **kw),
    "lstm": lambda **kw: snn.LSTM(3, 16, **kw),
    "gru": lambda **kw: snn.GRU(3, 16, **kw),
    "lstm-peephole-ln": lambda **kw: snn.LSTM(3, 16, peephole=True, layer_norm=True, **kw),
    "gru-ln": lambda **kw: snn.GRU(3, 16, layer_norm=True, **kw),
}
CONFIGS = [{}, {"num_layers": 2, "bidirectional": True}, {"recurrent_dropout": 0.2}]


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("cfg", CONFIGS, ids=["plain", "2-layer-bi", "rec-dropout"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("impl", ["auto", "reference"])
def test_forward_backward_under_cpu_bf16_autocast(kind, cfg, with_lengths, impl):
    torch.manual_seed(0)
    layer = LAYERS[kind](impl=impl, **cfg)
    proj = torch.nn.Linear(5, 3)  # autocast runs this in bf16: the layer sees a bf16 input
    x = torch.randn(4, 7, 5)
    lengths = torch.tensor([7, 3, 5, 1]) if with_lengths else None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inp = proj(x)
        assert inp.dtype == torch.bfloat16
        out, state = layer(inp, lengths=lengths)
        h = state[0] if isinstance(state, tuple) else state
        loss = out.float().square().mean() + h.float().sum()
    loss.backward()
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    for name, p in [*layer.named_parameters(), *proj.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # the same layer without autocast, given the same (bf16-rounded) input, agrees
    with torch.no_grad():
        plain = layer(inp.detach().float(), lengths=lengths)[0]
    if not cfg.get("recurrent_dropout"):
        torch.testing.assert_close(out.detach(), plain)
