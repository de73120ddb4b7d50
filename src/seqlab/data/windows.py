"""Time series to forecasting examples: chronological split, scaling, sliding windows.

The order matters, to keep the future out of training:

1. :func:`chronological_split` cuts the series in time order into train / val / test
   (no shuffling across the cut);
2. :class:`Scaler` is fit on the training part only, then applied to all three (and
   saved with the model, so predictions can be put back in the data's units);
3. :class:`SlidingWindows` cuts the parts into (input, target) windows. Every target
   step lies in one part only; the input of a val or test window takes its context from
   the steps before the part (the standard hold-out: "forecast the last H steps from the
   history before them"), so a hold-out of H steps is one forecast::

       values  v0 v1 v2 v3 v4 v5 v6 v7 v8 v9       input_length L = 3, horizon H = 2
       train   v0 .. v5                            train windows inside v0 .. v5
       val                      v6 v7              [v3 v4 v5] -> [v6 v7]
       test                           v8 v9        [v5 v6 v7] -> [v8 v9]

Inputs hold every column (targets and covariates) over the L past steps; targets are the
target columns over the next H steps. Columns known in the future (``future_columns``: a
calendar, a planned promotion) are also given over the H target steps, as a third item
``f (H, F)``, which :func:`collate_future_windows` puts in ``Batch.features`` (B, H, F);
darts calls them future covariates, neuralforecast ``futr_exog``. :func:`prepare_forecasting`
does all three steps.

>>> series = np.arange(20.0).reshape(10, 2)          # (N, C): a target and a covariate
>>> windows = SlidingWindows(series, input_length=3, horizon=2, target_columns=[0])
>>> len(windows)
6
>>> x, y = windows[1]
>>> x.shape, y.shape, y[:, 0].tolist()
(torch.Size([3, 2]), torch.Size([2, 1]), [8.0, 10.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from os import PathLike

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..checks import check_choice, check_int
from .batch import Batch
from .collate import collate_windows
from .containers import TimeSeries
from .errors import DataError, read_json, write_json

SCALINGS = ("standard", "minmax")
FILL_HINT = "fill or drop missing values first, e.g. read_time_series(..., missing='interpolate')"


def finite_values(values, name: str = "values", column_names: Sequence[str] | None = None):
    """``values`` (N,) or (N, C) as a float64 array, or a ``ValueError`` naming the first
    NaN or infinite entry (its step and column): a NaN that reached a window would turn
    every loss and gradient that touches it into NaN, or be learnt as a value."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numbers, got {type(values).__name__} ({e})") from None
    bad = ~np.isfinite(array) | (np.abs(array) > np.finfo(np.float32).max)
    if bad.any():
        where = np.argwhere(bad)[0]
        step, col = int(where[0]), (int(where[1]) if array.ndim > 1 else 0)
        column = repr(column_names[col]) if column_names is not None else str(col)
        raise ValueError(
            f"{name} has {array[tuple(where)]} at step {step}, column {column} "
            f"({int(bad.sum())} non-finite value(s) in all, or past float32's range): "
            f"{FILL_HINT}"
        )
    return array


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def chronological_split(values, val_fraction: float = 0.15, test_fraction: float = 0.15) -> tuple:
    """Split along time (axis 0) into (train, val, test), in order: the first
    ``1 - val - test`` of the steps, then val, then test. Sizes round down for val and
    test.

    >>> train, val, test = chronological_split(np.arange(10), 0.2, 0.2)
    >>> train.tolist(), val.tolist(), test.tolist()
    ([0, 1, 2, 3, 4, 5], [6, 7], [8, 9])
    """
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
        )
    n = len(values)
    n_test = int(n * test_fraction)
    n_val = int(n * val_fraction)
    n_train = n - n_val - n_test
    return values[:n_train], values[n_train : n_train + n_val], values[n_train + n_val :]


def holdout_steps(n: int, size: int | float, name: str = "test_size") -> int:
    """Steps a hold-out of ``size`` takes from a series of ``n`` steps: an int is a step
    count, a float in [0, 1) a fraction of ``n`` (rounded down).

    >>> holdout_steps(144, 24), holdout_steps(144, 0.25)
    (24, 36)
    """
    if isinstance(size, bool) or not isinstance(size, int | float):
        raise ValueError(f"{name} must be a step count (int) or a fraction (float), got {size!r}")
    if isinstance(size, float):
        return int(n * _check_fraction(name, size))
    return check_int(name, size, min=0)


class Scaler:
    """Per-column scaling, fit on the training part only.

    ``"standard"``: ``(x - mean) / std``; ``"minmax"``: ``(x - min) / (max - min)``, to
    [0, 1] on the training part. A constant column gets scale 1 (it is only shifted).
    Works on NumPy arrays and tensors whose last axis holds the columns; ``columns``
    picks which fitted columns that axis holds (e.g. only the targets of a prediction).

    >>> s = Scaler().fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> s.transform(np.array([[2.0, 20.0]]))
    array([[0., 0.]])
    >>> s.inverse_transform(torch.tensor([[[1.0]]]), columns=[1])  # (B, H, O) prediction
    tensor([[[30.]]])
    """

    def __init__(self, method: str = "standard"):
        if method not in SCALINGS:
            raise ValueError(f"method must be one of {SCALINGS}, got {method!r}")
        self.method = method
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, values) -> Scaler:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or len(values) == 0:
            raise ValueError(f"fit expects a non-empty (N, C) array, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("fit got NaN or infinite values; fill or drop them first")
        if self.method == "standard":
            shift, scale = values.mean(axis=0), values.std(axis=0)
        else:
            shift, scale = values.min(axis=0), values.max(axis=0) - values.min(axis=0)
        self.shift, self.scale = shift, np.where(scale > 0, scale, 1.0)
        return self

    def _params(self, x, columns: Sequence[int] | None):
        if self.shift is None:
            raise ValueError("the scaler is not fitted; call fit(train_values) first")
        cols = slice(None) if columns is None else list(columns)
        shift, scale = self.shift[cols], self.scale[cols]
        if x.shape[-1] != len(shift):
            raise ValueError(f"expected {len(shift)} columns in the last axis, got {x.shape[-1]}")
        if isinstance(x, Tensor):
            return (torch.as_tensor(shift, dtype=x.dtype, device=x.device),
                    torch.as_tensor(scale, dtype=x.dtype, device=x.device))  # fmt: skip
        return shift, scale

    def transform(self, x, columns: Sequence[int] | None = None):
        shift, scale = self._params(x, columns)
        return (x - shift) / scale

    def inverse_transform(self, x, columns: Sequence[int] | None = None):
        shift, scale = self._params(x, columns)
        return x * scale + shift

    def to_dict(self) -> dict:
        if self.shift is None:
            raise ValueError("the scaler is not fitted; nothing to save")
        return {"method": self.method, "shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict, source: str = "scaler") -> Scaler:
        try:
            scaler = cls(data["method"])
            shift = np.asarray(data["shift"], dtype=np.float64)
            scale = np.asarray(data["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"expected method, shift and scale ({e})", path=source) from None
        if shift.shape != scale.shape or shift.ndim != 1 or len(shift) == 0:
            raise DataError("shift and scale must be non-empty lists of equal length", source)
        if not (np.all(np.isfinite(shift)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise DataError("shift and scale must be finite, scale > 0", source)
        scaler.shift, scaler.scale = shift, scale
        return scaler

    def save(self, path: str | PathLike) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | PathLike) -> Scaler:
        return cls.from_dict(read_json(path), source=str(path))


def _column_indices(target_columns: Sequence[int] | None, width: int) -> list[int]:
    if target_columns is None:
        return list(range(width))
    if isinstance(target_columns, str) or not isinstance(target_columns, Sequence):
        raise ValueError(f"target_columns must be a list of column indices, got {target_columns!r}")
    cols = list(target_columns)
    ok = all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < width for c in cols)
    if not cols or not ok:
        raise ValueError(
            f"target_columns must index the {width} columns (ints in [0, {width})), got {cols}"
        )
    return cols


class SlidingWindows(Dataset):
    """Windows over ``values`` (N, C): item i is ``(x (L, C), y (H, O))`` as float32
    tensors, ``x = values[s : s + L]``, ``y = values[s + L : s + L + H, target_columns]``
    with ``s = i * stride``. ``target_columns`` default: all columns. With
    ``future_columns`` (known in the future) item i is ``(x, y, f (H, F))``, ``f =
    values[s + L : s + L + H, future_columns]``.

    >>> values = np.arange(20.0).reshape(10, 2)
    >>> w = SlidingWindows(values, 3, 2, target_columns=[0], future_columns=[1])
    >>> x, y, f = w[0]
    >>> f[:, 0].tolist()  # the covariate over the two target steps
    [7.0, 9.0]
    """

    def __init__(
        self,
        values,
        input_length: int,
        horizon: int = 1,
        stride: int = 1,
        target_columns: Sequence[int] | None = None,
        future_columns: Sequence[int] | None = None,
    ):
        input_length = check_int("input_length", input_length, min=1)
        horizon = check_int("horizon", horizon, min=1)
        stride = check_int("stride", stride, min=1)
        values = torch.as_tensor(finite_values(values).astype(np.float32))
        if values.dim() == 1:
            values = values.unsqueeze(1)  # (N, 1)
        if values.dim() != 2:
            raise ValueError(f"values must be (N, C), got shape {tuple(values.shape)}")
        if len(values) < input_length + horizon:
            raise ValueError(
                f"a series of {len(values)} steps is shorter than input_length + horizon "
                f"= {input_length} + {horizon}"
            )
        cols = _column_indices(target_columns, values.size(1))
        self.values = values
        self.input_length, self.horizon, self.stride = input_length, horizon, stride
        self.target_columns = cols
        self.future_columns = (
            None if future_columns is None else _column_indices(future_columns, values.size(1))
        )

    def __len__(self) -> int:
        return (len(self.values) - self.input_length - self.horizon) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[Tensor, ...]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        s = (i % len(self)) * self.stride
        x = self.values[s : s + self.input_length]  # (L, C)
        y = self.values[s + self.input_length : s + self.input_length + self.horizon]
        if self.future_columns is not None:
            return x, y[:, self.target_columns], y[:, self.future_columns]  # ..., (H, F)
        return x, y[:, self.target_columns]  # (L, C), (H, O)


def collate_future_windows(items: Sequence) -> Batch:
    """``(x (L, C), y (H, O)[, f (H, F)])`` windows stacked: ``Batch(inputs (B, L, C),
    targets (B, H, O), features (B, H, F))``; two-item windows give ``features=None``."""
    if not items:
        raise ValueError("collate_future_windows needs at least one window")
    if any(not isinstance(it, tuple | list) or len(it) != len(items[0]) for it in items):
        raise ValueError("windows must all be (x, y) or all (x, y, f) tuples")
    if len(items[0]) not in (2, 3):
        raise ValueError(f"a window is (x, y) or (x, y, f), got {len(items[0])} items")
    if all(isinstance(t, Tensor) and t.dtype == torch.float32 for it in items for t in it):
        # SlidingWindows' own items (their values were checked finite when it was built):
        # stacked as they are, without collate_windows' check of every window
        parts = [torch.stack([it[k] for it in items]) for k in range(len(items[0]))]
        return Batch(
            inputs=parts[0], targets=parts[1], features=parts[2] if len(parts) > 2 else None
        )
    batch = collate_windows([(it[0], it[1]) for it in items])
    if len(items[0]) == 2:
        return batch
    features = torch.stack([torch.as_tensor(f, dtype=torch.float32) for _, _, f in items])
    return replace(batch, features=features)  # (B, H, F)


@dataclass
class ForecastingData:
    """What :func:`prepare_forecasting` returns; ``val`` (or ``test``) is an empty list
    when its hold-out has no steps."""

    train: SlidingWindows
    val: SlidingWindows | list
    test: SlidingWindows | list
    scaler: Scaler | None
    target_columns: list[int]
    steps: tuple[int, int, int]  # (train, val, test) steps of the series


def prepare_forecasting(
    series: TimeSeries | np.ndarray,
    input_length: int,
    horizon: int = 1,
    stride: int = 1,
    val_size: int | float = 0.15,
    test_size: int | float = 0.15,
    scaling: str | None = "standard",
    target_columns: Sequence[int] | None = None,
    future_columns: Sequence[int] | None = None,
) -> ForecastingData:
    """Split in time, fit the scaler on train only, window the parts (see the module doc).

    ``val_size`` and ``test_size``: the last steps held out, as step counts (int) or
    fractions of the series (float); val comes before test. Val and test windows take
    their input from the steps before them, so ``test_size=horizon`` is the single
    forecast of the last ``horizon`` steps. For a :class:`~seqlab.data.TimeSeries` the
    targets are its target columns (the covariates are inputs only); for an array,
    ``target_columns`` (default all). Predictions go back to data units with
    ``scaler.inverse_transform(pred, columns=target_columns)``. ``future_columns``
    (indices): columns known over the horizon too, a third item of every window.

    >>> data = prepare_forecasting(np.arange(10.0), 3, horizon=2, val_size=2, test_size=2)
    >>> data.steps, len(data.train), len(data.val), len(data.test)
    ((6, 2, 2), 2, 1, 1)
    >>> x, y = data.test[0]
    >>> data.scaler.inverse_transform(x).flatten().tolist(), data.scaler.inverse_transform(y)
    ([5.0, 6.0, 7.0], tensor([[8.], [9.]]))
    """
    for name, value in (("input_length", input_length), ("horizon", horizon), ("stride", stride)):
        check_int(name, value, min=1)
    if scaling is not None:
        check_choice("scaling", scaling, SCALINGS)
    if isinstance(series, TimeSeries):
        if target_columns is not None:
            raise ValueError(
                "target_columns is for an array; a TimeSeries's targets are its target "
                f"columns {series.target_names} (read it with other target_columns instead)"
            )
        names = [*series.target_names, *series.covariate_names]
        values = finite_values(
            series.values, "series", names if len(names) == series.values.shape[-1] else None
        )
        target_columns = list(range(len(series.target_names)))
    else:
        values = finite_values(series, "series")
    if values.ndim == 1:
        values = values[:, None]  # (N, 1)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError(f"series must be (N, C) values, got shape {values.shape}")
    if not isinstance(series, TimeSeries):
        target_columns = _column_indices(target_columns, values.shape[1])
    n, L, H = len(values), input_length, horizon
    if n < L + H:
        raise ValueError(
            f"a window of input_length + horizon = {L} + {H} steps is longer than the "
            f"series ({n} steps)"
        )
    n_val, n_test = holdout_steps(n, val_size, "val_size"), holdout_steps(n, test_size)
    n_train = n - n_val - n_test
    for name, steps in (("val", n_val), ("test", n_test)):
        if 0 < steps < H:
            raise ValueError(
                f"horizon {H} is longer than the {name} hold-out ({steps} steps): hold out "
                f"at least {H} steps ({name}_size) or forecast fewer"
            )
    if n_train < L + H:
        raise ValueError(
            f"the training part has {max(n_train, 0)} steps ({n} - {n_val} val - {n_test} "
            f"test), fewer than input_length + horizon = {L + H}; hold out less or use a "
            "shorter window"
        )
    scaler = None
    if scaling is not None:
        scaler = Scaler(scaling).fit(values[:n_train])
        values = scaler.transform(values)

    def windows(start: int, stop: int):  # targets in [start, stop), inputs from before
        if stop == start:
            return []
        return SlidingWindows(
            values[start - L : stop], L, H, stride, target_columns, future_columns
        )

    return ForecastingData(
        SlidingWindows(values[:n_train], L, H, stride, target_columns, future_columns),
        windows(n_train, n_train + n_val),
        windows(n_train + n_val, n),
        scaler=scaler,
        target_columns=target_columns,
        steps=(n_train, n_val, n_test),
    )
