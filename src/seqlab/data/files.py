"""Reading a file's bytes as text and as a table: the layer every text reader stands on.

Files may be gzip- or bzip2-compressed (``.gz``, ``.bz2``); text is UTF-8 unless told.
Every problem is one :class:`DataError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from .errors import DataError

Path_ = str | PathLike


def read_file_text(path: Path_, encoding: str = "utf-8") -> str:
    """The whole file as text (``.gz``/``.bz2`` decompressed); empty or undecodable files
    are errors naming the line of the first bad byte."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path=path) from None
    try:
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        elif path.suffix == ".bz2":
            raw = bz2.decompress(raw)
    except (OSError, EOFError, ValueError) as e:
        raise DataError(f"cannot decompress ({e})", path=path) from None
    if not raw.strip():
        raise DataError("file is empty", path=path)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"cannot decode byte {raw[e.start]:#04x} as {encoding} (pass encoding=...)",
            path=path,
            line=line,
        ) from None


FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is None:
        suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2")]
        fmt = FORMATS.get(suffixes[-1].lower() if suffixes else "")
        if fmt is None:
            raise DataError(
                "cannot tell the format from the name; pass fmt='csv', 'tsv' or 'jsonl'",
                path=path,
            )
    if fmt not in ("csv", "tsv", "jsonl"):
        raise ValueError(f"fmt must be 'csv', 'tsv' or 'jsonl', got {fmt!r}")
    return fmt


def read_table(
    path: Path_, columns: Sequence[str], fmt: str | None = None, encoding: str = "utf-8"
) -> list[tuple[int, list[str]]]:
    """Rows of a CSV/TSV (with a header) or JSONL file as (line, [value per column])."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    text = read_file_text(path, encoding)
    rows: list[tuple[int, list[str]]] = []
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"not valid JSON ({e.msg})", path=path, line=n) from None
            if not isinstance(obj, dict):
                raise DataError(f"expected a JSON object, got {type(obj).__name__}", path, n)
            missing = [c for c in columns if c not in obj]
            if missing:
                raise DataError(f"missing key(s) {missing}; keys are {list(obj)}", path, n)
            rows.append((n, [str(obj[c]) for c in columns]))
        return rows
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="," if fmt == "csv" else "\t")
    try:
        header = next(reader)
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(f"missing column(s) {missing}; the header is {header}", path, 1)
        where = [header.index(c) for c in columns]
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"expected {len(header)} fields as in the header, got {len(row)}",
                    path,
                    reader.line_num,
                )
            rows.append((reader.line_num, [row[i] for i in where]))
    except csv.Error as e:
        raise DataError(f"malformed {fmt.upper()} ({e})", path, reader.line_num) from None
    return rows
