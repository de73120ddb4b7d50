"""The BLAS matrix product PyTorch itself calls, as a C function pointer for native loops.

The time loops of :mod:`~seqlab.nn.fused.bptt` run in C (``rnn_cells.c``: ``*_seq``) and
need one small GEMM per step. PyTorch's x86 wheels link Intel MKL into ``libtorch_cpu``
and export its Fortran entry points ``sgemm_`` / ``dgemm_`` (32-bit integers, LP64; the
64-bit ones are ``sgemm_64``): the same kernels ``torch.mm`` reaches, with no second BLAS
to install. Where they are absent (builds on OpenBLAS, Accelerate, ...), or fail the
check below, :func:`gemm_pointer` is None and bptt runs its per-step loop (``torch.mm``
from Python, the elementwise half in C) instead.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import torch

__all__ = ["gemm_pointer"]

log = logging.getLogger(__name__)

_NAMES = {torch.float32: ("sgemm_", ctypes.c_float), torch.float64: ("dgemm_", ctypes.c_double)}
_found: dict[torch.dtype, int | None] = {}


def gemm_pointer(dtype: torch.dtype) -> int | None:
    """The address of PyTorch's BLAS ``?gemm_`` for ``dtype`` (float32/64), or None."""
    if dtype not in _found:
        _found[dtype] = _find(dtype) if dtype in _NAMES else None
    return _found[dtype]


def _find(dtype: torch.dtype) -> int | None:
    if not torch.backends.mkl.is_available():
        return None
    name, real = _NAMES[dtype]
    for path in sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*")):
        try:
            fn = getattr(ctypes.CDLL(str(path)), name)
        except (OSError, AttributeError):
            continue
        if _multiplies(fn, real, dtype):
            return ctypes.cast(fn, ctypes.c_void_p).value
        log.warning("seqlab does not call %s of %s: it failed a 3x2 check", name, path.name)
    return None


def _multiplies(fn, real, dtype: torch.dtype) -> bool:
    """Whether ``fn`` computes a small product as ``torch.mm`` does (the calling convention)."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, 2, generator=gen, dtype=dtype) for n in (3, 4))  # want a @ b.T
    out = torch.zeros(3, 4, dtype=dtype)
    p_real, p_int, p_char = ctypes.POINTER(real), ctypes.POINTER(ctypes.c_int), ctypes.c_char_p
    fn.argtypes = [p_char, p_char, p_int, p_int, p_int, p_real, ctypes.c_void_p, p_int,
                   ctypes.c_void_p, p_int, p_real, ctypes.c_void_p, p_int]  # fmt: skip
    fn.restype = None
    n, m, k = (ctypes.byref(ctypes.c_int(v)) for v in (4, 3, 2))  # column-major out^T = b a^T
    one, zero = ctypes.byref(real(1.0)), ctypes.byref(real(0.0))
    fn(b"T", b"N", n, m, k, one, b.data_ptr(), k, a.data_ptr(), k, zero, out.data_ptr(), n)
    return torch.allclose(out, a @ b.T, rtol=1e-5, atol=1e-6)
