"""Recurrent cells: one time step each, written as the textbook equations.

A cell maps ``(x_t, state) -> state`` and is nothing else: the time loop, masking,
reversal and stacking live in :class:`seqlab.nn.Recurrent`. Weight layout and gate
order are torch's (LSTM ``i, f, g, o``; GRU ``r, z, n``), so weights move freely
between seqlab and ``torch.nn``.

A cell splits its step in two, so that a layer can do the input half for every time
step at once (one big matrix product instead of T small ones):

* ``project_input(x, w)``: the part that depends on ``x_t`` only, ``W_ih x_t + b_ih``
  (layer-normed when ``layer_norm=True``); works on ``(B, I)`` and ``(B, T, I)``.
* ``step(xp_t, state, w, h_mask=None)``: the recurrence itself, given the projected
  input. ``h_mask`` is the variational recurrent-dropout mask applied to ``h_{t-1}``
  where it enters ``W_hh`` (Gal & Ghahramani 2016), never to the carried state.

``w`` is a mapping from weight names (``weight_ih``, ``bias_hh``, ``weight_ch``,
``ln_ih_weight`` …) to tensors. A standalone cell owns its weights and its ``forward``
passes them; a cell inside a layer is just the equation, and the layer owns one set of
weights per layer and direction under torch's names (``weight_ih_l0_reverse``).

>>> import torch
>>> cell = LSTMCell(3, 5, peephole=True, layer_norm=True)
>>> h, c = cell(torch.randn(2, 3))
>>> h.shape, c.shape
(torch.Size([2, 5]), torch.Size([2, 5]))
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

State = tuple[Tensor, ...]
Weights = Mapping[str, Tensor]

__all__ = ["ElmanCell", "GRUCell", "LSTMCell", "RecurrentCell"]


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_chrono(chrono: object, bias: bool) -> int | None:
    """``chrono`` (None, or T_max: an int >= 3, so that U(1, T_max - 1) has a width)."""
    if chrono is None:
        return None
    if isinstance(chrono, bool) or not isinstance(chrono, int) or chrono < 3:
        raise ValueError(f"chrono must be None or an int >= 3 (T_max, in steps), got {chrono!r}")
    if not bias:
        raise ValueError("chrono sets gate biases: it needs bias=True, got bias=False")
    return chrono


def chrono_log_u(size: int, t_max: int, like: Tensor) -> Tensor:
    """``log u``, ``u ~ U(1, t_max - 1)`` (``size`` draws from torch's generator): the
    chrono initialization's gate biases (Tallec & Ollivier 2018, eq. 9)."""
    u = torch.empty(size, dtype=like.dtype, device=like.device).uniform_(1.0, t_max - 1.0)
    return u.log_()


class RecurrentCell(nn.Module):
    """Base of all cells: sizes, weight bookkeeping and the standalone ``forward``.

    Subclasses define ``gates`` (how many H-sized blocks ``W_ih`` has), ``state_size``
    (1 for ``h``, 2 for ``(h, c)``), ``weight_shapes``, ``project_input`` and ``step``.
    """

    gates: int = 1
    state_size: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, owns_weights=True):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        self.owns_weights = owns_weights

    def _create_weights(self) -> None:
        """Called by subclasses once their options are set."""
        if not self.owns_weights:
            return
        for name, shape in self.weight_shapes().items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape)))
        self.init_weights(self.weights())

    # --- weights -----------------------------------------------------------------
    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        H, G = self.hidden_size, self.gates * self.hidden_size
        shapes = {"weight_ih": (G, self.input_size), "weight_hh": (G, H)}
        if self.bias:
            shapes |= {"bias_ih": (G,), "bias_hh": (G,)}
        return shapes

    def init_weights(self, w: Weights) -> None:
        """torch's default: every weight and bias uniform in ±1/sqrt(H); norm gains 1, shifts 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in w.items():
                if name.startswith("ln_"):
                    p.fill_(1.0 if name.endswith("_weight") else 0.0)
                else:
                    p.uniform_(-bound, bound)

    def weights(self) -> dict[str, Tensor]:
        """This cell's own weights (standalone use)."""
        if not self.owns_weights:
            raise RuntimeError(
                "this cell's weights are owned by its layer; "
                "use layer.cell_weights(layer, direction)"
            )
        return {name: getattr(self, name) for name in self.weight_shapes()}

    def release_weights(self) -> None:
        """Drop the cell's own weights (a layer has copied them and owns them from now on)."""
        for name in self.weight_shapes():
            self._parameters.pop(name, None)
        self.owns_weights = False

    # --- the equation ------------------------------------------------------------
    def initial_state(self, batch_size: int, like: Tensor) -> State:
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return (zeros,) * self.state_size

    def project_input(self, x: Tensor, w: Weights) -> Tensor:
        """``W_ih x + b_ih`` for one step ``(B, I)`` or all steps ``(B, T, I)``."""
        return F.linear(x, w["weight_ih"], w.get("bias_ih"))

    def step(self, xp: Tensor, state: State, w: Weights, h_mask: Tensor | None = None) -> State:
        raise NotImplementedError

    def forward(self, x: Tensor, state: Tensor | State | None = None) -> Tensor | State:
        """One step from the raw input ``x`` (B, input_size). Returns ``h`` or ``(h, c)``."""
        if x.dim() != 2 or x.size(1) != self.input_size:
            raise ValueError(f"x must have shape (batch, {self.input_size}), got {tuple(x.shape)}")
        if state is None:
            state = self.initial_state(x.size(0), x)
        elif isinstance(state, Tensor):
            state = (state,)
        w = self.weights()
        new = self.step(self.project_input(x, w), tuple(state), w)
        return new[0] if self.state_size == 1 else new

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


def _recurrent_input(h: Tensor, h_mask: Tensor | None) -> Tensor:
    """``h_{t-1}`` as it enters ``W_hh``: masked by variational recurrent dropout if on."""
    return h if h_mask is None else h * h_mask


class ElmanCell(RecurrentCell):
    """Elman (simple) RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    ``nonlinearity`` is ``"tanh"`` (default) or ``"relu"``, as ``torch.nn.RNNCell``.
    """

    gates = 1
    state_size = 1

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, owns_weights=True
    ):
        super().__init__(input_size, hidden_size, bias, owns_weights=owns_weights)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._create_weights()

    def step(self, xp, state, w, h_mask=None):
        (h,) = state
        pre = xp + F.linear(_recurrent_input(h, h_mask), w["weight_hh"], w.get("bias_hh"))
        return (torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre),)

    def extra_repr(self):
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(RecurrentCell):
    """LSTM (Hochreiter & Schmidhuber 1997, with forget gate), torch's layout::

        i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)     # (B, 4H)
        i, f, o = σ(i), σ(f), σ(o);  g = tanh(g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        h_t = o ⊙ tanh(c_t)

    Options (Keras/torch users expect these as flags of the cell, not new layers):

    * ``peephole=True`` (Gers & Schmidhuber 2000/2002): diagonal peephole weights
      ``weight_ch`` of size 3H holding ``(p_i, p_f, p_o)``; ``i`` and ``f`` add
      ``p ⊙ c_{t-1}``, ``o`` adds ``p_o ⊙ c_t`` (the new cell state).
    * ``layer_norm=True`` (Ba, Kiros & Hinton 2016, LN-LSTM)::

          gates = LN_ih(W_ih x_t) + LN_hh(W_hh h_{t-1}) + b_ih + b_hh
          h_t   = o ⊙ tanh(LN_c(c_t))       # c_t itself stays unnormalized

      each LN over its features with its own gain (init 1) and shift (init 0);
      peepholes, when also on, are added after the norms.
    * ``forget_bias`` (default 1.0): the forget-gate slice of ``bias_ih`` starts at this
      value and that of ``bias_hh`` at 0, so the total forget bias starts at
      ``forget_bias`` (Jozefowicz et al. 2015: remembering by default helps long memory).
      ``None`` keeps torch's uniform init for that slice too.
    * ``chrono=T_max`` (Tallec & Ollivier 2018, "Can recurrent neural networks warp
      time?"): chrono initialization, for dependencies up to ``T_max`` steps. Each unit's
      forget bias starts at ``log u``, ``u ~ U(1, T_max - 1)``, and its input-gate bias at
      ``-log u``: the cell forgets at time scales spread over ``[2, T_max]`` steps. It
      replaces ``forget_bias``. As there, ``bias_hh``'s two slices start at 0.
    """

    gates = 4
    state_size = 2

    def __init__(
        self,
        input_size,
        hidden_size,
        bias=True,
        peephole=False,
        layer_norm=False,
        forget_bias: float | None = 1.0,
        layer_norm_eps=1e-5,
        chrono: int | None = None,
        *,
        owns_weights=True,
    ):
        super().__init__(input_size, hidden_size, bias, owns_weights=owns_weights)
        self.peephole = bool(peephole)
        self.layer_norm = bool(layer_norm)
        self.chrono = check_chrono(chrono, bias)
        self.forget_bias = forget_bias
        self.layer_norm_eps = layer_norm_eps
        self._create_weights()

    def weight_shapes(self):
        H = self.hidden_size
        shapes = super().weight_shapes()
        if self.peephole:
            shapes["weight_ch"] = (3 * H,)
        if self.layer_norm:
            for part, size in (("ih", 4 * H), ("hh", 4 * H), ("c", H)):
                shapes[f"ln_{part}_weight"] = (size,)
                shapes[f"ln_{part}_bias"] = (size,)
        return shapes

    def init_weights(self, w):
        super().init_weights(w)
        H = self.hidden_size
        if self.chrono is not None:  # b_f = log u, b_i = -log u (Tallec & Ollivier, eq. 9)
            with torch.no_grad():
                log_u = chrono_log_u(H, self.chrono, w["bias_ih"])
                w["bias_ih"][H : 2 * H].copy_(log_u)
                w["bias_ih"][:H].copy_(-log_u)
                w["bias_hh"][: 2 * H].zero_()
        elif self.bias and self.forget_bias is not None:
            with torch.no_grad():
                w["bias_ih"][H : 2 * H].fill_(self.forget_bias)
                w["bias_hh"][H : 2 * H].zero_()

    def _norm(self, x: Tensor, w: Weights, part: str) -> Tensor:
        return F.layer_norm(
            x, x.shape[-1:], w[f"ln_{part}_weight"], w[f"ln_{part}_bias"], self.layer_norm_eps
        )

    def project_input(self, x, w):
        if not self.layer_norm:
            return F.linear(x, w["weight_ih"], w.get("bias_ih"))
        xp = self._norm(F.linear(x, w["weight_ih"]), w, "ih")  # (…, 4H)
        return xp if not self.bias else xp + w["bias_ih"]

    def step(self, xp, state, w, h_mask=None):
        h, c = state
        hh = _recurrent_input(h, h_mask)
        if self.layer_norm:
            gates = xp + self._norm(F.linear(hh, w["weight_hh"]), w, "hh")
            if self.bias:
                gates = gates + w["bias_hh"]
        else:
            gates = xp + F.linear(hh, w["weight_hh"], w.get("bias_hh"))  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)
        if self.peephole:
            p_i, p_f, p_o = w["weight_ch"].chunk(3)
            i = i + p_i * c
            f = f + p_f * c
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole:
            o = o + p_o * c_new
        c_out = self._norm(c_new, w, "c") if self.layer_norm else c_new
        h_new = torch.sigmoid(o) * torch.tanh(c_out)
        return h_new, c_new

    def extra_repr(self):
        return super().extra_repr() + (
            f", peephole={self.peephole}, layer_norm={self.layer_norm},"
            f" forget_bias={self.forget_bias}"
            + (f", chrono={self.chrono}" if self.chrono is not None else "")
        )


class GRUCell(RecurrentCell):
    """GRU (Cho et al. 2014), torch's layout and variant by default::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)
        z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))        # reset_after=True (torch, cuDNN)
        n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)        # reset_after=False (Cho et al.)
        h_t = (1 - z) ⊙ n + z ⊙ h

    ``layer_norm=True`` normalizes the two projections, as in the LN-LSTM::

        gi = LN_ih(W_ih x) + b_ih;   gh = LN_hh(W_hh h) + b_hh      # each (B, 3H)

    and then applies the equations above to ``gi`` and ``gh``. The normalization needs the
    whole ``W_hh h`` before ``r`` is known, so it requires ``reset_after=True``.

    ``chrono=T_max`` (Tallec & Ollivier 2018): the update gate ``z`` keeps ``h``, so its
    bias ``b_iz`` starts at ``log u``, ``u ~ U(1, T_max - 1)`` and ``b_hz`` at 0: unit by
    unit, ``1 - z`` starts near ``1 / (1 + u)``, memory over ``[2, T_max]`` steps.
    """

    gates = 3
    state_size = 1

    def __init__(
        self,
        input_size,
        hidden_size,
        bias=True,
        layer_norm=False,
        reset_after=True,
        layer_norm_eps=1e-5,
        chrono: int | None = None,
        *,
        owns_weights=True,
    ):
        super().__init__(input_size, hidden_size, bias, owns_weights=owns_weights)
        self.chrono = check_chrono(chrono, bias)
        if layer_norm and not reset_after:
            raise ValueError(
                "layer_norm=True needs reset_after=True (the norm of W_hh h must be known "
                "before the reset gate is applied), got reset_after=False"
            )
        self.layer_norm = bool(layer_norm)
        self.reset_after = bool(reset_after)
        self.layer_norm_eps = layer_norm_eps
        self._create_weights()

    def init_weights(self, w):
        super().init_weights(w)
        if self.chrono is not None:  # b_z = log u: z = σ(log u) = u / (1 + u) keeps h
            H = self.hidden_size
            with torch.no_grad():
                w["bias_ih"][H : 2 * H].copy_(chrono_log_u(H, self.chrono, w["bias_ih"]))
                w["bias_hh"][H : 2 * H].zero_()

    def weight_shapes(self):
        shapes = super().weight_shapes()
        if self.layer_norm:
            for part in ("ih", "hh"):
                shapes[f"ln_{part}_weight"] = (3 * self.hidden_size,)
                shapes[f"ln_{part}_bias"] = (3 * self.hidden_size,)
        return shapes

    def _norm(self, x, w, part):
        return F.layer_norm(
            x, x.shape[-1:], w[f"ln_{part}_weight"], w[f"ln_{part}_bias"], self.layer_norm_eps
        )

    def project_input(self, x, w):
        if not self.layer_norm:
            return F.linear(x, w["weight_ih"], w.get("bias_ih"))
        xp = self._norm(F.linear(x, w["weight_ih"]), w, "ih")  # (…, 3H)
        return xp if not self.bias else xp + w["bias_ih"]

    def step(self, xp, state, w, h_mask=None):
        (h,) = state
        hh = _recurrent_input(h, h_mask)
        x_r, x_z, x_n = xp.chunk(3, dim=-1)
        if self.reset_after:
            if self.layer_norm:
                gh = self._norm(F.linear(hh, w["weight_hh"]), w, "hh")
                if self.bias:
                    gh = gh + w["bias_hh"]
            else:
                gh = F.linear(hh, w["weight_hh"], w.get("bias_hh"))  # (B, 3H)
            h_r, h_z, h_n = gh.chunk(3, dim=-1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
        else:
            H = self.hidden_size
            W, b = w["weight_hh"], w.get("bias_hh")
            gh = F.linear(hh, W[: 2 * H], None if b is None else b[: 2 * H])  # (B, 2H)
            h_r, h_z = gh.chunk(2, dim=-1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + F.linear(r * hh, W[2 * H :], None if b is None else b[2 * H :]))
        return ((1 - z) * n + z * h,)

    def extra_repr(self):
        return super().extra_repr() + (
            f", layer_norm={self.layer_norm}, reset_after={self.reset_after}"
            + (f", chrono={self.chrono}" if self.chrono is not None else "")
        )
