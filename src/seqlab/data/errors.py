"""``DataError``: the one error every reader raises, naming the file, the line and the problem.

>>> str(DataError("expected 2 fields, got 3", path="train.tsv", line=7))
'train.tsv, line 7: expected 2 fields, got 3'
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import BinaryIO


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


@contextmanager
def atomic_write(path: str | PathLike) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` whole or not at all: written to a temporary
    file beside it (a unique name, so two writers never share one), flushed to disk, then
    renamed over ``path``; on an error the temporary file is removed and ``path`` is left
    as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | PathLike, data: object) -> None:
    """Write ``data`` as UTF-8 JSON atomically (:func:`atomic_write`), so a crash never
    leaves a half-written vocabulary or scaler."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def read_json(path: str | PathLike) -> object:
    """Read a JSON file; a malformed one is a :class:`DataError` naming file and line."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except json.JSONDecodeError as e:
        raise DataError(f"not valid JSON: {e.msg}", path=path, line=e.lineno) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 ({e.reason})", path=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a JSON file", path=path) from None
    except OSError as e:
        raise DataError(f"cannot be read ({e.strerror or e})", path=path) from None
