"""Bad input to the file readers: one clear DataError naming the file (and line), never
code run from a data file, never text of another encoding read as if it were text."""

import bz2
import csv
import gzip
import json
import re
import struct
import zlib

import numpy as np
import pytest

from seqlab.data import (
    DataError,
    Vocab,
    WordTokenizer,
    get_tokenizer,
    read_classification,
    read_conll,
    read_npz,
    read_parallel,
    read_text,
    read_time_series,
    save_npz,
)
from seqlab.data.sword import read_ztext


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def raises_at(path, line, match):
    """pytest.raises for a DataError naming ``path`` and ``line`` (None: no line)."""
    where = f"{path}, line {line}: " if line is not None else f"{path}: "
    return pytest.raises(DataError, match="^" + re.escape(where) + ".*" + match)


# ----------------------------------------------------------------------------- npz: no pickle


class Payload:
    """Unpickling this creates ``marker``: what a crafted file could do instead."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_crafted_npz_runs_no_code_by_default(tmp_path):
    marker = tmp_path / "pwned"
    x = np.empty(1, dtype=object)
    x[0] = Payload(marker)
    path = tmp_path / "evil.npz"
    np.savez(path, x=x, y=np.zeros(1))
    with raises_at(path, None, "array 'x' is an object array, stored with pickle, which can run"):
        read_npz(path)
    assert not marker.exists()
    # the payload is real: opting in by name runs it (and the result is still refused)
    with raises_at(path, None, "example 0"):
        read_npz(path, allow_pickle=True)
    assert marker.exists()


def test_the_object_array_error_says_how_to_store_ragged_data_safely(tmp_path):
    seqs = np.empty(2, dtype=object)
    seqs[0], seqs[1] = np.ones((3, 2)), np.ones((1, 2))
    path = tmp_path / "ragged.npz"
    np.savez(path, x=seqs, y=np.zeros(2))
    with pytest.raises(DataError) as e:
        read_npz(path)
    for words in ("'offsets' (N + 1,)", "save_npz", "allow_pickle=True"):
        assert words in str(e.value)
    # any object array is refused, not only 'x'
    labels = np.array(["a", None], dtype=object)
    other = tmp_path / "labels.npz"
    np.savez(other, x=np.zeros((2, 3)), y=labels)
    with raises_at(other, None, "array 'y' is an object array"):
        read_npz(other)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (bytes(range(256)) * 4, "not an .npz file .*it starts with bytes"),
        (b"\x80\x04\x95" + b"\x00" * 20, "not an .npz file"),  # a pickle stream
        (b"\x93NUMPY\x01\x00" + b"\x00" * 40, "it is an .npy file"),
        (b"PK\x03\x04" + b"\x00" * 26, "not"),  # a truncated zip
    ],
)
def test_random_bytes_are_not_called_pickled_data(tmp_path, data, match):
    path = write(tmp_path / "x.npz", data)
    with raises_at(path, None, match) as e:
        read_npz(path)
    assert "pickle" not in str(e.value)


def test_a_zip_of_other_things_is_not_an_npz(tmp_path):
    import io
    import zipfile

    npy = io.BytesIO()
    np.save(npy, np.zeros(2))
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x", b"hello")
        z.writestr("y.npy", npy.getvalue())
    with raises_at(path, None, "member 'x' is not a .npy array"):
        read_npz(path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY garbage")
    with raises_at(path, None, "not a readable .npz"):
        read_npz(path)


def test_ragged_layout_round_trip_and_atomic_write(tmp_path):
    seqs = [np.arange(6.0).reshape(3, 2), np.ones((1, 2)), np.zeros((5, 2))]
    path = tmp_path / "r.npz"
    save_npz(path, seqs, [0, 1, 2])
    data = read_npz(path)
    assert data.lengths == [3, 1, 5] and data.labels.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(data[0][0], seqs[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]  # no temporary left
    univariate = tmp_path / "u.npz"
    save_npz(univariate, [np.ones(4), np.ones(2)], [1.0, 2.0])
    assert [s.shape for s in read_npz(univariate).sequences] == [(4, 1), (2, 1)]
    with pytest.raises(ValueError, match=r"labels must be \(2,\)"):
        save_npz(path, seqs[:2], [1])
    with pytest.raises(ValueError, match="sequence 1 has shape"):
        save_npz(path, [np.ones((2, 2)), np.ones((2, 3))], [0, 1])


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"offsets": np.array([0, 3])}, r"'offsets' must be \(N \+ 1,\) = \(3,\)"),
        ({"offsets": np.array([1, 2, 4])}, "from 0 to len"),
        ({"offsets": np.array([0, 2, 3])}, r"from 0 to len\(x\) = 4"),
        ({"offsets": np.array([0, 4, 4])}, "example 1: offsets 4, 4 give no steps"),
        ({"offsets": np.array([0, 1.5, 4])}, r"'offsets'\[1\] is 1.5, expected a whole number"),
        ({"offsets": np.array([0, 2, 4]), "lengths": np.array([2, 2])}, "not both"),
    ],
)
def test_bad_offsets(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.zeros(2), **arrays)
    with raises_at(path, None, match):
        read_npz(path)


def test_ragged_x_must_be_flat(tmp_path):
    path = tmp_path / "f.npz"
    for x in (np.float64(3.0), np.zeros((4, 2, 2))):
        np.savez(path, x=x, y=np.zeros(1), offsets=np.array([0, 4]))
        with raises_at(path, None, r"'x' must be a numeric \(sum T_i, C\)"):
            read_npz(path)


def test_lengths_must_be_whole_numbers_not_truncated(tmp_path):
    x = np.arange(12.0).reshape(2, 6, 1)
    path = tmp_path / "l.npz"
    np.savez(path, x=x, y=np.zeros(2), lengths=np.array([6.0, 2.7]))
    with raises_at(path, None, r"'lengths'\[1\] is 2.7, expected a whole number"):
        read_npz(path)
    np.savez(path, x=x, y=np.zeros(2), lengths=np.array([6.0, 2.0]))  # floats that are ints
    assert read_npz(path).lengths == [6, 2]
    np.savez(path, x=x, y=np.zeros(2), lengths=np.array([True, True]))
    with raises_at(path, None, "'lengths' must hold ints, got dtype bool"):
        read_npz(path)
    np.savez(path, x=x, y=np.zeros(2), lengths=np.array([np.nan, 2.0]))
    with raises_at(path, None, r"'lengths'\[0\] is nan"):
        read_npz(path)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        (
            {"x": np.zeros((2, 3), dtype=complex), "y": np.zeros(2)},
            "real numbers, got dtype complex",
        ),
        ({"x": np.zeros((2, 3)), "y": np.array([1j, 2])}, "'y' must be finite numbers or label"),
        ({"x": np.zeros((2, 3)), "y": np.array([0.0, np.inf])}, "'y' must be finite"),
        ({"x": np.zeros((2, 3)), "y": np.zeros((2, 1))}, r"'y' must be \(N,\)"),
        (
            {"x": np.array([[1.0, np.inf]]), "y": np.zeros(1)},
            "example 0, step 1, channel 0: value inf",
        ),
    ],
)
def test_bad_arrays(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with raises_at(path, None, match):
        read_npz(path)


def test_npz_arguments_and_paths(tmp_path):
    with pytest.raises(ValueError, match="allow_pickle must be true or false, got 'yes'"):
        read_npz(tmp_path / "x.npz", allow_pickle="yes")
    with raises_at(tmp_path / "none.npz", None, "file not found"):
        read_npz(tmp_path / "none.npz")
    with raises_at(tmp_path, None, "is a directory"):
        read_npz(tmp_path)


# ----------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("codec", "hint"),
    [
        ("utf-16-le", "looks like UTF-16 little-endian: pass encoding='utf-16-le'"),
        ("utf-16-be", "looks like UTF-16 big-endian: pass encoding='utf-16-be'"),
    ],
)
def test_utf16_without_a_bom_is_not_read_as_text(tmp_path, codec, hint):
    text = "text,label\nfine,pos\nbad,neg\n"
    path = write(tmp_path / "d.csv", text.encode(codec))
    with raises_at(path, 1, "control character U\\+0000: this is not utf-8 text; it " + hint):
        read_classification(path)
    assert read_classification(path, encoding=codec).labels == ["pos", "neg"]


def test_utf16_with_a_bom_names_the_encoding(tmp_path):
    path = write(tmp_path / "t.txt", "hello\n".encode("utf-16"))
    with raises_at(path, 1, "cannot decode byte 0x.. as utf-8; it starts with a UTF-16 byte-order"):
        read_text(path)
    assert read_text(path, encoding="utf-16") == "hello\n"


@pytest.mark.parametrize(
    ("data", "line", "match"),
    [
        (b"\x01\x02\x03\x04\x05\x06", 1, "control character U\\+0001"),
        (b"ok\nfine\nbad\x00byte\n", 3, "control character U\\+0000"),
        (b"a\r\nb\r\n\x1b[31mred\n", 3, "control character U\\+001B"),
        (
            gzip.compress(b"text\n", mtime=0),
            1,
            "cannot decode byte 0x8b .*gzip-compressed: name it .*\\.gz",
        ),
        (b"PK\x03\x04\x14\x00\x00\x00", 1, "control character .*it is a zip archive"),
    ],
)
def test_binary_or_control_bytes_are_not_text(tmp_path, data, line, match):
    path = write(tmp_path / "t.txt", data)
    with raises_at(path, line, match):
        read_text(path)


def test_whitespace_controls_are_text_and_encoding_names_are_checked(tmp_path):
    path = write(tmp_path / "t.txt", "a\tb\fc\vd\r\n")
    assert read_text(path) == "a\tb\fc\vd\r\n"
    with pytest.raises(ValueError, match=r"encoding must be the name of a text codec.*'utf-9'"):
        read_text(path, encoding="utf-9")
    with pytest.raises(ValueError, match="encoding must be the name of a text codec"):
        read_text(path, encoding="base64")  # a codec, but of bytes to bytes
    bom16 = write(tmp_path / "b.txt", "\ufeffhi".encode("utf-16-le"))
    assert read_text(bom16, encoding="utf-16-le") == "hi"  # the BOM is never text


def test_line_separators_inside_a_text_do_not_split_lines(tmp_path):
    """U+2028, U+0085 and friends are characters of a text, not line ends (as they are to
    str.splitlines): a TSV, JSONL, CoNLL or parallel line keeps them and its number."""
    text = "one\u2028two\x85three"
    tsv = write(tmp_path / "d.tsv", f"text\tlabel\n{text}\tpos\nnext\tneg\n")
    assert read_classification(tsv).texts == [text, "next"]
    jsonl = write(
        tmp_path / "d.jsonl", json.dumps({"text": text, "label": "x"}, ensure_ascii=False)
    )
    assert read_classification(jsonl).texts == [text]
    conll = write(tmp_path / "d.conll", "a\u2028b\tO\n\nc\tO\nd\tBAD\n")
    assert read_conll(conll, scheme=None)[0] == (["a\u2028b"], ["O"])
    with raises_at(conll, 4, "tag 'BAD' is not BIO"):
        read_conll(conll)
    pairs = write(tmp_path / "p.tsv", f"{text}\tmodern\n")
    assert read_parallel(pairs).pairs == [(text, "modern")]


# ----------------------------------------------------------------------------- BOM


def test_excel_utf8_csv_with_a_bom_reads(tmp_path):
    path = write(tmp_path / "excel.csv", "\ufefftext,label\r\ngood,pos\r\nbad,neg\r\n")
    data = read_classification(path)
    assert data.texts == ["good", "bad"] and data.labels == ["pos", "neg"]
    series = write(tmp_path / "s.csv", "\ufeffdate,v\r\n2020-01,1\r\n2020-02,2\r\n")
    assert read_time_series(series, "date", ["v"]).values[:, 0].tolist() == [1, 2]


def test_a_bom_does_not_become_part_of_the_first_token(tmp_path):
    conll = write(tmp_path / "b.conll", "\ufeffJohn\tB-PER\n")
    assert read_conll(conll)[0] == (["John"], ["B-PER"])
    jsonl = write(tmp_path / "b.jsonl", '\ufeff{"text": "a", "label": "x"}\n')
    assert read_classification(jsonl).texts == ["a"]
    text = write(tmp_path / "b.txt.gz", gzip.compress("\ufeffabc".encode()))
    assert read_text(text) == "abc"


# ----------------------------------------------------------------------------- TSV and CSV


def test_tsv_has_no_quoting(tmp_path):
    rows = [('"quoted" start', "pos"), ('a lone " quote', "neg"), ("plain", "pos")]
    path = write(tmp_path / "q.tsv", "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    data = read_classification(path)
    assert list(zip(data.texts, data.labels, strict=True)) == rows


def test_a_csv_field_longer_than_131072_characters_reads(tmp_path):
    long = "word " * 60_000  # 300,000 characters
    path = write(tmp_path / "long.csv", f'text,label\n"{long}",pos\nshort,neg\n')
    limit = csv.field_size_limit()
    assert read_classification(path).texts == [long, "short"]
    assert csv.field_size_limit() == limit  # the process-wide limit is left as it was
    jsonl = write(tmp_path / "long.jsonl", json.dumps({"text": long, "label": "pos"}))
    assert read_classification(jsonl).texts == [long]


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ('text,label\n"never closed,pos\nnext,neg\n', 3, "malformed CSV"),
        ('text,label\n"quoted"after,pos\n', 2, "malformed CSV"),
        ("text,label,label\na,b,c\n", 1, r"column\(s\) \['label'\] appear more than once"),
    ],
)
def test_malformed_csv(tmp_path, text, line, match):
    path = write(tmp_path / "m.csv", text)
    with raises_at(path, line, match):
        read_classification(path)


# ----------------------------------------------------------------------------- JSON values


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"text": "a", "label": None}, "'label' is null, expected a string"),
        ({"text": None, "label": "x"}, "'text' is null, expected a string"),
        ({"text": "a", "label": ["x", "y"]}, "key 'label' is a list"),
        ({"text": "a", "label": {"x": 1}}, "key 'label' is an object"),
        ({"text": "a", "label": True}, "key 'label' is a boolean"),
        ({"text": ["a"], "label": "x"}, "key 'text' is a list"),
    ],
)
def test_json_values_that_are_not_text_are_errors(tmp_path, obj, match):
    path = write(tmp_path / "d.jsonl", '{"text": "ok", "label": "y"}\n' + json.dumps(obj) + "\n")
    with raises_at(path, 2, match):
        read_classification(path)


def test_json_numbers_are_their_text_and_null_is_a_missing_value(tmp_path):
    path = write(tmp_path / "n.jsonl", '{"text": "a", "label": 5}\n{"text": "b", "label": 1}\n')
    assert read_classification(path).labels == ["5", "1"]
    series = write(
        tmp_path / "s.jsonl",
        '{"t": 2000, "v": 1.5}\n{"t": 2001, "v": null}\n{"t": 2002, "v": 3.5}\n',
    )
    with raises_at(series, 2, r"missing value in \['v'\]"):
        read_time_series(series, "t", ["v"], fmt="jsonl")
    filled = read_time_series(series, "t", ["v"], fmt="jsonl", missing="interpolate")
    assert filled.values[:, 0].tolist() == [1.5, 2.5, 3.5]


# ----------------------------------------------------------------------------- compression


def test_corrupt_or_truncated_compressed_files_name_the_file(tmp_path):
    good = gzip.compress(b"text,label\n" + b"some text,pos\n" * 200)
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    cases = {
        "corrupt.csv.gz": bytes(corrupt),
        "truncated.csv.gz": good[: len(good) // 2],
        "notgzip.csv.gz": b"text,label\nplain,pos\n",
        "corrupt.csv.bz2": bz2.compress(b"text,label\na,b\n")[:20],
    }
    for name, data in cases.items():
        path = write(tmp_path / name, data)
        kind = "bzip2" if name.endswith(".bz2") else "gzip"
        with raises_at(path, None, f"not a readable {kind} file, corrupt or truncated"):
            read_classification(path)
    upper = write(tmp_path / "UPPER.CSV.GZ", good)
    assert len(read_classification(upper, fmt="csv")) == 200


# ----------------------------------------------------------------------------- arguments


def test_reader_arguments_are_checked_at_the_boundary(tmp_path):
    path = write(tmp_path / "d.csv", "text,label,t,v\na,pos,2000,1\nb,neg,2001,2\n")
    with pytest.raises(ValueError, match="labels must be a collection of label names"):
        read_classification(path, labels="pos")
    with pytest.raises(ValueError, match="text_column and label_column are both 'text'"):
        read_classification(path, label_column="text")
    with pytest.raises(ValueError, match=r"fmt must be one of \['csv', 'tsv', 'jsonl'\]"):
        read_classification(path, fmt="xlsx")
    conll = write(tmp_path / "c.conll", "a\tO\n")
    with pytest.raises(ValueError, match="token_column must be an int, got '0'"):
        read_conll(conll, token_column="0")
    with pytest.raises(ValueError, match=r"scheme must be one of \['bio', None\]"):
        read_conll(conll, scheme="bioes")
    with pytest.raises(ValueError, match=r"columns \['v'\] are named more than once"):
        read_time_series(path, "t", ["v"], ["v"])
    # a single covariate name is one column, not its letters
    series = write(tmp_path / "s.csv", "t,v,w\n2000,1,5\n2001,2,6\n")
    assert read_time_series(series, "t", "v", "w").covariates.tolist() == [[5], [6]]


# ----------------------------------------------------------------------------- other readers


def test_tokenizer_patterns_and_texts():
    with pytest.raises(ValueError, match=r"has capturing groups; make them non-capturing"):
        WordTokenizer(pattern=r"(\w+)|[^\w\s]")  # findall would return the groups
    assert WordTokenizer(pattern=r"(?:\w+)|[^\w\s]")("a, b") == ["a", ",", "b"]
    with pytest.raises(ValueError, match="text must be a str, got bytes"):
        WordTokenizer()(b"bytes")
    with pytest.raises(ValueError, match="lowercase must be true or false"):
        WordTokenizer(lowercase="yes")
    with pytest.raises(ValueError, match=r"takes lowercase and pattern, got \['lower'\]"):
        get_tokenizer("word", lower=True)


def test_json_side_files(tmp_path):
    with pytest.raises(DataError, match="is a directory, expected a JSON file"):
        Vocab.load(tmp_path)
    path = write(tmp_path / "vocab.json", b"\xff\xfe{}")
    with raises_at(path, None, "not UTF-8"):
        Vocab.load(path)
    Vocab(["a"]).save(tmp_path / "v.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json", "vocab.json"]  # no temp


def test_a_ztext_entry_past_its_block_is_an_error(tmp_path):
    block = b"<chapter sID='X.1'/>verse"
    folder = tmp_path / "mod"
    folder.mkdir()
    compressed = zlib.compress(block)
    (folder / "nt.bzs").write_bytes(struct.pack("<III", 0, len(compressed), len(block)))
    (folder / "nt.bzz").write_bytes(compressed)
    (folder / "nt.bzv").write_bytes(struct.pack("<IIH", 0, 20, 50))  # 20 + 50 > 25 bytes
    with raises_at(folder / "nt.bzv", None, "entry 0 reaches byte 70 of block 0, which has 25"):
        read_ztext(folder, "nt")
