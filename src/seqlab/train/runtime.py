"""What a run sets up around the loop: seeds, determinism, the device, RNG snapshots,
the CPU's denormal mode.

``rng_state()`` / ``set_rng_state()`` capture and restore Python's, NumPy's and torch's
generators (CPU and every GPU) as tensors and plain numbers, so a checkpoint stores them
without pickle and a resumed run draws the same numbers as an unbroken one.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = [
    "denormals_are_flushed",
    "denormals_flushed",
    "make_deterministic",
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


@contextmanager
def denormals_flushed(on: bool = True) -> Iterator[None]:
    """Within the block, CPU float arithmetic treats denormal numbers (float32 below
    1.18e-38) as zero; the mode before it is restored after.

    Why: a gradient that vanishes through time (an LSTM over 600 steps, the lectures'
    vanishing gradient) passes through denormal values, which x86 CPUs compute 10-100x
    slower than normal ones. Measured on an LSTM of 130 units over 600 steps, one thread:
    2.8 CPU s a step, 0.27 s flushed. Values that small change no weight update in
    float32. TensorFlow flushes them by default; torch does not. torch sets the mode on
    the calling thread (its intra-op workers keep theirs)."""
    change = on and not denormals_are_flushed()
    if change:
        torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if change:
            torch.set_flush_denormal(False)


def resolve_device(name: str) -> torch.device:
    """``auto`` is this process's GPU when CUDA is present (``cuda:LOCAL_RANK`` under
    torchrun), else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
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
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available() and state["cuda"]:
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
