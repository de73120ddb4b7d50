"""Numeric sequences in an ``.npz``, read without unpickling anything by default.

Two layouts, both plain numeric arrays (no pickle, so reading one can run no code):

``y`` is numbers (class ids, any integers, or regression targets) or label names (a
``str`` array such as ``np.array(["walk", "run"])``, saved without pickle).

* **padded**: ``x`` float (N, T, C), or (N, T) for one channel, ``y`` (N,), and optionally
  ``lengths`` (N,) ints, the real length of each row (steps past it are dropped);
* **ragged**: ``x`` the N sequences concatenated along time, (sum T_i, C) or (sum T_i,),
  ``offsets`` (N + 1,) ints where sequence i is ``x[offsets[i]:offsets[i + 1]]``, and
  ``y`` (N,). :func:`save_npz` writes it.

A list of arrays of different lengths saved as is (``np.savez(x=np.array(seqs,
dtype=object))``) is an *object* array, stored with pickle: a crafted file runs code when
it is unpickled. It is refused, with the way to store it safely, unless the caller passes
``allow_pickle=True`` for a file from a source they trust.

>>> import tempfile, os
>>> seqs = [np.ones((4, 2)), np.zeros((1, 2))]          # (T_i, C), T_i differ
>>> with tempfile.TemporaryDirectory() as d:
...     save_npz(os.path.join(d, "data.npz"), seqs, [1, 0])
...     data = read_npz(os.path.join(d, "data.npz"))
>>> data.lengths, data.labels.tolist()
([4, 1], [1, 0])
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..checks import check_bool
from .containers import NumericSequences
from .errors import DataError, atomic_write
from .files import Path_

__all__ = ["read_npz", "save_npz"]

SAFE_LAYOUT = (
    "store ragged sequences as one concatenated array 'x' (sum T_i, C) with 'offsets' "
    "(N + 1,) ints: seqlab.data.save_npz(path, sequences, labels) writes it"
)


def _whole_numbers(name: str, a: np.ndarray, path: Path) -> np.ndarray:
    """``a`` as int64 if every entry is a whole number (ints, or floats like 3.0)."""
    if a.ndim != 1:
        raise DataError(f"'{name}' must be a 1-D array of ints, got shape {a.shape}", path)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.floating):
        bad = np.nonzero(~np.isfinite(a) | (a != np.round(a)))[0]
        if len(bad):
            i = int(bad[0])
            raise DataError(f"'{name}'[{i}] is {a[i]}, expected a whole number", path)
        return a.astype(np.int64)
    raise DataError(f"'{name}' must hold ints, got dtype {a.dtype}", path)


def _is_real(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)


def _load_arrays(path: Path, allow_pickle: bool) -> dict[str, np.ndarray]:
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected an .npz file", path=path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            start = f.read(8)
        what = "an .npy file (one array); save with np.savez" if start[:6] == b"\x93NUMPY" else ""
        raise DataError(
            "not an .npz file (expected a zip archive of .npy arrays, as np.savez writes)"
            + (f"; it is {what}" if what else f"; it starts with bytes {start!r}"),
            path=path,
        )
    arrays = {}
    try:
        with np.load(path, allow_pickle=allow_pickle) as z:
            for name in z.files:
                try:
                    arrays[name] = z[name]
                    if not isinstance(arrays[name], np.ndarray):  # a zip member not in .npy
                        raise DataError(
                            f"member {name!r} is not a .npy array (np.savez writes only those)",
                            path=path,
                        )
                except ValueError as e:
                    if "allow_pickle" not in str(e):
                        raise
                    how = (
                        "store label names as a str array, np.asarray(labels, dtype=str)"
                        if name == "y"
                        else SAFE_LAYOUT
                    )
                    raise DataError(
                        f"array {name!r} is an object array, stored with pickle, which can run "
                        f"code when read: {how}; or, for a file from a source you "
                        "trust, pass allow_pickle=True",
                        path=path,
                    ) from None
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as e:
        raise DataError(f"not a readable .npz ({e})", path=path) from None
    except Exception as e:  # unpickling (allow_pickle=True) can raise anything
        raise DataError(f"cannot read the arrays ({type(e).__name__}: {e})", path=path) from None
    return arrays


def read_npz(path: Path_, allow_pickle: bool = False) -> NumericSequences:
    """Numeric sequences for classification or regression from an ``.npz`` (layouts in the
    module docstring): every problem is a :class:`DataError` naming the file.

    Args:
        allow_pickle: **unsafe**: also read object arrays, which unpickles them and so
            runs whatever code the file holds. Only for files from a source you trust;
            prefer converting them to the ragged layout once (:func:`save_npz`).
    """
    allow_pickle = check_bool("allow_pickle", allow_pickle)
    path = Path(path)
    data = _load_arrays(path, allow_pickle)
    for key in ("x", "y"):
        if key not in data:
            raise DataError(f"missing array {key!r}; arrays are {list(data)}", path=path)
    x, y = data["x"], data["y"]
    if "offsets" in data and "lengths" in data:
        raise DataError("give 'offsets' (ragged 'x') or 'lengths' (padded 'x'), not both", path)
    if y.ndim != 1:
        raise DataError(f"'y' must be (N,), got shape {y.shape}", path=path)
    n = len(y)
    if "offsets" in data:
        if x.dtype == object or x.ndim not in (1, 2):
            raise DataError(
                f"'x' must be a numeric (sum T_i, C) or (sum T_i,) array in the ragged layout, "
                f"got shape {x.shape} dtype {x.dtype}",
                path=path,
            )
        offsets = _whole_numbers("offsets", data["offsets"], path)
        if len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(x):
            raise DataError(
                f"'offsets' must be (N + 1,) = ({n + 1},) from 0 to len(x) = {len(x)}, got "
                f"{len(offsets)} offsets from {offsets[0] if len(offsets) else None} to "
                f"{offsets[-1] if len(offsets) else None}",
                path,
            )
        short = np.nonzero(np.diff(offsets) < 1)[0]
        if len(short):
            i = int(short[0])
            raise DataError(
                f"example {i}: offsets {offsets[i]}, {offsets[i + 1]} give no steps", path
            )
        seqs = [x[a:b] for a, b in itertools.pairwise(offsets)]
    elif x.dtype == object:  # only with allow_pickle=True
        if x.ndim != 1 or len(x) != n:
            raise DataError(f"an object 'x' must be (N,) = ({n},), got shape {x.shape}", path)
        seqs = [np.asarray(s) for s in x]
    else:
        if x.ndim == 2:
            x = x[:, :, None]  # (N, T, 1)
        if x.ndim != 3:
            raise DataError(f"'x' must be (N, T, C), got shape {x.shape}", path=path)
        if len(x) != n:
            raise DataError(f"'y' must be (N,) with N = {len(x)}, got shape {y.shape}", path)
        seqs = list(x)
        if "lengths" in data:
            lengths = _whole_numbers("lengths", data["lengths"], path)
            if lengths.shape != (n,):
                raise DataError(f"'lengths' must be (N,) = ({n},), got {lengths.shape}", path)
            for i, t in enumerate(lengths):
                if not 1 <= t <= x.shape[1]:
                    raise DataError(f"example {i}: length {t} not in [1, {x.shape[1]}]", path)
            seqs = [s[:t] for s, t in zip(seqs, lengths, strict=True)]
    out = []
    channels = None
    for i, s in enumerate(seqs):
        if s.ndim == 1:
            s = s[:, None]
        if s.ndim != 2 or len(s) == 0:
            raise DataError(f"example {i}: expected a non-empty (T, C) array, got {s.shape}", path)
        if not _is_real(s):
            raise DataError(f"example {i}: expected real numbers, got dtype {s.dtype}", path)
        channels = s.shape[1] if channels is None else channels
        if s.shape[1] != channels:
            raise DataError(f"example {i}: {s.shape[1]} channels, example 0 has {channels}", path)
        bad = np.argwhere(~np.isfinite(s))
        if len(bad):
            t, c = bad[0]
            raise DataError(f"example {i}, step {t}, channel {c}: value {s[t, c]}", path)
        out.append(s.astype(np.float32))
    return NumericSequences(out, _labels(y, path))


def _labels(y: np.ndarray, path: Path) -> np.ndarray:
    """``y`` as numbers (finite) or as label names (a str or bytes array, UTF-8): names
    are class labels, mapped to ids by the task's label vocabulary."""
    if y.dtype.kind == "S":
        try:
            y = np.char.decode(y, "utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"'y' holds bytes that are not UTF-8 ({e.reason})", path) from None
    if y.dtype.kind == "U":
        empty = np.nonzero(np.char.str_len(np.char.strip(y)) == 0)[0]
        if len(empty):
            raise DataError(f"'y'[{int(empty[0])}] is an empty label", path)
        return y
    if y.dtype.kind == "b":
        return y.astype(np.int64)  # False/True as classes 0 and 1
    if y.dtype == object and all(isinstance(v, str) for v in y):  # with allow_pickle
        return _labels(y.astype(str), path)
    if not _is_real(y):
        raise DataError(
            f"'y' must be finite numbers or label names (a str array), got dtype {y.dtype}", path
        )
    bad = np.nonzero(~np.isfinite(y))[0]
    if len(bad):
        raise DataError(
            f"'y' must be finite numbers or label names: 'y'[{int(bad[0])}] is {y[bad[0]]}", path
        )
    return y


def save_npz(path: Path_, sequences: Sequence, labels: Sequence) -> None:
    """Write sequences ``(T_i, C)`` (or ``(T_i,)``) and labels (N,) in the ragged layout
    :func:`read_npz` reads without pickle. Atomic: a temporary file, flushed, renamed."""
    arrays = [np.asarray(s) for s in sequences]
    y = np.asarray(labels)
    if not arrays:
        raise ValueError("sequences must hold at least one sequence")
    if y.shape != (len(arrays),):
        raise ValueError(f"labels must be ({len(arrays)},), got shape {y.shape}")
    for i, s in enumerate(arrays):
        if s.ndim not in (1, 2) or len(s) == 0 or not _is_real(s):
            raise ValueError(
                f"sequence {i} must be a non-empty (T, C) or (T,) numeric array, "
                f"got shape {s.shape} dtype {s.dtype}"
            )
        if s.shape[1:] != arrays[0].shape[1:]:
            raise ValueError(f"sequence {i} has shape {s.shape}, sequence 0 {arrays[0].shape}")
    offsets = np.cumsum([0, *(len(s) for s in arrays)]).astype(np.int64)
    with atomic_write(path) as f:
        np.savez(f, x=np.concatenate(arrays), offsets=offsets, y=y)
