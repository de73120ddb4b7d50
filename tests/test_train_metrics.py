"""Metrics: values checked by hand or against sacrebleu; accumulators equal the functions."""

from __future__ import annotations

import math

import pytest
import sacrebleu
import torch

from seqlab.data import IGNORE_INDEX, Batch
from seqlab.train.metrics import (
    BLEU,
    MAE,
    MAPE,
    MASE,
    RMSE,
    Accuracy,
    EntityF1,
    ExactMatch,
    MacroF1,
    accuracy,
    bio_entities,
    bits_per_char,
    bleu,
    entity_prf,
    exact_match,
    macro_f1,
    mae,
    make_metric,
    mape,
    mase,
    naive_scale,
    perplexity,
    rmse,
)


def test_accuracy_ignores_padding_and_takes_logits():
    target = torch.tensor([[1, 2, IGNORE_INDEX], [0, 0, 1]])
    pred = torch.tensor([[1, 0, 2], [0, 0, 0]])
    assert accuracy(pred, target) == pytest.approx(3 / 5)
    logits = torch.nn.functional.one_hot(pred, 3).float()  # (B, T, C)
    assert accuracy(logits, target) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match=r"prediction shape \(2,\) does not match"):
        accuracy(torch.tensor([1, 2]), target)


def test_macro_f1_by_hand():
    gold = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    pred = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    # class 0: tp 3 fp 0 fn 1 -> 6/7; class 1: tp 1 fp 1 fn 1 -> 1/2; class 2: tp 1 fp 1 fn 0 -> 2/3
    assert macro_f1(pred, gold, num_classes=3) == pytest.approx((6 / 7 + 1 / 2 + 2 / 3) / 3)
    # a class absent from gold and prediction does not count
    assert macro_f1(pred, gold, num_classes=5) == pytest.approx((6 / 7 + 1 / 2 + 2 / 3) / 3)


def test_bio_entities_and_entity_prf():
    # conlleval's reading: I-X after O (or after another type) starts an entity
    assert bio_entities(["O", "I-PER", "I-PER", "B-PER", "I-LOC"]) == {
        ("PER", 1, 3), ("PER", 3, 4), ("LOC", 4, 5),
    }  # fmt: skip
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "B-MISC"]]
    # correct: LOC, ORG (PER has the wrong end); predicted 4, gold 3
    p, r, f = entity_prf(pred, gold)
    assert (p, r) == (0.5, 2 / 3)
    assert f == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert entity_prf(["O"], ["O"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="tag 'X-PER' at position 1"):
        bio_entities(["O", "X-PER"])
    with pytest.raises(ValueError, match="sentence 0: 1 predicted tags but 2 gold"):
        entity_prf([["O"]], [["O", "O"]])


def test_language_model_metrics():
    assert perplexity(math.log(50.0)) == pytest.approx(50.0)
    assert bits_per_char(math.log(256.0)) == pytest.approx(8.0)  # uniform over bytes


def test_regression_metrics_by_hand():
    y = torch.tensor([1.0, 2.0, 4.0])
    p = torch.tensor([2.0, 2.0, 1.0])
    assert mae(p, y) == pytest.approx(4 / 3)
    assert rmse(p, y) == pytest.approx(math.sqrt(10 / 3))
    assert mape(p, y) == pytest.approx(100 * (1 + 0 + 0.75) / 3)
    with pytest.raises(ValueError, match="a target value is 0"):
        mape(p, torch.tensor([0.0, 1.0, 1.0]))
    history = torch.tensor([1.0, 3.0, 2.0, 4.0])  # naive errors 2, 1, 2 -> scale 5/3
    assert naive_scale(history) == pytest.approx(5 / 3)
    assert mase(p, y, history) == pytest.approx((4 / 3) / (5 / 3))
    assert naive_scale(torch.tensor([1.0, 5.0, 2.0, 6.0]), season=2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="constant"):
        naive_scale(torch.ones(5))


def test_seq2seq_metrics():
    hyps = ["the cat sat on the mat", "a dog barks loudly"]
    refs = ["the cat sat on the mat", "the dog barks loudly"]
    assert bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert exact_match(hyps, refs) == 0.5
    assert exact_match([[1, 2], [3]], [[1, 2], [4]]) == 0.5


def _split(n_parts, *tensors):
    return zip(*(t.chunk(n_parts) for t in tensors), strict=True)


def test_accumulators_over_batches_equal_the_whole_corpus_values():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 5, generator=g)
    classes = torch.randint(0, 5, (40,), generator=g)
    acc, f1 = Accuracy(), MacroF1(5)
    for lg, t in _split(4, logits, classes):
        for m in (acc, f1):
            m.update(lg, Batch(torch.zeros(len(t), 1), t))
    assert acc.value() == pytest.approx(accuracy(logits, classes))
    assert f1.value() == pytest.approx(macro_f1(logits, classes, num_classes=5))

    pred, y = torch.rand(30, 4, generator=g) + 0.5, torch.rand(30, 4, generator=g) + 0.5
    history = torch.rand(50, generator=g)
    scale = naive_scale(history)
    accs = [MAE(), RMSE(), MAPE(), MASE(scale)]
    for p, t in _split(3, pred, y):
        for m in accs:
            m.update(p, Batch(torch.zeros(len(t), 1), t))
    expected = [mae(pred, y), rmse(pred, y), mape(pred, y), mase(pred, y, history)]
    assert [m.value() for m in accs] == pytest.approx(expected)


def test_entity_accumulator_skips_padding():
    tags = ["O", "B-PER", "I-PER", "B-LOC"]
    gold = torch.tensor([[1, 2, 0, IGNORE_INDEX], [3, 0, 1, 2]])
    pred = torch.tensor([[1, 2, 0, 3], [3, 0, 1, 0]])  # the padded position predicts B-LOC
    m = EntityF1(tags)
    m.update(pred, Batch(torch.zeros(2, 4, 1), gold))
    # gold: PER(0-2), LOC, PER(2-4); predicted: PER(0-2), LOC, PER(2-3)
    assert m.scores(m.stats) == pytest.approx((2 / 3, 2 / 3, 2 / 3))


def test_bleu_accumulator_equals_sacrebleu_on_the_corpus():
    words = ["<pad>", "the", "cat", "sat", "on", "mat", "a", "dog"]

    def decode(ids):
        return " ".join(words[i] for i in ids)

    pred = torch.tensor([[1, 2, 3, 4, 1, 5], [6, 7, 3, 4, 1, 5], [1, 7, 3, 0, 0, 0]])
    gold = torch.tensor([[1, 2, 3, 4, 1, 5], [1, 7, 3, 4, 1, 5], [1, 7, 3, -100, -100, -100]])
    m, em = BLEU(decode), ExactMatch()
    for p, t in _split(3, pred, gold):
        m.update(p, Batch(torch.zeros(1, 1), t))
        em.update(p, Batch(torch.zeros(1, 1), t))
    hyps = [decode(r) for r in pred.tolist()]
    refs = [decode([i for i in r if i != -100]) for r in gold.tolist()]
    assert m.value() == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert em.value() == pytest.approx(2 / 3)


def test_make_metric_errors_name_the_option():
    assert isinstance(make_metric("mae"), MAE)
    with pytest.raises(ValueError, match=r"metric 'entity_f1' needs tags=\.\.\."):
        make_metric("entity_f1")
    with pytest.raises(ValueError, match="unknown metric 'f2'; expected one of: accuracy"):
        make_metric("f2")


def test_the_package_keeps_every_public_name():
    import seqlab.train
    import seqlab.train.metrics as metrics

    before_split = [
        "BLEU", "MAE", "MAPE", "MASE", "RMSE", "Accuracy", "EntityF1", "ExactMatch", "MacroF1",
        "Metric", "accuracy", "bio_entities", "bits_per_char", "bleu", "entity_prf",
        "exact_match", "macro_f1", "mae", "make_metric", "mape", "mase", "naive_scale",
        "perplexity", "rmse",
    ]  # fmt: skip
    assert set(before_split) <= set(metrics.__all__)
    assert all(hasattr(metrics, name) for name in metrics.__all__)
    assert seqlab.train.Metric is metrics.Metric
    assert seqlab.train.make_metric is metrics.make_metric
    assert seqlab.train.metrics is metrics
