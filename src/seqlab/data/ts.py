"""The UEA / sktime ``.ts`` format: multivariate series with a class label (or a value) each.

A ``.ts`` file (Bagnall et al., the UEA & UCR archive; sktime and aeon read and write it)
is a header of ``@key value`` lines, then ``@data`` and one case per line::

    # comments start with '#' (or '%')
    @problemName BasicMotions
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.03,...,0.12:-0.90,1.11,...,0.66:...:Standing

A case is its dimensions (channels) separated by ``:``, each a comma-separated series, and
the label last: a class name (``@classLabel true`` with the names listed) or a number
(``@targetLabel true``, a regression target). Every dimension of a case has the same
length; cases may differ in length (``@equalLength false``). ``?`` or ``NaN`` marks a
missing value: trailing ones common to every dimension are padding and are dropped (an
unequal-length set stored padded), any other is refused. Time-stamped series
(``@timeStamps true``) are refused: seqlab reads regular steps.

:func:`read_ts` returns :class:`NumericSequences` (T_i, C) float32, and labels as strings
(class names, for the task's label vocabulary) or floats. Every problem is one
:class:`DataError` naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .containers import NumericSequences
from .errors import DataError
from .files import Path_, iter_lines, read_file_text

__all__ = ["read_ts"]

MISSING = ("?", "nan", "NaN")


def _flag(value: str, key: str, path: Path, line: int) -> bool:
    word = value.split()[0].lower() if value.split() else ""
    if word not in ("true", "false"):
        raise DataError(f"@{key} must be true or false, got {value!r}", path, line)
    return word == "true"


def _count(value: str, key: str, path: Path, line: int) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise DataError(f"@{key} must be a whole number >= 1, got {value!r}", path, line)
    return n


class _Header:
    """The ``@`` lines before ``@data``."""

    def __init__(self) -> None:
        self.timestamps = False
        self.dimensions: int | None = None
        self.length: int | None = None  # @seriesLength when @equalLength true
        self.equal = False
        self.classes: list[str] | None = None  # @classLabel true a b c
        self.target = False  # @targetLabel true: a number per case

    def read(self, name: str, value: str, path: Path, line: int) -> None:
        """One ``@name value`` line; keys are case-insensitive, errors echo ``name``."""
        key = name.lower()
        if key == "timestamps":
            self.timestamps = _flag(value, name, path, line)
        elif key == "equallength":
            self.equal = _flag(value, name, path, line)
        elif key == "dimensions":
            self.dimensions = _count(value, name, path, line)
        elif key == "serieslength":
            self.length = _count(value, name, path, line)
        elif key == "classlabel":
            if _flag(value, name, path, line):
                names = value.split()[1:]
                if not names:
                    raise DataError(f"@{name} true must list the class names", path, line)
                self.classes = names
        elif key == "targetlabel":
            self.target = _flag(value, name, path, line)
        elif key in ("missing", "univariate"):
            _flag(value, name, path, line)
        # other keys (@problemName, ...) name the problem and change nothing here


def _series(text: str, case: int, dim: int, path: Path, line: int) -> np.ndarray:
    values = text.split(",")
    out = np.empty(len(values), dtype=np.float64)
    for t, v in enumerate(values):
        v = v.strip()
        if v in MISSING:
            out[t] = np.nan
            continue
        try:
            out[t] = float(v)
        except ValueError:
            what = "a number"
            if v.startswith("("):
                what = "a number ('(time,value)' pairs need @timeStamps true, which seqlab refuses)"
            raise DataError(
                f"case {case}, dimension {dim}, step {t}: {v[:30]!r} is not {what}", path, line
            ) from None
        if not np.isfinite(out[t]):
            raise DataError(f"case {case}, dimension {dim}, step {t}: value {v!r}", path, line)
    return out


def _case(fields: list[str], case: int, path: Path, line: int) -> np.ndarray:
    """The dimensions of one case -> (T, C), trailing common padding dropped."""
    series = [_series(f, case, d, path, line) for d, f in enumerate(fields)]
    lengths = {len(s) for s in series}
    if len(lengths) > 1:
        raise DataError(
            f"case {case}: its dimensions have lengths {[len(s) for s in series]}, expected "
            "one length for every dimension of a case",
            path,
            line,
        )
    x = np.stack(series, axis=1)  # (T, C)
    missing = np.isnan(x)
    present = np.nonzero(~missing.all(1))[0]
    if len(present) == 0:
        raise DataError(f"case {case}: every value is missing", path, line)
    x = x[: present[-1] + 1]  # trailing steps missing in every dimension: padding
    holes = np.argwhere(np.isnan(x))
    if len(holes):
        t, c = holes[0]
        raise DataError(
            f"case {case}, dimension {c}, step {t}: missing value inside the series "
            "(only trailing padding is dropped); fill or drop it first",
            path,
            line,
        )
    return x.astype(np.float32)


def read_ts(path: Path_, encoding: str = "utf-8") -> NumericSequences:
    """Labelled multivariate series from a UEA/sktime ``.ts`` file (format above)."""
    path = Path(path)
    text = read_file_text(path, encoding)
    header, seen_data = _Header(), False
    seqs: list[np.ndarray] = []
    labels: list = []
    for number, raw in iter_lines(text):
        line = raw.strip()
        if not line or line.startswith(("#", "%")):  # '%': the ARFF comment, in some files
            continue
        if not seen_data:
            if not line.startswith("@"):
                raise DataError(
                    f"expected a header line '@key value' or '@data' before the data, got "
                    f"{line[:40]!r}",
                    path,
                    number,
                )
            name, _, value = line[1:].partition(" ")
            if name.lower() == "data":
                if header.timestamps:
                    raise DataError(
                        "@timeStamps true: time-stamped series are not read, seqlab needs "
                        "regular steps (resample and write the values only)",
                        path,
                        number,
                    )
                if header.classes is None and not header.target:
                    raise DataError(
                        "no label: the header needs '@classLabel true NAMES...' or "
                        "'@targetLabel true' before @data",
                        path,
                        number,
                    )
                seen_data = True
            else:
                header.read(name, value.strip(), path, number)
            continue
        case = len(seqs)
        fields = line.split(":")
        if len(fields) < 2:
            raise DataError(
                f"case {case}: expected dimensions separated by ':' and the label last, got "
                f"{line[:40]!r}",
                path,
                number,
            )
        *dims, label = fields
        label = label.strip()
        if header.dimensions is not None and len(dims) != header.dimensions:
            raise DataError(
                f"case {case}: {len(dims)} dimensions, the header says @dimensions "
                f"{header.dimensions}",
                path,
                number,
            )
        if seqs and len(dims) != seqs[0].shape[1]:
            raise DataError(
                f"case {case}: {len(dims)} dimensions, case 0 has {seqs[0].shape[1]}", path, number
            )
        x = _case(dims, case, path, number)
        if header.equal and header.length is not None and len(x) != header.length:
            raise DataError(
                f"case {case}: {len(x)} steps, the header says @equalLength true and "
                f"@seriesLength {header.length}",
                path,
                number,
            )
        if header.classes is not None:
            if label not in header.classes:
                raise DataError(
                    f"case {case}: label {label[:40]!r} is not among @classLabel "
                    f"{' '.join(header.classes)}",
                    path,
                    number,
                )
        else:
            try:
                label = float(label)
            except ValueError:
                label = float("nan")
            if not np.isfinite(label):
                raise DataError(
                    f"case {case}: target {fields[-1].strip()[:40]!r} is not a finite number "
                    "(@targetLabel true)",
                    path,
                    number,
                )
        seqs.append(x)
        labels.append(label)
    if not seen_data:
        raise DataError("no @data line: not a .ts file (UEA/sktime format)", path)
    if not seqs:
        raise DataError("no cases after @data", path)
    y = np.asarray(labels, dtype=str if header.classes is not None else np.float64)
    return NumericSequences(seqs, y)
