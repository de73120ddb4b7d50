"""Explicit backward through time for the cells torch has no kernel for (CPU).

Peephole and layer-norm LSTMs, layer-norm GRUs, and any LSTM, GRU (``reset_after``) or
Elman RNN with recurrent dropout in training: autograd over the reference loop records ~20
small ops per step and replays them backward, several times torch's fused kernels. Here
each layer-direction is one :class:`torch.autograd.Function`:

* the input projection ``W_ih x`` is hoisted out of the loop: one GEMM over all T steps
  (for the LSTM and GRU inside the Function, into its own buffer, which the C steps
  normalize in place for ``LN_ih``; the backward steps apply LN_ih' in place and dx, dW_ih
  are two GEMMs after the loop; for the Elman cell and the reset-before GRU under autograd);
* the forward runs the time loop without a graph, saving only what the backward needs
  (activations, states, norm statistics); the backward runs the BPTT recursion of the same
  equations (``rnn_cells.c`` gives them);
* both loops run in C (``rnn_cells.c``: ``*_seq``): per step one GEMM, ``a_t = (h_{t-1} ⊙
  m) W_hh^T`` forward and ``R = da_t W_hh`` backward, through the BLAS PyTorch itself
  calls (:mod:`~seqlab.nn.fused.blas`), and one pass for all the elementwise work. Each
  step's GEMM is split over PyTorch's threads by output columns, the elementwise pass by
  batch rows, with a barrier between (``rnn_cells.c`` says why);
* the gradients of ``W_hh`` (one GEMM over all steps) and of the biases, peepholes and
  norm gains (sums the C steps accumulate in double) come after the loop.

Step buffers of 4 MB and more ask for transparent huge pages (:class:`_Buffers`): their
memory is fresh at each call, and the first write of each 4 KB page faults.

Where PyTorch's BLAS is not found the time loop runs in Python instead: per step one
``torch.mm`` and one C call for the elementwise half (the same function, slower).
``lengths`` are handled inside the kernel: a padding step keeps the state and passes the
gradient through, as the reference loop's ``torch.where``. Float32 and float64 on the
CPU; the C source is compiled on first use (:mod:`~seqlab.nn.fused.build`, a few seconds).
Without a compiler or with ``SEQLAB_NATIVE=0`` the layer runs its reference loop (one log
line says why). The backward is not itself differentiable: double backward raises.
"""

from __future__ import annotations

import ctypes
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .blas import gemm_pointer
from .build import NativeUnavailable, load_library
from .dispatch import register_fused_path

__all__ = [
    "BPTTPath",
    "ElmanFunction",
    "GRUFunction",
    "GRUResetBeforeFunction",
    "LSTMFunction",
    "cell_library",
]

_C_TYPES = {torch.float32: ("float", "32"), torch.float64: ("double", "64")}
_p, _i = ctypes.c_void_p, ctypes.c_int64


_LIBS: dict[torch.dtype, ctypes.CDLL] = {}  # loaded and bound, per element type
# *_seq(seq, T, w_hh, gemm, threads[, x, w_ih, I])
_SEQ_ARGS = {"forward": [_p, _i, _p, _p, _i, _p, _p, _i], "backward": [_p, _i, _p, _p, _i]}


def cell_library(dtype: torch.dtype) -> ctypes.CDLL | None:
    """The compiled cell steps for ``dtype`` (built on first use), or None where unavailable.

    A failed build is remembered and logged once by :func:`~seqlab.nn.fused.build.load_library`.
    """
    if dtype in _LIBS or dtype not in _C_TYPES:
        return _LIBS.get(dtype)
    real, bits = _C_TYPES[dtype]
    try:
        lib = load_library("rnn_cells.c", {"REAL": real, "RBITS": bits}, ("-fopenmp",))
    except NativeUnavailable:
        return None
    for kind in ("lstm", "gru", "elman"):
        for way in ("forward", "backward"):
            getattr(lib, f"{kind}_{way}_step").argtypes = [_p, _i]
            getattr(lib, f"{kind}_{way}_step").restype = None
            getattr(lib, f"{kind}_{way}_seq").argtypes = _SEQ_ARGS[way]
            getattr(lib, f"{kind}_{way}_seq").restype = None
    for way in ("forward", "backward"):
        getattr(lib, f"gru_rb_{way}_seq").argtypes = _SEQ_ARGS[way]
        for part in "ab":
            getattr(lib, f"gru_rb_{way}_step_{part}").argtypes = [_p, _i]
    lib.rnn_huge_pages.argtypes, lib.rnn_huge_pages.restype = [_p, _i], _i
    _LIBS[dtype] = lib
    return lib


def _time_loop(lib, kind: str, way: str, w_hh: Tensor, raw: RawInput | None = None):
    """``loop(seq, T)``: the whole time loop in C with PyTorch's BLAS (``*_seq``), or None
    where that BLAS is not found (then the caller loops in Python, :func:`_run_forward`).
    ``raw``: the forward also makes the input half, step by step (:class:`RawInput`)."""
    gemm = gemm_pointer(w_hh.dtype)
    if gemm is None:
        return None
    fn, w, threads = getattr(lib, f"{kind}_{way}_seq"), w_hh.contiguous(), torch.get_num_threads()
    if way == "backward":
        return lambda seq, T: fn(ctypes.byref(seq), T, w.data_ptr(), gemm, threads)
    inputs = (
        (None, None, 0) if raw is None else (raw.x.data_ptr(), raw.w_ih.data_ptr(), raw.x.size(2))
    )
    return lambda seq, T: fn(ctypes.byref(seq), T, w.data_ptr(), gemm, threads, *inputs)


def _refuse_double_backward(name: str) -> None:
    # create_graph=True runs backward with grad mode on; the C steps record no graph, so a
    # second derivative through them would silently miss terms: refuse instead.
    if torch.is_grad_enabled():
        raise RuntimeError(
            f"{name}: double backward (create_graph=True) is not supported by seqlab's fused "
            "BPTT cells; build the layer with impl='reference' to differentiate twice"
        )


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _struct(kind: str, dtype: torch.dtype, pointers: str) -> type[ctypes.Structure]:
    fourth = ("relu", _i) if kind == "elman" else ("eps", _C_REAL[dtype])
    fields = [("B", _i), ("H", _i), ("keep", _i), fourth, *((n, _p) for n in pointers.split())]
    fields.append(("gx_now", _i))
    return type(f"{kind}_seq", (ctypes.Structure,), {"_fields_": fields})


_C_REAL = {torch.float32: ctypes.c_float, torch.float64: ctypes.c_double}
# The pointer fields, in order, of lstm_seq / gru_seq / elman_seq in rnn_cells.c.
_LSTM_FIELDS = "bias peep ln_ih_w ln_hh_w ln_hh_b ln_c_w ln_c_b mask valid gx rstd_ih a rstd_a act"
_LSTM_FIELDS += " c h hm tc chat rstd_c dh_out dgx da dcn R G dc sums"
_GRU_FIELDS = "bias b_hh ln_ih_w ln_hh_w ln_hh_b mask valid gx rstd_ih a rstd_a act ghn h hm"
_GRU_FIELDS += " dh_out dgx dgh da R G sums"
_ELMAN_FIELDS = "bias mask valid gx a h hm dh_out dgx R G sums"
_GRU_RB_FIELDS = "bias mask valid gx a act q h hm dh_out dgx dq R G sums"
_FIELDS = {"lstm": _LSTM_FIELDS, "gru": _GRU_FIELDS, "elman": _ELMAN_FIELDS}
_FIELDS["gru_rb"] = _GRU_RB_FIELDS
_STRUCTS = {
    (kind, dtype): _struct(kind, dtype, fields)
    for kind, fields in _FIELDS.items()
    for dtype in _C_TYPES
}


def _seq(kind, dtype, B, H, keep: bool, fourth: float | bool, gx_now=False, **tensors):
    """The C struct of ``kind``; ``fourth`` is the norms' eps (LSTM, GRU) or relu (Elman);
    ``gx_now``: gx holds one step's rows, made by the C loop from a :class:`RawInput`."""
    pointers = {n: _ptr(t) for n, t in tensors.items()}
    return _STRUCTS[kind, dtype](B, H, int(keep), fourth, **pointers, gx_now=int(gx_now))


class RawInput(NamedTuple):
    """Inference (no backward follows): the input half left to the C time loop, which
    computes ``x_t W_ih^T`` per step into a (B, G) buffer (``rnn_cells.c``: ``input_rows``;
    LN_ih, where there is one, is the step's) instead of one (T, B, G) tensor for all steps."""

    x: Tensor  # (T, B, I), contiguous
    w_ih: Tensor  # (G, I), contiguous

    def buffers(self) -> tuple[int, int, int, Tensor]:
        """``T, B, G`` and the one-step buffer."""
        T, B, _ = self.x.shape
        G = self.w_ih.size(0)
        return T, B, G, self.x.new_empty(B, G)


# Buffers from this size on ask for transparent huge pages (rnn_cells.c: rnn_huge_pages).
_HUGE_BYTES = 4 << 20


class _Buffers:
    """Fresh buffers of ``like``'s dtype and device for one Function call; the large ones
    (the (T, B, G) step buffers) on huge pages, which their first write faults in ~6x
    faster on the machines measured (``rnn_cells.c``: ``rnn_huge_pages``)."""

    def __init__(self, lib, like: Tensor):
        self.lib, self.dtype, self.device = lib, like.dtype, like.device

    def __call__(self, *shape: int, zero: bool = False) -> Tensor:
        t = torch.empty(shape, dtype=self.dtype, device=self.device)
        if t.nbytes >= _HUGE_BYTES:
            self.lib.rnn_huge_pages(t.data_ptr(), t.nbytes)
        return t.zero_() if zero else t

    def contiguous(self, t: Tensor) -> Tensor:
        """``t`` itself where contiguous, else a copy in a fresh buffer."""
        return t if t.is_contiguous() else self(*t.shape).copy_(t)


class _Forward(NamedTuple):
    """What every Function's forward starts from (:func:`_forward_start`)."""

    T: int
    B: int
    H: int
    S: int  # steps held in the step buffers: T with keep, else 1 (rnn_cells.c: keep)
    gx: Tensor  # (T, B, G), or one step's (B, G) rows made by the C loop from raw
    raw: RawInput | None
    bias: Tensor | None  # what the C step adds to gx (None where it rode in the GEMM)
    new: _Buffers
    h: Tensor  # (T + 1, B, H), h[0] = h0
    hm: Tensor | None  # (S + 1, B, H), h ⊙ m, the W_hh operand (kept for dW_hh)


def _forward_start(lib, gx, gates: int, h0: Tensor, mask: Tensor | None, keep, bias=None,
                   x=None, w_ih=None, ln_ih_w=None) -> _Forward:  # fmt: skip
    """The sizes, the input half, the states ``h`` and ``h ⊙ m`` with the initial state
    written. The input half ``gx`` is a (T, B, G) tensor, a :class:`RawInput` (the C loop
    makes it per step), or None: then it is ``x W_ih^T`` (x (T, B, I)), one GEMM here into
    a fresh buffer (with the bias, unless LN_ih follows). With ``ln_ih_w`` the C steps
    normalize gx in place (to LN_ih's ŷ), so a given gx is copied first."""
    raw = gx if isinstance(gx, RawInput) else None
    new = _Buffers(lib, h0)
    if raw is not None:
        T, B, G, gx = raw.buffers()
    elif gx is None:
        (T, B, _), G = x.shape, w_ih.size(0)
        gx, x2, w_t = new(T, B, G), x.reshape(T * B, -1), w_ih.t()
        if bias is not None and ln_ih_w is None:
            torch.addmm(bias, x2, w_t, out=gx.view(T * B, G))
            bias = None
        else:
            torch.mm(x2, w_t, out=gx.view(T * B, G))
    else:
        T, B, G = gx.shape
        gx = new.contiguous(gx) if ln_ih_w is None else new(T, B, G).copy_(gx)
    S, H = (T if keep else 1), G // gates
    h, hm = new(T + 1, B, H), None
    h[0] = h0
    if mask is not None:
        hm = new(S + 1, B, H)
        torch.mul(h0, mask, out=hm[0])
    return _Forward(T, B, H, S, gx, raw, bias, new, h, hm)


def _run_forward(lib, kind: str, seq, w_hh: Tensor, f: _Forward, a: Tensor, keep) -> None:
    """The forward time loop: in C (``*_forward_seq``), else per step in Python: one
    GEMM of the previous state, ``a_t = (h_{t-1} ⊙ m) W_hh^T`` (B, G), then the C step."""
    if (loop := _time_loop(lib, kind, "forward", w_hh, f.raw)) is not None:
        return loop(seq, f.T)
    step = getattr(lib, f"{kind}_forward_step")
    operand, a_t, w_t = (f.h if f.hm is None else f.hm).unbind(0), a.unbind(0), w_hh.t()
    ref, per_step = ctypes.byref(seq), a.size(0) > 1  # else one row of a, reused
    for t in range(f.T):
        i = t if keep or f.hm is None else t % 2  # h ⊙ m is a ring of two without keep
        torch.mm(operand[i], w_t, out=a_t[t if per_step else 0])
        step(ref, t)


class _Backward(NamedTuple):
    """What every Function's backward starts from (:func:`_backward_start`)."""

    loop: object  # the C time loop, or None (per step in Python)
    new: _Buffers
    R: Tensor  # (B, H): d_{t+1} W_hh, what h_t receives through the recurrent GEMM
    carry: Tensor  # (B, H): the gradient reaching h_t past the GEMM (rnn_cells.c: G)
    sums: Tensor  # (threads, n) float64, zeroed: the C steps' parameter sums


def _backward_start(ctx, name: str, kind: str, w_hh: Tensor, h: Tensor, n_sums: int):
    _refuse_double_backward(name)
    loop = _time_loop(ctx.lib, kind, "backward", w_hh)
    new = _Buffers(ctx.lib, h)
    R, carry = new(*h.shape[1:], zero=True), new(*h.shape[1:], zero=True)
    sums = torch.zeros(torch.get_num_threads() if loop else 1, n_sums, dtype=torch.float64)
    return _Backward(loop, new, R, carry, sums)


def _run_backward(ctx, kind: str, seq, b: _Backward, T: int, d: Tensor, w_hh: Tensor) -> None:
    """The backward time loop: in C, else per step the C step, then ``R = d_t W_hh``
    (``d``: the gradient of ``a``, (T, B, G))."""
    if b.loop is not None:
        return b.loop(seq, T)
    d_t, step, ref = d.unbind(0), getattr(ctx.lib, f"{kind}_backward_step"), ctypes.byref(seq)
    for t in range(T - 1, -1, -1):
        step(ref, t)
        torch.mm(d_t[t], w_hh, out=b.R)  # (B, H): what step t-1's h receives via W_hh


def _recurrent_grads(b: _Backward, mask, h: Tensor, hm, d: Tensor) -> tuple[Tensor, Tensor]:
    """``dh0`` (the carry plus what came through W_hh, masked as h0 was) and ``dW_hh =
    Σ_t d_t^T (h_{t-1} ⊙ m)``, one GEMM over all steps (``d`` (T, B, G))."""
    T, B, _ = d.shape
    dh0 = b.carry + (b.R if mask is None else b.R * mask)
    operand = (h if hm is None else hm)[:T].reshape(T * B, -1)
    return dh0, d.flatten(0, 1).t() @ operand


def _input_grads(ctx, dgx: Tensor, s_ih: Tensor, x, w_ih, ln_ih_w) -> tuple:
    """The gradients of the input half's inputs: of ``gx`` (where it was given), ``x``,
    ``W_ih`` and LN_ih's gain (``s_ih``). ``dgx`` (T, B, G) is that of ``x W_ih^T`` here:
    the C steps applied LN_ih' in place."""
    need_x, need_w = ctx.needs_input_grad[-3:-1]
    dx = dw_ih = None
    if x is not None:
        d2 = dgx.flatten(0, 1)
        dx = (d2 @ w_ih).view_as(x) if need_x else None
        dw_ih = d2.t() @ x.flatten(0, 1) if need_w else None
    return (dgx if ctx.gx_given else None), dx, dw_ih, (s_ih if ln_ih_w is not None else None)


class LSTMFunction(torch.autograd.Function):
    """One LSTM layer-direction over time; see ``rnn_cells.c`` for the equations.

    Inputs: the input half, ``gx`` (T, B, 4H), a :class:`RawInput` or None (then ``x``
    and ``w_ih`` below make it), and ``bias`` (4H) or None: ``gx + bias =
    [LN_ih](W_ih x) + b_ih + b_hh``, with LN_ih's shift in ``bias``; ``h0``, ``c0`` (B,
    H), ``w_hh`` (4H, H), then ``peep`` (3H), ``ln_hh_w``, ``ln_hh_b`` (4H), ``ln_c_w``,
    ``ln_c_b`` (H), each or None, the dropout ``mask`` (B, H) or None, ``valid`` (T, B)
    uint8 or None, ``keep`` (False: no backward follows, save nothing), ``eps``, the
    library, ``x`` (T, B, I) and ``w_ih`` (4H, I) or None, LN_ih's gain ``ln_ih_w`` (4H)
    or None (then gx is W_ih x before the norm). Returns ``h`` (T, B, H), the state after
    each step (held over padding), and the last cell state ``c_T`` (B, H).
    """

    @staticmethod
    def forward(ctx, gx, bias, h0, c0, w_hh, peep, ln_hh_w, ln_hh_b, ln_c_w, ln_c_b, mask,
                valid, keep, eps, lib, x, w_ih, ln_ih_w):  # fmt: skip
        ctx.gx_given = isinstance(gx, Tensor)
        f = _forward_start(lib, gx, 4, h0, mask, keep, bias, x, w_ih, ln_ih_w)
        T, B, H, S, new = f.T, f.B, f.H, f.S, f.new
        c = new(S + 1, B, H)
        c[0] = c0
        A = S if ln_hh_w is not None else 1  # W_hh h outlives its step only as LN's ŷ
        a, act, tc = new(A, B, 4 * H), new(S, B, 4 * H), new(S, B, H)
        rstd_ih = new(S, B) if ln_ih_w is not None else None
        rstd_a = new(S, B) if ln_hh_w is not None else None
        chat = new(S, B, H, zero=True) if ln_c_w is not None else None  # 0 at padding
        rstd_c = new(S, B) if ln_c_w is not None else None
        seq = _seq(
            "lstm", f.gx.dtype, B, H, keep, eps, f.raw is not None, bias=f.bias, peep=peep,
            ln_ih_w=ln_ih_w, ln_hh_w=ln_hh_w, ln_hh_b=ln_hh_b, ln_c_w=ln_c_w, ln_c_b=ln_c_b,
            mask=mask, valid=valid, gx=f.gx, rstd_ih=rstd_ih, a=a, rstd_a=rstd_a, act=act,
            c=c, h=f.h, hm=f.hm, tc=tc, chat=chat, rstd_c=rstd_c,
        )  # fmt: skip
        _run_forward(lib, "lstm", seq, w_hh, f, a, keep)
        if not keep:
            return f.h[1:], c[T % 2].clone()
        ctx.lib, ctx.eps, ctx.has_bias = lib, eps, bias is not None
        ln_y = f.gx if ln_ih_w is not None else None  # LN_ih's ŷ, made by the C steps
        ctx.save_for_backward(w_hh, peep, ln_hh_w, ln_c_w, mask, valid, f.h, c, f.hm, a, act,
                              tc, chat, rstd_a, rstd_c, ln_y, rstd_ih, x, w_ih,
                              ln_ih_w)  # fmt: skip
        return f.h[1:], c[T]

    @staticmethod
    def backward(ctx, dh, dc_last):
        (w_hh, peep, ln_hh_w, ln_c_w, mask, valid, h, c, hm, a, act, tc, chat, rstd_a, rstd_c,
         ln_y, rstd_ih, x, w_ih, ln_ih_w) = ctx.saved_tensors  # fmt: skip
        T, B, G = act.shape
        H = G // 4
        b = _backward_start(ctx, "LSTMFunction", "lstm", w_hh, h, 17 * H)
        dh = b.new(T, B, H, zero=True) if dh is None else b.new.contiguous(dh)
        dc = b.new(B, H, zero=True) if dc_last is None else b.new(B, H).copy_(dc_last)
        dgx = b.new(T, B, G)
        # da: the gradient of W_hh h; dgx itself without norms (LN_ih rewrites dgx in place)
        da = dgx if ln_hh_w is None and ln_ih_w is None else b.new(T, B, G)
        dcn = b.new(T, B, H) if ln_c_w is not None else None
        seq = _seq(
            "lstm", act.dtype, B, H, True, ctx.eps, peep=peep, ln_ih_w=ln_ih_w, ln_hh_w=ln_hh_w,
            ln_c_w=ln_c_w, mask=mask, valid=valid, gx=ln_y, rstd_ih=rstd_ih, a=a,
            rstd_a=rstd_a, act=act, c=c, h=h, tc=tc, chat=chat, rstd_c=rstd_c, dh_out=dh,
            dgx=dgx, da=da, dcn=dcn, R=b.R, G=b.carry, dc=dc, sums=b.sums,
        )  # fmt: skip
        _run_backward(ctx, "lstm", seq, b, T, da, w_hh)
        dh0, dw_hh = _recurrent_grads(b, mask, h, hm, da)
        # the sums over steps and rows, accumulated by the C steps (rnn_cells.c: LSTM_SUMS)
        sums = b.sums.sum(0).to(act.dtype)
        s_gx, s_peep, s_a, s_cw, s_cb, s_ih = sums.split([G, 3 * H, G, H, H, G])
        dpeep = s_peep if peep is not None else None  # i and f peek at c_{t-1}, o at c_t
        dln_hh_w, dln_hh_b = (s_a, s_gx) if ln_hh_w is not None else (None, None)
        dln_c_w, dln_c_b = (s_cw, s_cb) if ln_c_w is not None else (None, None)
        dbias = s_gx if ctx.has_bias else None
        dgx, dx, dw_ih, dln_ih_w = _input_grads(ctx, dgx, s_ih, x, w_ih, ln_ih_w)
        return (dgx, dbias, dh0, dc, dw_hh, dpeep, dln_hh_w, dln_hh_b, dln_c_w, dln_c_b,
                None, None, None, None, None, dx, dw_ih, dln_ih_w)  # fmt: skip


class GRUFunction(torch.autograd.Function):
    """One GRU (``reset_after=True``) layer-direction over time; see ``rnn_cells.c``.

    Inputs: the input half ``gx`` (T, B, 3H), a :class:`RawInput` or None, and ``bias``
    (3H) or None (``gx + bias = [LN_ih](W_ih x) + b_ih``), ``h0`` (B, H), ``w_hh`` (3H,
    H), ``b_hh``, ``ln_hh_w``, ``ln_hh_b`` (3H) each or None, ``mask`` (B, H) or None,
    ``valid`` (T, B) uint8 or None, ``keep``, ``eps``, the library, ``x``, ``w_ih`` and
    ``ln_ih_w`` (as :class:`LSTMFunction`). Returns ``h`` (T, B, H).
    """

    @staticmethod
    def forward(ctx, gx, bias, h0, w_hh, b_hh, ln_hh_w, ln_hh_b, mask, valid, keep, eps, lib,
                x, w_ih, ln_ih_w):  # fmt: skip
        ctx.gx_given = isinstance(gx, Tensor)
        f = _forward_start(lib, gx, 3, h0, mask, keep, bias, x, w_ih, ln_ih_w)
        B, H, S, new = f.B, f.H, f.S, f.new
        A = S if ln_hh_w is not None else 1
        a, act, ghn = new(A, B, 3 * H), new(S, B, 3 * H), new(S, B, H)
        rstd_ih = new(S, B) if ln_ih_w is not None else None
        rstd_a = new(S, B) if ln_hh_w is not None else None
        seq = _seq(
            "gru", f.gx.dtype, B, H, keep, eps, f.raw is not None, bias=f.bias, b_hh=b_hh,
            ln_ih_w=ln_ih_w, ln_hh_w=ln_hh_w, ln_hh_b=ln_hh_b, mask=mask, valid=valid,
            gx=f.gx, rstd_ih=rstd_ih, a=a, rstd_a=rstd_a, act=act, ghn=ghn, h=f.h, hm=f.hm,
        )  # fmt: skip
        _run_forward(lib, "gru", seq, w_hh, f, a, keep)
        if keep:
            ctx.lib, ctx.eps = lib, eps
            ctx.has_bias, ctx.has_b_hh = bias is not None, b_hh is not None
            ln_y = f.gx if ln_ih_w is not None else None
            ctx.save_for_backward(w_hh, ln_hh_w, mask, valid, f.h, f.hm, a, act, ghn, rstd_a,
                                  ln_y, rstd_ih, x, w_ih, ln_ih_w)  # fmt: skip
        return f.h[1:]

    @staticmethod
    def backward(ctx, dh):
        (w_hh, ln_hh_w, mask, valid, h, hm, a, act, ghn, rstd_a, ln_y, rstd_ih, x, w_ih,
         ln_ih_w) = ctx.saved_tensors  # fmt: skip
        T, B, G = act.shape
        b = _backward_start(ctx, "GRUFunction", "gru", w_hh, h, 4 * G)
        dh, dgx, dgh = b.new.contiguous(dh), b.new(T, B, G), b.new(T, B, G)
        da = b.new(T, B, G) if ln_hh_w is not None else dgh
        seq = _seq(
            "gru", act.dtype, B, G // 3, True, ctx.eps, ln_ih_w=ln_ih_w, ln_hh_w=ln_hh_w,
            mask=mask, valid=valid, gx=ln_y, rstd_ih=rstd_ih, a=a, rstd_a=rstd_a, act=act,
            ghn=ghn, h=h, dh_out=dh, dgx=dgx, dgh=dgh, da=da, R=b.R, G=b.carry, sums=b.sums,
        )  # fmt: skip
        _run_backward(ctx, "gru", seq, b, T, da, w_hh)
        dh0, dw_hh = _recurrent_grads(b, mask, h, hm, da)
        s_gx, s_gh, s_a, s_ih = b.sums.sum(0).to(act.dtype).split(G)  # rnn_cells.c: GRU_SUMS
        dbias = s_gx if ctx.has_bias else None
        db_hh = s_gh if ctx.has_b_hh else None
        dln_w, dln_b = (s_a, s_gh) if ln_hh_w is not None else (None, None)
        dgx, dx, dw_ih, dln_ih_w = _input_grads(ctx, dgx, s_ih, x, w_ih, ln_ih_w)
        return (dgx, dbias, dh0, dw_hh, db_hh, dln_w, dln_b, None, None, None, None, None, dx,
                dw_ih, dln_ih_w)  # fmt: skip


class ElmanFunction(torch.autograd.Function):
    """One Elman layer-direction over time (``rnn_cells.c``: Elman), for recurrent dropout.

    Inputs: ``gx`` (T, B, H) and ``bias`` (H) or None (``gx + bias = W_ih x + b_ih +
    b_hh``), ``h0`` (B, H), ``w_hh`` (H, H), ``mask`` (B, H) or None, ``valid`` (T, B)
    uint8 or None, ``keep``, ``relu`` (else tanh) and the library. Returns ``h`` (T, B, H).
    """

    @staticmethod
    def forward(ctx, gx, bias, h0, w_hh, mask, valid, keep, relu, lib):
        f = _forward_start(lib, gx, 1, h0, mask, keep)
        a = f.new(1, f.B, f.H)
        seq = _seq("elman", f.gx.dtype, f.B, f.H, keep, relu, f.raw is not None, bias=bias,
                   mask=mask, valid=valid, gx=f.gx, a=a, h=f.h, hm=f.hm)  # fmt: skip
        _run_forward(lib, "elman", seq, w_hh, f, a, keep)
        if keep:
            ctx.lib, ctx.relu, ctx.has_bias = lib, relu, bias is not None
            ctx.save_for_backward(w_hh, mask, valid, f.h, f.hm)
        return f.h[1:]

    @staticmethod
    def backward(ctx, dh):
        w_hh, mask, valid, h, hm = ctx.saved_tensors
        T, B, H = dh.shape
        b = _backward_start(ctx, "ElmanFunction", "elman", w_hh, h, H)
        dh, dgx = b.new.contiguous(dh), b.new(T, B, H)
        seq = _seq("elman", dh.dtype, B, H, True, ctx.relu, mask=mask, valid=valid, h=h,
                   dh_out=dh, dgx=dgx, R=b.R, G=b.carry, sums=b.sums)  # fmt: skip
        _run_backward(ctx, "elman", seq, b, T, dgx, w_hh)
        dh0, dw_hh = _recurrent_grads(b, mask, h, hm, dgx)  # dgx: of the pre-activation
        dbias = b.sums.sum(0).to(dh.dtype) if ctx.has_bias else None
        return dgx, dbias, dh0, dw_hh, None, None, None, None, None


class GRUResetBeforeFunction(torch.autograd.Function):
    """One GRU layer-direction with ``reset_after=False`` (``rnn_cells.c``: reset_after = 0):
    two GEMMs a step, ``W_rz`` on ``h ⊙ m`` and ``W_n`` on ``r ⊙ h ⊙ m``.

    Inputs: ``gx`` (T, B, 3H), ``bias`` (3H) or None (``gx + bias = W_ih x + b_ih +
    b_hh``), ``h0`` (B, H), ``w_hh`` (3H, H), ``mask`` (B, H) or None, ``valid`` (T, B)
    uint8 or None, ``keep`` and the library. Returns ``h`` (T, B, H).
    """

    @staticmethod
    def forward(ctx, gx, bias, h0, w_hh, mask, valid, keep, lib):
        w_hh = w_hh.contiguous()
        f = _forward_start(lib, gx, 3, h0, mask, keep)
        B, H, S, new = f.B, f.H, f.S, f.new
        a, act, q = new(B, 3 * H), new(S, B, 3 * H), new(S, B, H)
        seq = _seq("gru_rb", f.gx.dtype, B, H, keep, 0.0, f.raw is not None, bias=bias,
                   mask=mask, valid=valid, gx=f.gx, a=a, act=act, q=q, h=f.h,
                   hm=f.hm)  # fmt: skip
        if (loop := _time_loop(lib, "gru_rb", "forward", w_hh, f.raw)) is not None:
            loop(seq, f.T)
        else:  # per step: a_rz, then the C step that makes q, then a_n, then the rest
            hh, ref = (f.h if f.hm is None else f.hm).unbind(0), ctypes.byref(seq)
            w_rz, w_n = w_hh[: 2 * H].t(), w_hh[2 * H :].t()
            a_rz, a_n = new(B, 2 * H), new(B, H)
            for t in range(f.T):
                torch.mm(hh[t if keep or f.hm is None else t % 2], w_rz, out=a_rz)
                a[:, : 2 * H] = a_rz
                lib.gru_rb_forward_step_a(ref, t)
                torch.mm(q[t if keep else 0], w_n, out=a_n)
                a[:, 2 * H :] = a_n
                lib.gru_rb_forward_step_b(ref, t)
        if keep:
            ctx.lib, ctx.has_bias = lib, bias is not None
            ctx.save_for_backward(w_hh, mask, valid, f.h, f.hm, act, q)
        return f.h[1:]

    @staticmethod
    def backward(ctx, dh):
        w_hh, mask, valid, h, hm, act, q = ctx.saved_tensors
        T, B, G = act.shape
        H = G // 3
        b = _backward_start(ctx, "GRUResetBeforeFunction", "gru_rb", w_hh, h, G)
        dh, dgx, dq = b.new.contiguous(dh), b.new(T, B, G), b.new(B, H, zero=True)
        seq = _seq("gru_rb", act.dtype, B, H, True, 0.0, mask=mask, valid=valid, act=act, q=q,
                   h=h, hm=hm, dh_out=dh, dgx=dgx, dq=dq, R=b.R, G=b.carry,
                   sums=b.sums)  # fmt: skip
        if b.loop is not None:
            b.loop(seq, T)
        else:
            ref, w_rz, w_n = ctypes.byref(seq), w_hh[: 2 * H], w_hh[2 * H :]
            for t in range(T - 1, -1, -1):
                ctx.lib.gru_rb_backward_step_a(ref, t)
                torch.mm(dgx[t, :, 2 * H :], w_n, out=dq)  # dq = dn W_n
                ctx.lib.gru_rb_backward_step_b(ref, t)
                torch.mm(dgx[t, :, : 2 * H], w_rz, out=b.R)  # R = [dr, dz] W_rz
        # dW_hh: [dr, dz] against h ⊙ m for W_rz, dn against q = r ⊙ h ⊙ m for W_n
        dh0, dw_rz = _recurrent_grads(b, mask, h, hm, dgx[:, :, : 2 * H])
        dw_n = dgx[:, :, 2 * H :].reshape(T * B, H).t() @ q.reshape(T * B, H)
        dbias = b.sums.sum(0).to(act.dtype) if ctx.has_bias else None
        return dgx, dbias, dh0, torch.cat([dw_rz, dw_n]), None, None, None, None


class BPTTPath:
    """The fused path of :class:`LSTMFunction`, :class:`GRUFunction` and
    :class:`ElmanFunction` (see the module docstring)."""

    name = "bptt"

    def __init__(self, kind: str):
        self.kind = kind

    def runs(self, layer, x: Tensor | None = None) -> bool:
        like = layer.weight_hh_l0 if x is None else x
        if like.device.type != "cpu" or like.dtype != layer.weight_hh_l0.dtype:
            return False
        return cell_library(like.dtype) is not None

    def forward(self, layer, x, state, lengths):
        lib = cell_library(x.dtype)
        return layer.run_stack(x, state, lengths, lambda *args: self._direction(lib, *args))

    def _direction(self, lib, cell, w, seq, s, valid, h_mask):
        v = None if valid is None else valid.t().to(torch.uint8).contiguous()  # (T, B)
        mask = None if h_mask is None else h_mask.contiguous()
        eps = float(getattr(cell, "layer_norm_eps", 0.0))
        keep = torch.is_grad_enabled() and any(  # will a backward follow?
            t.requires_grad for t in (seq, *s, *w.values())
        )
        x, bias, raw = seq.transpose(0, 1), _input_bias(cell, w), None  # x: (T, B, I)
        if not keep and gemm_pointer(seq.dtype) is not None:  # inference: gx step by step
            raw = RawInput(x.contiguous(), w["weight_ih"].contiguous())
        if self.kind in ("lstm", "gru"):  # gx = x W_ih^T made by the Function, LN_ih by C
            tail = (None if raw else x.contiguous(), w["weight_ih"], w.get("ln_ih_weight"))
        else:  # no norms: in training the biases ride in the GEMM
            gx, bias = (raw, bias) if raw else (F.linear(x, w["weight_ih"], bias), None)
        if self.kind == "lstm":
            hs, c_last = LSTMFunction.apply(
                raw, bias, s[0], s[1], w["weight_hh"], w.get("weight_ch"), w.get("ln_hh_weight"),
                w.get("ln_hh_bias"), w.get("ln_c_weight"), w.get("ln_c_bias"), mask, v, keep, eps,
                lib, *tail,
            )  # fmt: skip
            final = (hs[-1], c_last)
        elif self.kind == "gru_rb":
            hs = GRUResetBeforeFunction.apply(gx, bias, s[0], w["weight_hh"], mask, v, keep, lib)
            final = (hs[-1],)
        elif self.kind == "elman":
            relu = cell.nonlinearity == "relu"
            hs = ElmanFunction.apply(gx, bias, s[0], w["weight_hh"], mask, v, keep, relu, lib)
            final = (hs[-1],)
        else:
            hs = GRUFunction.apply(
                raw, bias, s[0], w["weight_hh"], w.get("bias_hh"), w.get("ln_hh_weight"),
                w.get("ln_hh_bias"), mask, v, keep, eps, lib, *tail,
            )  # fmt: skip
            final = (hs[-1],)
        out = hs if v is None else hs * v.unsqueeze(-1)  # (T, B, H), 0 past each length
        return out.transpose(0, 1), final


def _input_bias(cell, w) -> Tensor | None:
    """The constant part of ``cell.project_input(x, w)``, as one (G,) vector: ``b_ih``,
    plus ``b_hh`` for the LSTM and Elman (a constant too, except inside the GRU's reset
    gate, r ⊙ (W_hn h + b_hn)), plus LN_ih's shift with layer norm."""
    b = None
    if cell.bias:
        inside = isinstance(cell, GRUCell) and cell.reset_after
        b = w["bias_ih"] if inside else w["bias_ih"] + w["bias_hh"]
    if getattr(cell, "layer_norm", False):
        b = w["ln_ih_bias"] if b is None else w["ln_ih_bias"] + b
    return b


@register_fused_path
def _bptt_cells(cell: RecurrentCell) -> BPTTPath | None:
    if type(cell) is LSTMCell:
        return BPTTPath("lstm")
    if type(cell) is GRUCell:
        return BPTTPath("gru" if cell.reset_after else "gru_rb")
    if type(cell) is ElmanCell:  # torch's kernels run it, but not with recurrent dropout
        return BPTTPath("elman")
    return None
