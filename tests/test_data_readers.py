"""Readers on files the tests write, with every malformed case naming file and line."""

import bz2
import gzip
import json

import numpy as np
import pytest

from seqlab.data import (
    DataError,
    read_classification,
    read_conll,
    read_npz,
    read_parallel,
    read_text,
    read_time_series,
    save_npz,
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def raises_at(path, line, match):
    """pytest.raises for a DataError naming ``path`` and ``line``."""
    where = f"{path}, line {line}: " if line is not None else f"{path}: "
    return pytest.raises(DataError, match="^" + __import__("re").escape(where) + ".*" + match)


# ----------------------------------------------------------------------------- text


def test_read_text_concatenates_and_decompresses(tmp_path):
    a = write(tmp_path / "a.txt", "first\n")
    b = tmp_path / "b.txt.gz"
    b.write_bytes(gzip.compress(b"second\n"))
    c = tmp_path / "c.txt.bz2"
    c.write_bytes(bz2.compress(b"third"))
    assert read_text([a, b, c]) == "first\nsecond\nthird"
    assert read_text(a) == "first\n"


def test_read_text_errors(tmp_path):
    with raises_at(tmp_path / "none.txt", None, "file not found"):
        read_text(tmp_path / "none.txt")
    empty = write(tmp_path / "empty.txt", "  \n")
    with raises_at(empty, None, "file is empty"):
        read_text(empty)
    bad = tmp_path / "latin.txt"
    bad.write_bytes("ok\nline two\ncaf\xe9\n".encode("latin-1"))
    with raises_at(bad, 3, "cannot decode byte 0xe9 as utf-8"):
        read_text(bad)
    assert read_text(bad, encoding="latin-1").endswith("café\n")


# ----------------------------------------------------------------------------- classification


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_read_classification_formats(tmp_path, fmt):
    rows = [("a fine film, truly", "pos"), ('said "meh"', "neg"), ("multi\nline", "pos")]
    if fmt == "jsonl":
        text = "\n".join(
            json.dumps({"text": t, "label": y, "id": i}) for i, (t, y) in enumerate(rows)
        )
        rows = rows
    elif fmt == "csv":
        text = "id,text,label\n" + "".join(
            f'{i},"{t.replace(chr(34), 2 * chr(34))}",{y}\n' for i, (t, y) in enumerate(rows)
        )
    else:
        rows = rows[:2]
        text = "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows)
    data = read_classification(write(tmp_path / f"train.{fmt}", text))
    assert list(zip(data.texts, data.labels, strict=True)) == rows
    assert data.label_names == ["neg", "pos"]
    assert data.label_ids() == [1 if y == "pos" else 0 for _, y in rows]


def test_read_classification_custom_columns(tmp_path):
    path = write(tmp_path / "d.csv", "review,stars\ngood,5\nbad,1\n")
    data = read_classification(path, text_column="review", label_column="stars")
    assert data[1] == ("bad", "1")


@pytest.mark.parametrize(
    ("name", "text", "line", "match"),
    [
        ("a.csv", "text,category\nx,y\n", 1, r"missing column\(s\) \['label'\]"),
        ("b.csv", "text,label\nok,pos\ntoo,many,fields\n", 3, "expected 2 fields .* got 3"),
        ("c.tsv", "text\tlabel\nok\tpos\nonly one field\n", 3, "expected 2 fields .* got 1"),
        ("d.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"\n', 2, "not valid JSON"),
        ("e.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n', 2, "missing key"),
        ("f.jsonl", '["a", "x"]\n', 1, "expected a JSON object"),
        ("g.csv", "text,label\n,pos\n", 2, "empty text"),
        ("h.csv", "text,label\nfine,\n", 2, "empty label"),
    ],
)
def test_read_classification_malformed(tmp_path, name, text, line, match):
    path = write(tmp_path / name, text)
    with raises_at(path, line, match):
        read_classification(path)


def test_read_classification_empty_and_header_only(tmp_path):
    empty = write(tmp_path / "e.csv", "")
    with raises_at(empty, None, "file is empty"):
        read_classification(empty)
    header = write(tmp_path / "h.csv", "text,label\n")
    with raises_at(header, None, "no examples"):
        read_classification(header)
    unknown = write(tmp_path / "data.txt", "x")
    with raises_at(unknown, None, "cannot tell the format"):
        read_classification(unknown)


def test_label_set_mismatch_between_splits(tmp_path):
    train = read_classification(write(tmp_path / "train.csv", "text,label\na,pos\nb,neg\n"))
    val_path = write(tmp_path / "val.csv", "text,label\nc,pos\nd,neutral\n")
    with raises_at(val_path, 3, "label 'neutral' is not in the training label set"):
        read_classification(val_path, labels=train.label_names)
    val = read_classification(val_path)
    with pytest.raises(DataError, match="neutral"):
        val.label_ids(train.label_names)


def test_read_classification_bad_encoding(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"text,label\nfine,pos\n\xff\xfe,neg\n")
    with raises_at(path, 3, "cannot decode"):
        read_classification(path)


# ----------------------------------------------------------------------------- CoNLL


def test_read_conll(tmp_path):
    text = "-DOCSTART-\tO\n\nJohn\tB-PER\nlives\tO\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n\n\nHi\tO\n"
    data = read_conll(write(tmp_path / "train.conll", text))
    assert len(data) == 2
    assert data[0] == (
        ["John", "lives", "in", "New", "York"],
        ["B-PER", "O", "O", "B-LOC", "I-LOC"],
    )
    assert data.tag_names == ["B-LOC", "B-PER", "I-LOC", "O"]
    # more columns: pick by index
    multi = read_conll(
        write(tmp_path / "m.conll", "The\tDT\tB-NP\ndog\tNN\tI-NP\n"), tag_column=1, scheme=None
    )
    assert multi[0] == (["The", "dog"], ["DT", "NN"])


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("John\tB-PER\nlives\n", 2, "expected token<TAB>tag"),
        ("John\tB-PER\nlives\tO\textra\n", 2, "expected 2 fields as on earlier lines, got 3"),
        ("John\tPER\n", 1, "tag 'PER' is not BIO"),
        ("John\tX-PER\n", 1, "is not BIO"),
        ("\tO\n", 1, "empty token or tag"),
    ],
)
def test_read_conll_malformed(tmp_path, text, line, match):
    path = write(tmp_path / "bad.conll", text)
    with raises_at(path, line, match):
        read_conll(path)


def test_read_conll_empty(tmp_path):
    path = write(tmp_path / "e.conll", "-DOCSTART-\tO\n\n")
    with raises_at(path, None, "no sentences"):
        read_conll(path)


# ----------------------------------------------------------------------------- parallel


def test_read_parallel(tmp_path):
    path = write(tmp_path / "p.tsv", "thou art\tyou are\n\nthee\tyou\n")
    assert read_parallel(path).pairs == [("thou art", "you are"), ("thee", "you")]
    bad = write(tmp_path / "b.tsv", "a\tb\na\tb\tc\n")
    with raises_at(bad, 2, "expected 2 tab-separated fields, got 3"):
        read_parallel(bad)
    half = write(tmp_path / "h.tsv", "a\t \n")
    with raises_at(half, 1, "empty source or target"):
        read_parallel(half)


# ----------------------------------------------------------------------------- npz


def test_read_npz_padded_with_lengths(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2))
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=np.array([0, 1, 0]), lengths=np.array([5, 2, 3]))
    data = read_npz(path)
    assert data.lengths == [5, 2, 3]
    np.testing.assert_allclose(data[1][0], x[1, :2], rtol=1e-6)
    assert data[1][0].dtype == np.float32 and data.labels.tolist() == [0, 1, 0]


def test_read_npz_ragged_layout_and_univariate(tmp_path):
    seqs = [np.ones((4, 3)), np.zeros((2, 3))]
    path = tmp_path / "r.npz"
    save_npz(path, seqs, [1.5, -2.0])
    data = read_npz(path)
    assert [s.shape for s in data.sequences] == [(4, 3), (2, 3)]
    assert data.labels.tolist() == [1.5, -2.0]
    path2 = tmp_path / "u.npz"
    np.savez(path2, x=np.ones((2, 7)), y=np.array([0, 1]))
    assert read_npz(path2)[0][0].shape == (7, 1)


def test_read_npz_object_array_only_when_the_caller_opts_in(tmp_path):
    seqs = np.empty(2, dtype=object)
    seqs[0], seqs[1] = np.ones((4, 3)), np.zeros((2, 3))
    path = tmp_path / "o.npz"
    np.savez(path, x=seqs, y=np.array([1.5, -2.0]))
    with raises_at(path, None, "array 'x' is an object array, stored with pickle.*offsets"):
        read_npz(path)
    data = read_npz(path, allow_pickle=True)  # a file from a trusted source
    assert [s.shape for s in data.sequences] == [(4, 3), (2, 3)]


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"y": np.zeros(2)}, "missing array 'x'"),
        ({"x": np.zeros((2, 3, 1))}, "missing array 'y'"),
        ({"x": np.zeros((2, 3, 1)), "y": np.zeros(3)}, "'y' must be"),
        ({"x": np.zeros((2, 3, 1)), "y": np.zeros(2), "lengths": np.array([3, 4])}, "length 4"),
        ({"x": np.array([[[0.0], [np.nan]]]), "y": np.zeros(1)}, "example 0, step 1, channel 0"),
        ({"x": np.zeros((2, 3, 1, 1)), "y": np.zeros(2)}, "must be"),
    ],
)
def test_read_npz_malformed(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=match) as e:
        read_npz(path)
    assert str(path) in str(e.value)


def test_read_npz_not_a_zip(tmp_path):
    path = write(tmp_path / "x.npz", "hello")
    with raises_at(path, None, r"not an \.npz file \(expected a zip archive"):
        read_npz(path)


# ----------------------------------------------------------------------------- time series


def test_read_time_series_targets_and_covariates(tmp_path):
    text = "date,load,temp,other\n2020-01-01,10,1.5,x\n2020-01-02,11,2.5,y\n2020-01-03,12,3.5,z\n"
    ts = read_time_series(write(tmp_path / "t.csv", text), "date", ["load"], ["temp"])
    assert ts.targets.tolist() == [[10], [11], [12]]
    assert ts.covariates.tolist() == [[1.5], [2.5], [3.5]]
    assert str(ts.times[1]) == "2020-01-02" and ts.issues == []


def test_read_time_series_monthly_dates_and_format(tmp_path):
    text = "month,v\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n2020-05-01,5\n"
    path = write(tmp_path / "m.csv", text)
    with raises_at(path, 5, "gap of 1 missing step"):
        read_time_series(path, "month", ["v"])
    ts = read_time_series(path, "month", ["v"], missing="interpolate")
    assert [str(t) for t in ts.times] == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    assert ts.values[:, 0].tolist() == [1, 2, 3, 4, 5]
    custom = write(tmp_path / "c.csv", "when,v\n01/02/2020 10:00,1\n01/02/2020 11:00,2\n")
    ts = read_time_series(custom, "when", "v", time_format="%d/%m/%Y %H:%M")
    assert str(ts.times[0]) == "2020-02-01T10:00:00.000000"


def test_read_time_series_nan_options(tmp_path):
    text = "t,a,b\n2000,1,10\n2001,,20\n2002,3,NaN\n2003,4,40\n"
    path = write(tmp_path / "n.csv", text)
    with raises_at(path, 3, r"missing value in \['a'\] \(pass missing="):
        read_time_series(path, "t", ["a", "b"])
    dropped = read_time_series(path, "t", ["a", "b"], missing="drop")
    assert dropped.values.tolist() == [[1, 10], [4, 40]]
    assert any("dropped 2 row" in s for s in dropped.issues)
    filled = read_time_series(path, "t", ["a", "b"], missing="interpolate")
    assert filled.values.tolist() == [[1, 10], [2, 20], [3, 30], [4, 40]]
    assert "line 3: missing value in ['a']" in filled.issues


def test_read_time_series_interpolates_gaps_in_time(tmp_path):
    text = "t,v\n2000-01-01T00:00,0\n2000-01-01T01:00,1\n2000-01-01T04:00,4\n2000-01-01T05:00,5\n"
    ts = read_time_series(write(tmp_path / "g.csv", text), "t", ["v"], missing="interpolate")
    assert ts.values[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert "gap of 2 missing step(s)" in ts.issues[0]


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("t,v\n2000,1\n2001,abc\n", 3, "non-numeric value 'abc' in 'v'"),
        ("t,v\n2000,1\nlast year,2\n", 3, "cannot parse time 'last year'"),
        ("t,v\n2001,1\n2000,2\n", 3, "does not come after"),
        ("t,v\n2000,1\n2001,inf\n", 3, "infinite value"),
        ("t,w\n2000,1\n2001,2\n", 1, r"missing column\(s\) \['v'\]"),
        ("t,v\n2000,1\n2001\n", 3, "expected 2 fields"),
        ("t,v\n2000,1\n", None, "at least 2 rows"),
    ],
)
def test_read_time_series_malformed(tmp_path, text, line, match):
    path = write(tmp_path / "bad.csv", text)
    with raises_at(path, line, match):
        read_time_series(path, "t", ["v"])


def test_read_time_series_bad_option(tmp_path):
    with pytest.raises(ValueError, match="missing must be one of"):
        read_time_series(tmp_path / "x.csv", "t", ["v"], missing="fill")
