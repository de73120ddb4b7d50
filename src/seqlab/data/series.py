"""Time series from a CSV: a time column, target columns and covariates, with gaps and
missing values found, reported and (on request) filled or dropped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from ..checks import check_choice
from .containers import TimeSeries
from .errors import DataError
from .files import Path_, read_table

MISSING = ("error", "interpolate", "drop")
_NA = {"", "na", "nan", "null", "none", "n/a"}


def parse_time(value: str, time_format: str | None = None) -> np.datetime64:
    """ISO 8601 (``1949-01``, ``2000-06-05T00:30``, a bare year ``1700``) or ``time_format``
    for :func:`datetime.strptime`."""
    if time_format is not None:
        return np.datetime64(datetime.strptime(value, time_format))
    return np.datetime64(value.strip())


def regular_step(times: np.ndarray) -> np.timedelta64:
    """The most common difference between consecutive times."""
    diffs = np.diff(times)
    values, counts = np.unique(diffs, return_counts=True)
    return values[np.argmax(counts)]


def _coarsen(times: np.ndarray) -> np.ndarray:
    """Monthly/yearly data given as full dates (``1949-01-01``) -> datetime64[M] / [Y], so
    that calendar months count as equal steps."""
    if times.dtype.kind != "M" or len(times) < 2:
        return times
    months = times.astype("datetime64[M]")
    if np.all(months.astype(times.dtype) == times):
        years = times.astype("datetime64[Y]")
        if np.all(years.astype(times.dtype) == times):
            return years
        return months
    return times


def read_time_series(
    path: Path_,
    time_column: str,
    target_columns: Sequence[str],
    covariate_columns: Sequence[str] = (),
    missing: str = "error",
    time_format: str | None = None,
    fmt: str | None = "csv",
    encoding: str = "utf-8",
    future_columns: Sequence[str] = (),
    horizon_rows: int = 0,
) -> TimeSeries:
    """A CSV with a time column and value columns: the targets to forecast, and covariates.

    Times must increase strictly. Gaps (a step larger than the most common one) and
    missing values (empty, NA, NaN) are found and reported:

    * ``missing="error"`` (default): the first one is a :class:`DataError` naming its line;
    * ``"interpolate"``: put the series on the regular time grid and fill every missing
      value linearly in time (ends take the nearest value);
    * ``"drop"``: drop rows with a missing value; gaps are left as they are.

    What was found and done is in ``TimeSeries.issues``.

    ``future_columns``: covariates known in the future (read after ``covariate_columns``,
    both in ``covariate_names``). ``horizon_rows=H``: the last H rows are the horizon of
    a forecast to make: their targets and other covariates may be empty (left NaN, not
    reported, never filled), each future column must have a value there (else a
    :class:`DataError` naming the line and column), and ``missing`` applies to the rows
    before them.
    """
    check_choice("missing", missing, MISSING)
    if isinstance(target_columns, str):
        target_columns = [target_columns]
    if isinstance(covariate_columns, str):
        covariate_columns = [covariate_columns]
    if isinstance(future_columns, str):
        future_columns = [future_columns]
    covariate_columns = [*covariate_columns, *future_columns]
    if not target_columns:
        raise ValueError("target_columns must name at least one column")
    path = Path(path)
    names = [*target_columns, *covariate_columns]
    twice = sorted({c for c in [time_column, *names] if [time_column, *names].count(c) > 1})
    if twice:
        raise ValueError(
            f"columns {twice} are named more than once among time_column, target_columns "
            "and covariate_columns"
        )
    rows = read_table(path, [time_column, *names], fmt, encoding)
    if len(rows) < 2 + horizon_rows:
        raise DataError(f"need at least {2 + horizon_rows} rows of data, got {len(rows)}", path)
    lines = np.array([n for n, _ in rows])
    times, values = [], np.empty((len(rows), len(names)))
    for k, (n, cells) in enumerate(rows):
        try:
            times.append(parse_time(cells[0] or "", time_format))
        except ValueError:
            raise DataError(f"cannot parse time {cells[0]!r} in {time_column!r}", path, n) from None
        for j, cell in enumerate(cells[1:]):
            if cell is None or cell.strip().lower() in _NA:  # None: a JSON null
                values[k, j] = math.nan
                continue
            try:
                values[k, j] = float(cell)
            except ValueError:
                raise DataError(f"non-numeric value {cell!r} in {names[j]!r}", path, n) from None
            if not math.isfinite(values[k, j]):
                raise DataError(f"infinite value {cell!r} in {names[j]!r}", path, n)
    times = _coarsen(np.array(times))
    diffs = np.diff(times)
    if np.any(diffs <= np.timedelta64(0)):
        k = int(np.argmax(diffs <= np.timedelta64(0))) + 1
        raise DataError(f"time {times[k]} does not come after {times[k - 1]}", path, lines[k])
    step = regular_step(times)
    gaps = np.nonzero(diffs > step)[0]
    tail_times, tail = times[len(times) - horizon_rows :], values[len(values) - horizon_rows :]
    if horizon_rows:
        future = [names.index(c) for c in future_columns]
        for k in range(horizon_rows):
            for j in future:
                if np.isnan(tail[k, j]):
                    line = lines[len(lines) - horizon_rows + k]
                    raise DataError(
                        f"no value of the known-future column {names[j]!r} at horizon step "
                        f"{k + 1} of {horizon_rows} ({tail_times[k]}): the forecast needs it",
                        path, int(line),
                    )  # fmt: skip
        if len(gaps) and gaps[-1] >= len(times) - horizon_rows - 1:
            k = int(gaps[-1])
            raise DataError(f"the horizon rows must follow each other: gap after {times[k]}",
                            path, int(lines[k + 1]))  # fmt: skip
        times, values = times[:-horizon_rows], values[:-horizon_rows]
    nan_rows = np.nonzero(np.isnan(values).any(axis=1))[0]
    found: list[tuple[int, str]] = [
        (int(lines[k + 1]), f"gap of {diffs[k] // step - 1} missing step(s) after {times[k]}")
        for k in gaps
    ]
    for k in nan_rows:
        cols = [names[j] for j in np.nonzero(np.isnan(values[k]))[0]]
        found.append((int(lines[k]), f"missing value in {cols}"))
    found.sort()
    if found and missing == "error":
        line, problem = found[0]
        raise DataError(f"{problem} (pass missing='interpolate' or 'drop')", path, line)
    issues = [f"line {line}: {problem}" for line, problem in found]
    if missing == "drop" and len(nan_rows):
        keep = ~np.isnan(values).any(axis=1)
        times, values = times[keep], values[keep]
        issues.append(f"dropped {len(nan_rows)} row(s) with missing values")
    elif missing == "interpolate" and found:
        grid = np.arange(times[0], times[-1] + step, step)
        x_grid = (grid - grid[0]) / step
        x_rows = (times - grid[0]) / step
        filled = np.empty((len(grid), len(names)))
        for j, name in enumerate(names):
            ok = ~np.isnan(values[:, j])
            if not ok.any():
                raise DataError(f"column {name!r} has no values to interpolate from", path)
            filled[:, j] = np.interp(x_grid, x_rows[ok], values[ok, j])
        issues.append(
            f"interpolated {len(grid) - len(times)} missing step(s) and {len(nan_rows)} "
            "row(s) with missing values"
        )
        times, values = grid, filled
    if horizon_rows:
        times, values = np.concatenate([times, tail_times]), np.concatenate([values, tail])
    return TimeSeries(times, values, list(target_columns), list(covariate_columns), issues)
