"""Synthetic sequence tasks, generated from a seed (no files, no packages).

* :func:`adding_problem` and :func:`copy_memory` are the stress tests of long memory as
  in Bai, Kolter & Koltun (2018), "An empirical evaluation of generic convolutional and
  recurrent networks for sequence modeling", Sec. 5.1 (and their locuslab/TCN code).
* :func:`reversal` and :func:`date_conversion` are small encoder-decoder tasks.

>>> data = adding_problem(4, length=50, seed=0)
>>> x, y = data[0]
>>> x.shape, float(x[:, 1].sum())       # (T, 2): values and the two markers
((50, 2), 2.0)
>>> x, y = copy_memory(2, length=30, seed=0)[0]
>>> x.shape, y.shape                     # T + 20 steps each
(torch.Size([50]), torch.Size([50]))
>>> reversal(1, min_length=3, max_length=3, seed=1)[0]
('mnt', 'tnm')
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..checks import check_int
from .containers import NumericSequences, TextPairs


def _check(name: str, value: int, low: int) -> int:
    return check_int(name, value, min=low)


def adding_problem(n: int = 10_000, length: int = 200, seed: int = 0) -> NumericSequences:
    """Inputs (T, 2): channel 0 uniform in [0, 1], channel 1 zero but for two 1s at two
    distinct random steps; the target is the sum of the two marked values.

    Predicting the mean 1 gives MSE = 2 * Var(U[0,1]) = 1/6 ≈ 0.1667 (the trivial
    baseline a model must beat; the TCN paper quotes ≈ 0.1767 on its sample).
    """
    _check("n", n, 1)
    _check("length", length, 2)
    rng = np.random.default_rng(seed)
    values = rng.random((n, length))
    marks = np.zeros((n, length))
    picks = np.argsort(rng.random((n, length)), axis=1)[:, :2]  # two distinct steps per row
    np.put_along_axis(marks, picks, 1.0, axis=1)
    x = np.stack([values, marks], axis=2).astype(np.float32)  # (N, T, 2)
    y = (values * marks).sum(axis=1).astype(np.float32)  # (N,)
    return NumericSequences(list(x), y)


def copy_memory(n: int = 10_000, length: int = 1000, seed: int = 0) -> TensorDataset:
    """Copy memory over symbols 0..9 (0 blank, 9 delimiter), as in Bai et al. (2018).

    inputs  = 10 random digits in 1..8, then ``length - 1`` blanks, then eleven 9s
    targets = ``length + 10`` blanks, then the 10 digits

    Both (N, length + 20) int64; a many-to-many task (use ``collate_tagging``). A model
    that outputs blanks and then guesses uniformly among 1..8 has cross-entropy
    ``10 ln 8 / (length + 20)`` per step, the baseline to beat.
    """
    _check("n", n, 1)
    _check("length", length, 1)
    g = torch.Generator().manual_seed(seed)
    digits = torch.randint(1, 9, (n, 10), generator=g)
    blanks = torch.zeros(n, length, dtype=torch.long)
    marker = torch.full((n, 11), 9, dtype=torch.long)
    inputs = torch.cat([digits, blanks[:, :-1], marker], dim=1)  # (N, T + 20)
    targets = torch.cat([torch.zeros(n, 10, dtype=torch.long), blanks, digits], dim=1)
    return TensorDataset(inputs, targets)


def reversal(
    n: int = 10_000,
    min_length: int = 5,
    max_length: int = 20,
    alphabet: str = "abcdefghijklmnopqrstuvwxyz",
    seed: int = 0,
) -> TextPairs:
    """Random strings over ``alphabet`` (lengths uniform in [min, max]) and their reverse."""
    _check("n", n, 1)
    _check("min_length", min_length, 1)
    _check("max_length", max_length, min_length)
    if not alphabet:
        raise ValueError("alphabet must not be empty")
    rng = np.random.default_rng(seed)
    letters = np.array(list(alphabet))
    pairs = []
    for k in rng.integers(min_length, max_length + 1, size=n):
        s = "".join(rng.choice(letters, size=k))
        pairs.append((s, s[::-1]))
    return TextPairs(pairs)


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DATE_FORMATS = ("{d} {M} {Y}", "{M} {d}, {Y}", "{dd}/{mm}/{Y}", "{W}, {d} {M} {Y}",
                "{d} {Mon} {Y}", "{Y}.{mm}.{dd}", "{W} {Mon} {d} {Y}")  # fmt: skip


def date_conversion(
    n: int = 10_000, first_year: int = 1950, last_year: int = 2049, seed: int = 0
) -> TextPairs:
    """Human-written dates to ISO 8601: ``"Tuesday, 3 May 1994"`` -> ``"1994-05-03"``.

    Sources use the formats in :data:`DATE_FORMATS` (English names, day before month in
    the numeric form), dates uniform between Jan 1 of ``first_year`` and Dec 31 of
    ``last_year``.
    """
    _check("n", n, 1)
    _check("last_year", last_year, first_year)
    rng = np.random.default_rng(seed)
    start = np.datetime64(f"{first_year:04d}-01-01")
    days = (np.datetime64(f"{last_year + 1:04d}-01-01") - start).astype(int)
    pairs = []
    for offset, f in zip(
        rng.integers(0, days, size=n), rng.integers(0, len(DATE_FORMATS), size=n), strict=True
    ):
        date = (start + offset).item()  # datetime.date
        month = MONTHS[date.month - 1]
        source = DATE_FORMATS[f].format(
            d=date.day, dd=f"{date.day:02d}", mm=f"{date.month:02d}", Y=date.year,
            M=month, Mon=month[:3], W=DAYS[date.weekday()],
        )  # fmt: skip
        pairs.append((source, date.isoformat()))
    return TextPairs(pairs)
