"""Known-future inputs: future columns and the horizon's calendar, as darts' future
covariates and neuralforecast's futr_exog (issue #23)."""

import numpy as np
import pytest
import torch
import yaml

from seqlab import run_config, train_run
from seqlab.cli import main
from seqlab.data import Batch, TimeSeries
from seqlab.data.errors import DataError
from seqlab.data.series import read_time_series
from seqlab.data.windows import SlidingWindows, collate_future_windows
from seqlab.models.encoders import EncoderConfig
from seqlab.models.forecaster import Forecaster, ForecasterConfig
from seqlab.run import load_run

torch.set_num_threads(1)


def _promo_series(n=360, seed=0):
    """A series that only a known-future input forecasts: a level with noise, plus 3 on
    the (random) days of a promotion announced in advance."""
    rng = np.random.default_rng(seed)
    promo = (rng.random(n) < 0.3).astype(float)
    y = 20 + 3 * promo + rng.normal(0, 0.3, n)
    return y, promo


def _csv(path, y, promo, horizon_rows=0, blank_promo=None):
    start = np.datetime64("2001-01-01", "D")
    lines = ["time,y,promo"]
    for i in range(len(y) + horizon_rows):
        target = f"{y[i]:.6f}" if i < len(y) else ""
        p = "" if i == blank_promo else f"{promo[i]:g}"
        lines.append(f"{start + i},{target},{p}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_windows_carry_the_horizon_of_future_columns_into_batch_features():
    values = np.arange(30.0).reshape(10, 3)  # target, past covariate, future covariate
    w = SlidingWindows(values, 3, 2, target_columns=[0], future_columns=[2])
    x, y, f = w[1]
    assert x.shape == (3, 3) and y.shape == (2, 1) and f.shape == (2, 1)
    assert y[:, 0].tolist() == [12.0, 15.0] and f[:, 0].tolist() == [14.0, 17.0]
    batch = collate_future_windows([w[0], w[1], w[2]])
    assert batch.inputs.shape == (3, 3, 3) and batch.features.shape == (3, 2, 1)
    assert collate_future_windows([w[0][:2]]).features is None
    with pytest.raises(ValueError, match=r"all be \(x, y\) or all \(x, y, f\)"):
        collate_future_windows([w[0], w[1][:2]])


def test_forecaster_reads_future_inputs_in_head_and_highway():
    torch.manual_seed(0)
    enc = EncoderConfig(kind="gru", hidden_size=4)
    cfg = ForecasterConfig(input_size=2, horizon=3, window=5, future_size=2, encoder=enc)
    model = Forecaster(cfg)
    assert model.head.in_features == 4 + 3 * 2 and model.linear.in_features == 5 + 3 * 2
    x, f = torch.randn(4, 5, 2), torch.randn(4, 3, 2)
    out = model(Batch(x, targets=torch.randn(4, 3, 1), features=f))
    assert out.prediction.shape == (4, 3, 1)
    g = f.clone()
    g[:, 2] += 1.0  # the last horizon step's future value moves the forecast
    assert not torch.allclose(model(Batch(x, features=g)).prediction, out.prediction)
    with pytest.raises(ValueError, match=r"known-future inputs \(4, 3, 2\), got none"):
        model(Batch(x))
    with pytest.raises(ValueError, match="future_size=0"):
        Forecaster(ForecasterConfig(input_size=2, horizon=3, window=5))(Batch(x, features=f))


def test_fit_linear_with_future_inputs_is_the_ridge_solution_in_float64():
    torch.manual_seed(0)
    W, H, F, N = 6, 2, 2, 50
    cfg = ForecasterConfig(
        input_size=1, horizon=H, window=W, future_size=F, normalize=None,
        encoder=EncoderConfig(kind="gru", hidden_size=3),
    )  # fmt: skip
    model = Forecaster(cfg).double()
    x, f, y = torch.randn(N, W, 1).double(), torch.randn(N, H, F).double(), None
    y = torch.randn(N, H, 1).double()
    model.fit_linear(Batch(x, targets=y, features=f), None, (0.01,))
    X = np.concatenate([x[..., 0].numpy(), f.flatten(1).numpy(), np.ones((N, 1))], axis=1)
    penalty = 0.01 * N * np.eye(X.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    coef = np.linalg.solve(X.T @ X + penalty, X.T @ y[..., 0].numpy())
    np.testing.assert_allclose(model.linear.weight.detach().numpy(), coef[:-1].T, atol=1e-10)
    np.testing.assert_allclose(model.linear.bias.detach().numpy(), coef[-1], atol=1e-10)
    assert bool(model.linear_fixed)  # the highway stays at its fit while the network trains
    out = model(Batch(x, targets=y, features=f))
    out.loss.backward()
    assert model.linear.weight.grad is None and model.head.weight.grad is not None


def _config(path, **data):
    return run_config({
        "task": "forecasting",
        "data": {"train": path, "target_columns": ["y"], "horizon": 4, "season": 7,
                 "input_length": 14, "test_size": 40, "val_size": 40, **data},
        "model": {"encoder": {"kind": "gru", "hidden_size": 8}},
        "train": {"progress": False, "max_steps": 60, "seed": 0},
    })  # fmt: skip


def test_a_future_column_is_learnt_and_saved_with_the_run(tmp_path):
    y, promo = _promo_series()
    path = _csv(tmp_path / "s.csv", y, promo)
    known = train_run(_config(path, future_columns=["promo"]), tmp_path / "known")
    past = train_run(_config(path, covariate_columns=["promo"]), tmp_path / "past")
    assert known.task.future == [1] and not past.task.future
    # forecast the last 4 days from the history before them: the known-future run reads
    # the promotion days ahead, the other can only guess the mean
    series = TimeSeries(np.arange(len(y)), np.stack([y, promo], 1), ["y"], ["promo"])
    truth = y[-4:]
    with_future = np.array(next(iter(known.predict([series])))["forecast"])[:, 0]
    without = np.array(next(iter(past.predict([series.values[:-4]])))["forecast"])[:, 0]
    err_known, err_past = np.abs(with_future - truth).mean(), np.abs(without - truth).mean()
    assert err_known < 0.6 < err_past  # the noise is 0.3; half the days move by 3
    # saved and loaded: the same forecast, the future inputs restored with the task
    loaded = load_run(tmp_path / "known")
    assert loaded.task.future == [1]
    again = np.array(next(iter(loaded.predict([series])))["forecast"])[:, 0]
    np.testing.assert_allclose(again, with_future, rtol=1e-6)
    with pytest.raises(ValueError, match="no value of the known-future input 'promo' at "
                       "horizon step 2 of 4"):  # fmt: skip
        values = series.values.copy()
        values[-3, 1] = np.nan
        next(iter(loaded.predict([TimeSeries(series.times, values, ["y"], ["promo"])])))


def test_seqlab_forecast_reads_the_horizon_rows_of_a_csv(tmp_path, capsys):
    y, promo = _promo_series()
    path = _csv(tmp_path / "s.csv", y, promo)
    cfg = yaml.safe_load(yaml.safe_dump({
        "task": "forecasting",
        "data": {"train": path, "target_columns": ["y"], "future_columns": ["promo"],
                 "horizon": 4, "input_length": 14, "test_size": 40, "val_size": 40},
        "model": {"encoder": {"kind": "gru", "hidden_size": 8}},
        "train": {"progress": False, "max_steps": 30},
    }))  # fmt: skip
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "f.yaml"), "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    ahead = np.array([1.0, 0.0, 1.0, 0.0])
    new = _csv(tmp_path / "new.csv", y, np.concatenate([promo, ahead]), horizon_rows=4)
    assert main(["forecast", str(tmp_path / "run"), "--input", new]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "time,y" and len(lines) == 5
    start = np.datetime64("2001-01-01", "D") + len(y)
    assert [line.split(",")[0] for line in lines[1:]] == [str(start + h) for h in range(4)]
    values = [float(line.split(",")[1]) for line in lines[1:]]
    assert values[0] > values[1] + 1.5 and values[2] > values[3] + 1.5  # the promotions
    # a missing future value, and no horizon rows at all: one line each, exit 2
    blank = _csv(tmp_path / "blank.csv", y, np.concatenate([promo, ahead]), 4, len(y) + 2)
    assert main(["forecast", str(tmp_path / "run"), "--input", blank]) == 2
    err = capsys.readouterr().err
    assert "no value of the known-future column 'promo' at horizon step 3 of 4" in err
    assert "Traceback" not in err and "blank.csv" in err
    assert main(["forecast", str(tmp_path / "run")]) == 2
    assert "give a CSV (--input) that ends with those 4 rows" in capsys.readouterr().err


def test_read_time_series_horizon_rows(tmp_path):
    y, promo = _promo_series(20)
    path = _csv(tmp_path / "s.csv", y, np.concatenate([promo, [1, 0]]), horizon_rows=2)
    ts = read_time_series(path, "time", ["y"], future_columns=["promo"], horizon_rows=2)
    assert ts.covariate_names == ["promo"] and ts.values.shape == (22, 2)
    assert np.isnan(ts.values[-2:, 0]).all() and ts.values[-2:, 1].tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="line 22: missing value"):  # no horizon declared
        read_time_series(path, "time", ["y"], future_columns=["promo"])


def test_future_columns_need_a_csv():
    with pytest.raises(ValueError, match="future_columns name columns of a CSV"):
        run_config({"task": "forecasting", "data": {"dataset": "airline_passengers",
                                                     "future_columns": ["x"]}})  # fmt: skip


def test_weights_saved_before_the_fixed_flag_load_as_a_trained_highway():
    model = Forecaster(ForecasterConfig(input_size=1, horizon=2, window=4))
    old = {k: v for k, v in model.state_dict().items() if k != "linear_fixed"}
    again = Forecaster(ForecasterConfig(input_size=1, horizon=2, window=4))
    again.linear_fixed.fill_(True)
    again.load_state_dict(old, strict=True)
    assert not bool(again.linear_fixed)
