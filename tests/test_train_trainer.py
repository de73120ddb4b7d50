"""The training loop: it learns, clips, stops on non-finite values, schedules, logs."""

from __future__ import annotations

import csv
import math
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seqlab.config import ConfigError, from_dict
from seqlab.data import Batch
from seqlab.models import Output
from seqlab.nn import LSTM
from seqlab.train import (
    Callback,
    LRSchedule,
    NonFiniteError,
    Trainer,
    TrainerConfig,
    build_optimizer,
    clip_gradients,
    load_checkpoint,
    train_step,
)
from seqlab.train.callbacks import TensorBoardLogger, tensorboard_available
from seqlab.train.metrics import Accuracy, MacroF1


class SeqClassifier(nn.Module):
    """Many-to-one: an LSTM reads (B, T, C) and classifies the sequence from its last h."""

    def __init__(self, input_size=3, hidden=16, classes=2):
        super().__init__()
        self.rnn = LSTM(input_size, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, batch: Batch) -> Output:
        _, (h, _) = self.rnn(batch.inputs)
        logits = self.head(h[-1])  # (B, classes)
        loss = F.cross_entropy(logits, batch.targets) if batch.targets is not None else None
        return Output(logits, loss)


def collate(items):
    x, y = zip(*items, strict=True)
    return Batch(torch.stack(x), torch.stack(y))


def sign_task(n=128, T=8, seed=0):
    """Class 1 when the first feature sums to > 0 over the sequence (needs the whole
    sequence; chance is 50%)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, 3, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long()
    return TensorDataset(x, y)


def loader(ds, batch_size=16, shuffle=False):
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, collate_fn=collate)


def quiet(**kw) -> TrainerConfig:
    return TrainerConfig(progress=False, **kw)


def test_fit_learns_a_sequence_task_and_reports_metrics():
    torch.manual_seed(0)
    model = SeqClassifier()
    cfg = quiet(epochs=12, optimizer={"lr": 1e-2}, metrics=["accuracy"])
    trainer = Trainer(model, cfg, metrics=[MacroF1(num_classes=2)])
    history = trainer.fit(loader(sign_task(256), shuffle=True), loader(sign_task(128, seed=1)))
    assert len(history) == 12
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert history[-1]["val_accuracy"] >= 0.85  # chance: 0.5
    assert history[-1]["val_macro_f1"] >= 0.8
    assert set(history[-1]) >= {"train_loss", "val_loss", "lr"}


def test_train_step_logs_pre_clip_norm_and_clipping_bounds_it():
    torch.manual_seed(1)
    model = SeqClassifier()
    batch = next(iter(loader(sign_task())))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: only the gradients matter

    def forward(m):
        out = m(batch)
        return Output(out.prediction, out.loss * 1e4)  # make the gradient explode

    free = train_step(model, opt, forward)
    assert free.grad_norm > 10.0
    clipped = train_step(model, opt, forward, clip_norm=1.0)
    assert clipped.grad_norm == pytest.approx(free.grad_norm, rel=1e-5)  # logged pre-clip
    norm_after = torch.linalg.vector_norm(
        torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None])
    )
    assert norm_after <= 1.0 + 1e-5
    assert norm_after >= 0.99  # rescaled to the bound, not zeroed

    train_step(model, opt, forward, clip_value=0.01)
    biggest = max(p.grad.abs().max().item() for p in model.parameters())
    assert biggest <= 0.01


def test_clip_gradients_leaves_small_gradients_alone():
    w = nn.Parameter(torch.zeros(3))
    w.grad = torch.tensor([0.1, -0.2, 0.2])
    norm = clip_gradients([w], max_norm=1.0)
    assert norm.item() == pytest.approx(0.3)
    torch.testing.assert_close(w.grad, torch.tensor([0.1, -0.2, 0.2]))


class Exploding(nn.Module):
    """Gives a NaN loss from optimizer step ``bad_step`` (1-based) on."""

    def __init__(self, bad_step: int, every: bool = True):
        super().__init__()
        self.inner = SeqClassifier()
        self.calls, self.bad_step, self.every = 0, bad_step, every

    def forward(self, batch):
        out = self.inner(batch)
        if self.training:
            self.calls += 1
            if self.calls == self.bad_step or (self.every and self.calls > self.bad_step):
                return Output(out.prediction, out.loss * float("nan"))
        return out


def test_nonfinite_loss_stops_naming_the_step_and_keeps_the_checkpoint(tmp_path):
    torch.manual_seed(2)
    model = Exploding(bad_step=11)  # 8 steps per epoch: epoch 2, batch 3
    weights = tmp_path / "last" / "weights.safetensors"
    saved = {}

    class Snapshot(Callback):  # the checkpoint as epoch 1 left it
        def on_epoch_start(self, trainer, epoch):
            if epoch == 1:
                saved["bytes"] = weights.read_bytes()

    trainer = Trainer(
        model,
        quiet(
            epochs=3,
            checkpoints={"dir": str(tmp_path)},
        ),
        callbacks=[Snapshot()],
    )
    with pytest.raises(NonFiniteError, match=r"step 11 \(epoch 2, batch 3\)"):
        trainer.fit(loader(sign_task()))
    assert weights.read_bytes() == saved["bytes"]
    ckpt = load_checkpoint(tmp_path / "last", Exploding(bad_step=0))
    assert ckpt.metrics["epoch"] == 1


def test_nonfinite_loss_can_be_skipped():
    torch.manual_seed(3)
    model = Exploding(bad_step=3, every=False)
    cfg = quiet(epochs=1, on_nonfinite="skip")
    trainer = Trainer(model, cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="skipped the update at step 3"):
        history = trainer.fit(loader(sign_task()))
    assert trainer.skipped_steps == 1
    assert history[0]["skipped_steps"] == 1
    assert math.isfinite(history[0]["train_loss"])
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_early_stopping_stops_when_the_metric_stalls():
    torch.manual_seed(4)
    cfg = quiet(
        epochs=50,
        optimizer={"lr": 1e-9},
        early_stopping={"patience": 2, "min_delta": 0.1},
    )  # lr ~0: nothing improves
    trainer = Trainer(SeqClassifier(), cfg)
    history = trainer.fit(loader(sign_task()), loader(sign_task(seed=1)))
    assert len(history) == 3  # the first epoch sets the best, two more without improvement
    assert "early stopping: val_loss" in trainer.stop_reason


def test_early_stopping_waits_for_min_steps():
    torch.manual_seed(4)
    cfg = quiet(
        epochs=50,
        optimizer={"lr": 1e-9},
        early_stopping={"patience": 2, "min_delta": 0.1, "min_steps": 40},
    )  # nothing improves, but 8 steps an epoch reach 40 only after the fifth
    trainer = Trainer(SeqClassifier(), cfg)
    history = trainer.fit(loader(sign_task()), loader(sign_task(seed=1)))
    assert len(history) == 5 and trainer.global_step == 40
    assert "for 4 epochs" in trainer.stop_reason
    with pytest.raises(ConfigError, match="min_steps"):
        from_dict(TrainerConfig, {"early_stopping": {"patience": 2, "min_steps": -1}})


def test_csv_log_has_every_step_and_epoch(tmp_path):
    torch.manual_seed(5)
    cfg = quiet(epochs=2, log_dir=str(tmp_path), metrics=["accuracy"], tensorboard=False)
    Trainer(SeqClassifier(), cfg, metrics=[]).fit(loader(sign_task()), loader(sign_task(seed=1)))
    with open(tmp_path / "steps.csv") as f:
        steps = list(csv.DictReader(f))
    with open(tmp_path / "epochs.csv") as f:
        epochs = list(csv.DictReader(f))
    assert len(steps) == 16 and {"loss", "grad_norm", "lr"} <= set(steps[0])
    assert float(steps[0]["grad_norm"]) > 0
    assert len(epochs) == 2 and {"train_loss", "val_loss", "val_accuracy"} <= set(epochs[0])


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_trains(name):
    torch.manual_seed(6)
    cfg = quiet(epochs=3, optimizer={"name": name, "lr": 0.05 if name == "sgd" else 5e-3, "momentum": 0.9
                if name in ("sgd", "rmsprop") else 0.0, "weight_decay": 1e-4})  # fmt: skip
    history = Trainer(SeqClassifier(), cfg).fit(loader(sign_task()))
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def _lrs(cfg: TrainerConfig, steps_per_epoch: int, metrics=()):
    w = nn.Parameter(torch.zeros(1))
    opt = build_optimizer([w], cfg)
    sched = LRSchedule(opt, cfg, steps_per_epoch)
    out = []
    for e in range(cfg.epochs):
        for _ in range(steps_per_epoch):
            out.append(sched.lr)
            sched.step()
        sched.epoch_end(metrics[e] if metrics else None)
    return out


def test_schedules():
    step = _lrs(
        TrainerConfig(
            optimizer={"lr": 1.0}, schedule={"name": "step", "step_size": 2, "gamma": 0.5}, epochs=5
        ),
        1,
    )
    assert step == [1.0, 1.0, 0.5, 0.5, 0.25]
    warm = _lrs(TrainerConfig(optimizer={"lr": 1.0}, schedule={"warmup_steps": 4}, epochs=1), 6)
    assert warm == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cos = _lrs(
        TrainerConfig(optimizer={"lr": 1.0}, schedule={"name": "cosine", "min_lr": 0.1}, epochs=2),
        2,
    )
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)]
    assert cos == pytest.approx(expected)
    cfg = TrainerConfig(
        optimizer={"lr": 1.0}, schedule={"name": "plateau", "patience": 1, "gamma": 0.5}, epochs=6
    )
    plateau = _lrs(cfg, 1, metrics=[1.0, 0.9, 0.95, 0.95, 0.95, 0.95])
    assert plateau == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]


def test_config_from_dict_and_errors():
    cfg = from_dict(
        TrainerConfig, {"optimizer": {"lr": "0.01", "name": "sgd"}, "clip": {"norm": "1.0"}}
    )
    assert cfg.optimizer.lr == 0.01 and cfg.clip.norm == 1.0
    with pytest.raises(ConfigError, match=r"optimizer: lr must be a number > 0.0, got -1\.0"):
        from_dict(TrainerConfig, {"optimizer": {"lr": -1}})
    with pytest.raises(ConfigError, match=r"optimizer\.name: expected one of"):
        from_dict(TrainerConfig, {"optimizer": {"name": "adagrad"}})
    with pytest.raises(ConfigError, match=r"clip: norm must be a number > 0.0 or None, got 0\.0"):
        from_dict(TrainerConfig, {"clip": {"norm": 0}})
    with pytest.raises(ValueError, match="nesterov=True needs"):
        TrainerConfig(optimizer={"nesterov": True})
    with pytest.raises(ConfigError, match=r"lr: unknown key; expected one of: epochs"):
        from_dict(TrainerConfig, {"lr": 0.1})  # the flat names of old are sections now


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(epochs=2.5), "epochs must be a positive int, got 2.5"),
        (dict(optimizer={"lr": "fast"}), "optimizer.lr: expected a number, got 'fast'"),
        (dict(precision="fp16"), r"precision must be one of \['fp32', 'bf16'\], got 'fp16'"),
        (dict(metrics="accuracy"), "metrics must be a list of metric names"),
        (dict(schedule={"min_lr": 1.0}), r"schedule.min_lr must be in \[0, optimizer.lr"),
        (dict(optimizer=3), "optimizer must be a OptimizerConfig or a mapping"),
        (dict(seed=-1), "seed must be an int >= 0, got -1"),
    ],
)
def test_config_built_in_python_is_checked_as_from_yaml(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainerConfig(**kw)


def test_a_string_is_not_a_number_in_python():
    from seqlab.train import OptimizerConfig

    with pytest.raises(ValueError, match=r"lr must be a number > 0\.0, got '1e-3'"):
        OptimizerConfig(lr="1e-3")


def test_a_misspelt_monitor_is_refused_when_the_trainer_is_built():
    # before: with early_stopping.patience None, best/ was silently never written
    with pytest.raises(ValueError, match=r"monitor 'val_acc' is not a value the trainer logs"):
        Trainer(SeqClassifier(), quiet(monitor="val_acc", metrics=["accuracy"]))
    trainer = Trainer(
        SeqClassifier(), quiet(monitor="val_accuracy", mode="max", metrics=["accuracy"])
    )
    assert "val_accuracy" in trainer.logged_names()


def test_metric_names_are_checked_against_the_model():
    from seqlab.models import build_model

    model = build_model("classifier", {"inputs": {"input_size": 1}, "num_classes": 3})
    with pytest.raises(ValueError, match="metric 'bleu' does not apply to SequenceClassifier"):
        Trainer(model, quiet(metrics=["bleu"]))
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        Trainer(SeqClassifier(), quiet(metrics=["acuracy"]))
    # the model gives the facts it knows: macro_f1 needs num_classes, named in the config
    trainer = Trainer(model, quiet(metrics=["macro_f1"]))
    assert trainer.metrics[0].num_classes == 3


def test_bf16_autocast_trains():
    torch.manual_seed(7)
    cfg = quiet(
        epochs=2,
        precision="bf16",
        optimizer={"lr": 1e-2},
    )
    history = Trainer(SeqClassifier(), cfg).fit(loader(sign_task()), loader(sign_task(seed=1)))
    assert all(math.isfinite(h["val_loss"]) for h in history)


def test_deterministic_mode_repeats_bitwise():
    def run():
        torch.manual_seed(8)
        model = SeqClassifier()
        Trainer(model, quiet(epochs=2, deterministic=True, seed=3)).fit(
            loader(sign_task(), shuffle=True)
        )
        return model.state_dict()

    try:
        a, b = run(), run()
    finally:
        torch.use_deterministic_algorithms(False)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_model_must_return_output():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Linear(1, 1)

        def forward(self, batch):
            return self.w(batch.inputs).mean()

    data = [Batch(torch.randn(2, 3, 1), torch.zeros(2))]
    with pytest.raises(TypeError, match=r"must return seqlab\.models\.Output, got Tensor"):
        Trainer(Bad(), quiet(epochs=1)).fit(data)


def test_accuracy_metric_on_all_ranks_equals_plain_function():
    acc = Accuracy()
    logits = torch.randn(10, 3)
    targets = torch.randint(0, 3, (10,))
    acc.update(logits[:4], Batch(torch.zeros(4, 1), targets[:4]))
    acc.update(logits[4:], Batch(torch.zeros(6, 1), targets[4:]))
    from seqlab.train.metrics import accuracy

    assert acc.value() == pytest.approx(accuracy(logits, targets))


def test_progress_prints_each_epoch_and_quiet_mode_prints_nothing(capsys):
    torch.manual_seed(9)
    Trainer(SeqClassifier(), TrainerConfig(epochs=2)).fit(loader(sign_task()))
    out = capsys.readouterr().out
    assert "epoch 1/2  train_loss" in out and "epoch 2/2" in out
    Trainer(SeqClassifier(), quiet(epochs=1)).fit(loader(sign_task()))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_tensorboard_logger_needs_the_package(tmp_path):
    if tensorboard_available():
        cfg = quiet(epochs=1, log_dir=str(tmp_path))
        Trainer(SeqClassifier(), cfg).fit(loader(sign_task()))
        assert list((tmp_path / "tensorboard").iterdir())
    else:
        with pytest.raises(ImportError, match="pip install tensorboard"):
            TensorBoardLogger(tmp_path)


def test_max_steps_stops_inside_an_epoch():
    torch.manual_seed(0)
    trainer = Trainer(SeqClassifier(), quiet(epochs=5, max_steps=3))
    history = trainer.fit(loader(sign_task()), loader(sign_task(seed=1)))
    assert trainer.global_step == 3 and len(history) == 1
    assert trainer.stop_reason == "max_steps=3 reached" and "val_loss" in history[0]


def test_max_time_stops_after_the_step_that_spends_it(monkeypatch):
    clock = iter(range(0, 1000, 10))  # every reading of the clock is 10 s later
    monkeypatch.setattr("seqlab.train.trainer.time.perf_counter", lambda: next(clock))
    torch.manual_seed(0)
    trainer = Trainer(SeqClassifier(), quiet(epochs=5, max_time=25))
    history = trainer.fit(loader(sign_task()), loader(sign_task(seed=1)))
    assert trainer.global_step == 3 and len(history) == 1  # read at 10, 20, 30 s after start
    assert trainer.stop_reason == "max_time=25 s reached" and "val_loss" in history[0]
    for bad in (0, -1.0, "5m"):
        with pytest.raises(ValueError, match="max_time"):
            TrainerConfig(max_time=bad)


def test_a_callback_stops_inside_an_epoch():
    class StopAtStep(Callback):  # a time budget would call stop() the same way
        def on_step_end(self, trainer, logs):
            if logs["step"] == 2:
                trainer.stop("budget spent")

    torch.manual_seed(0)
    trainer = Trainer(SeqClassifier(), quiet(epochs=5), callbacks=[StopAtStep()])
    history = trainer.fit(loader(sign_task()), loader(sign_task(seed=1)))
    assert trainer.global_step == 2 and len(history) == 1 and "val_loss" in history[0]
    assert trainer.stop_reason == "budget spent"


def test_fit_flushes_denormals_and_restores_the_mode_after():
    # a gradient vanishing through time passes through denormal floats, ~10x slower on
    # x86 CPUs: fit treats them as zero (flush_denormal, default True), then restores
    from seqlab.train.callbacks import Callback
    from seqlab.train.runtime import denormals_are_flushed, denormals_flushed

    class Seen(Callback):
        def __init__(self):
            self.modes = []

        def on_step_end(self, trainer, logs):
            self.modes.append(denormals_are_flushed())

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-denormal mode (no SSE3)")
    for on in (True, False):
        torch.manual_seed(7)
        seen = Seen()
        Trainer(SeqClassifier(), quiet(epochs=1, flush_denormal=on), callbacks=[seen]).fit(
            loader(sign_task())
        )
        assert seen.modes == [on] * 8
        assert not denormals_are_flushed()  # the process's mode, as before fit
    torch.set_flush_denormal(True)  # a user's own setting stays after the block
    try:
        with denormals_flushed():
            assert denormals_are_flushed()
        assert denormals_are_flushed()
    finally:
        torch.set_flush_denormal(False)
    with pytest.raises(ConfigError, match="flush_denormal: expected true or false, got 'maybe'"):
        from_dict(TrainerConfig, {"flush_denormal": "maybe"})


def test_fit_flushes_denormals_on_torchs_worker_threads_too():
    # the mode belongs to each thread; torch's intra-op workers (an OpenMP team) compute
    # most of a step with two threads, so fit flushes them as well, and restores each
    from seqlab.train.callbacks import Callback
    from seqlab.train.runtime import _libgomp, _on_every_thread, denormals_are_flushed

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-denormal mode (no SSE3)")
    if _libgomp() is None:
        pytest.skip("torch's parallel backend here is not OpenMP")

    class Seen(Callback):
        def __init__(self):
            self.modes = []

        def on_step_end(self, trainer, logs):
            self.modes.append(_on_every_thread(denormals_are_flushed))

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        everywhere = _on_every_thread(denormals_are_flushed)
        assert len(everywhere) == 2 and not any(everywhere.values())
        seen = Seen()
        Trainer(SeqClassifier(), quiet(epochs=1), callbacks=[seen]).fit(loader(sign_task()))
        assert [list(m.values()) for m in seen.modes] == [[True, True]] * 8
        assert set(seen.modes[0]) == set(everywhere)  # the same two threads
        assert _on_every_thread(denormals_are_flushed) == everywhere  # all off again
        torch.set_flush_denormal(True)  # only the calling thread flushed before fit:
        Trainer(SeqClassifier(), quiet(epochs=1)).fit(loader(sign_task()))
        after = _on_every_thread(denormals_are_flushed)
        assert after.pop(threading.get_ident()) is True  # it stays so,
        assert list(after.values()) == [False]  # and the worker is off again
    finally:
        _on_every_thread(lambda: torch.set_flush_denormal(False))
        torch.set_num_threads(threads)
