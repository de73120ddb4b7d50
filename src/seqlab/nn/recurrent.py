"""``Recurrent(cells)``: runs any cell over time; stacking, directions, dropout, lengths.

The cell is the equation (:mod:`seqlab.nn.cells`); this layer is the loop, and owns
one set of weights per layer and direction under torch's names (``weight_ih_l0``,
``bias_hh_l1_reverse``, ``weight_ch_l0`` for peepholes, ``ln_ih_weight_l0`` for layer
norm), so ``load_state_dict`` works both ways with ``torch.nn.RNN/LSTM/GRU``.

Two kinds of path compute the same function:

* the **reference** path: the cell's ``step`` in a Python loop over time; it runs every
  cell and option;
* **fused** paths (:mod:`seqlab.nn.fused`), found per cell by the hooks of
  :mod:`seqlab.nn.fused.dispatch`: torch's own kernels (oneDNN on CPU, cuDNN on GPU) for
  the plain cells when recurrent dropout is off (``uses_fused_kernel()``); seqlab's
  explicit-BPTT cells (:mod:`seqlab.nn.fused.bptt`, CPU) for peephole and layer-norm
  LSTMs, layer-norm GRUs and recurrent dropout. ``layer.fused_path()`` names the one in
  use; ``impl="reference"`` forces the loop (tests prove the paths equal).

Shapes (batch first, always)::

    x       (B, T, input_size)
    output  (B, T, D*H) for merge="concat", (B, T, H) for "sum", "mul", "ave"
    state   h or (h, c), each (num_layers * D, B, H); index = layer * D + direction

With ``lengths`` (B,), outputs past a sequence's length are zero, the returned state is
the one at its last real step, and the reverse direction starts at each sequence's own
last real step.

>>> import torch
>>> lstm = LSTM(4, 8, num_layers=2, bidirectional=True)
>>> out, (h, c) = lstm(torch.randn(3, 5, 4), lengths=torch.tensor([5, 2, 4]))
>>> out.shape, h.shape
(torch.Size([3, 5, 16]), torch.Size([4, 3, 8]))
>>> out[1, 2:].abs().sum().item()
0.0
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell, State, check_positive_int
from .fused.dispatch import FusedPath, fused_paths
from .fused.padding import reverse_padded, valid_steps

__all__ = ["GRU", "LSTM", "RNN", "Recurrent", "reverse_padded"]

MERGE_MODES = ("concat", "sum", "mul", "ave")
IMPLS = ("auto", "reference")


def _check_rate(name: str, p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a float in [0, 1), got {p!r}")
    return float(p)


class Recurrent(nn.Module):
    """Runs cells over time: one cell per layer (the first sees ``input_size`` features).

    Args:
        cells: a cell or a list of cells, one per layer. The layer takes over their
            weights (the forward direction keeps the given values; reverse directions get
            fresh ones from the cell's own init); the cells stay as the equations
            (``layer.cells``, ``layer.cell`` for the first).
        bidirectional: also run each layer from the end to the start.
        dropout: dropout on each layer's output except the last (as torch).
        recurrent_dropout: variational dropout on ``h_{t-1}`` where it enters ``W_hh``,
            one mask per sequence and layer-direction, fixed over time (Gal & Ghahramani 2016).
        merge: how the two directions' outputs combine: ``"concat"`` (torch), ``"sum"``,
            ``"mul"`` or ``"ave"`` (Keras' merge modes). The merged output feeds the next
            layer.
        impl: ``"auto"`` (a fused path where one runs the configuration, see
            :mod:`seqlab.nn.fused.dispatch`) or ``"reference"`` (always the Python loop).
    """

    def __init__(
        self,
        cells: RecurrentCell | Sequence[RecurrentCell],
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        merge: str = "concat",
        impl: str = "auto",
    ):
        super().__init__()
        cells = [cells] if isinstance(cells, RecurrentCell) else list(cells)
        if not cells:
            raise ValueError("cells must hold at least one cell, got an empty list")
        if merge not in MERGE_MODES:
            raise ValueError(f"merge must be one of {MERGE_MODES}, got {merge!r}")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.merge = merge
        self.impl = impl
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        self.num_layers = len(cells)
        self.hidden_size = cells[0].hidden_size
        self.input_size = cells[0].input_size
        layer_out = self.hidden_size * (self.num_directions if merge == "concat" else 1)
        for k, cell in enumerate(cells):
            if type(cell) is not type(cells[0]) or cell.hidden_size != self.hidden_size:
                raise ValueError(
                    f"all cells must be of one type and hidden_size, cell {k} is {cell!r}"
                )
            if k > 0 and cell.input_size != layer_out:
                raise ValueError(
                    f"cell {k} must take input_size={layer_out} (the previous layer's output), "
                    f"got {cell.input_size}"
                )
        self.cells = nn.ModuleList(self._adopt(k, cell) for k, cell in enumerate(cells))
        # Read once (cells are fixed after construction): the state's arity and the fast
        # paths for the cell's equation (seqlab.nn.fused.dispatch).
        self._state_size = cells[0].state_size
        self._fused_paths = fused_paths(cells[0])
        # How torch's kernels handle ``lengths``: None picks (packed on CUDA, padded on the
        # CPU, see fused.torch_kernels.packs_lengths); True or False forces one.
        self.pack_lengths: bool | None = None

    def _adopt(self, k: int, cell: RecurrentCell) -> RecurrentCell:
        """Register the cell's weights on the layer under torch's names; keep its equation."""
        for d in range(self.num_directions):
            params = {n: nn.Parameter(torch.empty(s)) for n, s in cell.weight_shapes().items()}
            cell.init_weights(params)
            if d == 0 and cell.owns_weights:
                with torch.no_grad():
                    for n, p in cell.weights().items():
                        params[n].copy_(p)
            for n, p in params.items():
                self.register_parameter(self._param_name(n, k, d), p)
        if cell.owns_weights:
            cell = copy.copy(cell)  # the caller's cell keeps its own weights
            cell._parameters = dict(cell._parameters)
            cell.release_weights()
        return cell

    @staticmethod
    def _param_name(name: str, layer: int, direction: int) -> str:
        return f"{name}_l{layer}" + ("_reverse" if direction else "")

    @property
    def cell(self) -> RecurrentCell:
        """The first layer's cell: the step equation this layer runs."""
        return self.cells[0]

    @property
    def output_size(self) -> int:
        return self.hidden_size * (self.num_directions if self.merge == "concat" else 1)

    def cell_weights(self, layer: int, direction: int = 0) -> dict[str, Tensor]:
        """Weights of one layer and direction, by the cell's names (``weight_ih`` …)."""
        names = self.cells[layer].weight_shapes()
        return {n: getattr(self, self._param_name(n, layer, direction)) for n in names}

    # --- checks ----------------------------------------------------------------------
    def _check_input(self, x: Tensor, lengths: Tensor | None) -> Tensor | None:
        if not isinstance(x, Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a 3-D tensor (batch, time, features), got {shape}")
        if x.size(2) != self.input_size:
            raise ValueError(
                f"x must have {self.input_size} features (input_size), got {x.size(2)}"
            )
        if x.size(1) == 0:
            raise ValueError("x must have at least one time step, got T=0")
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.numel() != x.size(0):
            raise ValueError(
                f"lengths must have shape ({x.size(0)},) (one per sequence), "
                f"got {tuple(lengths.shape)}"
            )
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
        lengths = lengths.to("cpu", torch.int64)
        bad = (lengths < 1) | (lengths > x.size(1))
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(f"lengths[{i}] must be in [1, T={x.size(1)}], got {int(lengths[i])}")
        return lengths

    def _check_state(self, state, x: Tensor) -> State | None:
        if state is None:
            return None
        n = self.cell.state_size
        parts = (state,) if isinstance(state, Tensor) else tuple(state)
        want = (self.num_layers * self.num_directions, x.size(0), self.hidden_size)
        what = "h" if n == 1 else "(h, c)"
        if len(parts) != n or not all(isinstance(p, Tensor) for p in parts):
            raise ValueError(f"state must be {what} for {type(self).__name__}, got {type(state)}")
        for p in parts:
            if tuple(p.shape) != want:
                raise ValueError(f"state tensors must have shape {want}, got {tuple(p.shape)}")
        return parts

    # --- forward ---------------------------------------------------------------------
    def fused_path(self, x: Tensor | None = None) -> FusedPath | None:
        """The fast path ``forward(x)`` takes in the current mode, or None for the loop."""
        if self.impl != "auto":
            return None
        return next((p for p in self._fused_paths if p.runs(self, x)), None)

    def uses_fused_kernel(self) -> bool:
        """Whether ``forward`` runs torch's fused kernel in the current mode."""
        path = self.fused_path()
        return path is not None and path.name == "torch"

    def forward(self, x: Tensor, state=None, lengths: Tensor | None = None):
        lengths = self._check_input(x, lengths)
        state = self._check_state(state, x)
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # oneDNN's bf16 RNN primitives need AVX-512 bf16 hardware (without it even
            # torch.nn.LSTM fails under CPU bf16 autocast), and a bf16 cell state loses
            # long memory: run the recurrence in the parameters' dtype, autocast off.
            dtype = self.weight_hh_l0.dtype
            with torch.autocast("cpu", enabled=False):
                x = x.to(dtype)
                state = None if state is None else tuple(s.to(dtype) for s in state)
                return self._forward(x, state, lengths)
        return self._forward(x, state, lengths)

    def _forward(self, x: Tensor, state: State | None, lengths: Tensor | None):
        path = self.fused_path(x)
        if path is not None:
            out, final = path.forward(self, x, state, lengths)
        else:
            out, final = self.run_stack(x, state, lengths, self._run_loop)
        return out, (final[0] if self._state_size == 1 else final)

    def _merge(self, outs: list[Tensor]) -> Tensor:
        if len(outs) == 1:
            return outs[0]
        fwd, bwd = outs
        if self.merge == "concat":
            return torch.cat([fwd, bwd], dim=-1)  # (B, T, 2H)
        if self.merge == "sum":
            return fwd + bwd
        if self.merge == "mul":
            return fwd * bwd
        return (fwd + bwd) / 2

    def run_stack(self, x, state, lengths, run_direction):
        """Layers, directions, merges and dropout around ``run_direction(cell, w, seq, s,
        valid, h_mask) -> (out (B, T, H), final s)``, which runs one layer-direction over
        ``seq`` (B, T, C; reverse_padded for the reverse one) from ``s`` (each (B, H)), with
        ``valid`` (B, T) or None (padding steps keep the state, output 0). Recurrent-dropout
        masks are drawn here in one order, so every path drops the same units for a seed."""
        B, T, _ = x.shape
        D = self.num_directions
        valid = valid_steps(lengths, T, x.device)  # (B, T)
        finals: list[State] = []
        layer_in = x
        for k, cell in enumerate(self.cells):
            outs = []
            for d in range(D):
                w = self.cell_weights(k, d)
                if state is None:
                    s = cell.initial_state(B, x)
                else:
                    s = tuple(part[k * D + d] for part in state)
                seq = reverse_padded(layer_in, lengths) if d == 1 else layer_in
                out, s = run_direction(cell, w, seq, s, valid, self._recurrent_mask(B, x))
                outs.append(reverse_padded(out, lengths) if d == 1 else out)
                finals.append(s)
            layer_in = self._merge(outs)
            if k < self.num_layers - 1 and self.dropout > 0:
                # contiguous: the mask is drawn in memory order, so all paths (time-major
                # or batch-major outputs) drop the same elements for a seed
                layer_in = F.dropout(layer_in.contiguous(), self.dropout, self.training)
        final = tuple(torch.stack([f[i] for f in finals]) for i in range(self._state_size))
        return layer_in, final

    @staticmethod
    def _run_loop(cell, w, seq, s, valid, h_mask):
        """The reference path: the cell's equation in a Python loop over time."""
        xp = cell.project_input(seq, w)  # (B, T, G*H), all steps at once
        hs = []
        for t in range(seq.size(1)):
            new = cell.step(xp[:, t], s, w, h_mask)
            if valid is not None:  # padding steps keep the state, output 0
                v = valid[:, t, None]  # (B, 1)
                new = tuple(torch.where(v, n, o) for n, o in zip(new, s, strict=True))
                hs.append(new[0] * v)
            else:
                hs.append(new[0])
            s = new
        return torch.stack(hs, dim=1), s  # (B, T, H)

    def _recurrent_mask(self, batch: int, like: Tensor) -> Tensor | None:
        p = self.recurrent_dropout
        if p == 0.0 or not self.training:
            return None
        keep = like.new_empty(batch, self.hidden_size).bernoulli_(1 - p)
        return keep / (1 - p)

    def extra_repr(self) -> str:
        parts = [f"num_layers={self.num_layers}"]
        if self.bidirectional:
            parts.append(f"bidirectional=True, merge={self.merge!r}")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.recurrent_dropout:
            parts.append(f"recurrent_dropout={self.recurrent_dropout}")
        if self.impl != "auto":
            parts.append(f"impl={self.impl!r}")
        return ", ".join(parts)


def _stack(cell_cls, input_size, hidden_size, num_layers, bidirectional, merge, **cell_kwargs):
    check_positive_int("input_size", input_size)
    check_positive_int("hidden_size", hidden_size)
    check_positive_int("num_layers", num_layers)
    if merge not in MERGE_MODES:
        raise ValueError(f"merge must be one of {MERGE_MODES}, got {merge!r}")
    between = hidden_size * (2 if bidirectional and merge == "concat" else 1)
    return [
        cell_cls(input_size if k == 0 else between, hidden_size, owns_weights=False, **cell_kwargs)
        for k in range(num_layers)
    ]


class RNN(Recurrent):
    """Elman RNN layer(s), ``nonlinearity`` ``"tanh"`` or ``"relu"``; drop-in for ``nn.RNN``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        nonlinearity: str = "tanh",
        merge: str = "concat",
        impl: str = "auto",
    ):
        cells = _stack(
            ElmanCell, input_size, hidden_size, num_layers, bidirectional, merge,
            bias=bias, nonlinearity=nonlinearity,
        )  # fmt: skip
        super().__init__(cells, bidirectional, dropout, recurrent_dropout, merge, impl)


class LSTM(Recurrent):
    """LSTM layer(s) with optional peepholes and layer norm; drop-in for ``nn.LSTM``.

    See :class:`seqlab.nn.LSTMCell` for the equations, ``forget_bias`` and ``chrono``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        peephole: bool = False,
        layer_norm: bool = False,
        merge: str = "concat",
        forget_bias: float | None = 1.0,
        impl: str = "auto",
        chrono: int | None = None,
    ):
        cells = _stack(
            LSTMCell, input_size, hidden_size, num_layers, bidirectional, merge,
            bias=bias, peephole=peephole, layer_norm=layer_norm, forget_bias=forget_bias,
            chrono=chrono,
        )  # fmt: skip
        super().__init__(cells, bidirectional, dropout, recurrent_dropout, merge, impl)


class GRU(Recurrent):
    """GRU layer(s) with optional layer norm and ``reset_after``; drop-in for ``nn.GRU``.

    See :class:`seqlab.nn.GRUCell` for the equations and ``chrono``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        merge: str = "concat",
        reset_after: bool = True,
        impl: str = "auto",
        chrono: int | None = None,
    ):
        cells = _stack(
            GRUCell, input_size, hidden_size, num_layers, bidirectional, merge,
            bias=bias, layer_norm=layer_norm, reset_after=reset_after, chrono=chrono,
        )  # fmt: skip
        super().__init__(cells, bidirectional, dropout, recurrent_dropout, merge, impl)
