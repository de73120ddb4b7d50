"""Variance-stabilizing transforms of a positive series, fitted on its training part.

Box-Cox (Box & Cox 1964)::

    y = (x^lambda - 1) / lambda      lambda != 0
    y = log x                        lambda == 0
    x = (lambda y + 1)^(1 / lambda)  the inverse (exp y for lambda == 0)

``lambda`` is chosen by Guerrero's method (Guerrero 1993, as R's
``forecast::BoxCox.lambda`` does by default): cut the series into blocks of one season,
and take the ``lambda`` in [-1, 2] that makes ``sd_i / mean_i^(1 - lambda)`` most nearly
constant over the blocks (the least coefficient of variation). A series whose seasonal
swing grows with its level (airline passengers) gets a lambda near 0, the log.

:func:`choose_transform` is what ``transform: auto`` of the forecasting task does: the
log when every value is > 0 and Guerrero's lambda is below 0.5 (nearer the log than no
transform), else none.

>>> x = np.exp(np.linspace(0, 3, 48)) * (1.5 + np.sin(np.arange(48) * np.pi / 6))
>>> round(guerrero_lambda(x, 12), 2), choose_transform(x, 12)
(0.0, 'log')
>>> y = boxcox(x, 0.5)
>>> bool(np.allclose(inv_boxcox(y, 0.5), x))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["boxcox", "check_positive", "choose_transform", "guerrero_lambda", "inv_boxcox"]

LAMBDAS = np.round(np.linspace(-1.0, 2.0, 61), 10)  # the grid Guerrero's method searches


def check_positive(values: np.ndarray, what: str, names: Sequence[str] = ()) -> None:
    """A log or Box-Cox transform needs every value > 0: else a ``ValueError`` naming
    the first value, its column and step."""
    values = np.asarray(values)
    bad = np.argwhere(values <= 0)
    if len(bad):
        where = tuple(bad[0])
        col = int(where[-1]) if values.ndim > 1 else 0
        name = names[col] if col < len(names) else str(col)
        raise ValueError(
            f"{what} needs values > 0, but column {name!r} has {values[where]:g} at step "
            f"{int(where[0])}"
        )


def guerrero_lambda(x: np.ndarray, season: int) -> float:
    """Guerrero's Box-Cox lambda of the positive series ``x`` (N,), blocks of ``season``
    steps (at least 2); the last full blocks are used."""
    x = np.asarray(x, dtype=np.float64)
    check_positive(x, "guerrero_lambda")
    m = max(int(season), 2)
    n = len(x) // m
    if n < 2:
        raise ValueError(f"guerrero_lambda needs 2 blocks of {m} steps, got {len(x)} steps")
    blocks = x[len(x) - n * m :].reshape(n, m)
    mean, sd = blocks.mean(1), blocks.std(1, ddof=1)
    best, best_cv = 1.0, np.inf
    for lam in LAMBDAS:
        ratio = sd / mean ** (1 - lam)
        cv = ratio.std(ddof=1) / ratio.mean() if ratio.mean() > 0 else np.inf
        if cv < best_cv - 1e-12:
            best, best_cv = float(lam), cv
    return best


def boxcox(x, lam: float):
    """The Box-Cox transform of ``x`` > 0 (the log for ``lam == 0``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.log(x) if lam == 0 else (x**lam - 1) / lam


def inv_boxcox(y, lam: float):
    """The inverse of :func:`boxcox`; values below its range (``lam y + 1 <= 0``) clip
    at the smallest positive value, so a forecast never comes out NaN."""
    y = np.asarray(y, dtype=np.float64)
    if lam == 0:
        return np.exp(y)
    base = np.maximum(lam * y + 1, np.finfo(np.float64).tiny)
    return base ** (1 / lam)


def choose_transform(x: np.ndarray, season: int) -> str | None:
    """``"log"`` when every value of ``x`` is > 0 and Guerrero's lambda is < 0.5, else
    ``None`` (also for a series too short for two seasons)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2 * max(season, 2) or not np.all(x > 0):
        return None
    return "log" if guerrero_lambda(x, season) < 0.5 else None
