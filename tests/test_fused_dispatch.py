"""seqlab.nn.fused.dispatch: a fused path for a new cell plugs in through a hook."""

import torch

import seqlab.nn as snn
from seqlab.nn.fused import dispatch


class ScaledElman(snn.ElmanCell):
    """A new cell type: no registered path knows it, so layers run the loop."""


class LoopPath:
    """A stand-in fast path: the layer's own loop, counting its calls."""

    name = "test-loop"

    def __init__(self):
        self.calls = 0

    def runs(self, layer, x=None):
        return not layer.training

    def forward(self, layer, x, state, lengths):
        self.calls += 1
        return layer.run_stack(x, state, lengths, layer._run_loop)


def test_a_registered_hook_gives_the_path(monkeypatch):
    monkeypatch.setattr(dispatch, "_HOOKS", list(dispatch._HOOKS))
    cell = ScaledElman(3, 4)
    assert snn.Recurrent(cell).fused_path() is None  # nobody knows the cell yet
    path = LoopPath()
    dispatch.register_fused_path(lambda c: path if type(c) is ScaledElman else None)
    layer = snn.Recurrent(ScaledElman(3, 4))
    x = torch.randn(2, 5, 3)
    assert layer.fused_path(x) is None  # training: the path says it does not run
    want = layer(x)[0]
    layer.eval()
    assert layer.fused_path(x) is path and not layer.uses_fused_kernel()
    torch.testing.assert_close(layer(x)[0], want)
    assert path.calls == 1
    layer.impl = "reference"
    assert layer.fused_path(x) is None
    assert snn.LSTM(3, 4).fused_path(x).name == "torch"  # other cells keep their paths
