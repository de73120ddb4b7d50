"""Readers for a user's own files; every problem is one :class:`DataError` naming file and line.

=================== ============================================ =====================
reader               file                                         returns
=================== ============================================ =====================
read_text            text file(s), one stream (language models)   str
read_classification  CSV / TSV / JSONL with text and label        LabelledTexts
read_conll           token<TAB>tag lines, blank between sentences  TaggedSentences
read_parallel        source<TAB>target lines (encoder-decoder)      TextPairs
read_npz             .npz with x (N, T, C), y (N,), [lengths (N,)]  NumericSequences
read_time_series     CSV: a time column and value columns          TimeSeries
=================== ============================================ =====================

Files may be gzip- or bzip2-compressed (``.gz``, ``.bz2``); text is UTF-8 unless told.
The containers are sequences of examples (``len``, indexing), ready for a collate after
encoding.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from pathlib import Path

import numpy as np

from .errors import DataError

Path_ = str | PathLike


# ----------------------------------------------------------------------------- containers


@dataclass
class LabelledTexts:
    """Texts with one label each (many-to-one classification)."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.texts[i], self.labels[i]

    @property
    def label_names(self) -> list[str]:
        """The sorted label set; a label's class id is its position here."""
        return sorted(set(self.labels))

    def label_ids(self, names: Sequence[str] | None = None) -> list[int]:
        """Class ids by ``names`` (default :attr:`label_names`; pass the training split's)."""
        index = {n: i for i, n in enumerate(names if names is not None else self.label_names)}
        missing = sorted(set(self.labels) - index.keys())
        if missing:
            raise DataError(f"labels {missing} are not among the known labels {list(index)}")
        return [index[y] for y in self.labels]


@dataclass
class TextPairs:
    """(source, target) string pairs (encoder-decoder)."""

    pairs: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.pairs[i]


@dataclass
class TaggedSentences:
    """Sentences as (tokens, tags) with one tag per token (many-to-many tagging)."""

    sentences: list[tuple[list[str], list[str]]]

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[list[str], list[str]]:
        return self.sentences[i]

    @property
    def tag_names(self) -> list[str]:
        return sorted({t for _, tags in self.sentences for t in tags})


@dataclass
class NumericSequences:
    """Float sequences (T_i, C) with one label each; ``labels`` is (N,) (ints or floats)."""

    sequences: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sequences[i], self.labels[i]

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


@dataclass
class TimeSeries:
    """A regular time series: ``values`` (N, O + F), the targets first, then covariates.

    ``issues`` lists the gaps and missing values found in the file and what was done.
    """

    times: np.ndarray
    values: np.ndarray
    target_names: list[str]
    covariate_names: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def targets(self) -> np.ndarray:
        """(N, O)"""
        return self.values[:, : len(self.target_names)]

    @property
    def covariates(self) -> np.ndarray:
        """(N, F)"""
        return self.values[:, len(self.target_names) :]


# ----------------------------------------------------------------------------- raw text


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


def read_text(paths: Path_ | Iterable[Path_], encoding: str = "utf-8") -> str:
    """One stream for language modelling: the files' texts, concatenated in order."""
    if isinstance(paths, str | PathLike):
        paths = [paths]
    texts = [read_file_text(p, encoding) for p in paths]
    if not texts:
        raise DataError("no text files given")
    return "".join(texts)


# ----------------------------------------------------------------------------- classification

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


def read_classification(
    path: Path_,
    text_column: str = "text",
    label_column: str = "label",
    fmt: str | None = None,
    labels: Iterable[str] | None = None,
    encoding: str = "utf-8",
) -> LabelledTexts:
    """Texts and labels from CSV/TSV (header row) or JSONL (one object per line).

    ``labels``: the label set of the training split; a label outside it is an error (so a
    validation file cannot bring a class the model has never seen).
    """
    known = None if labels is None else set(labels)
    rows = read_table(path, [text_column, label_column], fmt, encoding)
    if not rows:
        raise DataError("no examples after the header", path=path)
    texts, ys = [], []
    for n, (text, label) in rows:
        if not text.strip():
            raise DataError(f"empty text in column {text_column!r}", path, n)
        if not label.strip():
            raise DataError(f"empty label in column {label_column!r}", path, n)
        if known is not None and label not in known:
            raise DataError(
                f"label {label!r} is not in the training label set {sorted(known)}", path, n
            )
        texts.append(text)
        ys.append(label)
    return LabelledTexts(texts, ys)


# ----------------------------------------------------------------------------- tagging


def _check_bio(tag: str, path: Path, line: int) -> None:
    if tag == "O":
        return
    prefix, _, kind = tag.partition("-")
    if prefix not in ("B", "I") or not kind:
        raise DataError(f"tag {tag!r} is not BIO (expected 'O', 'B-TYPE' or 'I-TYPE')", path, line)


def read_conll(
    path: Path_,
    token_column: int = 0,
    tag_column: int = -1,
    scheme: str | None = "bio",
    encoding: str = "utf-8",
) -> TaggedSentences:
    """CoNLL-style: one ``token<TAB>tag`` line per token (more columns allowed: pick them by
    index), a blank line between sentences, ``-DOCSTART-`` lines skipped. With
    ``scheme="bio"`` every tag must be ``O``, ``B-TYPE`` or ``I-TYPE``."""
    if scheme not in ("bio", None):
        raise ValueError(f"scheme must be 'bio' or None, got {scheme!r}")
    path = Path(path)
    text = read_file_text(path, encoding)
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    width = None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"expected token<TAB>tag, got {line!r}", path, n)
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            problem = f"expected {width} fields as on earlier lines, got {len(fields)}"
            raise DataError(problem, path, n)
        try:
            token, tag = fields[token_column], fields[tag_column]
        except IndexError:
            problem = f"no column {token_column} or {tag_column} in {fields}"
            raise DataError(problem, path, n) from None
        if not token or not tag:
            raise DataError(f"empty token or tag in {line!r}", path, n)
        if scheme == "bio":
            _check_bio(tag, path, n)
        tokens.append(token)
        tags.append(tag)
    if tokens:
        sentences.append((tokens, tags))
    if not sentences:
        raise DataError("no sentences", path=path)
    return TaggedSentences(sentences)


# ----------------------------------------------------------------------------- parallel


def read_parallel(path: Path_, encoding: str = "utf-8") -> TextPairs:
    """``source<TAB>target`` per line; blank lines are skipped."""
    path = Path(path)
    text = read_file_text(path, encoding)
    pairs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"expected 2 tab-separated fields, got {len(fields)}", path, n)
        if not fields[0].strip() or not fields[1].strip():
            raise DataError("empty source or target", path, n)
        pairs.append((fields[0], fields[1]))
    return TextPairs(pairs)


# ----------------------------------------------------------------------------- numeric


def read_npz(path: Path_) -> NumericSequences:
    """Numeric sequences for classification or regression from an ``.npz``:

    * ``x``: float (N, T, C), or (N, T) for one channel, or an object array of (T_i, C)
      arrays; ``y``: (N,) labels; optional ``lengths`` (N,): the real length of each
      padded row of ``x`` (steps past it are dropped).

    An object array is stored with pickle, which can run code: load such files only from
    sources you trust (plain float arrays are read without pickle).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files if k != "x"}
            try:
                x = z["x"]
            except ValueError:  # an object array needs pickle
                with np.load(path, allow_pickle=True) as zp:
                    x = zp["x"]
            except KeyError:
                raise DataError(f"missing array 'x'; arrays are {z.files}", path=path) from None
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"not a readable .npz ({e})", path=path) from None
    if "y" not in data:
        raise DataError(f"missing array 'y'; arrays are {['x', *data]}", path=path)
    y = data["y"]
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"'y' must be (N,) with N = {len(x)}, got shape {y.shape}", path=path)
    if x.dtype == object:
        seqs = [np.asarray(s) for s in x]
    else:
        if x.ndim == 2:
            x = x[:, :, None]  # (N, T, 1)
        if x.ndim != 3:
            raise DataError(f"'x' must be (N, T, C), got shape {x.shape}", path=path)
        seqs = list(x)
    if "lengths" in data:
        lengths = data["lengths"]
        if x.dtype == object or lengths.shape != (len(seqs),):
            raise DataError(f"'lengths' must be (N,) = ({len(seqs)},) for a padded 'x'", path)
        for i, n in enumerate(lengths):
            if not 1 <= n <= len(seqs[i]):
                raise DataError(f"example {i}: length {n} not in [1, {len(seqs[i])}]", path)
        seqs = [s[: int(n)] for s, n in zip(seqs, lengths, strict=True)]
    out = []
    channels = None
    for i, s in enumerate(seqs):
        if s.ndim == 1:
            s = s[:, None]
        if s.ndim != 2 or len(s) == 0:
            raise DataError(f"example {i}: expected a non-empty (T, C) array, got {s.shape}", path)
        if not np.issubdtype(s.dtype, np.number):
            raise DataError(f"example {i}: non-numeric dtype {s.dtype}", path)
        channels = s.shape[1] if channels is None else channels
        if s.shape[1] != channels:
            raise DataError(f"example {i}: {s.shape[1]} channels, example 0 has {channels}", path)
        bad = np.argwhere(~np.isfinite(s))
        if len(bad):
            t, c = bad[0]
            raise DataError(f"example {i}, step {t}, channel {c}: value {s[t, c]}", path)
        out.append(s.astype(np.float32))
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
        raise DataError("'y' must be finite numbers", path=path)
    return NumericSequences(out, y)


# ----------------------------------------------------------------------------- time series

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
) -> TimeSeries:
    """A CSV with a time column and value columns: the targets to forecast, and covariates.

    Times must increase strictly. Gaps (a step larger than the most common one) and
    missing values (empty, NA, NaN) are found and reported:

    * ``missing="error"`` (default): the first one is a :class:`DataError` naming its line;
    * ``"interpolate"``: put the series on the regular time grid and fill every missing
      value linearly in time (ends take the nearest value);
    * ``"drop"``: drop rows with a missing value; gaps are left as they are.

    What was found and done is in ``TimeSeries.issues``.
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    if isinstance(target_columns, str):
        target_columns = [target_columns]
    if not target_columns:
        raise ValueError("target_columns must name at least one column")
    path = Path(path)
    names = [*target_columns, *covariate_columns]
    rows = read_table(path, [time_column, *names], fmt, encoding)
    if len(rows) < 2:
        raise DataError(f"need at least 2 rows of data, got {len(rows)}", path=path)
    lines = np.array([n for n, _ in rows])
    times, values = [], np.empty((len(rows), len(names)))
    for k, (n, cells) in enumerate(rows):
        try:
            times.append(parse_time(cells[0], time_format))
        except ValueError:
            raise DataError(f"cannot parse time {cells[0]!r} in {time_column!r}", path, n) from None
        for j, cell in enumerate(cells[1:]):
            if cell.strip().lower() in _NA:
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
    return TimeSeries(times, values, list(target_columns), list(covariate_columns), issues)
