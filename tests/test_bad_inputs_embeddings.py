"""Bad input to pretrained word vectors and one-hot encoding: clear errors naming file,
line and word; never a NaN or Inf in an embedding table."""

import re

import pytest
import torch

from seqlab.data import DataError, Vocab, load_word_vectors, one_hot
from seqlab.nn import OneHot


def vectors(tmp_path, text, name="v.txt", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def raises_at(path, line, match):
    where = f"{path}, line {line}: " if line is not None else f"{path}: "
    return pytest.raises(DataError, match="^" + re.escape(where) + ".*" + match)


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("nan", "'nan'"),
        ("NaN", "'NaN'"),
        ("inf", "'inf'"),
        ("-Infinity", "'-Infinity'"),
        ("1e39", "'1e39'"),
    ],  # fmt: skip  (1e39 is past float32's range: inf)
)
def test_non_finite_numbers_in_a_vector_are_refused(tmp_path, number, shown):
    path = vectors(tmp_path, f"good 0.1 0.2 0.3\nbad 0.5 {number} 0.1\n")
    with raises_at(path, 2, f"the vector of 'bad' has {re.escape(shown)} at position 1"):
        load_word_vectors(path, Vocab(["good", "bad", "missing"]))


def test_a_non_finite_vector_never_poisons_the_random_rows(tmp_path):
    """Before: one NaN made the std of the found vectors NaN, so every random row of a
    missing word was NaN too. Now the file is refused; a clean file gives finite rows."""
    path = vectors(tmp_path, "a 0.1 nan\nb 0.3 0.4\n")
    with pytest.raises(DataError, match="'a' has 'nan'"):
        load_word_vectors(path, Vocab(["a", "b", "c"]))
    clean = vectors(tmp_path, "a 0.1 0.2\nb 0.3 0.4\n", "clean.txt")
    pv = load_word_vectors(clean, Vocab(["a", "b", "c", "d"]))
    assert torch.isfinite(pv.weight).all() and pv.weight[4:].abs().sum() > 0


def test_the_lowercase_fallback_is_checked_too(tmp_path):
    path = vectors(tmp_path, "king 1 inf\n")
    with raises_at(path, 1, "the vector of 'king' has 'inf'"):
        load_word_vectors(path, Vocab(["King"]))


def test_words_outside_the_vocabulary_are_not_parsed(tmp_path):
    """The file is streamed and only the vocabulary's words are kept: a bad vector of a
    word nobody asked for costs nothing and changes nothing."""
    path = vectors(tmp_path, "a 1 2\nzebra nan nan\n")
    pv = load_word_vectors(path, Vocab(["a"]))
    assert pv.found == ["a"] and torch.isfinite(pv.weight).all()


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("2 3\na 1 2 3\nb 1 2\n", 3, "expected 3 numbers after the word, got 2"),
        ("2 4\na 1 2 3\n", 2, "expected 4 numbers after the word, got 3"),
        ("a 1 2 3\nb 1 two 3\n", 2, "non-numeric value in the vector of 'b'"),
        ("a 1 2\x00 3\n", 1, "control character U\\+0000"),
    ],
)
def test_malformed_vector_files(tmp_path, text, line, match):
    path = vectors(tmp_path, text)
    with raises_at(path, line, match):
        load_word_vectors(path, Vocab(["a", "b"]))


def test_encodings_and_bom(tmp_path):
    utf16 = vectors(tmp_path, "a 1 2\nb 3 4\n", "v16.txt", encoding="utf-16-le")
    with raises_at(utf16, 1, "UTF-16 little-endian: pass encoding='utf-16-le'"):
        load_word_vectors(utf16, Vocab(["a"]))
    assert load_word_vectors(utf16, Vocab(["a"]), encoding="utf-16-le").found == ["a"]
    bom = vectors(tmp_path, "\ufeffa 1 2\n", "bom.txt")
    assert load_word_vectors(bom, Vocab(["a"])).found == ["a"]  # not '\ufeffa'


def test_arguments_are_checked(tmp_path):
    path = vectors(tmp_path, "a 1 2\n")
    with pytest.raises(ValueError, match=r"vocab must be a seqlab\.data\.Vocab, got list"):
        load_word_vectors(path, ["a"])
    with pytest.raises(ValueError, match="dim must be a positive int or None, got 0"):
        load_word_vectors(path, Vocab(["a"]), dim=0)
    with pytest.raises(ValueError, match=r"seed must be an int >= 0, got 1\.5"):
        load_word_vectors(path, Vocab(["a"]), seed=1.5)
    with pytest.raises(ValueError, match="lowercase_fallback must be true or false"):
        load_word_vectors(path, Vocab(["a"]), lowercase_fallback="no")


# ----------------------------------------------------------------------------- one-hot


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        (torch.tensor([[1, 5]]), "token id 5 is out of range for a vocabulary of 5"),
        (torch.tensor([[-1, 2]]), "token id -1 is out of range"),
        (torch.tensor([[1.0, 2.0]]), "must be integers, got dtype torch.float32"),
        (torch.tensor([[True, False]]), "must be integers, got dtype torch.bool"),
        ([[1, 2]], "must be a tensor of integer ids, got list"),
    ],
)
def test_one_hot_bad_ids(ids, match):
    with pytest.raises(ValueError, match=match):
        one_hot(ids, 5)
    with pytest.raises(ValueError, match=match):
        OneHot(5)(ids)


def test_one_hot_bad_sizes():
    ids = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="num_classes"):
        one_hot(ids, 0)
    with pytest.raises(ValueError, match=r"padding_idx must be None or an int in \[0, 5\), got -1"):
        OneHot(5, padding_idx=-1)
    with pytest.raises(ValueError, match=r"padding_idx must be None or an int in \[0, 5\), got 5"):
        one_hot(ids, 5, pad_id=5)
