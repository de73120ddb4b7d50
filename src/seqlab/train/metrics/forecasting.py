"""Forecasting metrics: MAE, RMSE, MAPE, sMAPE, MASE with the seasonal naive scale
(Hyndman & Koehler 2006, "Another look at measures of forecast accuracy"), and the
coverage of a quantile forecast's interval.

A forecaster's evaluation output is the point forecast (a tensor), or, for a quantile
forecast, a mapping with ``forecast`` (the point), ``lower`` and ``upper`` (the outer
levels); the point metrics read ``forecast``, ``coverage`` the interval.

Trivial baseline to beat: MASE = 1 is the in-sample seasonal naive forecast.

>>> import torch
>>> y, p = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([2.0, 2.0, 1.0])
>>> round(mae(p, y), 4), naive_scale(torch.tensor([1.0, 3.0, 2.0, 4.0]))
(1.3333, 1.6666666666666667)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ...checks import check_float
from ...data.batch import Batch
from .base import Metric, mean_of, targets_of, values_of

__all__ = [
    "MAE",
    "MAPE",
    "MASE",
    "RMSE",
    "SMAPE",
    "Coverage",
    "coverage",
    "mae",
    "mape",
    "mase",
    "naive_scale",
    "rmse",
    "smape",
]


def _pair(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction shape {tuple(prediction.shape)} does not match target shape "
            f"{tuple(target.shape)}"
        )
    return prediction.double(), target.double()


def mae(prediction: Tensor, target: Tensor) -> float:
    """Mean absolute error."""
    p, t = _pair(prediction, target)
    return (p - t).abs().mean().item()


def rmse(prediction: Tensor, target: Tensor) -> float:
    """Root mean squared error."""
    p, t = _pair(prediction, target)
    return (p - t).pow(2).mean().sqrt().item()


def mape(prediction: Tensor, target: Tensor) -> float:
    """Mean absolute percentage error, in percent: ``100 * mean |y - ŷ| / |y|``.

    Undefined where a target is 0: that is a ValueError, not a silent infinity (use MAE
    or MASE for series that touch zero)."""
    p, t = _pair(prediction, target)
    if (t == 0).any():
        raise ValueError("mape: a target value is 0, where MAPE is undefined; use mae or mase")
    return 100.0 * ((p - t).abs() / t.abs()).mean().item()


def smape(prediction: Tensor, target: Tensor) -> float:
    """Symmetric MAPE in percent, as in the M3/M4 competitions (Makridakis 1993;
    Makridakis, Spiliotis & Assimakopoulos 2020): ``100 * mean 2 |y - ŷ| / (|y| + |ŷ|)``,
    in [0, 200]; a term where ``y = ŷ = 0`` counts 0.

    >>> round(smape(torch.tensor([110.0, 0.0]), torch.tensor([100.0, 0.0])), 4)
    4.7619
    """
    p, t = _pair(prediction, target)
    return _smape_terms(p, t).mean().item()


def _smape_terms(p: Tensor, t: Tensor) -> Tensor:
    denominator = p.abs() + t.abs()
    return torch.where(denominator > 0, 200.0 * (p - t).abs() / denominator, 0.0)


def coverage(lower: Tensor, upper: Tensor, target: Tensor) -> float:
    """The fraction of targets inside ``[lower, upper]`` (a quantile forecast's outer
    levels): about ``q_high - q_low`` for a calibrated forecast (0.8 for 0.1 and 0.9).

    >>> coverage(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([0.5, 2.0]))
    0.5
    """
    lo, t = _pair(lower, target)
    hi, _ = _pair(upper, target)
    return ((t >= lo) & (t <= hi)).double().mean().item()


def naive_scale(insample: Tensor, season: int = 1) -> float:
    """Mean absolute error of the seasonal naive forecast ``y_t = y_{t-m}`` on the training
    series (time on the last dim for a (T,) series, the middle dim for (B, T, C)): the
    denominator of MASE (Hyndman & Koehler 2006, eq. 7)."""
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    y = insample.double()
    dim = 1 if y.dim() == 3 else -1
    T = y.size(dim)
    if season >= T:
        raise ValueError(f"naive_scale: in-sample series of length {T} <= season {season}")
    diff = y.narrow(dim, season, T - season) - y.narrow(dim, 0, T - season)
    scale = diff.abs().mean().item()
    if scale == 0:
        raise ValueError("naive_scale: the in-sample series is constant, so MASE is undefined")
    return scale


def mase(prediction: Tensor, target: Tensor, insample: Tensor, season: int = 1) -> float:
    """Mean absolute scaled error: MAE divided by the in-sample MAE of the seasonal naive
    forecast (Hyndman & Koehler 2006). Below 1 beats the naive forecast."""
    return mae(prediction, target) / naive_scale(insample, season)


def point_of(prediction: Any) -> Any:
    """The point forecast of an evaluation output (see the module doc)."""
    return prediction["forecast"] if isinstance(prediction, Mapping) else prediction


class _Regression(Metric):
    size = 2  # sum of per-element errors, count

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, prediction: Any, batch: Batch) -> None:
        p, t = _pair(values_of(point_of(prediction)), targets_of(batch, self.name).cpu())
        e = self.error(p, t)
        self.stats += torch.tensor([e.sum().item(), e.numel()], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)


class MAE(_Regression):
    name = "mae"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).abs()


class RMSE(_Regression):
    name = "rmse"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        return (p - t).pow(2)

    def compute(self, stats: Tensor) -> float:
        return math.sqrt(super().compute(stats))


class MAPE(_Regression):
    name = "mape"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        if (t == 0).any():
            raise ValueError("mape: a target value is 0, where MAPE is undefined; use mae or mase")
        return 100.0 * (p - t).abs() / t.abs()


class SMAPE(_Regression):
    name = "smape"

    def error(self, p: Tensor, t: Tensor) -> Tensor:
        return _smape_terms(p, t)


class Coverage(_Regression):
    """The share of targets inside the forecast's interval (its outer quantile levels)."""

    name = "coverage"

    def update(self, prediction: Any, batch: Batch) -> None:
        if not isinstance(prediction, Mapping) or "lower" not in prediction:
            raise ValueError(
                "coverage needs a quantile forecast (model.quantiles, e.g. [0.1, 0.5, 0.9])"
            )
        t = targets_of(batch, self.name).cpu()
        lo, t = _pair(values_of(prediction["lower"]), t)
        hi, _ = _pair(values_of(prediction["upper"]), t)
        inside = (t >= lo) & (t <= hi)
        self.stats += torch.tensor([inside.sum().item(), inside.numel()], dtype=torch.float64)


class MASE(MAE):
    """MAE over the validation data divided by ``scale`` = :func:`naive_scale` of the
    training series (computed once by the caller, who has the training data)."""

    name = "mase"

    def __init__(self, scale: float):
        try:
            self.scale = check_float("scale", scale, min=0.0, min_open=True)
        except ValueError as e:
            raise ValueError(f"{e} (naive_scale of the training series)") from None
        super().__init__()

    def compute(self, stats: Tensor) -> float:
        return super().compute(stats) / self.scale
