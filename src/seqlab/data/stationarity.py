"""Is a series' level stationary? The KPSS test (Kwiatkowski, Phillips, Schmidt & Shin
1992), as ``auto.arima`` uses it to choose differencing (Hyndman & Khandakar 2008).

The null hypothesis is level stationarity: ``y_t = mu + e_t`` with ``e`` stationary.
With the residuals ``e_t = y_t - mean(y)`` and their partial sums ``S_t = e_1 + .. +
e_t``, the statistic (KPSS 1992, eq. 14) is::

    eta = sum_t S_t^2 / (n^2 s^2(l))
    s^2(l) = (1/n) sum_t e_t^2 + (2/n) sum_{s=1..l} (1 - s/(l+1)) sum_{t>s} e_t e_{t-s}

the long-run variance with Bartlett weights (Newey & West 1987) over ``l =
floor(12 (n/100)^(1/4))`` lags (Schwert 1989; statsmodels' ``nlags="legacy"``). Level
stationarity is rejected at 5% when ``eta > 0.463`` (KPSS 1992, Table 1). A trending
series (airline passengers, even after the log) is rejected; yearly sunspots, around
their long-run mean, and half-hourly electricity demand, whose daily and weekly cycles
average out in the partial sums, are not.

The forecasting task takes the window's mean out (RevIN) only where the level is not
stationary (:mod:`seqlab.tasks.forecasting`).

>>> rng = np.random.default_rng(0)
>>> noise = rng.normal(size=300)
>>> bool(level_stationary(noise)), bool(level_stationary(noise.cumsum()))
(True, False)
"""

from __future__ import annotations

import numpy as np

__all__ = ["KPSS_CRITICAL_5", "kpss_lags", "kpss_statistic", "level_stationary"]

KPSS_CRITICAL_5 = 0.463  # level stationarity, 5% (KPSS 1992, Table 1)


def kpss_lags(n: int) -> int:
    """Schwert's (1989) lag count for ``n`` steps: ``floor(12 (n / 100)^(1/4))``, < n."""
    return min(int(12 * (n / 100.0) ** 0.25), n - 1)


def kpss_statistic(y: np.ndarray, lags: int | None = None) -> float:
    """The KPSS level-stationarity statistic ``eta`` of ``y`` (n,), ``lags`` Bartlett
    lags (default :func:`kpss_lags`). A constant series has no variance to test: it is
    stationary (0.0)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or len(y) < 3 or not np.all(np.isfinite(y)):
        raise ValueError(f"kpss needs a finite series of 3 or more steps, got shape {y.shape}")
    n = len(y)
    lags = kpss_lags(n) if lags is None else lags
    if not 0 <= lags < n:
        raise ValueError(f"lags must be in [0, {n - 1}], got {lags}")
    e = y - y.mean()
    s2 = e @ e / n
    if s2 <= 1e-300:
        return 0.0
    for s in range(1, lags + 1):
        s2 += 2.0 * (1.0 - s / (lags + 1.0)) * (e[s:] @ e[:-s]) / n
    partial = np.cumsum(e)
    return float(partial @ partial / (n * n * s2))


def level_stationary(y: np.ndarray, critical: float = KPSS_CRITICAL_5) -> bool:
    """Whether KPSS does not reject level stationarity of ``y`` at 5%."""
    return kpss_statistic(y) <= critical
