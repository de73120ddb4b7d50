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

Transforms, all undone in :meth:`ForecastingTask.decode`, so forecasts come out in the
data's own units: ``transform: log`` (for multiplicative series: a trend that grows the
seasonal swing, as airline passengers do; every target value must be > 0), then
``scaling`` with the training part's statistics. The model normalizes each window on its
own (RevIN, ``model.normalize``; see :mod:`seqlab.models.forecaster`). Validation
metrics are computed in the model's frame (after the transform and scaling); ``mase`` is
scaled by the training part's seasonal-naive error with period ``season`` in that frame,
which is the same number as in data units unless ``transform`` is set.

Trainer defaults (:attr:`ForecastingTask.train_defaults`, where ``train:`` is silent):
up to 2,000 optimizer steps, early stopping after 40 epochs without a better
``val_loss``; the best epoch's weights are what the run gives back.

.. code-block:: yaml

    task: forecasting
    data: {dataset: airline_passengers, horizon: 24, test_size: 24, season: 12}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from ..checks import check_int
from ..config import ConfigError
from ..data import (
    Scaler,
    TimeSeries,
    collate_windows,
    prepare_forecasting,
    read_time_series,
)
from ..data.batch import Batch
from ..data.windows import holdout_steps
from ..train.metrics import naive_scale
from .base import DataSource, Splits, Task
from .text import plain_loader

__all__ = ["ForecastingData", "ForecastingTask"]


@dataclass
class ForecastingData(DataSource):
    input_length: int | None = None  # None: max(2 * season, horizon)
    horizon: int = 1
    stride: int = 1
    season: int = 1
    scaling: str | None = "standard"  # standard, minmax, or None
    transform: str | None = None  # log, or None
    time_column: str = "time"
    target_columns: list[str] = field(default_factory=list)
    covariate_columns: list[str] = field(default_factory=list)
    missing: str = "error"
    val_size: int | float | None = None  # steps (int) or a fraction; None: horizon
    test_size: int | float | None = None
    val_fraction: float = 0.0  # 0: not given (val_size or the horizon decides)
    test_fraction: float = 0.0

    @property
    def window(self) -> int:
        """``input_length``, or when left out two seasons (the model then sees each
        seasonal step twice) and at least the horizon."""
        if self.input_length is not None:
            return self.input_length
        return max(2 * self.season, self.horizon)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("horizon", "stride", "season"):
            check_int(name, getattr(self, name), min=1)
        check_int("input_length", self.input_length, min=1, none=True)
        if self.scaling not in ("standard", "minmax", None):
            raise ValueError(f"scaling must be 'standard', 'minmax' or None, got {self.scaling!r}")
        if self.transform not in ("log", None):
            raise ValueError(f"transform must be 'log' or None, got {self.transform!r}")
        for part in ("val", "test"):
            size, fraction = getattr(self, f"{part}_size"), getattr(self, f"{part}_fraction")
            if size is not None and fraction:
                raise ValueError(f"set {part}_size or {part}_fraction, not both")
            if size is not None:
                holdout_steps(1, size, f"{part}_size")  # an int >= 0 or a float in [0, 1)
        if self.train is not None and not self.target_columns:
            raise ValueError("target_columns must name the CSV's columns to forecast")
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
        "max_steps": 2000,
        "early_stopping": {"patience": 40},
    }

    def __init__(self, data: ForecastingData):
        super().__init__(data)
        self.scaler: Scaler | None = None
        self.columns: int = 0  # input channels: targets then covariates
        self.targets: list[int] = []
        self.names: list[str] = []
        self.scale: float | None = None  # MASE denominator on the scaled training targets

    def series(self, path: str | None = None) -> TimeSeries:
        """The whole series the data section names, or the CSV at ``path`` read with the
        section's columns (new data for a trained run)."""
        d = self.data
        if path is None and d.dataset is not None:
            return self.load_dataset(TimeSeries, "a time series")
        if d.train is None:
            raise ConfigError(
                "a series file needs a run trained on a CSV: its data section names the columns"
            )
        return read_time_series(
            path or d.train, d.time_column, d.target_columns, d.covariate_columns, d.missing
        )

    def read(self) -> None:
        """Split and window the series. The scaler is fitted on the training part here
        too (the windows are scaled); a restored run's saved scaler is the same fit."""
        d = self.data
        series = self.series()
        if d.limit is not None:  # the first ``limit`` steps
            series = dataclasses.replace(
                series, times=series.times[: d.limit], values=series.values[: d.limit]
            )
        self.columns = series.values.shape[1]
        self.names = list(series.target_names)
        self.targets = list(range(len(self.names)))
        values = np.asarray(series.values, dtype=np.float64)
        if d.transform is not None:
            self.check_positive(values, "the series")
            values = values.copy()
            values[:, self.targets] = np.log(values[:, self.targets])
            series = dataclasses.replace(series, values=values)
        try:
            prepared = prepare_forecasting(
                series, d.window, d.horizon, d.stride, self.holdout("val"),
                self.holdout("test"), d.scaling,
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
            self.scale = naive_scale(torch.as_tensor(train).T, d.season)
        except ValueError:
            self.scale = None  # a constant training series: MASE is undefined

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
        if self.data.transform == "log":
            x = x.copy()
            for j, c in enumerate(cols):
                if c in self.targets:
                    x[..., j] = np.log(x[..., j])
        return x if self.scaler is None else self.scaler.transform(x, columns)

    def from_model(self, x: np.ndarray) -> np.ndarray:
        """Target values (..., O) in the model's frame -> data units (the inverse)."""
        if self.scaler is not None:
            x = self.scaler.inverse_transform(x, self.targets)
        return np.exp(x) if self.data.transform == "log" else x

    def check_positive(self, x: np.ndarray, what: str) -> None:
        """A log transform needs every target value > 0: else one line naming the first."""
        if self.data.transform != "log":
            return
        bad = np.argwhere(x[..., self.targets] <= 0)
        if len(bad):
            step, j = int(bad[0][-2]), int(bad[0][-1])
            name = self.names[j] if j < len(self.names) else str(j)
            value = x[..., self.targets][tuple(bad[0])]
            raise ValueError(
                f"data.transform: 'log' needs target values > 0, but {what} has {value:g} "
                f"in {name!r} at step {step}; use transform: null for this series"
            )

    def fit(self) -> None:
        """Nothing more: :meth:`read` fitted the scaler with the split."""

    def model_sizes(self) -> dict[str, Any]:
        d = self.data
        return {
            "input_size": self.columns,
            "output_size": len(self.targets),
            "horizon": d.horizon,
            "window": d.window,
        }

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"input_size": 1, "output_size": 1, "horizon": 1, "window": 1}

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        return {"mase": {"scale": self.scale}} if self.scale else {}

    def loader(self, split: str, shuffle: bool = False):
        windows = self._require().get(split)
        d = self.data
        return plain_loader(windows, d.batch_size, collate_windows, shuffle, d.seed)

    def state(self) -> dict[str, Any]:
        return {
            "scaler": self.scaler.to_dict() if self.scaler is not None else None,
            "columns": self.columns,
            "targets": self.targets,
            "names": self.names,
        }

    @classmethod
    def restore(cls, data: ForecastingData, state: Mapping[str, Any]) -> ForecastingTask:
        task = cls(data)
        task.scaler = Scaler.from_dict(state["scaler"]) if state.get("scaler") else None
        task.columns = int(state["columns"])
        task.targets = [int(c) for c in state["targets"]]
        task.names = list(state.get("names", []))
        return task

    def encode(self, inputs: Sequence[Any]) -> Batch:
        """Each input a series ``(N, C)`` (or ``(N,)``) in the data's units, ``N >=
        input_length``: its last window, in the model's frame."""
        L, windows = self.data.window, []
        for i, x in enumerate(inputs):
            x = np.asarray(x, dtype=np.float64)
            x = x[:, None] if x.ndim == 1 else x
            if x.ndim != 2 or x.shape[1] != self.columns or len(x) < L:
                raise ValueError(
                    f"input {i + 1}: expected (N >= {L}, {self.columns}) values, got {x.shape}"
                )
            if not np.all(np.isfinite(x[-L:])):
                raise ValueError(f"input {i + 1}: NaN or infinite values in the last {L} steps")
            window = x[-L:]
            self.check_positive(window, f"input {i + 1}")
            windows.append(torch.from_numpy(self.to_model(window)).float())
        return Batch(torch.stack(windows))  # (B, L, C)

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
