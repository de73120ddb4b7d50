"""``forecasting``: from a window of ``input_length`` past steps to the next ``horizon``.

Data: a registered series (``airline_passengers``, ``sunspots``, ``electricity``) or a CSV
with a time column and value columns (``target_columns`` to forecast,
``covariate_columns`` as inputs only; ``missing`` values: ``error``, ``interpolate`` or
``drop``). The series is split in time (the last ``val_fraction`` and ``test_fraction``
held out), scaled with the training part's statistics (``scaling``), and cut into
sliding windows. Predictions come back in the data's own units. ``mase`` is scaled by the
training part's seasonal-naive error with period ``season``.

.. code-block:: yaml

    task: forecasting
    data: {dataset: airline_passengers, input_length: 36, horizon: 12, season: 12}
    model: {encoder: {kind: tcn, hidden_size: 32, num_layers: 5, kernel_size: 3}}
    train: {metrics: [mae, mase]}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from ..train.metrics import naive_scale
from .base import DataSource, Splits, Task
from .text import plain_loader

__all__ = ["ForecastingData", "ForecastingTask"]


@dataclass
class ForecastingData(DataSource):
    input_length: int = 24
    horizon: int = 1
    stride: int = 1
    season: int = 1
    scaling: str | None = "standard"  # standard, minmax, or None
    time_column: str = "time"
    target_columns: list[str] = field(default_factory=list)
    covariate_columns: list[str] = field(default_factory=list)
    missing: str = "error"
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("input_length", "horizon", "stride", "season"):
            check_int(name, getattr(self, name), min=1)
        if self.scaling not in ("standard", "minmax", None):
            raise ValueError(f"scaling must be 'standard', 'minmax' or None, got {self.scaling!r}")
        if self.train is not None and not self.target_columns:
            raise ValueError("target_columns must name the CSV's columns to forecast")
        if self.val or self.test:
            raise ValueError("forecasting splits one series in time: give train only")


class ForecastingTask(Task):
    name = "forecasting"
    model_kind = "forecaster"
    data_class = ForecastingData

    def __init__(self, data: ForecastingData):
        super().__init__(data)
        self.scaler: Scaler | None = None
        self.columns: int = 0  # input channels: targets then covariates
        self.targets: list[int] = []
        self.names: list[str] = []
        self.scale: float | None = None  # MASE denominator on the scaled training targets

    def series(self) -> TimeSeries:
        """The whole series the data section names."""
        d = self.data
        if d.dataset is not None:
            return self.load_dataset(TimeSeries, "a time series")
        return read_time_series(
            d.train, d.time_column, d.target_columns, d.covariate_columns, d.missing
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
        prepared = prepare_forecasting(
            series, d.input_length, d.horizon, d.stride, d.val_fraction, d.test_fraction,
            d.scaling,
        )  # fmt: skip
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
        self.columns = series.values.shape[1]
        self.names = list(series.target_names)
        self.splits = Splits(prepared.train, prepared.val, prepared.test)
        train = prepared.train.values[:, self.targets]  # (N, O), scaled
        try:
            self.scale = naive_scale(torch.as_tensor(train).T, d.season)
        except ValueError:
            self.scale = None  # a constant training series: MASE is undefined

    def fit(self) -> None:
        """Nothing more: :meth:`read` fitted the scaler with the split."""

    def model_sizes(self) -> dict[str, Any]:
        d = self.data
        return {
            "input_size": self.columns,
            "output_size": len(self.targets),
            "horizon": d.horizon,
            "window": d.input_length,
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
        input_length``: its last window, scaled."""
        L, windows = self.data.input_length, []
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
            if self.scaler is not None:
                window = self.scaler.transform(window)
            windows.append(torch.from_numpy(window).float())
        return Batch(torch.stack(windows))  # (B, L, C)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        def units(x: torch.Tensor) -> np.ndarray:  # (B, H, O) scaled -> data units
            x = x.double().numpy()
            return x if self.scaler is None else self.scaler.inverse_transform(x, self.targets)

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
