"""torch.autograd.gradcheck (float64) of every cell and option combination, and of the
layer's reference path with lengths, bidirection and recurrent dropout."""

import pytest
import torch

import seqlab.nn as snn

CELLS = [
    ("elman-tanh", lambda: snn.ElmanCell(3, 4)),
    ("elman-relu", lambda: snn.ElmanCell(3, 4, nonlinearity="relu")),
    ("elman-nobias", lambda: snn.ElmanCell(3, 4, bias=False)),
]
for peephole in (False, True):
    for ln in (False, True):
        for bias in (False, True):
            name = f"lstm-peep{peephole:d}-ln{ln:d}-bias{bias:d}"
            CELLS.append((name, lambda p=peephole, n=ln, b=bias: snn.LSTMCell(3, 4, b, p, n)))
for ln, reset_after in ((False, True), (True, True), (False, False)):
    for bias in (False, True):
        name = f"gru-ln{ln:d}-reset_after{reset_after:d}-bias{bias:d}"
        CELLS.append(
            (
                name,
                lambda n=ln, r=reset_after, b=bias: snn.GRUCell(
                    3, 4, b, layer_norm=n, reset_after=r
                ),
            )
        )


@pytest.mark.parametrize("make", [m for _, m in CELLS], ids=[n for n, _ in CELLS])
def test_cell_gradcheck(make):
    cell = make().double()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
    names = list(cell.weights())
    x = torch.randn(2, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    state = tuple(
        torch.randn(2, 4, dtype=torch.float64, generator=gen, requires_grad=True)
        for _ in range(cell.state_size)
    )
    mask = torch.rand(2, 4, dtype=torch.float64, generator=gen) + 0.5

    def f(x, *tensors):
        st, ws = tensors[: cell.state_size], tensors[cell.state_size :]
        w = dict(zip(names, ws, strict=True))
        # Two steps, the second with a recurrent-dropout mask, so every path is exercised.
        s1 = cell.step(cell.project_input(x, w), st, w)
        return cell.step(cell.project_input(x * 0.5, w), s1, w, h_mask=mask)

    weights = [p.detach().clone().requires_grad_() for p in cell.weights().values()]
    assert torch.autograd.gradcheck(f, (x, *state, *weights))


@pytest.mark.parametrize("make", [
    lambda: snn.LSTM(2, 3, num_layers=2, bidirectional=True, peephole=True, layer_norm=True),
    lambda: snn.GRU(2, 3, bidirectional=True, layer_norm=True, merge="sum"),
    lambda: snn.RNN(2, 3, num_layers=2, bidirectional=True, merge="mul", impl="reference"),
])  # fmt: skip
def test_layer_reference_path_gradcheck(make):
    layer = make().double()
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2, 3])

    def f(x):
        out, state = layer(x, lengths=lengths)
        return out, *(state if isinstance(state, tuple) else (state,))

    assert torch.autograd.gradcheck(f, (x,))
