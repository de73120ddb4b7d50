"""Data-parallel training on PyTorch's own engine: torchrun + DistributedDataParallel.

``torchrun --nproc_per_node N train.py`` (or :func:`launch`, which runs torchrun from
Python) starts ``N`` processes and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` for each. In each of them::

    info = init_distributed()                      # gloo on CPU, nccl on GPU
    loader = DataLoader(ds, batch_size=B // info.world_size,
                        sampler=distributed_sampler(ds, shuffle=True, seed=0),
                        collate_fn=...)
    Trainer(model, config).fit(loader, val_loader)  # wraps the model in DDP itself

Each rank sees a disjoint ``1/N`` of every epoch (``DistributedSampler``, re-shuffled per
epoch through ``set_epoch``, which the trainer calls); DDP averages the gradients over
ranks in the backward pass, so ``N`` ranks with per-rank batch ``B/N`` take the same
steps as one process with batch ``B``. Metrics are reduced as sums of sufficient
statistics (:func:`all_reduce_sum`); only rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from .runtime import env_int, own_gpu

if TYPE_CHECKING:
    from .config import TrainerConfig

__all__ = [
    "DistInfo",
    "all_reduce_sum",
    "barrier",
    "cleanup_distributed",
    "distributed_sampler",
    "init_distributed",
    "is_main_process",
    "launch",
    "world_size",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None


def init_distributed(backend: str | None = None, timeout_s: float = 300.0) -> DistInfo:
    """Join the process group torchrun set up (from ``RANK``/``WORLD_SIZE`` in the
    environment); without those variables, a single process: nothing to join.

    ``backend`` defaults to ``nccl`` when each process on this machine has a GPU of its
    own (:func:`seqlab.train.runtime.own_gpu`), which it then takes (``cuda:LOCAL_RANK``),
    else ``gloo`` on the CPU: the device ``device: auto`` gives the trainer.
    """
    world = env_int("WORLD_SIZE", 1)
    local_rank = env_int("LOCAL_RANK", 0)
    gpu = own_gpu()
    cuda = gpu is not None
    device = gpu or torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world <= 1:
        return DistInfo(0, 1, 0, device, None)
    backend = backend or ("nccl" if cuda else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device, backend)


def cleanup_distributed() -> None:
    """Leave the process group (call at the end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    """The number of processes training together (1 without a process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that writes checkpoints and logs."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``tensor`` over all ranks (a copy; itself when alone).

    Metric accumulators keep sums and counts, so the sum over ranks gives the exact
    corpus value. gloo reduces CPU tensors; nccl needs them on the rank's GPU.
    """
    if world_size() == 1:
        return tensor
    device = (
        torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    )
    out = tensor.detach().to(device).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(tensor.device)


def distributed_sampler(
    dataset: Dataset, shuffle: bool = True, seed: int = 0, drop_last: bool = False
) -> DistributedSampler | None:
    """A ``DistributedSampler`` giving this rank its share, or ``None`` when alone
    (then use the loader's own ``shuffle``)."""
    if world_size() == 1:
        return None
    return DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)


def launch(
    script: str | os.PathLike,
    args: Sequence[str] = (),
    nproc: int = 2,
    check: bool = True,
    **kwargs,
) -> subprocess.CompletedProcess:
    """Run ``torchrun --standalone --nproc_per_node nproc script *args`` (localhost only)
    with this Python, and wait for it. ``kwargs`` go to ``subprocess.run``; ``check``
    raises ``subprocess.CalledProcessError`` when any rank fails.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    if not os.path.exists(script):
        raise ValueError(f"script {os.fspath(script)!r} does not exist")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        os.fspath(script),
        *args,
    ]
    return subprocess.run(cmd, check=check, **kwargs)


def data_parallel(module: nn.Module, device: torch.device, config: TrainerConfig) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel, after the checks of what DDP cannot
    do with a config."""
    if config.tbptt.backprop_chunks > 1:  # DDP reduces gradients once per forward pass
        raise ValueError(
            f"tbptt.backprop_chunks={config.tbptt.backprop_chunks} runs several forward "
            "passes per update, which DistributedDataParallel does not support; use 1 "
            "with torchrun"
        )
    if config.tbptt.stateful and config.checkpoints.every is not None:  # each rank its own
        raise ValueError(
            "checkpoints.every with tbptt.stateful=True would have to save every rank's "
            "carried state; under torchrun checkpoint at epoch ends (leave it None)"
        )
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)
