"""The forecasting task's ``normalize`` default (issue #23): the window's mean is taken out
(RevIN) only where KPSS rejects level stationarity of the training targets (after the
transform); a mean-reverting series keeps its level. Trained, saved and loaded alike."""

import numpy as np
import pytest

from seqlab import load_run, run_config, train_run
from seqlab.data.stationarity import kpss_statistic
from seqlab.run import model_section
from seqlab.tasks.forecasting import ForecastingTask

QUIET = {"progress": False}


def _csv(tmp_path, values):
    path = tmp_path / "s.csv"
    start = np.datetime64("2000-01", "M")
    lines = ["time,y"] + [f"{start + np.timedelta64(i, 'M')},{v}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _cycles(n=150, seed=0):
    """Around a fixed mean: an 11-step cycle and noise (level stationary)."""
    t = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * t / 11) + np.random.default_rng(seed).normal(0, 2, n)


def _trend(n=150, seed=0):
    """A rising level under the same cycle: not level stationary."""
    return _cycles(n, seed) + 0.5 * np.arange(n)


def _task(tmp_path, values, model=None, **data):
    data = {"train": _csv(tmp_path, values), "target_columns": ["y"], "horizon": 11, **data}
    cfg = run_config({"task": "forecasting", "data": data, "model": model or {}, "train": QUIET})
    task = ForecastingTask(cfg.data)
    task.prepare()
    return task, cfg


def test_the_level_of_a_stationary_series_is_kept_and_a_trend_is_taken_out(tmp_path):
    values = _cycles()
    task, cfg = _task(tmp_path, values, transform=None)
    train = values[: len(values) - 22]  # before the val and test tails (one horizon each)
    assert task.kpss == pytest.approx(kpss_statistic(train), rel=1e-12)
    assert task.level_stationary and task.state()["kpss"] == task.kpss
    assert model_section(cfg.model, task)["normalize"] is None
    task, cfg = _task(tmp_path, _trend(), transform=None)
    assert not task.level_stationary and model_section(cfg.model, task)["normalize"] == "mean"


def test_kpss_reads_the_transformed_training_part(tmp_path):
    values = np.exp(0.02 * np.arange(150)) * (2 + np.sin(np.arange(150) / 2))
    task, _ = _task(tmp_path, values, transform="log")
    train = np.log(values[:128])
    assert task.kpss == pytest.approx(kpss_statistic(train), rel=1e-12)


@pytest.mark.parametrize(
    "model, expected",
    [
        ({"normalize": "mean"}, "mean"),
        ({"normalize": "last"}, "last"),
        ({"normalize": None}, None),
        ({"normalize_scale": True}, "mean"),  # full RevIN asked for: the mean too
    ],
)
def test_a_normalize_the_config_gives_is_kept(tmp_path, model, expected):
    task, cfg = _task(tmp_path, _cycles(), model=model, transform=None)
    assert task.level_stationary
    assert model_section(cfg.model, task)["normalize"] == expected


def test_a_trained_run_keeps_the_chosen_normalize_when_loaded(tmp_path):
    data = {"train": _csv(tmp_path, _cycles()), "target_columns": ["y"], "horizon": 11,
            "transform": None}  # fmt: skip
    cfg = run_config({"task": "forecasting", "data": data, "train": {**QUIET, "max_steps": 3}})
    run = train_run(cfg, tmp_path / "run")
    assert run.model.config.normalize is None and run.model.revin is None
    window = _cycles()[-run.task.window :]
    loaded = load_run(tmp_path / "run")
    assert loaded.model.config.normalize is None
    a = next(iter(run.predict([window[:, None]])))["forecast"]
    b = next(iter(loaded.predict([window[:, None]])))["forecast"]
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_the_task_chooses_the_ridge_penalty_by_gcv_on_the_training_windows(tmp_path):
    import torch

    from seqlab.data.windows import collate_future_windows
    from seqlab.models import build_model
    from seqlab.models.forecaster import RIDGE_PENALTIES, ridge_gcv

    task, cfg = _task(tmp_path, _cycles(seed=2), transform=None)
    model = build_model(task.model_kind, model_section(cfg.model, task)).double()
    assert model.revin is None  # the frame is the scaled series itself
    task.init_model(model)
    train = collate_future_windows([task.splits.train[i] for i in range(len(task.splits.train))])
    X = train.inputs[..., 0].double()  # (N, W)
    Y = train.targets.reshape(len(X), -1).double()  # (N, H)
    scores = ridge_gcv(X, Y, RIDGE_PENALTIES)
    assert task.penalty == RIDGE_PENALTIES[int(torch.argmin(scores))]


def test_a_validation_tail_of_two_forecasts_or_more_chooses_the_penalty(tmp_path, monkeypatch):
    from seqlab.data.windows import collate_future_windows
    from seqlab.models import build_model
    from seqlab.models.forecaster import Forecaster

    calls, original = [], Forecaster.fit_linear

    def spy(self, train, val=None, *args):
        calls.append(val)
        return original(self, train, val, *args)

    monkeypatch.setattr(Forecaster, "fit_linear", spy)
    for val_size, stride, forecasts in ((11, 1, 1), (21, 1, 1), (22, 1, 2), (33, 2, 3)):
        task, cfg = _task(tmp_path, _cycles(seed=3), transform=None, val_size=val_size,
                          stride=stride)  # fmt: skip
        assert task.val_forecasts() == forecasts
        task.init_model(build_model(task.model_kind, model_section(cfg.model, task)))
        if forecasts < 2:
            assert calls[-1] is None  # GCV on the training windows
        else:  # every validation window
            whole = collate_future_windows(list(task.splits.val))
            assert calls[-1] is not None and calls[-1].inputs.shape == whole.inputs.shape
