"""The KPSS level-stationarity test (seqlab.data.stationarity) against the equation
written out as loops, and against statsmodels' kpss where it is installed."""

import warnings

import numpy as np
import pytest

from seqlab.data.stationarity import (
    KPSS_CRITICAL_5,
    kpss_lags,
    kpss_statistic,
    level_stationary,
)


def _reference(y, lags):
    """KPSS (1992) eq. 14 term by term: partial sums of the demeaned series over n^2
    times the Bartlett-weighted long-run variance."""
    n = len(y)
    e = [v - sum(y) / n for v in y]
    partial, total = 0.0, 0.0
    for v in e:
        partial += v
        total += partial * partial
    s2 = sum(v * v for v in e) / n
    for s in range(1, lags + 1):
        w = 1.0 - s / (lags + 1.0)
        s2 += 2.0 * w * sum(e[t] * e[t - s] for t in range(s, n)) / n
    return total / (n * n * s2)


def test_kpss_is_the_equation_and_schwerts_lags():
    rng = np.random.default_rng(3)
    y = rng.normal(size=120).cumsum() * 0.1 + rng.normal(size=120)
    assert kpss_lags(100) == 12 and kpss_lags(3648) == 29 and kpss_lags(4) == 3
    for lags in (0, 1, 7, kpss_lags(len(y))):
        assert kpss_statistic(y, lags) == pytest.approx(_reference(list(y), lags), rel=1e-10)
    assert kpss_statistic(y) == kpss_statistic(y, kpss_lags(len(y)))


def test_kpss_matches_statsmodels_at_the_same_lags():
    stattools = pytest.importorskip("statsmodels.tsa.stattools", reason="statsmodels absent")
    rng = np.random.default_rng(4)
    for y in (rng.normal(size=200), rng.normal(size=150).cumsum(), np.sin(np.arange(90) / 3)):
        with warnings.catch_warnings():  # its p-value table's range, not the statistic
            warnings.simplefilter("ignore")
            # its "legacy" rounds Schwert's 12 (n/100)^(1/4) up: the lag count is given
            expected = stattools.kpss(y, regression="c", nlags=kpss_lags(len(y)))[0]
        assert kpss_statistic(y) == pytest.approx(expected, rel=1e-10)


def test_level_stationary_tells_noise_and_cycles_from_walks_and_trends():
    rng = np.random.default_rng(5)
    t = np.arange(300)
    assert level_stationary(rng.normal(size=300))
    assert level_stationary(10 + np.sin(2 * np.pi * t / 11) + 0.1 * rng.normal(size=300))
    assert not level_stationary(rng.normal(size=300).cumsum())
    assert not level_stationary(0.01 * t + 0.1 * rng.normal(size=300))
    assert kpss_statistic(np.full(10, 2.0)) == 0.0 and level_stationary(np.full(10, 2.0))
    assert KPSS_CRITICAL_5 == 0.463


@pytest.mark.parametrize("bad", [np.zeros((3, 2)), np.array([1.0, np.nan, 2.0]), np.ones(2)])
def test_kpss_refuses_what_it_cannot_test(bad):
    with pytest.raises(ValueError, match="kpss needs a finite series of 3 or more steps"):
        kpss_statistic(bad)
    with pytest.raises(ValueError, match=r"lags must be in \[0, 4\], got 5"):
        kpss_statistic(np.arange(5.0), lags=5)
