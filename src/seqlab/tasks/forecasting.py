"""``forecasting``: from a window of ``input_length`` past steps to the next ``horizon``.

Data: a registered series (``airline_passengers``, ``sunspots``, ``electricity``) or a CSV
with a time column and value columns (``target_columns`` to forecast,
``covariate_columns`` as inputs only; ``missing`` values: ``error``, ``interpolate`` or
``drop``).

The hold-out is the standard one: the last ``test_size`` steps are forecast from the
history before them, and the ``val_size`` steps before those (the validation tail that
early stopping and ``best/`` watch) likewise. A size is a step count (int) or a fraction
of the series (float); left out, it is ``horizon`` (one forecast). ``val_fraction`` and
``test_fraction`` are read as fractions too. Val and test windows take their input
context from the steps before them, so nothing is lost to the cut.

Defaults the data decides (issue #23), each overridable:

* ``season``: the calendar's shortest cycle of the time step (48 for half-hours, 12 for
  months; :func:`seqlab.data.calendar.calendar_cycles`), else 1.
* ``input_length``: :func:`default_window`, the longest of one or two seasons (of
  ``season`` and every calendar cycle: a week of half-hours) that leaves at least 4
  training windows per window step.
* ``transform: auto``: the log when every training target is > 0 and Guerrero's Box-Cox
  lambda is below 0.5 (a multiplicative series, as airline passengers); ``log``,
  ``boxcox`` (``boxcox_lambda``, or Guerrero's fitted on the training part) or ``null``
  to choose. Then ``scaling`` with the training part's statistics. Both are undone in
  :meth:`ForecastingTask.decode`, so forecasts come out in the data's own units; a value
  <= 0 under log or Box-Cox is one error naming the column, value and step.
* ``model.normalize``: ``mean`` (each window's mean taken out and put back, RevIN) when
  the KPSS test rejects level stationarity of the training targets (after the
  transform; :mod:`seqlab.data.stationarity`), else ``null``: a trending series is
  forecast from its window's level, a mean-reverting one keeps the level the window is
  at, which is what tells it where the series goes back to. Measured with the
  least-squares start alone: sunspots (KPSS 0.23, stationary) 1.263 -> 0.903 MASE
  without the window mean taken out, electricity (0.26) 0.188 -> 0.181, airline
  passengers (0.89, trending after the log) 0.660 -> 1.025, so it keeps ``mean``.
* ``calendar: true`` (or a list of ``month``, ``weekday``, ``hour``): cyclic calendar
  covariates from the time column, appended as inputs over the window and, known in
  advance, over the horizon (new series are given as a :class:`~seqlab.data.TimeSeries`,
  whose horizon's calendar is computed from its times). ``covariate_columns`` are the
  user's past covariates (inputs over the window only). Off by default: no rule was
  found that tells where it helps. With the other defaults (LSTM, 3 seeds) it took
  airline passengers (monthly, 8 years of training) 0.63 -> 0.54 MASE and woolyrnq
  (quarterly, 26) 1.54 -> 1.49, but electricity (half-hourly, 11 weeks) 0.179 -> 0.199,
  ausbeer (quarterly, 49 years) 0.62 -> 0.89 and wineind (monthly, 11) 0.915 -> 0.922:
  neither the step, the number of cycles trained on, nor the window's seasons
  separates them.

Known-future inputs (darts' future covariates, neuralforecast's ``futr_exog``):
``future_columns`` name CSV columns known over the horizon too (a planned price, a
holiday flag); with the calendar they reach the model as ``Batch.features`` (B, H, F),
read by its head and its linear highway (:mod:`seqlab.models.forecaster`). A series to
forecast from then ends with the horizon's H rows: their future columns filled, their
targets ignored (``seqlab forecast --input new.csv``: empty); a missing future value is
one error naming it.

The model takes each window's mean out where the series' level is not stationary (RevIN,
``model.normalize``; :meth:`ForecastingTask.model_defaults`) and starts from
the least-squares linear forecast of the training windows (:meth:`init_model`, see
:mod:`seqlab.models.forecaster`). Validation metrics are computed in the model's frame
(after the transform and scaling); ``mase`` is scaled by the training part's
seasonal-naive error with period ``season`` in that frame, which is the same number as
in data units unless a transform is applied.

Trainer defaults (:attr:`ForecastingTask.train_defaults`, where ``train:`` is silent):
up to 300 optimizer steps, early stopping after 20 epochs without a better
``val_loss``; the best epoch's weights are what the run gives back.

.. code-block:: yaml

    task: forecasting
    data: {dataset: airline_passengers, horizon: 24, test_size: 24}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from ..checks import check_choice, check_float, check_int
from ..config import ConfigError
from ..data import (
    Scaler,
    TimeSeries,
    prepare_forecasting,
    read_time_series,
)
from ..data.batch import Batch
from ..data.calendar import (
    FEATURES,
    calendar_cycles,
    calendar_features,
    future_times,
    time_step,
)
from ..data.stationarity import KPSS_CRITICAL_5, kpss_statistic
from ..data.transforms import boxcox, check_positive, choose_transform, guerrero_lambda, inv_boxcox
from ..data.windows import collate_future_windows, holdout_steps
from ..train.metrics import naive_scale
from .base import DataSource, Splits, Task
from .text import plain_loader

__all__ = ["ForecastingData", "ForecastingTask"]


TRANSFORMS = ("auto", "log", "boxcox")
WINDOWS_PER_STEP = 4  # the default window L leaves >= 4 L training windows
# the ridge penalty is chosen on val from this many non-overlapping val forecasts on
VAL_FORECASTS = 2
# A TCN forecaster's width where the config is silent: 64 channels reading 96 steps took
# 25 s to train on electricity (MASE 0.192), 32 reading 48 took 9 s (0.189, 3 seeds;
# darts' TCNModel 14 s on the same machine); on airline and sunspots (windows shorter than
# 48) 32 channels cost 0.01-0.02 MASE (benchmarks/forecasting.py)
TCN_DEFAULTS = {"hidden_size": 32}


def _kpss(train: np.ndarray) -> float | None:
    """The largest KPSS statistic of the training targets (N, O); None: too short."""
    try:
        return max(kpss_statistic(train[:, j]) for j in range(train.shape[1]))
    except ValueError:
        return None


def default_window(train_steps: int, horizon: int, seasons: list[int]) -> int:
    """The default ``input_length``: the longest of two seasons or one (of every season
    known: ``season`` and the calendar's cycles; two horizons or one without a season)
    that leaves at least ``4 L`` training windows, so the linear map of ``L`` inputs is
    fitted on at least 4 examples per input; else the shortest that fits.

    >>> default_window(96, 24, [12]), default_window(269, 20, [11])
    (12, 22)
    >>> default_window(3360, 48, [48, 336])  # half-hours: a week, not two
    336
    """
    periods = [p for p in seasons if p > 1] or [horizon]
    candidates = sorted({k * p for p in periods for k in (1, 2)}, reverse=True)
    for L in candidates:
        if train_steps - L - horizon + 1 >= WINDOWS_PER_STEP * L:
            return L
    return max(1, min(candidates[-1], train_steps - horizon))


@dataclass
class ForecastingData(DataSource):
    input_length: int | None = None  # None: default_window (seasons, training length)
    horizon: int = 1
    stride: int = 1
    season: int | None = None  # None: the calendar's shortest cycle, else 1
    scaling: str | None = "standard"  # standard, minmax, or None
    transform: str | None = "auto"  # auto, log, boxcox, or None
    boxcox_lambda: float | None = None  # None: Guerrero's, fitted on the training part
    calendar: bool | list[str] = False  # cyclic calendar inputs, over window and horizon
    time_column: str = "time"
    target_columns: list[str] = field(default_factory=list)
    covariate_columns: list[str] = field(default_factory=list)
    future_columns: list[str] = field(default_factory=list)  # known over the horizon too
    missing: str = "error"
    val_size: int | float | None = None  # steps (int) or a fraction; None: horizon
    test_size: int | float | None = None
    val_fraction: float = 0.0  # 0: not given (val_size or the horizon decides)
    test_fraction: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("horizon", "stride"):
            check_int(name, getattr(self, name), min=1)
        check_int("season", self.season, min=1, none=True)
        check_int("input_length", self.input_length, min=1, none=True)
        if self.scaling not in ("standard", "minmax", None):
            raise ValueError(f"scaling must be 'standard', 'minmax' or None, got {self.scaling!r}")
        if self.transform is not None and self.transform not in TRANSFORMS:
            raise ValueError(
                f"transform must be 'auto', 'log', 'boxcox' or None, got {self.transform!r}"
            )
        if self.boxcox_lambda is not None:
            check_float("boxcox_lambda", self.boxcox_lambda, min=-5.0, max=5.0)
            if self.transform != "boxcox":
                raise ValueError("boxcox_lambda needs transform: boxcox")
        if not isinstance(self.calendar, bool):
            if isinstance(self.calendar, str) or not isinstance(self.calendar, list):
                raise ValueError(f"calendar must be true, false or a list, got {self.calendar!r}")
            for f in self.calendar:
                check_choice("calendar", f, FEATURES)
        for part in ("val", "test"):
            size, fraction = getattr(self, f"{part}_size"), getattr(self, f"{part}_fraction")
            if size is not None and fraction:
                raise ValueError(f"set {part}_size or {part}_fraction, not both")
            if size is not None:
                holdout_steps(1, size, f"{part}_size")  # an int >= 0 or a float in [0, 1)
        if self.train is not None and not self.target_columns:
            raise ValueError("target_columns must name the CSV's columns to forecast")
        if self.future_columns and self.train is None:
            raise ValueError("future_columns name columns of a CSV: give train (the CSV)")
        if self.val or self.test:
            raise ValueError("forecasting splits one series in time: give train only")


class ForecastingTask(Task):
    name = "forecasting"
    model_kind = "forecaster"
    data_class = ForecastingData
    # Defaults that converge on a short series: the epochs are bounded by optimizer steps,
    # so a 100-step series trains as long as a 10,000-step one; early stopping watches
    # the validation tail, and the best epoch's weights are restored at the end.
    train_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 1000,
        "max_steps": 300,
        "early_stopping": {"patience": 20},
    }

    @classmethod
    def defaults_for(
        cls, data: ForecastingData, model: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Where the ``model:`` section is silent, a TCN gets 32 channels
        (:data:`TCN_DEFAULTS`); the trainer gets :attr:`train_defaults`."""
        defaults = super().defaults_for(data, model)
        encoder = model.get("encoder")
        if isinstance(encoder, Mapping) and encoder.get("kind") == "tcn":
            defaults = {**defaults, "model": {"encoder": dict(TCN_DEFAULTS)}}
        return defaults

    def __init__(self, data: ForecastingData):
        super().__init__(data)
        self.scaler: Scaler | None = None
        self.columns: int = 0  # input channels: targets, covariates, calendar features
        self.targets: list[int] = []
        self.names: list[str] = []
        self.scale: float | None = None  # MASE denominator on the scaled training targets
        self.transform: str | None = None  # resolved: None, "log" or "boxcox"
        self.lam: float = 0.0  # the Box-Cox lambda (0: the log)
        self.window: int = data.input_length or 0  # resolved in read()
        self.season: int = data.season or 1
        self.calendar: list[str] = []  # the calendar features appended as inputs
        self.penalty: float | None = None  # the linear highway's ridge penalty
        self.future: list[int] = []  # input channels known over the horizon (model order)
        self.inputs: list[str] = []  # every input channel's name
        self.kpss: float | None = None  # the training targets' largest KPSS statistic

    def series(self, path: str | None = None, horizon_rows: int = 0) -> TimeSeries:
        """The whole series the data section names, or the CSV at ``path`` read with the
        section's columns (new data for a trained run); ``horizon_rows``: the CSV ends
        with that many rows of a horizon to forecast (future columns only)."""
        d = self.data
        if path is None and d.dataset is not None:
            return self.load_dataset(TimeSeries, "a time series")
        if d.train is None:
            raise ConfigError(
                "a series file needs a run trained on a CSV: its data section names the columns"
            )
        return read_time_series(
            path or d.train, d.time_column, d.target_columns, d.covariate_columns, d.missing,
            future_columns=d.future_columns, horizon_rows=horizon_rows,
        )  # fmt: skip

    def forecast_series(self, path: str | None = None) -> TimeSeries:
        """The series ``seqlab forecast`` forecasts past: :meth:`series`, and with
        ``future_columns`` the CSV at ``path`` ending with the horizon's rows."""
        d = self.data
        if not d.future_columns:
            return self.series(path)
        if path is None:
            raise ConfigError(
                f"data.future_columns: the forecast needs {d.future_columns} over the "
                f"{d.horizon} steps after the series; give a CSV (--input) that ends with "
                f"those {d.horizon} rows, targets empty"
            )
        return self.series(path, horizon_rows=d.horizon)

    def horizon_times(self, series: TimeSeries) -> np.ndarray | None:
        """The times of the steps a forecast from ``series`` covers (None: no dates)."""
        H = self.data.horizon
        if self.data.future_columns:
            return np.asarray(series.times[-H:])
        try:
            return future_times(series.times, H)
        except ValueError:
            return None

    def calendar_of(self, times: np.ndarray) -> np.ndarray:
        """The calendar covariates (N, 2k) of ``times``, as this task appends them."""
        if not self.calendar:
            return np.zeros((len(times), 0))
        try:
            return calendar_features(np.asarray(times), self.calendar)[1]
        except ValueError as e:
            raise ConfigError(f"data.calendar: {e} ({self.data.time_column!r})") from None

    def _resolve(self, series: TimeSeries, n_train: int) -> None:
        """The defaults the data decides: season, calendar features, transform, window."""
        d = self.data
        cycles = calendar_cycles(series.times)
        if d.season is None:
            self.season = cycles[0] if cycles else 1
        if d.calendar:
            if np.asarray(series.times).dtype.kind != "M":
                raise ConfigError(
                    f"data.calendar: the time column {d.time_column!r} holds no dates "
                    f"({np.asarray(series.times).dtype}); set calendar: false"
                )
            if time_step(series.times) is None:
                raise ConfigError(f"data.calendar: {d.time_column!r} has fewer than 2 times")
            if isinstance(d.calendar, list):
                self.calendar = list(d.calendar)
            else:  # every feature that varies at this step
                self.calendar = [n[: -len("_sin")] for n in calendar_features(series.times)[0][::2]]
        train = np.asarray(series.values[:n_train, : len(series.target_names)], np.float64)
        if d.transform == "auto":
            picks = {choose_transform(train[:, j], self.season) for j in range(train.shape[1])}
            self.transform = "log" if picks == {"log"} else None
        else:
            self.transform = d.transform
        if self.transform is not None:
            what = f"data.transform: {self.transform!r}"
            try:
                check_positive(series.values[:, : len(series.target_names)], what, self.names)
            except ValueError as e:
                raise ConfigError(f"{e}; use transform: null for this series") from None
        if self.transform == "boxcox":
            if d.boxcox_lambda is not None:
                self.lam = float(d.boxcox_lambda)
            else:
                try:
                    self.lam = guerrero_lambda(train[:, 0], self.season)
                except ValueError as e:
                    raise ConfigError(f"data.transform: {e}; set boxcox_lambda") from None
        if self.transform is not None:
            train = self._forward_transform(train)
        self.kpss = _kpss(train)
        if not self.window:
            seasons = [self.season, *cycles]
            self.window = default_window(n_train, d.horizon, seasons)

    def read(self) -> None:
        """Split and window the series. The scaler is fitted on the training part here
        too (the windows are scaled); a restored run's saved scaler is the same fit."""
        d = self.data
        series = self.series()
        if d.limit is not None:  # the first ``limit`` steps
            series = dataclasses.replace(
                series, times=series.times[: d.limit], values=series.values[: d.limit]
            )
        self.names = list(series.target_names)
        n = len(series.values)
        try:
            n_val = holdout_steps(n, self.holdout("val"), "val_size")
            n_test = holdout_steps(n, self.holdout("test"), "test_size")
        except ValueError as e:
            raise ConfigError(f"data: {e}") from None
        restored = self.columns > 0
        if not restored:
            self._resolve(series, n - n_val - n_test)
        values = np.asarray(series.values, dtype=np.float64)
        O = len(series.target_names)
        if self.transform is not None:
            values = values.copy()
            values[:, :O] = self._forward_transform(values[:, :O])
        cal = self.calendar_of(series.times)
        if cal.shape[1]:
            values = np.concatenate([values, cal], axis=1)
        series = dataclasses.replace(
            series,
            values=values,
            covariate_names=[*series.covariate_names, *self.calendar_names()],
        )
        self.columns = values.shape[1]
        self.targets = list(range(O))
        self.inputs = [*series.target_names, *series.covariate_names]
        first = O + len(d.covariate_columns)  # the user's future columns, then the calendar
        self.future = [*range(first, first + len(d.future_columns)),
                       *range(self.columns - cal.shape[1], self.columns)]  # fmt: skip
        try:
            prepared = prepare_forecasting(
                series, self.window, d.horizon, d.stride, self.holdout("val"),
                self.holdout("test"), d.scaling, future_columns=self.future or None,
            )  # fmt: skip
        except ValueError as e:
            raise ConfigError(f"data: {e}") from None
        saved = self.scaler
        self.scaler, self.targets = prepared.scaler, prepared.target_columns
        if saved is not None and prepared.scaler is not None:
            same = np.allclose(saved.shift, prepared.scaler.shift) and np.allclose(
                saved.scale, prepared.scaler.scale
            )
            if not same:
                raise ConfigError(
                    "data: the series differs from the one this run was trained on (its "
                    "training part has other statistics); evaluate on the same data"
                )
        self.splits = Splits(prepared.train, prepared.val, prepared.test)
        train = prepared.train.values[:, self.targets]  # (N, O), in the model's frame
        try:
            self.scale = naive_scale(torch.as_tensor(train).T, self.season)
        except ValueError:
            self.scale = None  # a constant training series: MASE is undefined

    @property
    def level_stationary(self) -> bool:
        """Whether KPSS kept level stationarity for every training target (5%)."""
        return self.kpss is not None and self.kpss <= KPSS_CRITICAL_5

    def model_defaults(self, model: Mapping[str, Any]) -> dict[str, Any]:
        """The ``model:`` section with ``normalize`` where it is silent: ``mean`` (RevIN)
        unless the training targets' level is stationary (KPSS, :attr:`kpss`), then
        ``null``. ``normalize_scale: true`` asks for RevIN: it keeps ``mean``."""
        out = dict(model)
        if "normalize" not in out:
            keep = self.level_stationary and not out.get("normalize_scale")
            out["normalize"] = None if keep else "mean"
        return out

    def calendar_names(self) -> list[str]:
        return [f"{f}_{w}" for f in self.calendar for w in ("sin", "cos")]

    def _forward_transform(self, x: np.ndarray) -> np.ndarray:
        if self.transform == "log":
            return np.log(x)
        return boxcox(x, self.lam) if self.transform == "boxcox" else x

    def _inverse_transform(self, x: np.ndarray) -> np.ndarray:
        if self.transform == "log":
            return np.exp(x)
        return inv_boxcox(x, self.lam) if self.transform == "boxcox" else x

    def holdout(self, part: str) -> int | float:
        """The ``val``/``test`` hold-out as :func:`prepare_forecasting` takes it."""
        d = self.data
        size, fraction = getattr(d, f"{part}_size"), getattr(d, f"{part}_fraction")
        return size if size is not None else fraction if fraction else d.horizon

    def to_model(self, x: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
        """Values (..., C) in data units (``columns``: which of the series' columns the
        last axis holds, default all) -> the model's frame: ``transform`` on the target
        columns, then the scaler."""
        cols = list(range(self.columns)) if columns is None else list(columns)
        if self.transform is not None:
            x = x.copy()
            for j, c in enumerate(cols):
                if c in self.targets:
                    x[..., j] = self._forward_transform(x[..., j])
        return x if self.scaler is None else self.scaler.transform(x, columns)

    def from_model(self, x: np.ndarray) -> np.ndarray:
        """Target values (..., O) in the model's frame -> data units (the inverse)."""
        if self.scaler is not None:
            x = self.scaler.inverse_transform(x, self.targets)
        return self._inverse_transform(x)

    def check_positive(self, x: np.ndarray, what: str) -> None:
        """A log or Box-Cox transform needs every target value > 0: else one line naming
        the first."""
        if self.transform is None:
            return
        try:
            check_positive(x[..., self.targets], f"data.transform: {self.transform!r}", self.names)
        except ValueError as e:
            raise ValueError(f"{what}: {e}; use transform: null for this series") from None

    def fit(self) -> None:
        """Nothing more: :meth:`read` fitted the scaler with the split."""

    def init_model(self, model) -> None:
        """Start the model's linear highway at the least-squares forecast of the training
        windows (:meth:`seqlab.models.Forecaster.fit_linear`), its ridge penalty chosen
        on the validation windows when they hold at least :data:`VAL_FORECASTS`
        non-overlapping forecasts, else by generalized cross-validation on the training
        windows: the default tail is one forecast, a sample of one (it chose a 10x too
        large penalty on sunspots), while GCV's rows overlap and under-penalize where a
        real tail exists (the electricity example, 7 forecasts of val: GCV 1e-4, MASE
        0.200; val 1e-3, 0.171)."""
        if getattr(model, "linear", None) is None:
            return
        splits = self._require()
        whole = lambda w: collate_future_windows([w[i] for i in range(len(w))])  # noqa: E731
        val = whole(splits.val) if self.val_forecasts() >= VAL_FORECASTS else None
        self.penalty = model.fit_linear(whole(splits.train), val)

    def val_forecasts(self) -> int:
        """How many non-overlapping forecasts the validation windows cover."""
        val, d = self._require().val, self.data
        if not val:
            return 0
        return ((len(val) - 1) * d.stride + d.horizon) // d.horizon

    def model_sizes(self) -> dict[str, Any]:
        d = self.data
        return {
            "input_size": self.columns,
            "output_size": len(self.targets),
            "horizon": d.horizon,
            "window": self.window,
            "future_size": len(self.future),
        }

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"input_size": 1, "output_size": 1, "horizon": 1, "window": 1, "future_size": 0}

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        return {"mase": {"scale": self.scale}} if self.scale else {}

    def loader(self, split: str, shuffle: bool = False):
        windows = self._require().get(split)
        d = self.data
        return plain_loader(windows, d.batch_size, collate_future_windows, shuffle, d.seed)

    def state(self) -> dict[str, Any]:
        return {
            "scaler": self.scaler.to_dict() if self.scaler is not None else None,
            "columns": self.columns,
            "targets": self.targets,
            "names": self.names,
            "transform": self.transform,
            "lambda": self.lam,
            "window": self.window,
            "season": self.season,
            "calendar": self.calendar,
            "future": self.future,
            "inputs": self.inputs,
            "kpss": self.kpss,
        }

    @classmethod
    def restore(cls, data: ForecastingData, state: Mapping[str, Any]) -> ForecastingTask:
        task = cls(data)
        task.scaler = Scaler.from_dict(state["scaler"]) if state.get("scaler") else None
        task.columns = int(state["columns"])
        task.targets = [int(c) for c in state["targets"]]
        task.names = list(state.get("names", []))
        task.transform = state.get(
            "transform", data.transform if data.transform != "auto" else None
        )
        task.lam = float(state.get("lambda", 0.0))
        task.window = int(state.get("window", data.input_length or 0))
        task.season = int(state.get("season", data.season or 1))
        task.calendar = list(state.get("calendar", []))
        task.future = [int(c) for c in state.get("future", [])]
        task.inputs = list(state.get("inputs", []))
        task.kpss = state.get("kpss")
        return task

    def _history_and_horizon(self, x: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """An input as ``(history (N, C), horizon rows (H, C) or None)``, calendar
        columns appended (a TimeSeries's computed from its times)."""
        H, user = self.data.horizon, bool(self.data.future_columns)
        if not isinstance(x, TimeSeries):
            x = np.asarray(x, dtype=np.float64)
            x = x[:, None] if x.ndim == 1 else x
            return (x[:-H], x[-H:]) if self.future and len(x) > H else (x, None)
        values, times = np.asarray(x.values, dtype=np.float64), np.asarray(x.times)
        if user:  # the series ends with the horizon's rows
            past, ahead, past_times, ahead_times = values[:-H], values[-H:], times[:-H], times[-H:]
        else:
            past, past_times, ahead = values, times, None
            if self.calendar:
                try:
                    ahead_times = future_times(times, H)
                except ValueError as e:
                    raise ValueError(f"the horizon's calendar: {e}") from None
                ahead = np.full((H, values.shape[1]), np.nan)
        history = np.concatenate([past, self.calendar_of(past_times)], axis=1)
        if ahead is None:
            return history, None
        return history, np.concatenate([ahead, self.calendar_of(ahead_times)], axis=1)

    def encode(self, inputs: Sequence[Any]) -> Batch:
        """Each input a series ``(N, C)`` (or ``(N,)``) in the data's units, ``N >=
        input_length``: its last window, in the model's frame. With ``calendar``
        covariates, give a :class:`~seqlab.data.TimeSeries` (they are computed from its
        times, the horizon's too) or the columns :meth:`calendar_of` gives, appended.
        With known-future inputs an array (or, with ``future_columns``, a TimeSeries)
        ends with the horizon's ``H`` rows: only their future columns are read."""
        L, H, windows, ahead = self.window, self.data.horizon, [], []
        for i, x in enumerate(inputs):
            x, rows = self._history_and_horizon(x)
            extra = H if self.future else 0
            if x.ndim != 2 or x.shape[1] != self.columns or len(x) < L:
                raise ValueError(
                    f"input {i + 1}: expected (N >= {L + extra}, {self.columns}) values, "
                    f"got {(len(x) + extra, *x.shape[1:])}"
                )
            if not np.all(np.isfinite(x[-L:])):
                raise ValueError(f"input {i + 1}: NaN or infinite values in the last {L} steps")
            window = x[-L:]
            self.check_positive(window, f"input {i + 1}")
            windows.append(torch.from_numpy(self.to_model(window)).float())
            if self.future:
                ahead.append(torch.from_numpy(self._future_inputs(rows, i)).float())
        features = torch.stack(ahead) if ahead else None  # (B, H, F)
        return Batch(torch.stack(windows), features=features)  # (B, L, C)

    def _future_inputs(self, rows: np.ndarray | None, i: int) -> np.ndarray:
        """The horizon's known-future inputs (H, F) in the model's frame, or one error
        naming the first missing one."""
        H = self.data.horizon
        if rows is None or len(rows) < H:
            raise ValueError(f"input {i + 1}: needs the {H} horizon rows after its history")
        f = rows[:, self.future]
        bad = np.argwhere(~np.isfinite(f))
        if len(bad):
            step, j = bad[0]
            name = self.inputs[self.future[j]] if self.inputs else f"column {self.future[j]}"
            raise ValueError(
                f"input {i + 1}: no value of the known-future input {name!r} at horizon "
                f"step {step + 1} of {H}"
            )
        return self.to_model(f, self.future)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        def units(x: torch.Tensor) -> np.ndarray:  # (B, H, O) model frame -> data units
            return self.from_model(x.double().cpu().numpy())

        forecast = units(prediction["forecast"])
        rows = [{"forecast": f.tolist()} for f in forecast]
        if "quantiles" in prediction:
            q = prediction["quantiles"]  # (B, H, O, Q)
            levels = prediction["levels"].tolist()
            for k, level in enumerate(levels):
                values = units(q[..., k])
                for row, v in zip(rows, values, strict=True):
                    row[f"q{level:g}"] = v.tolist()
        return rows
