"""The seq2seq pipeline: subword vocabularies saved as their own file, detokenized
BLEU/chrF, ordered splits, validation samples, length limits and bad pair files."""

import json
import random

import pytest
import sacrebleu
import torch

from devices import on_cpu
from seqlab import load_run, run_config, train_run
from seqlab.cli import main
from seqlab.config import ConfigError
from seqlab.data import Batch
from seqlab.data.detokenize import detokenize
from seqlab.data.errors import DataError
from seqlab.tasks.seq2seq import Seq2SeqData, Seq2SeqTask
from seqlab.train.metrics import make_metric

tokenizers = pytest.importorskip("tokenizers", reason="subwords need: pip install tokenizers")
from seqlab.data.subwords import Subwords  # noqa: E402

QUIET = {"progress": False, "tensorboard": False}
WORDS = ["thou", "art", "the", "king", "thy", "house", "shall", "stand", "unto", "me"]
MODERN = {"thou": "you", "art": "are", "thy": "your", "unto": "to"}


def _pairs(n=120, seed=0):
    r = random.Random(seed)
    out = []
    for _ in range(n):
        src = [r.choice(WORDS) for _ in range(r.randint(2, 6))]
        tgt = [MODERN.get(w, w) for w in src]
        out.append((" ".join(src).capitalize() + ".", " ".join(tgt).capitalize() + "."))
    return out


def _tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    return str(path)


def test_subwords_roundtrip_the_text_and_keep_the_special_ids():
    texts = [t for _, t in _pairs()]
    for kind in ("bpe", "unigram"):
        sw = Subwords.train(texts, kind, vocab_size=60, min_freq=1)
        assert sw.vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
        for t in texts[:20]:
            ids = sw.ids(t)
            assert min(ids) >= 4 and sw.text(ids) == t
            assert sw.text([2, *ids, 3, 0, 0]) == t  # <bos> dropped, cut at <eos>
        again = Subwords.from_json(json.loads(json.dumps(sw.to_json())), kind)
        assert again.ids(texts[0]) == sw.ids(texts[0])


def test_subword_model_is_its_own_checkpoint_file_and_reloads(tmp_path, capsys):
    torch.manual_seed(0)
    train = _tsv(tmp_path / "train.tsv", _pairs())
    cfg = run_config({
        "task": "seq2seq",
        "data": {"train": train, "source_tokenizer": "bpe", "target_tokenizer": "unigram",
                 "subword_vocab_size": 60, "batch_size": 16},
        "model": {"inputs": {"embedding_dim": 8}, "encoder": {"kind": "gru", "hidden_size": 8},
                  "decoder_hidden_size": 8, "max_length": 12},
        "train": {**QUIET, "epochs": 1, "metrics": ["bleu", "chrf"]},
    })  # fmt: skip
    run = train_run(cfg, tmp_path / "run")
    assert {"val_bleu", "val_chrf"} <= set(run.history[-1])
    for ckpt in ("last", "best"):
        for side in ("source", "target"):
            saved = json.loads((tmp_path / "run" / ckpt / f"{side}_subwords.json").read_text())
            assert saved["model"]["type"] == ("BPE" if side == "source" else "Unigram")
        task = json.loads((tmp_path / "run" / ckpt / "task.json").read_text())
        assert "model" not in json.dumps(task)  # the vocabulary lives in its own file only
    again = load_run(tmp_path / "run")
    assert list(again.predict(["Thou art the king."])) == list(
        on_cpu(run).predict(["Thou art the king."])
    )
    line = tmp_path / "in.txt"
    line.write_text("Thou art the king.\n")
    assert main(["predict", str(tmp_path / "run"), str(line), "--beam", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "beam_size must be a positive int, got 0" in err and len(err.splitlines()) == 1
    state = json.loads((tmp_path / "run" / "best" / "task.json").read_text())
    source = json.loads((tmp_path / "run" / "best" / "source_subwords.json").read_text())
    with pytest.raises(DataError, match=r"checkpoint has no target_subwords\.json"):
        Seq2SeqTask.restore_saved(cfg.data, state, {"source_subwords": source})


def test_detokenize_and_metrics_score_text_as_written():
    assert detokenize(["Thou", "art", "the", "king", "."]) == "Thou art the king."
    assert detokenize(["(", "a", ")", ",", "b", "!"]) == "(a), b!"
    hyps, refs = ["You are the king.", "A house"], ["You are the king.", "The house shall stand."]
    ids = {text: i for i, text in enumerate(hyps + refs)}
    decode = {i: t for t, i in ids.items()}.get
    for name, scorer in (("bleu", sacrebleu.corpus_bleu), ("chrf", sacrebleu.corpus_chrf)):
        metric = make_metric(name, decode=lambda seq: decode(seq[0]))
        for h, r in zip(hyps, refs, strict=True):  # one sentence per batch: sums must add up
            metric.update([[ids[h]]], Batch(torch.zeros(1, 1), torch.tensor([[ids[r]]])))
        want = scorer(hyps, [refs]).score
        assert metric.compute(metric.stats) == pytest.approx(want, abs=1e-9)


def test_word_bleu_is_computed_on_detokenized_text():
    task = Seq2SeqTask(Seq2SeqData(dataset="reversal"))
    task.splits = None
    from seqlab.tasks.text import TextEncoder

    task.target = TextEncoder.fit(["You are the king."], "word")
    ids = task.target.ids("You are the king.")
    assert task.target_text(ids) == "You are the king."


def test_ordered_split_holds_out_the_end_and_val_sample_thins_val():
    data = Seq2SeqData(dataset="reversal", options={"n": 100}, split="ordered",
                       val_fraction=0.2, test_fraction=0.1, val_sample=5)  # fmt: skip
    task = Seq2SeqTask(data)
    task.read()
    from seqlab.data import load

    pairs = load("reversal", n=100).pairs
    assert task.splits.train == pairs[:70] and task.splits.test == pairs[90:]
    assert task.splits.val == [pairs[70 + 4 * i] for i in range(5)]


def test_long_sources_are_cut_with_a_count(tmp_path):
    pairs = [("a b c d e f", "x y"), ("a b", "x y z w v")] * 10
    data = Seq2SeqData(train=_tsv(tmp_path / "t.tsv", pairs), max_source_length=3,
                       max_target_length=4, val_fraction=0.0, test_fraction=0.0)  # fmt: skip
    task = Seq2SeqTask(data)
    task.prepare()
    with pytest.warns(UserWarning) as caught:
        batch = next(iter(task.loader("train")))
    messages = [str(w.message) for w in caught]
    assert "seq2seq train: 10 of 20 sources are longer than max_source_length=3" in messages[0]
    assert "10 of 20 targets are longer than max_target_length=4" in messages[1]
    assert batch.inputs.size(1) == 3 and batch.targets.size(1) == 5  # 4 tokens + <eos>


def test_bad_pair_files_are_one_clear_error(tmp_path):
    one = tmp_path / "one.tsv"
    one.write_text("only a source\n")
    with pytest.raises(DataError, match=r"one.tsv.*line 1.*expected 2 tab-separated fields, got 1"):
        Seq2SeqTask(Seq2SeqData(train=str(one))).read()
    empty = tmp_path / "empty.tsv"
    empty.write_text("a\tb\n \tc\n")
    with pytest.raises(DataError, match=r"empty.tsv.*line 2.*empty source or target"):
        Seq2SeqTask(Seq2SeqData(train=str(empty))).read()
    with pytest.raises(ValueError, match="source_tokenizer must be one of"):
        Seq2SeqData(dataset="reversal", source_tokenizer="sentencepiece")
    with pytest.raises((ValueError, ConfigError), match="beam_size"):
        run_config({"task": "seq2seq", "data": {"dataset": "reversal"},
                    "model": {"beam_size": 0}, "train": QUIET})  # fmt: skip
