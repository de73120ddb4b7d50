"""The seq2seq pipeline's shared source/target vocabulary (one subword model, saved once),
a copying model trained and reloaded through a run directory, and whole books held out
(``split: books``, from the book of each Bible verse)."""

import json

import pytest
import torch

from devices import on_cpu
from seqlab import load_run, run_config, train_run
from seqlab.config import ConfigError
from seqlab.data import TextPairs, Vocab, load
from seqlab.data.errors import MissingPackageError
from seqlab.tasks.seq2seq import Seq2SeqData, Seq2SeqTask, _book_split
from test_seq2seq_task import QUIET, _pairs, _tsv

pytest.importorskip("tokenizers", reason="subwords need: pip install tokenizers")


def _config(train, **model):
    return run_config({
        "task": "seq2seq",
        "data": {"train": train, "source_tokenizer": "bpe", "target_tokenizer": "bpe",
                 "shared_vocab": True, "subword_vocab_size": 60, "batch_size": 16},
        "model": {"inputs": {"embedding_dim": 8}, "encoder": {"kind": "gru", "hidden_size": 8},
                  "decoder_hidden_size": 8, "max_length": 12, **model},
        "train": {**QUIET, "epochs": 1, "metrics": ["bleu"]},
    })  # fmt: skip


def test_shared_vocabulary_is_one_model_fitted_on_both_sides(tmp_path):
    cfg = _config(_tsv(tmp_path / "train.tsv", _pairs()))
    task = Seq2SeqTask(cfg.data)
    task.prepare()
    assert task.source is task.target
    for text in ("Thou art the king.", "You are the king."):  # archaic and modern words
        ids = task.source.ids(text)
        assert Vocab.unk_id not in ids and task.target_text(ids) == text
    assert task.model_sizes()["shared_vocab"] is True
    assert set(task.state_files()) == {"shared_subwords"}
    state = json.loads(json.dumps(task.state()))
    again = Seq2SeqTask.restore_saved(cfg.data, state, task.state_files())
    assert again.source is again.target
    assert again.source.ids("You are the king.") == task.source.ids("You are the king.")
    words = Seq2SeqTask(Seq2SeqData(train=cfg.data.train, shared_vocab=True))
    words.prepare()  # word vocabularies can be shared too (no file: the state holds them)
    assert words.source is words.target and {"thou", "you"} <= set(words.source.vocab.tokens)
    restored = Seq2SeqTask.restore(words.data, json.loads(json.dumps(words.state())))
    assert restored.source is restored.target
    assert restored.source.vocab.tokens == words.source.vocab.tokens


def test_copying_run_saves_one_vocabulary_file_and_reloads(tmp_path):
    torch.manual_seed(0)
    cfg = _config(_tsv(tmp_path / "train.tsv", _pairs()), copy=True, tie_embeddings=True)
    run = train_run(cfg, tmp_path / "run")
    for ckpt in ("last", "best"):
        names = {p.name for p in (tmp_path / "run" / ckpt).iterdir()}
        assert "shared_subwords.json" in names
        assert not {"source_subwords.json", "target_subwords.json"} & names
        assert json.loads((tmp_path / "run" / ckpt / "task.json").read_text())["shared"] is True
    again = load_run(tmp_path / "run")
    assert again.model.config.copy and again.model.target is again.model.source.embed
    lines = ["Thou art the king.", "Unto me thy house shall stand."]
    assert list(again.predict(lines)) == list(on_cpu(run).predict(lines))
    batch = run.task.encode(lines)
    torch.testing.assert_close(
        again.model.decode(batch.inputs, batch.lengths, beam_size=3).scores,
        run.model.decode(batch.inputs, batch.lengths, beam_size=3).scores,
    )


def test_copy_without_a_shared_vocabulary_is_one_config_error(tmp_path):
    train = _tsv(tmp_path / "train.tsv", _pairs())
    with pytest.raises(ConfigError, match=r"model: copy: true needs .*data\.shared_vocab: true"):
        run_config({"task": "seq2seq", "data": {"train": train}, "model": {"copy": True}})
    with pytest.raises(ConfigError, match="shared_vocab: true needs one tokenizer for both"):
        run_config({
            "task": "seq2seq",
            "data": {"train": train, "shared_vocab": True, "target_tokenizer": "char"},
            "model": {},
        })  # fmt: skip
    with pytest.raises(ConfigError, match="shared_vocab"):
        _config(train, shared_vocab=True)  # the data decides it, not the model section


BOOKS = ["Gen"] * 50 + ["Exod"] * 40 + ["Ruth"] * 4 + ["Matt"] * 28 + ["Jude"] * 1 + ["Rev"] * 22


def _book_pairs():
    return [(f"{b} {i} thou", f"{b} {i} you") for i, b in enumerate(BOOKS)]


def test_book_split_holds_out_whole_closing_books():
    d = Seq2SeqData(dataset="reversal", split="books", val_fraction=0.2, test_fraction=0.15)
    split = _book_split(_book_pairs(), BOOKS, d, have={"train": 1})
    n = len(BOOKS)  # 145: test wants 21.75 pairs (Rev: 22), val 29 (Matt 28 + Jude 1 ...)
    assert split.test == _book_pairs()[n - 22 :]  # Revelation alone is nearest
    assert split.val == _book_pairs()[94 : n - 22]  # Matthew and Jude: 29, exactly 0.2 n
    assert split.train == _book_pairs()[:94]
    parts = (split.train, split.val, split.test)
    for part in parts:
        assert {p[0].split()[0] for p in part}.isdisjoint(
            {p[0].split()[0] for other in parts if other is not part for p in other}
        )  # no book is cut between two splits
    d = Seq2SeqData(dataset="reversal", split="books", val_fraction=0.0, test_fraction=0.01)
    split = _book_split(_book_pairs(), BOOKS, d, have={"train": 1})
    assert split.test == _book_pairs()[n - 22 :] and split.val == []  # at least one book
    d = Seq2SeqData(dataset="reversal", split="books", val_fraction=0.2, test_fraction=0.15,
                    limit=29)  # fmt: skip
    split = _book_split(_book_pairs(), BOOKS, d, have={"train": 1})
    kept = [_book_pairs()[int(i * 145 / 29)] for i in range(29)]  # every 5th pair
    assert split.test == kept[-4:] and {p[0].split()[0] for p in split.test} == {"Rev"}
    d = Seq2SeqData(dataset="reversal", split="books", val_fraction=0.8, test_fraction=0.1)
    with pytest.raises(ConfigError, match="leave no book to train on"):  # Exodus, Ruth
        _book_split(_book_pairs()[50:94], BOOKS[50:94], d, have={"train": 1})


def test_book_split_through_the_task_and_its_errors(tmp_path, monkeypatch):
    d = Seq2SeqData(dataset="bible_kjv_web", split="books", val_fraction=0.2, test_fraction=0.15)
    task = Seq2SeqTask(d)
    monkeypatch.setattr(task, "load_dataset", lambda *a: TextPairs(_book_pairs(), BOOKS))
    task.read()
    assert task.splits.test == _book_pairs()[-22:] and len(task.splits.train) == 94
    assert task.groups["test"] == ["Rev"] * 22 and set(task.groups["val"]) == {"Matt", "Jude"}
    assert task.groups["train"] == BOOKS[:94]
    plain = Seq2SeqTask(Seq2SeqData(train=_tsv(tmp_path / "t.tsv", _pairs()), split="books"))
    with pytest.raises(ConfigError, match="split: 'books' needs pairs grouped by book"):
        plain.read()
    with pytest.raises(ValueError, match="3 groups for 2 pairs"):
        TextPairs([("a", "b"), ("c", "d")], ["x", "y", "z"])


def test_real_bible_books():
    try:
        pairs = load("bible_kjv_web")
    except MissingPackageError:
        pytest.skip("sword-text-kjv / sword-text-web not installed")
    books = list(dict.fromkeys(pairs.groups))
    assert len(pairs.groups) == len(pairs) and len(books) == 66
    assert books[:2] == ["Gen", "Exod"] and books[-1] == "Rev"
    d = Seq2SeqData(dataset="bible_kjv_web", split="books", val_fraction=0.05, test_fraction=0.05)
    split = _book_split(pairs.pairs, pairs.groups, d, have={"train": 1})
    n_train, n_val = len(split.train), len(split.val)
    assert pairs.groups[n_train] == "Rom" and pairs.groups[n_train + n_val] == "1Thess"
    assert pairs.groups[n_train - 1] == "Acts" and pairs.groups[n_train + n_val - 1] == "Col"
