"""``device: auto``: this process's own GPU, or the CPU. Under torchrun every process on a
machine needs a GPU of its own (nccl refuses two on one, and ``cuda:1`` of a one-GPU
machine does not exist), else all of them train on the CPU over gloo. CUDA is faked here;
the GPU machine runs the suite with a real one."""

import pytest
import torch

from seqlab.train import distributed
from seqlab.train.runtime import own_gpu, resolve_device, rng_state, set_rng_state

MACHINES = [  # (GPUs, LOCAL_RANK, LOCAL_WORLD_SIZE, the device auto gives)
    (0, None, None, "cpu"),
    (1, None, None, "cuda:0"),  # one process, no torchrun
    (1, "0", "1", "cuda:0"),
    (1, "1", "2", "cpu"),  # seqlab train --nproc 2 on a one-GPU machine
    (1, "0", "2", "cpu"),  # ... and its rank 0 too: both on gloo, not one on each
    (2, "1", "2", "cuda:1"),
    (4, "3", "4", "cuda:3"),
]


def _machine(monkeypatch, gpus, rank, local_world):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    for name, value in (("LOCAL_RANK", rank), ("LOCAL_WORLD_SIZE", local_world)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("gpus, rank, local_world, expected", MACHINES)
def test_auto_is_this_processes_own_gpu_or_the_cpu(monkeypatch, gpus, rank, local_world, expected):
    _machine(monkeypatch, gpus, rank, local_world)
    assert resolve_device("auto") == torch.device(expected)
    assert (own_gpu() is None) == (expected == "cpu")


def test_the_process_group_takes_the_same_device_and_its_backend(monkeypatch):
    _machine(monkeypatch, 1, "1", "2")  # two processes, one GPU: gloo on the CPU
    monkeypatch.setenv("WORLD_SIZE", "2")
    joined = {}
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **kw: joined.update(kw))
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    info = distributed.init_distributed()
    assert joined["backend"] == info.backend == "gloo" and info.device == torch.device("cpu")


def test_a_local_rank_that_is_no_number_is_named(monkeypatch):
    _machine(monkeypatch, 1, "first", "1")
    with pytest.raises(ValueError, match="environment variable LOCAL_RANK must be an integer"):
        resolve_device("auto")


def test_rng_states_restore_from_wherever_a_checkpoint_mapped_them():
    # a checkpoint resumed on a GPU maps every tensor there, RNG states too: they are
    # read back through .cpu() (here a copy stands in for the GPU's tensors)
    state = rng_state()
    first = torch.rand(3)
    moved = {**state, "numpy": {**state["numpy"], "keys": state["numpy"]["keys"].clone()}}
    set_rng_state(moved)
    assert torch.equal(torch.rand(3), first)
