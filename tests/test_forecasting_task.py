"""The forecasting task: the standard hold-out, the log transform, trainer defaults, errors."""

import math

import numpy as np
import pytest
import torch

from seqlab import run_config, train_run
from seqlab.tasks.forecasting import ForecastingTask

QUIET = {"progress": False}


def _csv(tmp_path, values, name="s.csv"):
    path = tmp_path / name
    start = np.datetime64("2000-01", "M")
    lines = ["time,y"] + [f"{start + np.timedelta64(i, 'M')},{v}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _airline_like(n=120, seed=0):
    """A multiplicative seasonal series: trend times a yearly swing, like airline passengers."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.02, n)
    return 100 * np.exp(0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * np.exp(noise)


def _task(tmp_path, values, **data):
    cfg = run_config(
        {
            "task": "forecasting",
            "data": {"train": _csv(tmp_path, values), "target_columns": ["y"], **data},
            "train": QUIET,
        }
    )
    task = ForecastingTask(cfg.data)
    task.prepare()
    return task, cfg


def test_holdout_defaults_to_one_forecast_of_the_horizon_from_the_history(tmp_path):
    values = _airline_like()
    task, _ = _task(tmp_path, values, horizon=12, season=12)
    assert task.window == 12  # one season: two would leave fewer than 4 windows a step
    assert len(task.splits.val) == 1 and len(task.splits.test) == 1
    assert task.transform == "log"  # transform: auto, for a multiplicative positive series
    x, y = task.splits.test[0]
    units = lambda v: task.from_model(v.double().numpy())  # noqa: E731
    np.testing.assert_allclose(units(y)[:, 0], values[-12:], rtol=1e-5)
    np.testing.assert_allclose(units(x)[:, 0], values[-24:-12], rtol=1e-5)  # context before it
    x, y = task.splits.val[0]
    np.testing.assert_allclose(units(y)[:, 0], values[-24:-12], rtol=1e-5)
    # the scaler saw the training part only: the 96 steps before the two hold-outs
    assert task.scaler.shift[0] == pytest.approx(np.log(values[:96]).mean())


def test_holdout_sizes_as_steps_or_fractions(tmp_path):
    values = _airline_like()
    task, _ = _task(tmp_path, values, horizon=6, season=12, val_size=12, test_size=0.25)
    assert len(task.splits.val) == 12 - 6 + 1 and len(task.splits.test) == 30 - 6 + 1
    task, _ = _task(tmp_path, values, horizon=6, season=12, val_fraction=0.1, test_fraction=0.1)
    assert len(task.splits.test) == 12 - 6 + 1
    task, _ = _task(tmp_path, values, horizon=6, season=12, val_size=0)
    assert len(task.splits.val) == 0
    with pytest.raises(ValueError, match="set test_size or test_fraction, not both"):
        _task(tmp_path, values, test_size=6, test_fraction=0.1)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"horizon": 12, "test_size": 6},
         r"^data: horizon 12 is longer than the test hold-out \(6 steps\): hold out at least 12"),
        ({"input_length": 100, "horizon": 30},
         r"^data: a window of input_length \+ horizon = 100 \+ 30 steps is longer than the "
         r"series \(120 steps\)$"),
        ({"input_length": 60, "horizon": 24},
         r"^data: the training part has 72 steps \(120 - 24 val - 24 test\), fewer than"),
        ({"test_size": -1}, r"test_size must be an int >= 0, got -1"),
    ],
)  # fmt: skip
def test_bad_holdouts_are_one_clear_line(tmp_path, data, match):
    with pytest.raises(ValueError, match=match) as e:
        _task(tmp_path, _airline_like(), **data)
    assert "\n" not in str(e.value)


def test_log_transform_is_undone_and_refuses_values_at_or_below_zero(tmp_path):
    values = _airline_like()
    task, _ = _task(tmp_path, values, horizon=12, season=12, transform="log")
    x, y = task.splits.test[0]
    np.testing.assert_allclose(task.from_model(y.double().numpy())[:, 0], values[-12:], rtol=1e-5)
    batch = task.encode([values[:-12]])
    torch.testing.assert_close(batch.inputs[0], x)
    rows = task.decode([values], {"forecast": y.unsqueeze(0)})
    np.testing.assert_allclose(np.array(rows[0]["forecast"])[:, 0], values[-12:], rtol=1e-5)
    bad = values.copy()
    bad[7] = 0.0
    with pytest.raises(ValueError, match=r"^data.transform: 'log' needs values > 0, but column "
                       r"'y' has 0 at step 7; use transform: null"):  # fmt: skip
        _task(tmp_path, bad, horizon=12, season=12, transform="log")
    with pytest.raises(ValueError, match=r"^input 1: data.transform: 'log' needs values > 0, "
                       r"but column 'y' has -1 at step 11"):  # fmt: skip
        task.encode([np.r_[values[:23], -1.0]])
    with pytest.raises(ValueError, match="transform must be 'auto', 'log', 'boxcox' or None, got"):
        _task(tmp_path, values, transform="sqrt")


def test_trainer_defaults_apply_only_where_train_is_silent(tmp_path):
    csv = _csv(tmp_path, _airline_like())
    data = {"train": csv, "target_columns": ["y"]}
    cfg = run_config({"task": "forecasting", "data": data})
    assert cfg.train.max_steps == 300 and cfg.train.early_stopping.patience == 20
    cfg = run_config({"task": "forecasting", "data": data,
                      "train": {"max_steps": 5, "early_stopping": {"min_delta": 0.1}}})  # fmt: skip
    assert cfg.train.max_steps == 5 and cfg.train.early_stopping.patience == 20
    assert cfg.train.early_stopping.min_delta == 0.1


def test_a_run_without_a_directory_gives_back_the_best_epoch_in_eval_mode(tmp_path):
    torch.manual_seed(0)
    cfg = run_config(
        {
            "task": "forecasting",
            "data": {
                "train": _csv(tmp_path, _airline_like()),
                "target_columns": ["y"],
                "horizon": 6,
                "season": 12,
                "val_size": 24,
            },
            "model": {"encoder": {"kind": "gru", "hidden_size": 8}},
            "train": {**QUIET, "epochs": 30, "optimizer": {"lr": 0.05}},
        }
    )
    run = train_run(cfg)
    assert not run.model.training
    losses = [h["val_loss"] for h in run.history]
    best = int(np.argmin(losses))
    assert best < len(losses) - 1, "the last epoch was the best: the test shows nothing"
    assert math.isclose(run.evaluate("val")["loss"], losses[best], rel_tol=1e-5)
    # keep_best false: the last epoch's model, as with a run directory
    torch.manual_seed(0)
    train = {**cfg.to_dict()["train"], "checkpoints": {"keep_best": False}}
    last = train_run(run_config({**cfg.to_dict(), "train": train}))
    losses = [h["val_loss"] for h in last.history]
    assert math.isclose(last.evaluate("val")["loss"], losses[-1], rel_tol=1e-5)
    assert not math.isclose(losses[-1], min(losses), rel_tol=1e-3)
