"""Reading a file's bytes as text and as a table: the layer every text reader stands on.

Files may be gzip- or bzip2-compressed (``.gz``, ``.bz2``); text is UTF-8 unless told
(a UTF-8 byte-order mark, as Excel writes, is dropped). Every problem is one
:class:`DataError` naming the file and, where there is one, the line:

* bytes that decode but are not text — NUL or other control characters, as UTF-16 read
  as UTF-8 gives — are refused, with the encoding to pass when it can be told;
* lines end at ``\n``, ``\r\n`` or ``\r`` only (never at the other characters
  ``str.splitlines`` breaks on, such as U+2028 inside a text);
* CSV follows RFC 4180 (quoted fields may hold commas, quotes and newlines; fields of
  any length); TSV has no quoting (a field holds no tab or newline, and a ``"`` is just
  a character); JSONL is one object per line, and a value that is null, a list or an
  object where text is expected is an error, never its Python ``str``.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path

from ..checks import check_choice
from .errors import DataError

Path_ = str | PathLike


FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
_CSV_LOCK = threading.Lock()
CSV_FIELD_LIMIT = 2**31 - 1  # the csv module's default, 131,072 characters, refuses real data
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# C0 controls (and DEL) that never occur in text; tab, newlines, \v and \f do
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; an unknown one is a ``ValueError`` naming the argument."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):  # base64, zlib, ...
        raise ValueError(
            f"encoding must be the name of a text codec such as 'utf-8', got {encoding!r}"
        )
    return info.name


def _decompress(raw: bytes, path: Path) -> bytes:
    suffix = path.suffix.lower()
    try:
        if suffix == ".gz":
            return gzip.decompress(raw)
        if suffix == ".bz2":
            return bz2.decompress(raw)
    except (OSError, EOFError, ValueError, zlib.error) as e:
        kind = "gzip" if suffix == ".gz" else "bzip2"
        raise DataError(f"not a readable {kind} file, corrupt or truncated ({e})", path) from None
    return raw


def _encoding_hint(raw: bytes, otherwise: str = " (pass encoding=...)") -> str:
    """What the bytes look like, when that tells which encoding or format they are in."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "; it starts with a UTF-16 byte-order mark: pass encoding='utf-16'"
    head = raw[:4096]
    if len(head) >= 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) // 4 and even == 0:
            return "; it looks like UTF-16 little-endian: pass encoding='utf-16-le'"
        if even > len(head) // 4 and odd == 0:
            return "; it looks like UTF-16 big-endian: pass encoding='utf-16-be'"
    if raw.startswith(b"\x1f\x8b"):
        return "; it is gzip-compressed: name it with a .gz suffix"
    if raw.startswith(b"BZh"):
        return "; it is bzip2-compressed: name it with a .bz2 suffix"
    if raw.startswith(b"PK\x03\x04"):
        return "; it is a zip archive"
    return otherwise


def given_root(root: str | PathLike, dataset: str, layout: str) -> Path:
    """A ``root=`` the caller passed: it must be a folder; the error names the argument and
    the layout expected under it (not the package to install: the caller chose a folder)."""
    if not isinstance(root, str | PathLike):
        raise ValueError(f"root must be a folder path (str or PathLike), got {root!r}")
    folder = Path(root)
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise DataError(
            f"root={str(root)!r} for dataset {dataset!r} {what}; expected a folder with {layout}"
        )
    return folder


def read_file_bytes(path: Path_) -> bytes:
    """The file's bytes, ``.gz``/``.bz2`` decompressed; a missing, unreadable, corrupt or
    truncated file is a :class:`DataError` naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", path=path) from None
    except PermissionError:
        raise DataError("permission denied", path=path) from None
    return _decompress(raw, path)


def read_file_text(path: Path_, encoding: str = "utf-8") -> str:
    """The whole file as text (``.gz``/``.bz2`` decompressed, a UTF-8 BOM dropped).

    Empty files, undecodable bytes and decoded text holding control characters (binary
    data, or text of another encoding) are errors naming the line of the first one."""
    codec = check_encoding(encoding)
    path = Path(path)
    raw = read_file_bytes(path)
    if not raw.strip():
        raise DataError("file is empty", path=path)
    try:
        text = raw.decode(codec).removeprefix("\ufeff")  # a byte-order mark is no text
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"cannot decode byte {raw[e.start]:#04x} as {encoding}{_encoding_hint(raw)}",
            path=path,
            line=line,
        ) from None
    bad = _CONTROL.search(text)
    if bad:
        line = len(_LINE_BREAK.findall(text, 0, bad.start())) + 1
        hint = _encoding_hint(raw, " (binary data, or text in another encoding: pass encoding=...)")
        raise DataError(
            f"control character U+{ord(bad.group()):04X}: this is not {encoding} text{hint}",
            path=path,
            line=line,
        )
    return text


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` from 1, split at ``\\n``, ``\\r\\n`` or ``\\r`` only."""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the break that ends the last line
    return enumerate(lines, start=1)


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is None:
        suffixes = [s for s in path.suffixes if s.lower() not in (".gz", ".bz2")]
        fmt = FORMATS.get(suffixes[-1].lower() if suffixes else "")
        if fmt is None:
            raise DataError(
                "cannot tell the format from the name; pass fmt='csv', 'tsv' or 'jsonl'",
                path=path,
            )
    return check_choice("fmt", fmt, ("csv", "tsv", "jsonl"))


def _json_cell(obj: dict, key: str, path: Path, line: int) -> str | None:
    """A JSON value as a table cell: strings as they are, numbers as written, null as None
    (a missing value, for the caller to refuse or fill); anything else is an error."""
    value = obj[key]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    kind = {bool: "a boolean", list: "a list", dict: "an object"}[type(value)]
    raise DataError(
        f"key {key!r} is {kind} ({json.dumps(value)[:40]}), expected a string or a number",
        path,
        line,
    )


def _header(header: list[str], columns: Sequence[str], path: Path) -> list[int]:
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"missing column(s) {missing}; the header is {header}", path, 1)
    twice = sorted({c for c in columns if header.count(c) > 1})
    if twice:
        raise DataError(f"column(s) {twice} appear more than once in the header", path, 1)
    return [header.index(c) for c in columns]


def read_table(
    path: Path_, columns: Sequence[str], fmt: str | None = None, encoding: str = "utf-8"
) -> list[tuple[int, list[str | None]]]:
    """Rows of a CSV/TSV (with a header) or JSONL file as (line, [value per column]).

    Values are strings; a JSON ``null`` is ``None`` (callers decide what a missing value
    means)."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    text = read_file_text(path, encoding)
    rows: list[tuple[int, list[str | None]]] = []
    if fmt == "jsonl":
        for n, line in iter_lines(text):
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
            rows.append((n, [_json_cell(obj, c, path, n) for c in columns]))
        return rows
    if fmt == "tsv":
        lines = iter_lines(text)
        n, first = next(lines)
        header = first.split("\t")
        where = _header(header, columns, path)
        for n, line in lines:
            if not line:
                continue
            row = line.split("\t")
            if len(row) != len(header):
                problem = f"expected {len(header)} fields as in the header, got {len(row)}"
                raise DataError(problem, path, n)
            rows.append((n, [row[i] for i in where]))
        return rows
    with _CSV_LOCK:  # the limit is process-wide: raised while we read, then put back
        limit = csv.field_size_limit()
        csv.field_size_limit(max(limit, CSV_FIELD_LIMIT))
        try:
            return _csv_rows(text, columns, path)
        finally:
            csv.field_size_limit(limit)


def _csv_rows(text: str, columns: Sequence[str], path: Path) -> list[tuple[int, list[str | None]]]:
    rows: list[tuple[int, list[str | None]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        where = _header(header, columns, path)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                problem = f"expected {len(header)} fields as in the header, got {len(row)}"
                raise DataError(problem, path, reader.line_num)
            rows.append((reader.line_num, [row[i] for i in where]))
    except csv.Error as e:
        raise DataError(f"malformed CSV ({e})", path, reader.line_num) from None
    return rows
