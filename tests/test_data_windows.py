"""Sliding windows, the chronological split without leakage, and the Scaler."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seqlab.data import (
    DataError,
    Scaler,
    SlidingWindows,
    TimeSeries,
    chronological_split,
    collate_windows,
    prepare_forecasting,
)


def test_window_boundaries():
    values = np.arange(12.0)[:, None]  # (12, 1): value == time index
    w = SlidingWindows(values, input_length=4, horizon=3, stride=2)
    assert len(w) == 3  # starts 0, 2, 4; start 6 would need steps up to 12
    for i in range(len(w)):
        x, y = w[i]
        s = 2 * i
        assert x[:, 0].tolist() == list(range(s, s + 4))
        assert y[:, 0].tolist() == list(range(s + 4, s + 7))
    assert w[-1][1][-1, 0].item() == 10
    with pytest.raises(IndexError):
        w[3]
    exact = SlidingWindows(np.arange(5.0), input_length=3, horizon=2)
    assert len(exact) == 1
    with pytest.raises(ValueError, match="shorter than input_length"):
        SlidingWindows(np.arange(4.0), input_length=3, horizon=2)
    with pytest.raises(ValueError, match="stride must be a positive int, got 0"):
        SlidingWindows(np.arange(9.0), 3, 2, stride=0)


def test_multivariate_targets_and_covariates():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, 4))
    w = SlidingWindows(values, input_length=5, horizon=2, target_columns=[0, 2])
    x, y = w[3]
    assert x.shape == (5, 4) and y.shape == (2, 2)
    np.testing.assert_allclose(y.numpy(), values[8:10][:, [0, 2]], rtol=1e-6)
    b = next(iter(DataLoader(w, batch_size=8, collate_fn=collate_windows)))
    assert b.inputs.shape == (8, 5, 4) and b.targets.shape == (8, 2, 2)
    with pytest.raises(ValueError, match="target_columns must index the 4 columns"):
        SlidingWindows(values, 5, 2, target_columns=[4])


def test_chronological_split_in_order():
    train, val, test = chronological_split(np.arange(100), 0.1, 0.2)
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert train[-1] < val[0] and val[-1] < test[0]
    with pytest.raises(ValueError, match="must be < 1"):
        chronological_split(np.arange(10), 0.5, 0.5)


def test_prepare_forecasting_no_leakage():
    # a series that jumps in the test part: train-only statistics must not see it
    values = np.concatenate([np.zeros(70), np.zeros(15), 1000 + np.arange(15.0)])
    values = values + np.random.default_rng(0).normal(size=100)
    data = prepare_forecasting(values, input_length=5, horizon=2, val_size=0.15, test_size=0.15)
    assert data.scaler.shift[0] == pytest.approx(values[:70].mean())
    assert data.scaler.scale[0] == pytest.approx(values[:70].std())
    # every target lies inside its own part; val and test inputs reach back before it
    assert len(data.train) == 70 - 7 + 1 and len(data.val) == 15 - 2 + 1
    train_inputs = torch.stack([data.train[i][0] for i in range(len(data.train))])
    train_targets = torch.stack([data.train[i][1] for i in range(len(data.train))])
    assert torch.cat([train_inputs.flatten(), train_targets.flatten()]).abs().max() < 10
    _x, y = data.test[0]
    restored = data.scaler.inverse_transform(y.unsqueeze(0), columns=data.target_columns)
    np.testing.assert_allclose(restored[0, :, 0].numpy(), values[85:87], rtol=1e-5)
    x, _y = data.test[0]
    restored = data.scaler.inverse_transform(x, columns=data.target_columns)
    np.testing.assert_allclose(restored[:, 0].numpy(), values[80:85], rtol=1e-5)


def test_prepare_forecasting_time_series_covariates():
    rng = np.random.default_rng(1)
    ts = TimeSeries(np.arange(50), rng.normal(size=(50, 3)), ["a"], ["c1", "c2"])
    data = prepare_forecasting(ts, input_length=4, horizon=3, scaling="minmax")
    x, y = data.train[0]
    assert x.shape == (4, 3) and y.shape == (3, 1) and data.target_columns == [0]
    train_part = data.scaler.transform(ts.values[:36])
    assert train_part.min() == pytest.approx(0) and train_part.max() == pytest.approx(1)
    with pytest.raises(ValueError, match=r"horizon 8 is longer than the val hold-out \(7 steps\)"):
        prepare_forecasting(ts, input_length=6, horizon=8)


def test_scaler_round_trip_and_inverse(tmp_path):
    rng = np.random.default_rng(2)
    train = rng.normal(5, 3, size=(40, 3))
    train[:, 2] = 7.0  # a constant column: scale 1, only shifted
    for method in ("standard", "minmax"):
        s = Scaler(method).fit(train)
        z = s.transform(train)
        np.testing.assert_allclose(s.inverse_transform(z), train)
        s.save(tmp_path / "scaler.json")
        t = Scaler.load(tmp_path / "scaler.json")
        np.testing.assert_allclose(t.transform(train), z)
        pred = torch.tensor(z[:4, [1]], dtype=torch.float64).reshape(2, 2, 1)  # (B, H, O)
        back = t.inverse_transform(pred, columns=[1])
        np.testing.assert_allclose(back.reshape(-1).numpy(), train[:4, 1])
    assert s.scale[2] == 1.0


def test_scaler_errors(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        Scaler().transform(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="NaN"):
        Scaler().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="expected 2 columns"):
        Scaler().fit(np.ones((3, 2))).transform(np.ones((3, 3)))
    with pytest.raises(ValueError, match="method must be one of"):
        Scaler("robust")
    bad = tmp_path / "s.json"
    bad.write_text('{"method": "standard", "shift": [0], "scale": [0]}')
    with pytest.raises(DataError, match="scale > 0"):
        Scaler.load(bad)
    bad.write_text("{")
    with pytest.raises(DataError, match="line 1: not valid JSON"):
        Scaler.load(bad)
