"""Forecasting defaults (issue #23): Box-Cox and transform auto, calendar cycles and
covariates, the default window, the least-squares start of the linear highway, the
network's recent-past view, and bad input as one line."""

import numpy as np
import pytest
import torch

from seqlab import run_config, train_run
from seqlab.config import ConfigError
from seqlab.data import Batch, TimeSeries
from seqlab.data.calendar import calendar_cycles, calendar_features
from seqlab.data.transforms import boxcox, choose_transform, guerrero_lambda, inv_boxcox
from seqlab.models import EncoderConfig, Forecaster, ForecasterConfig
from seqlab.models.forecaster import ridge_gcv
from seqlab.tasks.forecasting import ForecastingTask, default_window

QUIET = {"progress": False}


def _seasonal(n, multiplicative, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.01, n)
    swing = np.sin(2 * np.pi * t / 12)
    if multiplicative:  # the swing grows with the level
        return 100 * np.exp(0.02 * t) * (1 + 0.3 * swing) * np.exp(noise)
    return 100 + 2 * t + 20 * swing + noise


def test_boxcox_is_the_equation_and_guerrero_tells_multiplicative_from_additive():
    x = np.array([0.5, 1.0, 2.0, 9.0])
    np.testing.assert_allclose(boxcox(x, 0.5), (np.sqrt(x) - 1) / 0.5, rtol=1e-12)
    np.testing.assert_allclose(boxcox(x, 0.0), np.log(x), rtol=1e-12)
    for lam in (-0.5, 0.0, 0.3, 1.5):
        np.testing.assert_allclose(inv_boxcox(boxcox(x, lam), lam), x, rtol=1e-10)
    mult, add = _seasonal(120, True), _seasonal(120, False)
    assert abs(guerrero_lambda(mult, 12)) <= 0.1 and choose_transform(mult, 12) == "log"
    assert guerrero_lambda(add, 12) >= 0.5 and choose_transform(add, 12) is None
    assert choose_transform(np.r_[0.0, mult], 12) is None  # not positive: no transform
    with pytest.raises(ValueError, match=r"needs values > 0, but column '0' has -2 at step 3"):
        guerrero_lambda(np.r_[mult[:3], -2.0, mult[4:]], 12)


def test_calendar_cycles_and_cyclic_features_are_the_phases():
    assert calendar_cycles(np.arange("2000-01-01T00", "2000-01-03T00", dtype="datetime64[h]")) == [
        24,
        168,
    ]
    assert calendar_cycles(np.arange("2000-01-01", "2000-03-01", dtype="datetime64[D]")) == [7, 365]
    quarters = np.array(["2000-01", "2000-04", "2000-07"], dtype="datetime64[M]")
    assert calendar_cycles(quarters) == [4]
    assert calendar_cycles(np.arange("1700", "1710", dtype="datetime64[Y]")) == []
    assert calendar_cycles(np.arange(10)) == []
    # Monday 3 January 2000, 06:30 and Saturday 8 January, 23:00; March 2000
    times = np.array(["2000-01-03T06:30", "2000-01-08T23:00"], dtype="datetime64[m]")
    names, x = calendar_features(times, ["weekday", "hour", "month"])
    assert names == ["weekday_sin", "weekday_cos", "hour_sin", "hour_cos", "month_sin", "month_cos"]
    angles = 2 * np.pi * np.array([[0 / 7, 6.5 / 24, 0 / 12], [5 / 7, 23 / 24, 0 / 12]])
    expected = np.stack([f(angles[:, k]) for k in range(3) for f in (np.sin, np.cos)], axis=1)
    np.testing.assert_allclose(x, expected, atol=1e-12)
    names, x = calendar_features(np.array(["2000-03"], dtype="datetime64[M]"))
    assert names == ["month_sin", "month_cos"]
    np.testing.assert_allclose(x[0], [np.sin(np.pi / 3), np.cos(np.pi / 3)], atol=1e-12)
    with pytest.raises(ValueError, match="calendar features need dates in the time column"):
        calendar_features(np.arange(5))


def test_the_default_window_is_the_longest_season_multiple_with_four_windows_a_step():
    assert default_window(96, 24, [12]) == 12  # 24 would leave 49 windows < 96
    assert default_window(400, 24, [12]) == 24
    assert default_window(269, 20, [11]) == 22
    assert default_window(3360, 48, [48, 336]) == 336
    assert default_window(200, 10, [1]) == 20  # no season: two horizons
    assert default_window(30, 24, [12]) == 6  # nothing fits: the longest that leaves a window


def _ridge(x, y, lam):
    """NumPy reference: y - mean(x) ~ A (x - mean(x)) + b, b not shrunk, penalty lam * N."""
    loc = x.mean(1, keepdims=True)
    X = np.c_[x - loc, np.ones(len(x))]
    R = lam * len(x) * np.eye(X.shape[1])
    R[-1, -1] = 0
    coef = np.linalg.solve(X.T @ X + R, X.T @ (y - loc))
    return (
        coef,
        lambda x_: (
            np.c_[x_ - x_.mean(1, keepdims=True), np.ones(len(x_))] @ coef
            + (x_.mean(1, keepdims=True))
        ),
    )


def test_fit_linear_is_the_ridge_solution_and_the_network_starts_at_zero():
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=400)) + 5 * np.sin(np.arange(400) / 3)
    W, H = 8, 3
    windows = np.lib.stride_tricks.sliding_window_view(series, W + H)  # (N, W + H)
    train, val = windows[:300], windows[300:]

    def as_batch(w):  # (N, W + H) windows -> inputs (N, W, 1), targets (N, H, 1)
        return Batch(torch.tensor(w[:, :W, None]), targets=torch.tensor(w[:, W:, None]))

    torch.manual_seed(0)
    cfg = ForecasterConfig(
        input_size=1, horizon=H, window=W, encoder=EncoderConfig(kind="gru", hidden_size=4)
    )
    model = Forecaster(cfg).double().eval()
    penalties = (0.01, 0.1, 10.0)  # > 0: the centred window is rank W - 1, one solution
    chosen = model.fit_linear(as_batch(train), as_batch(val), penalties)
    errors = []
    for lam in penalties:
        _, predict = _ridge(train[:, :W], train[:, W:], lam)
        errors.append(((predict(val[:, :W]) - val[:, W:]) ** 2).mean())
    assert chosen == penalties[int(np.argmin(errors))]
    coef, predict = _ridge(train[:, :W], train[:, W:], chosen)
    np.testing.assert_allclose(model.linear.weight.detach().numpy(), coef[:-1].T, atol=1e-10)
    np.testing.assert_allclose(model.linear.bias.detach().numpy(), coef[-1], atol=1e-10)
    assert not model.head.weight.any() and not model.head.bias.any()
    with torch.no_grad():
        pred = model(as_batch(val)).prediction[..., 0].numpy()
    np.testing.assert_allclose(pred, predict(val[:, :W]), atol=1e-10)
    # no val: the penalty of least GCV on the training windows (the centred window)
    x = train[:, :W] - train[:, :W].mean(1, keepdims=True)
    scores = [_gcv_reference(x, train[:, W:] - train[:, :W].mean(1, keepdims=True), lam)
              for lam in penalties]  # fmt: skip
    assert model.fit_linear(as_batch(train), None, penalties) == penalties[int(np.argmin(scores))]


def _gcv_reference(x, y, lam):
    """NumPy: the explicit hat matrix of the ridge fit with an unpenalized intercept,
    mean((I - H) y)^2 / (1 - tr H / N)^2 (Golub, Heath & Wahba 1979)."""
    X = np.c_[x, np.ones(len(x))]
    R = lam * len(x) * np.eye(X.shape[1])
    R[-1, -1] = 0
    hat = X @ np.linalg.solve(X.T @ X + R, X.T)
    residual = y - hat @ y
    return (residual**2).mean() / (1 - np.trace(hat) / len(x)) ** 2


def test_ridge_gcv_is_the_hat_matrix_formula_and_prefers_shrinking_noise():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5)) + 3.0
    y = x[:, :2] @ rng.normal(size=(2, 3)) + 0.5 * rng.normal(size=(60, 3)) + 7.0
    penalties = (0.0, 1e-3, 0.1, 1.0, 10.0)
    got = ridge_gcv(torch.tensor(x), torch.tensor(y), penalties).numpy()
    want = [_gcv_reference(x, y, lam) for lam in penalties]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # pure noise inputs: the most shrinkage wins; a clean linear map: the least
    noise = rng.normal(size=(60, 3))
    assert int(ridge_gcv(torch.tensor(x), torch.tensor(noise), penalties).argmin()) == 4
    clean = x @ rng.normal(size=(5, 2))
    assert int(ridge_gcv(torch.tensor(x), torch.tensor(clean), penalties).argmin()) == 0
    # a rank-deficient X (a repeated column): the zero eigenvalue is dropped, no inf/nan
    twice = np.c_[x, x[:, :1]]
    got = ridge_gcv(torch.tensor(twice), torch.tensor(y), penalties).numpy()
    np.testing.assert_allclose(got[1:], [_gcv_reference(twice, y, lam) for lam in penalties[1:]],
                               rtol=1e-8)  # fmt: skip
    assert np.isfinite(got[0])


def test_the_network_reads_the_recent_past_and_the_highway_the_whole_window():
    torch.manual_seed(0)
    enc = EncoderConfig(kind="lstm", hidden_size=4)
    cfg = ForecasterConfig(input_size=1, horizon=2, window=200, encoder=enc, normalize=None)
    assert (
        cfg.steps_read == 48
        and ForecasterConfig(**{**vars(cfg), "encoder_steps": 50}).steps_read == 50
    )
    model = Forecaster(ForecasterConfig(**{**vars(cfg), "linear": False})).eval()
    x = torch.randn(3, 200, 1)
    early, late = x.clone(), x.clone()
    early[:, :152] += 5.0
    late[:, 195] += 5.0
    with torch.no_grad():
        base = model(Batch(x)).prediction
        torch.testing.assert_close(model(Batch(early)).prediction, base)
        assert not torch.allclose(model(Batch(late)).prediction, base)
        with_highway = Forecaster(cfg).eval()
        assert not torch.allclose(
            with_highway(Batch(early)).prediction, with_highway(Batch(x)).prediction
        )
    # at most the window: a config that names encoder_steps fits any window
    assert (
        ForecasterConfig(input_size=1, horizon=2, window=200, encoder_steps=300).steps_read == 200
    )
    with pytest.raises(ValueError, match="linear=True maps the window to the horizon"):
        ForecasterConfig(input_size=1, horizon=2, linear=True)


def _csv(tmp_path, times, values, name="s.csv"):
    path = tmp_path / name
    lines = ["time,y"] + [f"{t},{v}" for t, v in zip(times, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _months(n):
    return [str(np.datetime64("2000-01", "M") + np.timedelta64(i, "M")) for i in range(n)]


def _task(tmp_path, values, times=None, **data):
    times = _months(len(values)) if times is None else times
    cfg = run_config(
        {
            "task": "forecasting",
            "data": {"train": _csv(tmp_path, times, values), "target_columns": ["y"], **data},
            "train": QUIET,
        }
    )
    task = ForecastingTask(cfg.data)
    task.prepare()
    return task, cfg


def test_boxcox_is_fitted_on_train_and_undone_and_bad_values_are_one_line(tmp_path):
    values = _seasonal(120, True)
    task, _ = _task(tmp_path, values, horizon=12, season=12, transform="boxcox")
    assert task.transform == "boxcox"
    assert task.lam == guerrero_lambda(values[:96], 12)
    _, y = task.splits.test[0]
    np.testing.assert_allclose(task.from_model(y.double().numpy())[:, 0], values[-12:], rtol=1e-5)
    task, _ = _task(tmp_path, values, horizon=12, transform="boxcox", boxcox_lambda=0.5)
    assert task.lam == 0.5
    bad = values.copy()
    bad[30] = 0.0
    for transform in ("log", "boxcox"):
        with pytest.raises(ConfigError) as e:
            _task(tmp_path, bad, horizon=12, transform=transform)
        assert str(e.value) == (
            f"data.transform: '{transform}' needs values > 0, but column 'y' has 0 at step 30; "
            "use transform: null for this series"
        )
    task, _ = _task(tmp_path, bad, horizon=12)  # auto: no transform for a series with a 0
    assert task.transform is None
    with pytest.raises(ValueError, match="boxcox_lambda needs transform: boxcox"):
        _task(tmp_path, values, boxcox_lambda=0.5)


def test_bad_series_and_windows_are_one_clear_line(tmp_path):
    values = _seasonal(60, False)
    times = _months(60)
    with pytest.raises(ValueError, match=r"a window of input_length \+ horizon = 80 \+ 6 steps is "
                       r"longer than the series \(60 steps\)"):  # fmt: skip
        _task(tmp_path, values, input_length=80, horizon=6)
    with pytest.raises(ValueError, match=r"horizon 30 is longer than the test hold-out \(12"):
        _task(tmp_path, values, horizon=30, test_size=12)
    bad = list(times)
    bad[5] = "2000-13-45"
    with pytest.raises(ValueError, match=r"line 7: cannot parse time '2000-13-45' in 'time'"):
        _task(tmp_path, values, bad, horizon=6)
    gap = times[:10] + times[11:] + ["2005-01"]
    with pytest.raises(ValueError, match=r"line 12: gap of 1 missing step\(s\) after 2000-10"):
        _task(tmp_path, values, gap, horizon=6)
    with pytest.raises(ValueError, match=r"calendar must be one of \['month', 'weekday', 'hour'\]"):
        _task(tmp_path, values, horizon=6, calendar=["moon"])


def test_calendar_covariates_train_and_predict_from_a_time_series(tmp_path):
    n = 24 * 7 * 3  # three weeks of hours
    times = (
        np.arange("2000-01-03T00", n, dtype="datetime64[h]")
        if False
        else (np.datetime64("2000-01-03T00", "h") + np.arange(n))
    )
    t = np.arange(n)
    weekday = (t // 24) % 7
    values = 50 + 10 * np.sin(2 * np.pi * t / 24) + 5 * (weekday >= 5)
    stamps = [str(s) + ":00" for s in times]
    task, cfg = _task(tmp_path, values, stamps, horizon=6, calendar=True)
    assert task.calendar == ["weekday", "hour"] and task.columns == 5
    assert task.season == 24 and task.window == 48  # a day; two fit, a week does not
    x, _, f = task.splits.test[0]  # the horizon's calendar is known in advance
    np.testing.assert_allclose(x[:, 1:].numpy(), task.scaler.transform(
        calendar_features(times[-54:-6], ["weekday", "hour"])[1], columns=[1, 2, 3, 4]
    ), atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(f.numpy(), task.scaler.transform(
        calendar_features(times[-6:], ["weekday", "hour"])[1], columns=[1, 2, 3, 4]
    ), atol=1e-5)  # fmt: skip
    assert task.future == [1, 2, 3, 4] and task.model_sizes()["future_size"] == 4
    cfg.train.max_steps = 3
    run = train_run(cfg)
    series = TimeSeries(times, values[:, None], ["y"])
    row = next(iter(run.predict([series])))
    assert np.array(row["forecast"]).shape == (6, 1)
    with pytest.raises(ValueError, match=r"expected \(N >= 54, 5\) values, got \(504, 1\)"):
        next(iter(run.predict([values])))


def test_a_tcn_forecaster_defaults_to_32_channels_unless_the_config_says():
    data = {"dataset": "airline_passengers", "horizon": 24, "test_size": 24}
    tcn = run_config({"task": "forecasting", "data": data, "model": {"encoder": {"kind": "tcn"}}})
    assert tcn.model["encoder"] == {"kind": "tcn", "hidden_size": 32}
    wide = {"encoder": {"kind": "tcn", "hidden_size": 64}}
    assert run_config({"task": "forecasting", "data": data, "model": wide}).model == wide
    lstm = run_config({"task": "forecasting", "data": data, "model": {"encoder": {"kind": "lstm"}}})
    assert lstm.model == {"encoder": {"kind": "lstm"}}


def test_a_run_silent_on_metrics_scores_mae_smape_and_mase(tmp_path):
    values = _seasonal(120, False)
    data = {"train": _csv(tmp_path, _months(120), values), "target_columns": ["y"]}
    train = {**QUIET, "epochs": 1, "max_steps": 2}
    run = train_run(run_config({"task": "forecasting", "data": data, "train": train}))
    assert run.config.train.metrics == ["mae", "smape", "mase"]
    assert 0 < run.evaluate("test")["mase"] < float("inf")
    model = {"quantiles": [0.1, 0.5, 0.9]}
    cfg = run_config({"task": "forecasting", "data": data, "train": train, "model": model})
    assert train_run(cfg).config.train.metrics == ["mae", "smape", "mase", "coverage"]
