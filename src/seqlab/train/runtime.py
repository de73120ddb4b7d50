"""What a run sets up around the loop: seeds, determinism, the device, RNG snapshots,
the CPU's denormal mode.

``rng_state()`` / ``set_rng_state()`` capture and restore Python's, NumPy's and torch's
generators (CPU and every GPU) as tensors and plain numbers, so a checkpoint stores them
without pickle and a resumed run draws the same numbers as an unbroken one.
"""

from __future__ import annotations

import ctypes
import functools
import os
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = [
    "denormals_are_flushed",
    "denormals_flushed",
    "env_int",
    "make_deterministic",
    "own_gpu",
    "resolve_device",
    "rng_state",
    "seed_everything",
    "set_rng_state",
]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_deterministic() -> None:
    """``torch.use_deterministic_algorithms`` and cuDNN's deterministic mode: bitwise
    repeatable runs, slower on GPU; an op with no deterministic kernel raises."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def denormals_are_flushed() -> bool:
    """Whether this thread's CPU arithmetic flushes denormal floats to zero
    (``torch.set_flush_denormal``, which has no getter): a float32 denormal times 1."""
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # below float32's 1.18e-38
    return bool((tiny * 1.0).item() == 0.0)


# The CPU's denormal mode (x86 MXCSR's FTZ/DAZ bits, ARM's FPCR.FZ) belongs to each
# thread, and torch sets it on the calling thread only; its intra-op workers (an OpenMP
# team, which MKL and seqlab's C steps share) keep theirs. A thread inherits the mode of
# the thread that creates it, so only a flush before torch's first parallel op reached
# them. ``GOMP_parallel`` (libgomp's entry for ``#pragma omp parallel``) runs a function
# on every thread of the calling thread's team: the same threads torch's parallel ops use.
_EachThread = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@functools.cache
def _libgomp() -> ctypes.CDLL | None:
    """torch's own libgomp (dlopen by soname finds the copy already loaded), or None
    where torch's parallel backend is not OpenMP (macOS, Windows, native-thread builds)."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        lib = ctypes.CDLL("libgomp.so.1")
        lib.GOMP_parallel.argtypes = [_EachThread, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    except (OSError, AttributeError):
        return None
    return lib


def _on_every_thread(fn: Callable[[], Any]) -> dict[int, Any]:
    """``fn()`` on this thread and on each of torch's intra-op worker threads, by thread
    id; only this thread when the workers cannot be reached (or there are none)."""
    lib, threads = _libgomp(), torch.get_num_threads()
    if lib is None or threads < 2:
        return {threading.get_ident(): fn()}
    results: dict[int, Any] = {}

    @_EachThread
    def each(_: Any) -> None:  # ctypes takes the GIL for each worker in turn
        results[threading.get_ident()] = fn()

    lib.GOMP_parallel(each, None, threads, 0)  # ctypes releases the GIL for the call
    return results


@contextmanager
def denormals_flushed(on: bool = True) -> Iterator[None]:
    """Within the block, CPU float arithmetic treats denormal numbers (float32 below
    1.18e-38) as zero, on this thread and on torch's intra-op worker threads; each
    thread's mode from before is restored after.

    Why: a gradient that vanishes through time (an LSTM over 600 steps, the lectures'
    vanishing gradient) passes through denormal values, which x86 CPUs compute 10-100x
    slower than normal ones. Measured on an LSTM of 130 units over 600 steps, batch 32:
    one thread 2.6 s a step, 0.29 s flushed; two threads 1.5 s a step, 0.63 s with
    only the calling thread flushed, 0.19 s with the workers too
    (``benchmarks/denormals.py``). Values that small change no weight update in float32.
    TensorFlow flushes them by default; torch does not."""
    before = _on_every_thread(denormals_are_flushed) if on else {}
    change = on and not all(before.values())
    if change:
        _on_every_thread(lambda: torch.set_flush_denormal(True))
    try:
        yield
    finally:
        if change:  # a thread made inside the block (none seen before) goes back to off
            _on_every_thread(
                lambda: torch.set_flush_denormal(before.get(threading.get_ident(), False))
            )


def own_gpu() -> torch.device | None:
    """This process's GPU, ``cuda:LOCAL_RANK`` (torchrun sets it; 0 alone), when CUDA is
    present and every process torchrun started on this machine (``LOCAL_WORLD_SIZE``) has
    a GPU of its own; else None, and every one of them trains on the CPU (gloo). Two
    processes cannot share one GPU under nccl, and ``cuda:1`` of a one-GPU machine does
    not exist: ``seqlab train --nproc 2`` there once stopped with "invalid device
    ordinal"."""
    if not torch.cuda.is_available():
        return None
    rank, processes = env_int("LOCAL_RANK", 0), env_int("LOCAL_WORLD_SIZE", 1)
    if processes > torch.cuda.device_count():
        return None
    return torch.device("cuda", rank)


def env_int(name: str, default: int) -> int:
    """The integer environment variable ``name`` (torchrun's ``RANK``, ``LOCAL_RANK``, ...),
    ``default`` when unset; one clear error when it is not an integer."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` is this process's GPU (:func:`own_gpu`: ``cuda:LOCAL_RANK`` under
    torchrun, when each local process has one), else the CPU."""
    if name == "auto":
        return own_gpu() or torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available")
    return device


def rng_state() -> dict[str, Any]:
    """Every generator's state, as tensors and plain numbers (no pickle needed)."""
    np_state = np.random.get_state()
    return {
        "python": list(random.getstate()),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    # .cpu(): a checkpoint resumed on a GPU maps every tensor there, these RNG states too
    keys = n["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available() and state["cuda"]:
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
