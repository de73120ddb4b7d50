"""What every task model tells the trainer: loss weights, metrics, evaluation output,
predict(). The trainer never asks which model it has."""

import math

import pytest
import torch
import torch.nn.functional as F

from devices import device_of
from models_common import pad
from seqlab.data import IGNORE_INDEX, Batch
from seqlab.models import build_model
from seqlab.train import Trainer, TrainerConfig
from seqlab.train.metrics import bleu, exact_match

EOS = 3


def _seq2seq_data(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = [
        torch.randint(4, 10, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g)
        for _ in range(n)
    ]
    tgt = [torch.cat([s.flip(0), torch.tensor([EOS])]) for s in src]  # reversal
    x, lengths = pad(src)
    y, tl = pad(tgt, IGNORE_INDEX)
    return [
        Batch(x[i : i + 8], y[i : i + 8], lengths[i : i + 8], tl[i : i + 8]) for i in range(0, n, 8)
    ]


def test_seq2seq_validation_metrics_come_from_its_own_decoding():
    # Before: BLEU and exact match were computed from the argmax of teacher-forced logits,
    # which credits every step with the gold history, so val_bleu was optimistic.
    torch.manual_seed(0)
    model = build_model("seq2seq", {"inputs": {"vocab_size": 10, "embedding_dim": 8}, "tgt_vocab_size": 10,
                                    "encoder": {"kind": "gru", "hidden_size": 8, "bidirectional": True},
                                    "decoder_hidden_size": 16, "attention_size": 8, "max_length": 8})  # fmt: skip
    data = _seq2seq_data()
    config = TrainerConfig(
        epochs=3, optimizer={"lr": 1e-2}, metrics=["bleu", "exact_match"], progress=False
    )
    trainer = Trainer(model, config)
    trainer.fit(data)
    got = trainer.evaluate(data)

    model.eval()
    hyps, refs, forced = [], [], []
    data = [b.to(device_of(model)) for b in data]  # where the trainer put the model
    with torch.no_grad():
        for b in data:
            d = model.decode(b.inputs, b.lengths)
            hyps += [row[:n] for row, n in zip(d.tokens.tolist(), d.lengths.tolist(), strict=True)]
            refs += [[t for t in row if t != IGNORE_INDEX] for row in b.targets.tolist()]
            logits = model(b).prediction.argmax(-1).tolist()
            forced += [row[: len(r)] for row, r in zip(logits, refs[-len(logits) :], strict=True)]
    text = lambda rows: [" ".join(map(str, r)) for r in rows]  # noqa: E731
    assert got["bleu"] == pytest.approx(bleu(text(hyps), text(refs)))
    assert got["exact_match"] == pytest.approx(exact_match(hyps, refs))
    # and the teacher-forced number it used to report is not that
    assert exact_match(forced, refs) != pytest.approx(got["exact_match"]) or bleu(
        text(forced), text(refs)
    ) != pytest.approx(got["bleu"])
    # the loss is still the teacher-forced mean per target token
    losses = [(F.cross_entropy(model(b).prediction.transpose(1, 2), b.targets, ignore_index=-100,
                               reduction="sum").item(), int((b.targets != -100).sum())) for b in data]  # fmt: skip
    assert got["loss"] == pytest.approx(
        sum(s for s, _ in losses) / sum(n for _, n in losses), rel=1e-5
    )


def test_epoch_loss_is_the_mean_over_what_each_model_averages():
    # a CRF tagger's loss is a mean per sentence; the old trainer weighted it by tokens
    torch.manual_seed(1)
    model = build_model("tagger", {"inputs": {"vocab_size": 12, "embedding_dim": 4}, "num_tags": 3,
                                   "encoder": {"kind": "gru", "hidden_size": 4}, "crf": True})  # fmt: skip
    x, lengths = pad([torch.randint(1, 12, (n,)) for n in (5, 2, 3, 1)])
    tags, _ = pad([torch.randint(0, 3, (n,)) for n in (5, 2, 3, 1)], IGNORE_INDEX)
    batches = [Batch(x[:1], tags[:1, :5], lengths[:1]), Batch(x[1:], tags[1:], lengths[1:])]
    trainer = Trainer(model, TrainerConfig(progress=False))
    got = trainer.evaluate(batches)["loss"]
    model.eval()
    there = [b.to(device_of(model)) for b in batches]  # where the trainer put the model
    with torch.no_grad():
        per_sentence = [model(b).loss.item() * b.size for b in there]
    assert got == pytest.approx(sum(per_sentence) / 4)
    assert model(there[1]).weight is None  # one per sentence
    softmax = build_model("tagger", {"inputs": {"vocab_size": 12}, "num_tags": 3})
    assert int(softmax(batches[1]).weight) == 6  # tagged tokens: 2 + 3 + 1


def _models():
    return {
        "classifier": (build_model("classifier", {"inputs": {"vocab_size": 9}, "num_classes": 3}),
                       Batch(torch.randint(1, 9, (2, 4)), torch.tensor([0, 2]))),
        "tagger": (build_model("tagger", {"inputs": {"vocab_size": 9}, "num_tags": 4, "crf": True}),
                   Batch(torch.randint(1, 9, (2, 4)), torch.tensor([[1, 2, 0, 3], [0, 1, -100, -100]]), torch.tensor([4, 2]))),
        "language_model": (build_model("language_model", {"inputs": {"vocab_size": 9}}),
                           Batch(torch.randint(4, 9, (2, 4)), torch.randint(4, 9, (2, 4)), torch.tensor([4, 2]))),
        "seq2seq": (build_model("seq2seq", {"inputs": {"vocab_size": 9}, "tgt_vocab_size": 9, "max_length": 5}),
                    Batch(torch.randint(4, 9, (2, 4)), torch.tensor([[5, 3], [6, 3]]))),
        "forecaster": (build_model("forecaster", {"input_size": 1, "horizon": 2, "quantiles": [0.9, 0.5, 0.1]}),
                       Batch(torch.randn(2, 6, 1), torch.randn(2, 2, 1))),
        "ctc": (build_model("ctc", {"inputs": {"input_size": 3}, "num_labels": 5, "beam_size": 2,
                                    "encoder": {"kind": "gru", "hidden_size": 4, "bidirectional": True}}),
                Batch(torch.randn(2, 6, 3), torch.tensor([[1, 2], [3, -100]]), torch.tensor([6, 4]), torch.tensor([2, 1]))),
    }  # fmt: skip


@pytest.mark.parametrize(
    "kind", ["classifier", "tagger", "language_model", "seq2seq", "forecaster", "ctc"]
)
def test_predict_gives_what_a_user_wants_in_eval_mode(kind):
    torch.manual_seed(2)
    model, batch = _models()[kind]
    model.train()
    out = model.predict(batch)
    assert model.training  # predict() leaves the mode as it found it
    assert isinstance(out, dict) and out
    assert all(not v.requires_grad for v in out.values() if isinstance(v, torch.Tensor))
    if kind == "classifier":
        assert out["label"].shape == (2,) and out["probabilities"].shape == (2, 3)
        assert torch.allclose(out["probabilities"].sum(-1), torch.ones(2))
        assert torch.equal(out["probability"], out["probabilities"].max(-1).values)
    elif kind == "tagger":
        assert out["tags"].shape == (2, 4) and (out["tags"][1, 2:] == IGNORE_INDEX).all()
    elif kind == "language_model":
        assert out["next_token"].shape == (2, 9)
        # the row of length 2 is read at its own last real step
        logits = model.eval()(Batch(batch.inputs[1:, :2])).prediction[0, -1]
        assert torch.allclose(out["next_token"][1], logits.softmax(-1), atol=1e-6)
    elif kind == "seq2seq":
        assert out["tokens"].shape[0] == 2 and out["lengths"].shape == (2,)
    elif kind == "ctc":
        assert out["labels"].shape[0] == 2 and out["lengths"].shape == out["scores"].shape == (2,)
    else:
        q = out["quantiles"]
        assert q.shape == (2, 2, 1, 3) and out["forecast"].shape == (2, 2, 1)
        # the point forecast is the 0.5 level (listed second)
        assert torch.equal(out["forecast"], q[..., 1])
        assert (q[..., 0] >= q[..., 1]).all() and (q[..., 1] >= q[..., 2]).all()


@pytest.mark.parametrize(
    "kind", ["classifier", "tagger", "language_model", "seq2seq", "forecaster", "ctc"]
)
def test_each_supported_metric_runs_on_the_evaluation_output(kind):
    torch.manual_seed(3)
    model, batch = _models()[kind]
    facts = {"entity_f1": {"tags": ["O", "B-X", "I-X", "B-Y"]}, "mase": {"scale": 1.0}}
    facts["wer"] = {"space": 4}
    names = [n for n in model.supported_metrics() if n != "mape"]
    trainer = Trainer(model, TrainerConfig(progress=False, metrics=[n for n in names if n not in facts]),
                      metrics=[__import__("seqlab").train.make_metric(n, **facts[n]) for n in names if n in facts])  # fmt: skip
    results = trainer.evaluate([batch])
    assert set(results) == {"loss", *names}
    assert all(math.isfinite(v) or math.isinf(v) for v in results.values())
