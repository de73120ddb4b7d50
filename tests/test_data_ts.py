"""The UEA/sktime ``.ts`` reader: equal and unequal lengths, class names and targets, and
one clear line (file, line, case) for each malformed file."""

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from seqlab.data import DataError, read_ts

HEADER = """# a comment
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength {equal}
{length}@classLabel true walk run
@data
"""


def _write(path: Path, body: str, equal="false", length="") -> Path:
    path.write_text(HEADER.format(equal=equal, length=length) + body)
    return path


def test_equal_length_multivariate_with_class_names(tmp_path):
    path = _write(
        tmp_path / "a.ts",
        "1,2,3:4,5,6:walk\n0.5,-1e-3,7:8,9,10:run\n",
        equal="true",
        length="@seriesLength 3\n",
    )
    data = read_ts(path)
    assert len(data) == 2 and data.lengths == [3, 3]
    np.testing.assert_array_equal(data.sequences[0], [[1, 4], [2, 5], [3, 6]])  # (T, C)
    np.testing.assert_allclose(data.sequences[1][:, 0], [0.5, -1e-3, 7], rtol=1e-7)
    assert data.sequences[0].dtype == np.float32
    assert data.labels.tolist() == ["walk", "run"] and data.labels.dtype.kind == "U"


def test_unequal_lengths_and_trailing_padding(tmp_path):
    # case 1 is stored padded with '?' to 4 steps: the padding is dropped
    path = _write(tmp_path / "b.ts", "1,2:3,4:run\n1,2,3,?:4,5,6,?:walk\n5:6:run\n")
    data = read_ts(path)
    assert data.lengths == [2, 3, 1]
    np.testing.assert_array_equal(data.sequences[1], [[1, 4], [2, 5], [3, 6]])


def test_regression_targets_and_gzip(tmp_path):
    text = "@problemName R\n@univariate true\n@targetLabel true\n@data\n1,2,3:0.25\n4,5:-1.5\n"
    path = tmp_path / "r.ts.gz"
    path.write_bytes(gzip.compress(text.encode()))
    data = read_ts(path)
    assert data.labels.tolist() == [0.25, -1.5] and data.labels.dtype == np.float64
    assert [s.shape for s in data.sequences] == [(3, 1), (2, 1)]


def test_reads_a_real_uea_file_when_aeon_ships_one():
    folder = _aeon_data()
    if folder is None:
        pytest.skip("aeon is not installed here (its package ships the UEA sample files)")
    data = read_ts(folder / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    assert len(data) == 270 and {s.shape[1] for s in data.sequences} == {12}
    assert sorted(set(data.labels.tolist())) == [str(k) for k in range(1, 10)]
    assert min(data.lengths) >= 7 and max(data.lengths) <= 29


def _aeon_data() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("aeon")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "datasets" / "data"
    return folder if folder.is_dir() else None


BAD = [
    ("1,2:3,4:jump\n", 10, "case 0: label 'jump' is not among @classLabel walk run"),
    ("1,2:3,x:walk\n", 10, "case 0, dimension 1, step 1: 'x' is not a number"),
    ("1,2:3:walk\n", 10, r"case 0: its dimensions have lengths \[2, 1\]"),
    ("1,2:walk\n", 10, "case 0: 1 dimensions, the header says @dimensions 2"),
    ("1,?,2:3,4,5:walk\n", 10, "case 0, dimension 0, step 1: missing value inside"),
    ("1,2:3,4:walk\njunk\n", 11, "case 1: expected dimensions separated by ':'"),
    ("1,inf:3,4:walk\n", 10, "case 0, dimension 0, step 1: value 'inf'"),
    ("(0,1),(1,2):(0,3),(1,4):walk\n", 10, r"pairs need @timeStamps true, which seqlab"),
]


@pytest.mark.parametrize(("body", "line", "match"), BAD)
def test_malformed_cases_name_file_line_and_case(tmp_path, body, line, match):
    path = _write(tmp_path / "bad.ts", body)
    with pytest.raises(DataError, match=re.escape(f"{path}, line {line}: ")) as e:
        read_ts(path)
    assert re.search(match, str(e.value)), str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("@problemName X\n@classLabel true a b\n1,2:a\n", 3, "expected a header line"),
        ("@problemName X\n@data\n1,2:a\n", 2, "no label: the header needs"),
        ("@timeStamps true\n@classLabel true a\n@data\n", 3, "time-stamped series"),
        ("@equalLength maybe\n", 1, "@equalLength must be true or false, got 'maybe'"),
        ("@dimensions two\n", 1, "@dimensions must be a whole number >= 1, got 'two'"),
        ("@classLabel true\n", 1, "@classLabel true must list the class names"),
        (
            "@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n",
            5,
            "case 0: 2 steps, the header says @equalLength true and @seriesLength 3",
        ),
        ("@targetLabel true\n@data\n1,2:high\n", 3, "target 'high' is not a finite number"),
        ("@classLabel true a\n@data\n1,2:a\n1:2:a\n", 4, "case 1: 2 dimensions, case 0 has 1"),
    ],
)
def test_malformed_headers(tmp_path, text, line, match):
    path = tmp_path / "h.ts"
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(f"{path}, line {line}: ")) as e:
        read_ts(path)
    assert re.search(match, str(e.value)), str(e.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("@problemName X\n@classLabel true a\n", "no @data line"),
        ("@classLabel true a\n@data\n# nothing\n", "no cases after @data"),
    ],
)
def test_files_without_cases(tmp_path, text, match):
    path = tmp_path / "e.ts"
    path.write_text(text)
    with pytest.raises(DataError, match=f"{re.escape(str(path))}: {match}"):
        read_ts(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match=r"nope\.ts: file not found"):
        read_ts(tmp_path / "nope.ts")
