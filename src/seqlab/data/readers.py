"""Readers for a user's own files; every problem is one :class:`DataError` naming file and line.

=================== ============================================ =====================
reader               file                                         returns
=================== ============================================ =====================
read_text            text file(s), one stream (language models)   str
read_classification  CSV / TSV / JSONL with text and label        LabelledTexts
read_featured_texts  CSV / TSV / JSONL with text and number columns FeaturedTexts
read_conll           token<TAB>tag lines, blank between sentences  TaggedSentences
read_parallel        source<TAB>target lines (encoder-decoder)      TextPairs
read_npz             .npz: x padded or ragged, y (N,); no pickle     NumericSequences
read_ts              .ts (UEA/sktime): series with a label each      NumericSequences
read_time_series     CSV: a time column and value columns          TimeSeries
=================== ============================================ =====================

Files may be gzip- or bzip2-compressed (``.gz``, ``.bz2``); text is UTF-8 unless told.
The containers (:mod:`.containers`) are sequences of examples (``len``, indexing), ready
for a collate after encoding. Decompressing, decoding and splitting a table is
:mod:`.files`; the time-series reader is :mod:`.series`. Every name is importable from
here and from :mod:`seqlab.data`, as before the split.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from ..checks import check_choice, check_int
from .containers import (
    FeaturedTexts,
    LabelledTexts,
    NumericSequences,
    TaggedSentences,
    TextPairs,
    TimeSeries,
)
from .errors import DataError
from .files import FORMATS, Path_, iter_lines, read_file_text, read_table
from .npz import read_npz, save_npz
from .series import parse_time, read_time_series, regular_step
from .ts import read_ts

__all__ = [
    "FORMATS",
    "FeaturedTexts",
    "LabelledTexts",
    "NumericSequences",
    "TaggedSentences",
    "TextPairs",
    "TimeSeries",
    "parse_time",
    "read_classification",
    "read_conll",
    "read_featured_texts",
    "read_file_text",
    "read_npz",
    "read_parallel",
    "read_table",
    "read_text",
    "read_time_series",
    "read_ts",
    "regular_step",
    "save_npz",
]


# ----------------------------------------------------------------------------- raw text


def read_text(paths: Path_ | Iterable[Path_], encoding: str = "utf-8") -> str:
    """One stream for language modelling: the files' texts, concatenated in order."""
    if isinstance(paths, str | PathLike):
        paths = [paths]
    texts = [read_file_text(p, encoding) for p in paths]
    if not texts:
        raise DataError("no text files given")
    return "".join(texts)


# ----------------------------------------------------------------------------- classification


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
    if isinstance(labels, str):
        raise ValueError(f"labels must be a collection of label names, got the string {labels!r}")
    if text_column == label_column:
        raise ValueError(f"text_column and label_column are both {text_column!r}")
    known = None if labels is None else set(labels)
    rows = read_table(path, [text_column, label_column], fmt, encoding)
    if not rows:
        raise DataError("no examples after the header", path=path)
    texts, ys = [], []
    for n, (text, label) in rows:
        for column, value in ((text_column, text), (label_column, label)):
            if value is None:
                raise DataError(f"{column!r} is null, expected a string", path, n)
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
    check_choice("scheme", scheme, ("bio", None))
    check_int("token_column", token_column)
    check_int("tag_column", tag_column)
    path = Path(path)
    text = read_file_text(path, encoding)
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    width = None
    for n, line in iter_lines(text):
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
    for n, line in iter_lines(text):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"expected 2 tab-separated fields, got {len(fields)}", path, n)
        if not fields[0].strip() or not fields[1].strip():
            raise DataError("empty source or target", path, n)
        pairs.append((fields[0], fields[1]))
    return TextPairs(pairs)


# ----------------------------------------------------------------------------- texts and numbers


def read_featured_texts(
    path: Path_,
    text_column: str = "text",
    feature_columns: Sequence[str] = (),
    fmt: str | None = None,
    encoding: str = "utf-8",
) -> FeaturedTexts:
    """Texts and a vector of numbers each from CSV/TSV (header row) or JSONL: the text in
    ``text_column``, the vector's values in ``feature_columns`` (one number per column, in
    that order). A missing, non-numeric or non-finite value is an error naming its line
    and column."""
    if isinstance(feature_columns, str) or not feature_columns:
        raise ValueError(f"feature_columns must be a list of column names, got {feature_columns!r}")
    columns = [text_column, *feature_columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise ValueError(f"column(s) {twice} named twice among the text and feature columns")
    rows = read_table(path, columns, fmt, encoding)
    if not rows:
        raise DataError("no examples after the header", path=path)
    texts, values = [], []
    for n, (text, *cells) in rows:
        if text is None:
            raise DataError(f"{text_column!r} is null, expected a string", path, n)
        if not text.strip():
            raise DataError(f"empty text in column {text_column!r}", path, n)
        row = []
        for column, cell in zip(feature_columns, cells, strict=True):
            try:
                value = float(cell)
            except (TypeError, ValueError):
                shown = "null" if cell is None else repr(cell)
                raise DataError(
                    f"column {column!r} is {shown}, expected a number", path, n
                ) from None
            if not math.isfinite(value):
                raise DataError(f"column {column!r} is {cell!r}, expected a finite number", path, n)
            row.append(value)
        texts.append(text)
        values.append(row)
    return FeaturedTexts(texts, np.asarray(values, dtype=np.float64), list(feature_columns))
