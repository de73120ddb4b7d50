"""torch's fused RNN kernels (oneDNN on the CPU, cuDNN on CUDA) for the plain cells.

Elman, LSTM without peephole or layer norm, and GRU with ``reset_after=True`` without
layer norm are the equations ``torch.nn.RNN/LSTM/GRU`` compute; for them a layer makes the
same ``torch._VF`` calls those modules make, on its own parameters (torch's names and gate
order). Recurrent dropout has no place in those kernels, so this path runs only without it
in training. ``lengths`` become a packed sequence on CUDA, or go through the exact padded
path below on the CPU (torch's CPU packed kernels are several times slower).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import _VF, Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .dispatch import register_fused_path
from .padding import reverse_padded

__all__ = ["TorchKernels", "fused_kernel_name", "packs_lengths"]

_SATURATE = 1e4  # σ(±1e4) is exactly 1 or 0 in float16/32/64: a gate fully open or shut


def fused_kernel_name(cell: RecurrentCell) -> str | None:
    """The name in ``torch._VF`` of the fused kernel computing this cell's equation, or None."""
    if type(cell) is ElmanCell:
        return f"rnn_{cell.nonlinearity}"
    if type(cell) is LSTMCell and not cell.peephole and not cell.layer_norm:
        return "lstm"
    if type(cell) is GRUCell and cell.reset_after and not cell.layer_norm:
        return "gru"
    return None


def packs_lengths(layer, x: Tensor) -> bool:
    """Whether ``lengths`` go through a packed sequence (else the padded fused path)."""
    if layer.pack_lengths is not None:
        return layer.pack_lengths
    # cuDNN's packed kernels are fast; torch's CPU packed kernels are several times
    # slower than its padded oneDNN ones. A ReLU RNN could overflow over long padding
    # (its state is unbounded), which the padded path must never compute on.
    return x.is_cuda or fused_kernel_name(layer.cell) == "rnn_relu"


class TorchKernels:
    """The fused path of the plain cells: ``torch._VF.lstm``/``gru``/``rnn_tanh``/``rnn_relu``."""

    name = "torch"

    def __init__(self, kernel_name: str):
        self.kernel_name = kernel_name

    def runs(self, layer, x: Tensor | None = None) -> bool:
        return layer.recurrent_dropout == 0.0 or not layer.training

    def forward(self, layer, x, state, lengths):
        if lengths is not None and not packs_lengths(layer, x):
            return self._forward_padded(layer, x, state, lengths)
        B = x.size(0)
        n_state = layer.cell.state_size
        kernel = getattr(_VF, self.kernel_name)
        if state is None:
            zeros = x.new_zeros(layer.num_layers * layer.num_directions, B, layer.hidden_size)
            state = (zeros,) * n_state
        if lengths is not None:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            order, unorder = packed.sorted_indices, packed.unsorted_indices
            state = tuple(s.index_select(1, order) for s in state)
        # With merge="concat" torch's multi-layer kernel is the whole stack; other merge
        # modes feed each layer the merged output, so the layers run one call each.
        if layer.merge == "concat" or not layer.bidirectional:
            groups = [range(layer.num_layers)]
        else:
            groups = [range(k, k + 1) for k in range(layer.num_layers)]
        finals = []
        D = layer.num_directions
        data = packed.data if lengths is not None else x
        for g, layers in enumerate(groups):
            hx = (
                state
                if len(groups) == 1
                else tuple(s[layers.start * D : layers.stop * D] for s in state)
            )
            hx_arg = hx if n_state == 2 else hx[0]
            weights = _flat_weights(layer, layers)
            common = (weights, layer.cell.bias, len(layers), layer.dropout, layer.training)
            if lengths is not None:
                res = kernel(data, packed.batch_sizes, hx_arg, *common, layer.bidirectional)
            else:
                res = kernel(data, hx_arg, *common, layer.bidirectional, True)
            out, fin = res[0], res[1:]
            if layer.merge != "concat" and layer.bidirectional:
                H = layer.hidden_size
                out = layer._merge([out[..., :H], out[..., H:]])
                if g < len(groups) - 1 and layer.dropout > 0:
                    out = F.dropout(out, layer.dropout, layer.training)
            data = out
            finals.append(fin)
        if len(finals) == 1:
            final = tuple(finals[0])
        else:
            final = tuple(torch.cat([f[i] for f in finals]) for i in range(n_state))
        if lengths is not None:
            out = pad_packed_sequence(
                packed._replace(data=data), batch_first=True, total_length=x.size(1)
            )[0]
            final = tuple(f.index_select(1, unorder) for f in final)
        else:
            out = data
        return out, final

    # The padded fused path for ``lengths``: one padded kernel call per layer and direction
    # over all T steps, with what packing guarantees restored exactly:
    #
    #   * a real step only ever sees real steps: the forward direction is causal, and the
    #     reverse one runs over reverse_padded(x), where each sequence's real steps come first;
    #   * outputs past a length are set to zero, and the final h is read at step length-1;
    #   * the LSTM's final c: an extra input column, 1 at padding steps, with weight -M on
    #     the input gate and +M on the forget gate (M = 1e4), saturates them to exactly
    #     σ(-M) = 0 and σ(M) = 1, so c_t = 1·c_{t-1} + 0·g_t stops at the last real step;
    #     as σ' = 0 there, no gradient leaks through padding steps either.
    #
    #   x      [a b c 0 0]          forward kernel  -> [A B C * *] -> [A B C 0 0], h = C
    #   rev x  [c b a 0 0]          reverse kernel  -> [C'B'A'* *] -> [A'B'C'0 0], h = A'
    def _forward_padded(self, layer, x, state, lengths):
        B, T, _ = x.shape
        D, H, L = layer.num_directions, layer.hidden_size, layer.num_layers
        kernel = getattr(_VF, self.kernel_name)
        n_state = layer.cell.state_size
        lstm = n_state == 2
        lens = lengths.to(x.device)
        valid = (torch.arange(T, device=x.device) < lens.unsqueeze(1)).unsqueeze(-1)  # (B, T, 1)
        last = (lens - 1).view(B, 1, 1).expand(B, 1, H)
        if lstm:
            padding = (~valid).to(x.dtype)  # (B, T, 1)
            freeze = x.new_zeros(4 * H, 1)
            freeze[:H], freeze[H : 2 * H] = -_SATURATE, _SATURATE  # input gate 0, forget gate 1
        if state is None:
            state = (x.new_zeros(L * D, B, H),) * n_state
        bias = layer.cell.bias
        finals = []
        layer_in = x.masked_fill(~valid, 0.0)  # padding content (even NaN) never enters
        for k in range(L):
            outs = []
            for d in range(D):
                w = layer.cell_weights(k, d)
                seq = reverse_padded(layer_in, lengths) if d else layer_in
                w_ih = w["weight_ih"]
                if lstm:
                    seq = torch.cat([seq, padding], dim=-1)  # (B, T, C+1)
                    w_ih = torch.cat([w_ih, freeze], dim=1)  # (4H, C+1)
                weights = [w_ih, w["weight_hh"]]
                if bias:
                    weights += [w["bias_ih"], w["bias_hh"]]
                i = k * D + d
                hx = tuple(s[i : i + 1] for s in state)
                res = kernel(seq, hx if lstm else hx[0], weights, bias, 1, 0.0,
                             layer.training, False, True)  # fmt: skip
                out = torch.where(valid, res[0], 0.0)  # (B, T, H)
                h_last = out.gather(1, last).squeeze(1)  # (B, H), at step length-1
                finals.append((h_last, res[2][0]) if lstm else (h_last,))
                outs.append(reverse_padded(out, lengths) if d else out)
            layer_in = layer._merge(outs)
            if k < L - 1 and layer.dropout > 0:
                layer_in = F.dropout(layer_in, layer.dropout, layer.training)
        final = tuple(torch.stack([f[j] for f in finals]) for j in range(n_state))
        return layer_in, final


def _flat_weights(layer, layers: range) -> list[Tensor]:
    """The layers' parameters in the order ``torch._VF`` kernels take them."""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if layer.cell.bias else [])
    return [
        getattr(layer, layer._param_name(n, k, d))
        for k in layers
        for d in range(layer.num_directions)
        for n in names
    ]


@register_fused_path
def _torch_kernels(cell: RecurrentCell) -> TorchKernels | None:
    name = fused_kernel_name(cell)
    return None if name is None else TorchKernels(name)
