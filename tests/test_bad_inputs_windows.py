"""Bad input to forecasting windows and series: a NaN or Inf never reaches a window (it
is named by step and column), and every argument is checked where it comes in."""

import numpy as np
import pytest
import torch

from seqlab.data import (
    DataError,
    Scaler,
    SlidingWindows,
    TimeSeries,
    prepare_forecasting,
    read_time_series,
)


def series_with(value, at, n=60, columns=2):
    values = np.arange(n * columns, dtype=np.float64).reshape(n, columns)
    values[at] = value
    return values


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e39])
def test_non_finite_values_never_reach_a_window(value):
    values = series_with(value, (7, 1))
    with pytest.raises(
        ValueError, match=r"values has .* at step 7, column 1 .*missing='interpolate'"
    ):
        SlidingWindows(values, input_length=4)
    with pytest.raises(ValueError, match=r"series has .* at step 7, column 1"):
        prepare_forecasting(values, input_length=4)


@pytest.mark.parametrize("scaling", [None, "standard", "minmax"])
@pytest.mark.parametrize("step", [10, 50, 58])  # in the train, val and test parts
def test_a_nan_in_any_part_is_found_before_the_split(scaling, step):
    """Before: the scaler refused a NaN in the training part only; in the validation or
    test part (or with scaling=None, anywhere) it went into the windows."""
    with pytest.raises(ValueError, match=f"series has nan at step {step}, column 0"):
        prepare_forecasting(series_with(np.nan, (step, 0)), input_length=4, scaling=scaling)


def test_a_time_series_names_its_column():
    values = series_with(np.nan, (3, 1))
    times = np.arange("2000-01", "2005-01", dtype="datetime64[M]")
    ts = TimeSeries(times, values, ["load"], ["temp"])
    with pytest.raises(ValueError, match="series has nan at step 3, column 'temp'"):
        prepare_forecasting(ts, input_length=4)
    with pytest.raises(ValueError, match="target_columns is for an array; a TimeSeries's"):
        prepare_forecasting(TimeSeries(times, series_with(1.0, 0), ["a"], ["b"]), 4,
                            target_columns=[1])  # fmt: skip


def test_tensors_and_counts_in_the_message():
    values = torch.zeros(20, 3)
    values[[2, 5, 9], 0] = float("nan")
    with pytest.raises(ValueError, match=r"at step 2, column 0 \(3 non-finite value\(s\) in all"):
        SlidingWindows(values, 3)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([["a", "b"], ["c", "d"]], "values must be numbers, got list"),
        (np.zeros((4, 2, 2)), r"values must be \(N, C\), got shape \(4, 2, 2\)"),
        (np.zeros(3), "a series of 3 steps is shorter than input_length"),
    ],
)
def test_bad_values(values, match):
    with pytest.raises(ValueError, match=match):
        SlidingWindows(values, 2, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(input_length="4"), "input_length must be a positive int, got '4'"),
        (dict(input_length=4.0), "input_length must be a positive int, got 4.0"),
        (dict(input_length=4, horizon=True), "horizon must be a positive int, got True"),
        (dict(input_length=4, stride=0), "stride must be a positive int, got 0"),
        (dict(input_length=4, target_columns="load"), "target_columns must be a list of column"),
        (dict(input_length=4, target_columns=[1.0]), r"must index the 2 columns .*got \[1\.0\]"),
        (dict(input_length=4, target_columns=[True]), r"got \[True\]"),
        (dict(input_length=4, target_columns=[]), r"got \[\]"),
        (dict(input_length=4, target_columns=[-1]), r"got \[-1\]"),
    ],
)
def test_bad_window_arguments(kwargs, match):
    values = series_with(1.0, 0)
    with pytest.raises(ValueError, match=match):
        SlidingWindows(values, **kwargs)
    with pytest.raises(ValueError, match=match):
        prepare_forecasting(values, **kwargs)


def test_bad_scaling_and_fractions():
    values = series_with(1.0, 0)
    with pytest.raises(ValueError, match=r"scaling must be one of \['standard', 'minmax'\]"):
        prepare_forecasting(values, 4, scaling="robust")
    with pytest.raises(ValueError, match=r"val_size must be a number in \[0, 1\), got nan"):
        prepare_forecasting(values, 4, val_size=float("nan"))
    with pytest.raises(ValueError, match=r"horizon 10 is longer than the val hold-out \(9 steps\)"):
        prepare_forecasting(values, 8, horizon=10)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"method": "standard", "shift": [float("nan")], "scale": [1.0]}, "must be finite"),
        ({"method": "standard", "shift": [0.0], "scale": [float("inf")]}, "must be finite"),
        ({"method": "standard", "shift": [0.0], "scale": [-1.0]}, "scale > 0"),
        ({"method": "standard", "shift": [], "scale": []}, "non-empty lists"),
        ({"method": "standard", "shift": [0.0, 1.0], "scale": [1.0]}, "of equal length"),
        ({"method": "standard", "shift": "abc", "scale": [1.0]}, "expected method, shift"),
        ({"method": "robust", "shift": [0.0], "scale": [1.0]}, "expected method, shift"),
    ],
)
def test_a_saved_scaler_with_bad_numbers_is_refused(tmp_path, data, match):
    path = tmp_path / "scaler.json"
    path.write_text(__import__("json").dumps(data))
    with pytest.raises(DataError, match=f"scaler.json: .*{match}"):
        Scaler.load(path)


def test_read_then_window_end_to_end(tmp_path):
    """A CSV with gaps and missing values: refused by default, finite windows when filled."""
    rows = ["t,v"] + [f"{2000 + i},{'' if i in (5, 17) else i}" for i in range(40)]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"line 7: missing value in \['v'\]"):
        read_time_series(path, "t", ["v"])
    ts = read_time_series(path, "t", ["v"], missing="interpolate")
    data = prepare_forecasting(ts, input_length=4)
    x, y = data.train[4]
    assert torch.isfinite(x).all() and torch.isfinite(y).all()
