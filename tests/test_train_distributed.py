"""Data parallelism: 2 CPU processes (torchrun, gloo) equal 1 process with the same
global batch.

This file is also the worker script: ``torchrun --nproc_per_node 2
tests/test_train_distributed.py OUT`` runs :func:`run` on every rank.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seqlab.data import Batch
from seqlab.models import Output
from seqlab.nn import GRU
from seqlab.train import (
    Trainer,
    TrainerConfig,
    cleanup_distributed,
    distributed_sampler,
    init_distributed,
    launch,
    load_checkpoint,
)

GLOBAL_BATCH = 16


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = GRU(2, 12)
        self.head = nn.Linear(12, 1)

    def forward(self, batch: Batch) -> Output:
        out, _ = self.rnn(batch.inputs)  # (B, T, H)
        y = self.head(out[:, -1]).squeeze(-1)  # (B,)
        return Output(y, F.mse_loss(y, batch.targets))


def collate(items):
    x, y = zip(*items, strict=True)
    return Batch(torch.stack(x), torch.stack(y))


def dataset(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, 2, generator=g)
    return TensorDataset(x, x[:, :, 0].sum(1) * 0.3 - x[:, -1, 1])


def run(out: str) -> None:
    """Train on every rank; each rank takes GLOBAL_BATCH / world_size samples a step."""
    info = init_distributed()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # DDP also broadcasts rank 0's weights
    model = Regressor()
    per_rank = GLOBAL_BATCH // info.world_size
    loaders = []
    for ds in (dataset(96, seed=0), dataset(48, seed=1)):
        sampler = distributed_sampler(ds, shuffle=False)  # rank r: samples r, r + N, ...
        loaders.append(DataLoader(ds, batch_size=per_rank, sampler=sampler, collate_fn=collate))
    cfg = TrainerConfig(epochs=3, optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9}, clip={"norm": 5.0}, checkpoints={"dir": f"{out}/rank{info.rank}", "every": 4},
                        progress=False, metrics=["mae"], tensorboard=False, device="cpu",  # gloo's

                        )  # fmt: skip  # mid-epoch saves reduce over ranks
    Trainer(model, cfg).fit(*loaders)
    cleanup_distributed()


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    run(str(tmp_path / "single"))
    single_model = Regressor()
    single = load_checkpoint(tmp_path / "single" / "rank0" / "last", single_model)

    try:
        launch(__file__, [str(tmp_path / "ddp")], nproc=2, timeout=120, capture_output=True,
               text=True)  # fmt: skip
    except subprocess.CalledProcessError as e:
        pytest.fail(f"torchrun failed:\n{e.stdout}\n{e.stderr}")
    ddp_model = Regressor()
    ddp = load_checkpoint(tmp_path / "ddp" / "rank0" / "last", ddp_model)
    assert not (tmp_path / "ddp" / "rank1").exists()  # only rank 0 writes

    # Same samples per step, gradients averaged over ranks = the mean over the global
    # batch: only float summation order differs, so losses agree to ~1e-6 relative.
    for a, b in zip(single.metrics["history"], ddp.metrics["history"], strict=True):
        for key in ("train_loss", "val_loss", "val_mae"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), key
    for k, v in single_model.state_dict().items():
        torch.testing.assert_close(ddp_model.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    assert single.metrics["history"][-1]["train_loss"] < single.metrics["history"][0]["train_loss"]


def test_launch_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="nproc must be a positive int, got 0"):
        launch(__file__, nproc=0)
    with pytest.raises(ValueError, match="does not exist"):
        launch(tmp_path / "missing.py")


if __name__ == "__main__":
    run(sys.argv[1])
