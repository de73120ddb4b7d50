"""Checkpoints: round trip, atomic writes, clear errors, and exact resume."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import seqlab.train.checkpoint as checkpoint_module
from seqlab.data import Batch
from seqlab.models import Output
from seqlab.nn import LSTM
from seqlab.train import (
    Callback,
    CheckpointError,
    Trainer,
    TrainerConfig,
    load_checkpoint,
    save_checkpoint,
)


class Regressor(nn.Module):
    """Many-to-one regression with dropout (so resume must restore the RNG too)."""

    def __init__(self, hidden=12):
        super().__init__()
        self.rnn = LSTM(2, hidden)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(hidden, 1)

    def forward(self, batch: Batch) -> Output:
        out, _ = self.rnn(batch.inputs)  # (B, T, H)
        y = self.head(self.drop(out[:, -1])).squeeze(-1)  # (B,)
        return Output(y, F.mse_loss(y, batch.targets))


def collate(items):
    x, y = zip(*items, strict=True)
    return Batch(torch.stack(x), torch.stack(y))


def data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, 2, generator=g)
    return TensorDataset(x, x[:, :, 0].cumsum(1)[:, -1] * 0.3 + x[:, 0, 1])


def loaders():
    train = DataLoader(data(), batch_size=16, shuffle=True, collate_fn=collate)
    val = DataLoader(data(32, seed=1), batch_size=16, collate_fn=collate)
    return train, val


def config(tmp_path, **kw):
    base = dict(epochs=4, optimizer={"name": "adamw", "lr": 5e-3, "weight_decay": 1e-2},
                schedule={"name": "cosine", "warmup_steps": 3}, clip={"norm": 1.0},
                early_stopping={"patience": 3}, progress=False,
                checkpoints={"dir": str(tmp_path)}, tensorboard=False)  # fmt: skip
    for key, value in kw.items():  # a section given merges into the base's
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return TrainerConfig(**base)


def test_round_trip_with_config_extras_and_metrics(tmp_path):
    torch.manual_seed(0)
    model = Regressor()
    path = save_checkpoint(tmp_path / "ck", model, config={"model": {"hidden": 12}},
                           metrics={"val_loss": 0.5}, extras={"scaler": {"mean": 1.5}},
                           state={"step": 3, "t": torch.arange(3)})  # fmt: skip
    other = Regressor()
    ckpt = load_checkpoint(path, other)
    for k, v in model.state_dict().items():
        assert torch.equal(v, other.state_dict()[k])
    assert ckpt.config == {"model": {"hidden": 12}}
    assert ckpt.metrics == {"val_loss": 0.5}
    assert ckpt.extras == {"scaler": {"mean": 1.5}}
    assert ckpt.state["step"] == 3 and torch.equal(ckpt.state["t"], torch.arange(3))
    assert not list(tmp_path.glob("ck.*"))  # no temporary or old directory left behind


def test_tied_weights_are_saved(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 4)
            self.out = nn.Linear(4, 5, bias=False)
            self.out.weight = self.emb.weight

    a, b = Tied(), Tied()
    load_checkpoint(save_checkpoint(tmp_path / "t", a), b)
    assert torch.equal(b.out.weight, a.emb.weight) and b.out.weight is b.emb.weight


def test_failure_mid_save_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    torch.manual_seed(1)
    first, second = Regressor(), Regressor()
    path = tmp_path / "last"
    save_checkpoint(path, first, metrics={"epoch": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash)  # state.pt comes after weights
    with pytest.raises(OSError, match="injected"):
        save_checkpoint(path, second, metrics={"epoch": 2})
    monkeypatch.undo()
    loaded = Regressor()
    ckpt = load_checkpoint(path, loaded)
    assert ckpt.metrics == {"epoch": 1}
    for k, v in first.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_crash_between_the_renames_falls_back_to_the_old_directory(tmp_path):
    model = Regressor()
    save_checkpoint(tmp_path / "last", model, metrics={"epoch": 1})
    (tmp_path / "last").rename(tmp_path / "last.old")  # as if killed right after this rename
    assert load_checkpoint(tmp_path / "last", Regressor()).metrics == {"epoch": 1}


def test_corrupt_or_missing_files_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "ck", Regressor())
    weights = tmp_path / "ck" / "weights.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-3] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: corrupt"):
        load_checkpoint(path, Regressor())
    weights.unlink()
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: missing"):
        load_checkpoint(path, Regressor())
    with pytest.raises(CheckpointError, match="no checkpoint directory there"):
        load_checkpoint(tmp_path / "nowhere", Regressor())
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"not a seqlab checkpoint \(no manifest\.json\)"):
        load_checkpoint(tmp_path / "empty")
    manifest = tmp_path / "ck" / "manifest.json"
    manifest.write_text(json.dumps({"format_version": 99, "files": {}}))
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_checkpoint(path)


def test_mismatched_model_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "ck", Regressor(hidden=12))
    with pytest.raises(CheckpointError, match="weights do not fit Regressor"):
        load_checkpoint(path, Regressor(hidden=8))
    with pytest.raises(CheckpointError, match=r"missing \['weight'\], unexpected"):
        load_checkpoint(path, nn.Linear(2, 1, bias=False))
    # a hand-written safetensors file with the right hashes but the wrong names
    save_file({"x": torch.zeros(1)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(CheckpointError, match="do not match Regressor"):
        checkpoint_module._load_weights(Regressor(), str(tmp_path / "x.safetensors"))


def test_resume_with_a_different_model_config_names_the_key(tmp_path):
    torch.manual_seed(2)
    train, val = loaders()
    cfg = config(tmp_path, epochs=1)
    Trainer(Regressor(), cfg, model_config={"hidden": 12}).fit(train, val)
    other = Trainer(Regressor(), cfg, model_config={"hidden": 13})
    with pytest.raises(CheckpointError, match=r"hidden \(12 there, 13 here\)"):
        other.resume(tmp_path / "last")


class Interrupt(Exception):
    pass


class KillAt(Callback):
    """Kill the run as it starts epoch ``epoch`` (0-based), after the last save."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_start(self, trainer, epoch):
        if epoch == self.epoch:
            raise Interrupt


def test_resume_equals_uninterrupted(tmp_path):
    """Dropout, shuffling, AdamW moments, warmup + cosine schedule and early stopping all
    continue where they were: the final weights are bitwise equal on CPU."""
    train, val = loaders()
    torch.manual_seed(3)
    straight = Regressor()
    history = Trainer(straight, config(tmp_path / "a")).fit(train, val)

    torch.manual_seed(3)
    first = Regressor()
    with pytest.raises(Interrupt):
        Trainer(first, config(tmp_path / "b"), callbacks=[KillAt(2)]).fit(train, val)

    torch.manual_seed(99)  # a new process: other initial weights, other RNG state
    resumed = Regressor()
    trainer = Trainer(resumed, config(tmp_path / "b"), callbacks=[KillAt(-1)])
    history_b = trainer.fit(train, val, resume_from=tmp_path / "b" / "last")

    assert trainer.global_step == 4 * len(train)
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    assert [h["val_loss"] for h in history_b] == [h["val_loss"] for h in history]
    assert (tmp_path / "b" / "best" / "weights.safetensors").exists()


class KillAtStep(Callback):
    """Kill the run after optimizer step ``step`` (1-based), before any save of that step."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, logs):
        if logs["step"] == self.step:
            raise Interrupt


def read_csv(path):
    return path.read_text().splitlines()


def test_mid_epoch_resume_equals_uninterrupted(tmp_path):
    """6 batches an epoch, last/ every 4 steps: killed at step 11 (epoch 2, batch 5), the
    run resumes from step 8 (epoch 2, batch 2) and ends as the unbroken run does."""
    train, val = loaders()
    torch.manual_seed(3)
    straight = Regressor()
    history = Trainer(
        straight,
        config(
            tmp_path / "a",
            checkpoints={"every": 4},
        ),
    ).fit(train, val)

    torch.manual_seed(3)
    with pytest.raises(Interrupt):
        Trainer(Regressor(), config(tmp_path / "b", checkpoints={"every": 4}),
                callbacks=[KillAtStep(11)]).fit(train, val)  # fmt: skip
    ckpt = load_checkpoint(tmp_path / "b" / "last", Regressor())
    assert ckpt.state["trainer"]["global_step"] == 8
    assert ckpt.state["trainer"]["epoch"] == 1 and ckpt.state["epoch_progress"]["batches_done"] == 2

    torch.manual_seed(99)  # a new process: other initial weights, other RNG state
    resumed = Regressor()
    trainer = Trainer(resumed, config(tmp_path / "b", checkpoints={"every": 4}),
                      callbacks=[KillAtStep(-1)])  # fmt: skip
    history_b = trainer.fit(train, val, resume_from=tmp_path / "b" / "last")

    assert trainer.global_step == 4 * len(train)
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    # the epoch's running loss came through the checkpoint too
    assert history_b == history
    # the logs hold every step and epoch once, as the unbroken run's do
    for name in ("steps.csv", "epochs.csv"):
        assert read_csv(tmp_path / "b" / name) == read_csv(tmp_path / "a" / name), name


class StreamRegressor(nn.Module):
    """Stateful many-to-many regression with dropout, for truncated BPTT."""

    def __init__(self):
        super().__init__()
        self.rnn, self.drop, self.head = LSTM(2, 8), nn.Dropout(0.2), nn.Linear(8, 1)

    def forward(self, batch: Batch, state=None) -> Output:
        out, state = self.rnn(batch.inputs, state)
        y = self.head(self.drop(out)).squeeze(-1)  # (B, T)
        return Output(y, F.mse_loss(y, batch.targets), state)


def stream_chunks():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 60, 2, generator=g)
    y = 0.3 * x[:, :, 0].cumsum(1)
    return [Batch(x[:, t : t + 6], y[:, t : t + 6]) for t in range(0, 60, 6)]  # 10 chunks


@pytest.mark.parametrize("reset_every", [None, 4])
def test_mid_epoch_resume_carries_the_truncated_bptt_state(tmp_path, reset_every):
    chunks = stream_chunks()
    kw = dict(
        epochs=3,
        tbptt={"stateful": True, "backprop_chunks": 2, "reset_every": reset_every},
        checkpoints={"every": 3},
        early_stopping={"patience": None},
    )
    torch.manual_seed(4)
    straight = StreamRegressor()
    Trainer(straight, config(tmp_path / "a", **kw)).fit(chunks)

    torch.manual_seed(4)
    with pytest.raises(Interrupt):  # last/ at step 12: epoch 2, chunk 2 of 10
        Trainer(StreamRegressor(), config(tmp_path / "b", **kw),
                callbacks=[KillAtStep(14)]).fit(chunks)  # fmt: skip
    saved = load_checkpoint(tmp_path / "b" / "last", StreamRegressor()).state["epoch_progress"]
    assert saved["batches_done"] == 2 and saved["tbptt"]["window"] == 2
    h, _ = saved["tbptt"]["state"]  # the carried LSTM state after chunk 2
    assert h.shape == (1, 4, 8) and h.abs().sum() > 0

    torch.manual_seed(99)
    resumed = StreamRegressor()
    trainer = Trainer(resumed, config(tmp_path / "b", **kw), callbacks=[KillAtStep(-1)])
    trainer.fit(chunks, resume_from=tmp_path / "b" / "last")
    assert trainer.global_step == 30
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k

    # resuming with less data than the checkpoint had trained on is refused, with the reason
    again = Trainer(StreamRegressor(), config(tmp_path / "c", **kw), callbacks=[KillAtStep(14)])
    with pytest.raises(Interrupt):
        again.fit(chunks)
    short = Trainer(StreamRegressor(), config(tmp_path / "c", **kw), callbacks=[KillAtStep(-1)])
    with pytest.raises(
        ValueError, match="after batch 2 of epoch 2, but the training data yields 1 batches"
    ):
        short.fit(chunks[:1], resume_from=tmp_path / "c" / "last")


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            dict(
                checkpoints={"every": 0},
            ),
            "checkpoints: every must be a positive int or None, got 0",
        ),
        (
            dict(
                checkpoints={"every": 5, "dir": None},
            ),
            "every writes last/ inside dir: it needs dir set and keep_last=True",
        ),
        (
            dict(
                checkpoints={"every": 5, "keep_last": False},
            ),
            "it needs dir set and keep_last=True",
        ),
    ],
)
def test_checkpoint_every_is_checked(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        config(tmp_path, **kw)


def test_mismatched_optimizer_state_is_a_clear_error(tmp_path):
    torch.manual_seed(4)
    train, val = loaders()
    Trainer(Regressor(), config(tmp_path, epochs=1)).fit(train, val)
    trainer = Trainer(Regressor(), config(tmp_path, epochs=1))
    trainer.optimizer.add_param_group({"params": [nn.Parameter(torch.zeros(1))]})
    with pytest.raises(CheckpointError, match="optimizer state does not fit"):
        trainer.resume(tmp_path / "last")
