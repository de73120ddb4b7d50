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
The containers (:mod:`.containers`) are sequences of examples (``len``, indexing), ready
for a collate after encoding. Decompressing, decoding and splitting a table is
:mod:`.files`; the time-series reader is :mod:`.series`. Every name is importable from
here and from :mod:`seqlab.data`, as before the split.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from .containers import LabelledTexts, NumericSequences, TaggedSentences, TextPairs, TimeSeries
from .errors import DataError
from .files import FORMATS, Path_, read_file_text, read_table
from .series import parse_time, read_time_series, regular_step

__all__ = [
    "FORMATS",
    "LabelledTexts",
    "NumericSequences",
    "TaggedSentences",
    "TextPairs",
    "TimeSeries",
    "parse_time",
    "read_classification",
    "read_conll",
    "read_file_text",
    "read_npz",
    "read_parallel",
    "read_table",
    "read_text",
    "read_time_series",
    "regular_step",
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
