"""What a series' time column says: its calendar cycles and cyclic calendar features.

:func:`calendar_cycles`: the seasonal periods, in steps, that the time step implies (a
half-hourly series has a daily cycle of 48 steps and a weekly one of 336; a monthly one
a yearly cycle of 12). The forecasting task takes its default window from them.

:func:`calendar_features`: for each time, ``sin`` and ``cos`` of ``2 pi phase / period``
for the month of the year (period 12), the day of the week (7) and the hour of the day
(24, with the minutes as a fraction): cyclic, so December sits next to January and 23:30
next to 00:00 (the encoding of e.g. darts' ``add_encoders: cyclic``). Only the features
that vary at the series' step are kept by default: the month for daily to monthly
steps, the weekday below a week, the hour below a day.

>>> times = np.arange("2000-01-03T00:00", "2000-01-10T00:00", 30, dtype="datetime64[m]")
>>> calendar_cycles(times)
[48, 336]
>>> names, x = calendar_features(times)
>>> names, x.shape
(['weekday_sin', 'weekday_cos', 'hour_sin', 'hour_cos'], (336, 4))
>>> calendar_cycles(np.arange("1949-01", "1961-01", dtype="datetime64[M]"))
[12]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FEATURES", "calendar_cycles", "calendar_features", "future_times", "time_step"]

FEATURES = ("month", "weekday", "hour")
_PERIOD = {"month": 12.0, "weekday": 7.0, "hour": 24.0}
_MINUTE = np.timedelta64(1, "m")


def time_step(times: np.ndarray) -> np.timedelta64 | None:
    """The most common step of ``times`` (datetime64), or None when they are not dates."""
    times = np.asarray(times)
    if times.dtype.kind != "M" or len(times) < 2:
        return None
    diffs = np.diff(times)
    values, counts = np.unique(diffs, return_counts=True)
    return values[np.argmax(counts)]


def future_times(times: np.ndarray, steps: int) -> np.ndarray:
    """The ``steps`` times after the last of ``times``, a step (:func:`time_step`) apart:
    the horizon whose calendar a forecast knows in advance.

    >>> future_times(np.array(["2000-11", "2000-12"], "datetime64[M]"), 2).tolist()
    [datetime.date(2001, 1, 1), datetime.date(2001, 2, 1)]
    """
    step = time_step(times)
    if step is None:
        raise ValueError("the times after a series need dates at a regular step (2 or more)")
    times = np.asarray(times)
    return times[-1] + step * np.arange(1, steps + 1)


def _unit(times: np.ndarray) -> str:
    return np.datetime_data(times.dtype)[0]


def calendar_cycles(times: np.ndarray) -> list[int]:
    """The day, week and year cycles, in steps, that the step of ``times`` divides
    (a cycle of 2 or more steps), shortest first; ``[]`` for yearly data or non-dates."""
    step = time_step(times)
    if step is None:
        return []
    unit = _unit(times)
    if unit in ("Y",):
        return []
    if unit == "M":  # calendar months: a year is 12 of them, a quarter 3
        months = int(step / np.timedelta64(1, "M"))
        return [12 // months] if months in (1, 2, 3, 4, 6) else []
    minutes = step / _MINUTE
    cycles = []
    for span in (24 * 60, 7 * 24 * 60):  # a day, a week
        ratio = span / minutes
        if ratio >= 2 and abs(ratio - round(ratio)) < 1e-9:
            cycles.append(round(ratio))
    if minutes == 7 * 24 * 60:  # weekly data: a year is ~52 weeks
        cycles.append(52)
    elif minutes == 24 * 60:  # daily data: the year as well as the week
        cycles.append(365)
    return cycles


def _phases(times: np.ndarray, feature: str) -> np.ndarray:
    months = times.astype("datetime64[M]")
    if feature == "month":
        return (months.astype(np.int64) % 12).astype(np.float64)
    days = times.astype("datetime64[D]")
    if feature == "weekday":  # 1970-01-01 was a Thursday: Monday = 0
        return ((days.astype(np.int64) + 3) % 7).astype(np.float64)
    minutes = (times.astype("datetime64[m]") - days.astype("datetime64[m]")) / _MINUTE
    return minutes / 60.0


def calendar_features(
    times: np.ndarray, features: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """``(names, values (N, 2k))``: sin and cos of each calendar feature's phase.
    ``features`` (from :data:`FEATURES`): default every one that varies at this step."""
    times = np.asarray(times)
    if times.dtype.kind != "M":
        raise ValueError(
            f"calendar features need dates in the time column, got {times.dtype} values"
        )
    if features is None:  # the month for daily to monthly steps; the weekday and hour below
        step, unit = time_step(times), _unit(times)
        minutes = np.inf if unit in ("Y", "M") or step is None else step / _MINUTE
        features = ["month"] if unit == "M" or 24 * 60 <= minutes <= 7 * 24 * 60 else []
        features += ["weekday"] if minutes < 7 * 24 * 60 else []
        features += ["hour"] if minutes < 24 * 60 else []
    names, columns = [], []
    for f in features:
        if f not in FEATURES:
            raise ValueError(f"calendar feature must be one of {list(FEATURES)}, got {f!r}")
        angle = 2 * np.pi * _phases(times, f) / _PERIOD[f]
        names += [f"{f}_sin", f"{f}_cos"]
        columns += [np.sin(angle), np.cos(angle)]
    values = np.stack(columns, axis=1) if columns else np.zeros((len(times), 0))
    return names, values
