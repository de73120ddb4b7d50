"""Vocab, tokenizers, one-hot and pretrained word vectors."""

import pytest
import torch

from seqlab.data import (
    CharTokenizer,
    DataError,
    Vocab,
    WordTokenizer,
    get_tokenizer,
    load_word_vectors,
    one_hot,
)
from seqlab.nn import Embedding, OneHot


def test_special_ids_are_fixed():
    v = Vocab.build([["x", "y"]])
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert v.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert [v.id(t) for t in ("<pad>", "<unk>", "<bos>", "<eos>")] == [0, 1, 2, 3]


def test_build_min_freq_max_size_and_order():
    corpus = [list("abracadabra"), list("cab")]  # a:6 b:3 r:2 c:2 d:1
    v = Vocab.build(corpus)
    assert v.tokens[4:] == ["a", "b", "r", "c", "d"]  # by count, ties in first-seen order
    assert Vocab.build(corpus, min_freq=2).tokens[4:] == ["a", "b", "r", "c"]
    assert Vocab.build(corpus, max_size=6).tokens[4:] == ["a", "b"]
    # specials in the corpus are not duplicated
    assert Vocab.build([["<pad>", "a"]]).tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "a"]


def test_encode_decode():
    v = Vocab(["hello", "world"])
    ids = v.encode(["hello", "there", "world"], add_bos=True, add_eos=True)
    assert ids == [2, 4, 1, 5, 3]
    assert v.decode(ids) == ["hello", "<unk>", "world"]
    assert v.decode(torch.tensor([*ids, 0, 0]), strip_special=False)[-3:] == [
        "<eos>",
        "<pad>",
        "<pad>",
    ]
    assert v.decode([4, 3, 5]) == ["hello"]  # stops at <eos>


def test_vocab_json_round_trip(tmp_path):
    v = Vocab.build([["é", "b", "é"], ["c"]])
    v.save(tmp_path / "vocab.json")
    w = Vocab.load(tmp_path / "vocab.json")
    assert w == v and w.id("é") == v.id("é") and len(w) == len(v)
    assert not (tmp_path / "vocab.json.tmp").exists()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"tokens": ["a", "b"]}', "first tokens must be"),
        ('{"tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "a", "a"]}', "not unique"),
        ('{"words": []}', "'tokens' list"),
    ],
)
def test_vocab_load_errors(tmp_path, text, match):
    path = tmp_path / "v.json"
    path.write_text(text)
    with pytest.raises(DataError, match=match) as e:
        Vocab.load(path)
    assert str(path) in str(e.value)


def test_vocab_bad_arguments():
    with pytest.raises(ValueError, match="min_freq must be a positive int, got 0"):
        Vocab.build([["a"]], min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build([["a"]], max_size=2)
    with pytest.raises(ValueError, match="got a str"):
        Vocab.build("abc")
    with pytest.raises(ValueError, match="id must be in"):
        Vocab().token(9)


def test_tokenizers():
    text = "It's the King's  men,\nsir!"
    chars = CharTokenizer()
    assert chars.join(chars(text)) == text
    words = WordTokenizer()
    assert words(text) == ["It's", "the", "King's", "men", ",", "sir", "!"]
    assert WordTokenizer(lowercase=True)("ABC def")[0] == "abc"
    assert WordTokenizer(pattern=r"\S+")("a,b c") == ["a,b", "c"]
    assert isinstance(get_tokenizer("char"), CharTokenizer)
    assert get_tokenizer("word", lowercase=True).lowercase
    with pytest.raises(ValueError, match="'char' or 'word', got 'bpe'"):
        get_tokenizer("bpe")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        WordTokenizer(pattern="(")


def test_one_hot():
    ids = torch.tensor([[4, 0, 2], [1, 1, 0]])
    x = one_hot(ids, 5)  # <pad> = 0 is the all-zero vector by default
    assert x.shape == (2, 3, 5) and x.dtype == torch.float32
    assert torch.equal(x.sum(-1), (ids != 0).float()) and x[0, 0, 4] == 1 and x[1, 0, 1] == 1
    plain = one_hot(ids, 5, pad_id=None)
    assert torch.equal(plain.argmax(-1), ids) and torch.equal(plain.sum(-1), torch.ones(2, 3))
    other = one_hot(ids, 5, pad_id=1)
    assert other[1, :2].sum() == 0 and other[0, 1, 0] == 1
    with pytest.raises(ValueError, match=r"token id 4 is out of range .* \[0, 3\)"):
        one_hot(ids, 3)
    with pytest.raises(ValueError, match="must be integers"):
        one_hot(ids.float(), 5)
    with pytest.raises(ValueError, match=r"padding_idx must be None or an int in \[0, 5\)"):
        one_hot(ids, 5, pad_id=5)


def test_one_hot_paths_agree_on_padding():
    """The data helper and the model layer are one function: the pad row is zero in both,
    as it is in Embedding, and a linear layer sees nothing of padding."""
    ids = torch.tensor([[3, 0, 1, 0]])
    layer, emb = OneHot(4), Embedding(4, 3)
    assert torch.equal(layer(ids), one_hot(ids, 4))
    assert layer(ids)[0, 1].abs().sum() == 0 and emb(ids)[0, 1].abs().sum() == 0
    assert torch.equal(OneHot(4, padding_idx=None)(ids), one_hot(ids, 4, pad_id=None))
    head = torch.nn.Linear(4, 2, bias=False)
    assert head(layer(ids))[0, [1, 3]].abs().sum() == 0


@pytest.mark.parametrize("header", [False, True])
def test_load_word_vectors_glove_and_word2vec(tmp_path, header):
    g = torch.Generator().manual_seed(0)
    table = {w: torch.randn(3, generator=g) for w in ["the", "king", "paris", "queen"]}
    lines = [f"{w} " + " ".join(f"{x:.6f}" for x in v.tolist()) for w, v in table.items()]
    if header:
        lines.insert(0, f"{len(table)} 3")
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n")
    vocab = Vocab(["the", "King", "queen", "unseen"])
    pv = load_word_vectors(path, vocab, dim=3, seed=1)
    assert pv.weight.shape == (len(vocab), 3)
    assert torch.allclose(pv.weight[vocab.id("the")], table["the"], atol=1e-6)
    assert torch.allclose(pv.weight[vocab.id("King")], table["king"], atol=1e-6)  # lowercase
    assert torch.equal(pv.weight[vocab.pad_id], torch.zeros(3))
    assert sorted(pv.found) == ["King", "queen", "the"]
    assert "unseen" in pv.missing and "<unk>" in pv.missing
    assert pv.weight[vocab.id("unseen")].abs().sum() > 0  # random init, not zero
    assert pv.coverage == pytest.approx(3 / 7)
    emb = torch.nn.Embedding.from_pretrained(pv.weight)
    assert emb(torch.tensor([vocab.id("queen")])).shape == (1, 3)


def test_load_word_vectors_errors(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(DataError, match="line 2: expected 3 numbers"):
        load_word_vectors(path, Vocab(["a"]))
    path.write_text("a 1 2 3\n")
    with pytest.raises(DataError, match="line 1: vectors have dimension 3, expected dim=4"):
        load_word_vectors(path, Vocab(["a"]), dim=4)
    path.write_text("a 1 x 3\n")
    with pytest.raises(DataError, match="line 1: non-numeric"):
        load_word_vectors(path, Vocab(["a"]))
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_word_vectors(path, Vocab(["a"]))


def test_json_files_missing_or_malformed_name_the_file(tmp_path):
    import pytest

    from seqlab.data import DataError, Scaler, Vocab

    with pytest.raises(DataError, match=r"nope\.json: file not found"):
        Vocab.load(tmp_path / "nope.json")
    bad = tmp_path / "scaler.json"
    bad.write_text('{"method": "standard",\n  oops}')
    with pytest.raises(DataError, match=r"scaler\.json, line 2: not valid JSON"):
        Scaler.load(bad)
