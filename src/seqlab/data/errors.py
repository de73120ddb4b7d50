"""``DataError``: the one error every reader raises, naming the file, the line and the problem.

>>> str(DataError("expected 2 fields, got 3", path="train.tsv", line=7))
'train.tsv, line 7: expected 2 fields, got 3'
"""

from __future__ import annotations

from os import PathLike


class DataError(ValueError):
    """Malformed or missing data. ``path`` and ``line`` (1-based) are kept as attributes."""

    def __init__(self, problem: str, path: str | PathLike | None = None, line: int | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.line = line
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)


class MissingPackageError(DataError, ImportError):
    """A registered dataset whose package is not installed; the message says what to install."""
