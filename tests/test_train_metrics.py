"""Metrics: values checked by hand or against sacrebleu; accumulators equal the functions."""

from __future__ import annotations

import math

import pytest
import sacrebleu
import torch
import torch.nn.functional as F

from seqlab.data import IGNORE_INDEX, Batch
from seqlab.train.metrics import (
    BLEU,
    MAE,
    MAPE,
    MASE,
    METRIC_NAMES,
    RMSE,
    Accuracy,
    BitsPerChar,
    EntityF1,
    ExactMatch,
    MacroF1,
    Perplexity,
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


def test_make_metric_knows_every_name_in_metric_names():
    options = {"macro_f1": {"num_classes": 3}, "entity_f1": {"tags": ["O", "B-X"]}}
    options["mase"] = {"scale": 0.5}
    options["frequency_nll"] = {"key_probs": [0.1] * 88}
    options["repeat_nll"] = {"epsilon": 0.05}
    options["wer"] = {"space": 1}
    assert len(set(METRIC_NAMES)) == len(METRIC_NAMES) == 20
    for name in METRIC_NAMES:
        metric = make_metric(name, **options.get(name, {}))
        assert metric.name == name and metric.stats.shape == (metric.size,)
    assert isinstance(make_metric("perplexity"), Perplexity)
    assert isinstance(make_metric("bits_per_char"), BitsPerChar)
    with pytest.raises(ValueError) as error:
        make_metric("Perplexity")
    assert str(error.value).endswith(", ".join(sorted(METRIC_NAMES)))  # lists every name


def test_make_metric_says_what_to_pass_and_checks_option_values():
    with pytest.raises(ValueError, match=r"'macro_f1' needs num_classes=\.\.\. \(the number of cl"):
        make_metric("macro_f1")
    with pytest.raises(ValueError, match=r"'mase' needs scale=\.\.\. \(naive_scale\(training"):
        make_metric("mase")
    with pytest.raises(ValueError, match=r"'entity_f1' needs tags=\.\.\. \(the BIO tag names"):
        make_metric("entity_f1", **{})
    with pytest.raises(ValueError, match="metric 'mae' takes no options, got num_classes="):
        make_metric("mae", num_classes=3)
    with pytest.raises(ValueError, match="metric 'macro_f1' takes num_classes=, got classes="):
        make_metric("macro_f1", classes=3)
    for bad in (1, 2.0, True, "3"):
        with pytest.raises(ValueError, match=f"num_classes must be an int >= 2, got {bad!r}"):
            make_metric("macro_f1", num_classes=bad)
    for bad in (0.0, -1.0, math.inf, math.nan, "1"):
        with pytest.raises(ValueError, match=rf"scale must be a number > 0.0, got {bad!r} \(naive"):
            make_metric("mase", scale=bad)
    assert make_metric("mase", scale=2).scale == 2.0
    with pytest.raises(ValueError, match="tags must be a non-empty list of tag names"):
        make_metric("entity_f1", tags="O")
    with pytest.raises(ValueError, match=r"tags\[1\] must be O, B-X or I-X, got 'PER'"):
        make_metric("entity_f1", tags=["O", "PER"])
    with pytest.raises(ValueError, match="decode must be a function"):
        make_metric("bleu", decode="spaces")
    m = EntityF1(["O", "B-PER"])
    with pytest.raises(ValueError, match="metric 'entity_f1': tag id 2 but 2 tags"):
        m.update(torch.tensor([[0, 2]]), Batch(torch.zeros(1, 2), torch.tensor([[0, 1]])))


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


_WORDS = ["<pad>", "the", "cat", "sat", "on", "mat", "a", "dog", "barks", "at", "it"]


def _decode(ids):
    return " ".join(_WORDS[i] for i in ids if i != 0)  # padding decodes to nothing


def _random_corpus(n, seed):
    """``n`` predicted rows (ids, 0 = pad) and target rows (ids, -100 = pad) of length 9,
    with an empty hypothesis, an empty reference and a perfect copy among them."""
    g = torch.Generator().manual_seed(seed)
    pred = torch.randint(1, len(_WORDS), (n, 9), generator=g)
    gold = torch.randint(1, len(_WORDS), (n, 9), generator=g)
    copy = torch.rand(n, 9, generator=g) < 0.6  # most words right, so every order matches
    pred = torch.where(copy, gold, pred)
    for row, length in enumerate(torch.randint(1, 10, (n,), generator=g).tolist()):
        pred[row, length:] = 0
        gold[row, torch.randint(length - 1, 10, (), generator=g) :] = IGNORE_INDEX
    pred[0] = 0  # an empty hypothesis
    gold[1] = IGNORE_INDEX  # an empty reference
    pred[2], gold[2] = torch.arange(1, 10), torch.arange(1, 10)
    return pred, gold


def _corpus_text(pred, gold):
    hyps = [_decode(r) for r in pred.tolist()]
    refs = [_decode([i for i in r if i != IGNORE_INDEX]) for r in gold.tolist()]
    return hyps, refs


def _batches(sizes, *tensors):
    start = 0
    for size in sizes:
        yield tuple(t[start : start + size] for t in tensors)
        start += size
    assert start == len(tensors[0])


def test_bleu_accumulator_over_batches_of_different_sizes_equals_corpus_bleu():
    pred, gold = _random_corpus(23, seed=1)
    hyps, refs = _corpus_text(pred, gold)
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert 0 < expected < 100
    m = BLEU(_decode)
    for p, t in _batches([1, 5, 0, 2, 8, 7], pred, gold):  # an empty batch among them
        m.update(p, Batch(torch.zeros(len(t), 1), t))
    assert m.value() == pytest.approx(expected, rel=1e-12)
    # ranks hold parts of the corpus: summed statistics, then compute, is the corpus value
    ranks = [BLEU(_decode), BLEU(_decode), BLEU(_decode)]
    for rank, (p, t) in zip(ranks, _batches([11, 3, 9], pred, gold), strict=True):
        for pb, tb in _batches([len(t) // 2, len(t) - len(t) // 2], p, t):
            rank.update(pb, Batch(torch.zeros(len(tb), 1), tb))
    summed = sum(r.stats for r in ranks)
    assert ranks[0].compute(summed) == pytest.approx(expected, rel=1e-12)
    assert torch.equal(summed, m.stats)


def test_bleu_accumulator_smooths_as_corpus_bleu_when_an_order_has_no_match():
    # no 4-gram matches anywhere: unsmoothed BLEU would be 0, corpus_bleu smooths (exp)
    pred = torch.tensor([[1, 2, 3, 7], [4, 5, 6, 0]])
    gold = torch.tensor([[1, 2, 3, 4], [4, 5, 8, IGNORE_INDEX]])
    hyps, refs = _corpus_text(pred, gold)
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert expected > 0
    m = BLEU(_decode)
    for p, t in _split(2, pred, gold):
        m.update(p, Batch(torch.zeros(1, 1), t))
    assert m.value() == pytest.approx(expected, rel=1e-12)


def test_bleu_accumulator_edge_cases():
    m = BLEU(_decode)
    assert math.isnan(m.value())  # nothing seen
    m.update(torch.zeros(0, 4, dtype=torch.long), Batch(torch.zeros(0, 1), torch.zeros(0, 4)))
    assert math.isnan(m.value()) and not m.stats.any()  # an empty batch adds nothing
    # only empty hypotheses: BLEU 0, as sacrebleu says
    the = torch.ones(2, 3, dtype=torch.long)
    m.update(torch.zeros(2, 3, dtype=torch.long), Batch(torch.zeros(2, 1), the))
    assert m.value() == sacrebleu.corpus_bleu(["", ""], [["the the the"] * 2]).score == 0.0
    with pytest.raises(ValueError, match="metric 'bleu': 1 predictions but 2 targets"):
        m.update([[1, 2]], Batch(torch.zeros(2, 1), the))
    with pytest.raises(ValueError, match="decode must be a function from ids to text, got 3"):
        BLEU(3)


def _lm_corpus(n, T, V, dtype, seed):
    """Logits (n, T, V) and next-token targets with -100 padding after a random length."""
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(n, T, V, generator=g)).to(dtype)
    targets = torch.randint(0, V, (n, T), generator=g)
    lengths = torch.randint(1, T + 1, (n,), generator=g)
    targets[torch.arange(T) >= lengths[:, None]] = IGNORE_INDEX
    return logits, targets


@pytest.mark.parametrize(("dtype", "rel"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_perplexity_and_bpc_accumulators_equal_cross_entropy_over_the_whole_set(dtype, rel):
    logits, targets = _lm_corpus(21, 7, 11, dtype, seed=2)
    mean_nll = F.cross_entropy(
        logits.reshape(-1, 11), targets.reshape(-1), ignore_index=IGNORE_INDEX
    ).item()  # the mean over every target not ignored, in one call
    ppl, bpc = Perplexity(), BitsPerChar()
    for lg, t in _batches([1, 6, 0, 3, 11], logits, targets):  # (B, T, V) logits
        for m in (ppl, bpc):
            m.update(lg, Batch(torch.zeros(len(t), 7), t))
    assert ppl.stats[1] == (targets != IGNORE_INDEX).sum()
    assert ppl.value() == pytest.approx(math.exp(mean_nll), rel=rel)
    assert bpc.value() == pytest.approx(mean_nll / math.log(2), rel=rel)
    assert ppl.value() == pytest.approx(perplexity(mean_nll), rel=rel)
    # (N, V) logits with (N,) targets, split over "ranks": summed stats, then compute
    flat_logits, flat_targets = logits.reshape(-1, 11), targets.reshape(-1)
    ranks = [Perplexity(), Perplexity()]
    for rank, (lg, t) in zip(ranks, _batches([50, 97], flat_logits, flat_targets), strict=True):
        for lb, tb in _batches([13, len(t) - 13], lg, t):
            rank.update(lb, Batch(torch.zeros(len(tb), 1), tb))
    summed = ranks[0].stats + ranks[1].stats
    assert summed[1] == ppl.stats[1]
    assert summed[0].item() == pytest.approx(ppl.stats[0].item(), rel=rel)
    assert ranks[1].compute(summed) == pytest.approx(math.exp(mean_nll), rel=rel)
    assert bpc.compute(summed) == pytest.approx(mean_nll / math.log(2), rel=rel)


def test_perplexity_accumulator_edge_cases():
    m, b = Perplexity(), BitsPerChar()
    assert math.isnan(m.value()) and math.isnan(b.value())  # nothing seen
    padding = torch.full((2, 3), IGNORE_INDEX)
    m.update(torch.randn(2, 3, 4), Batch(torch.zeros(2, 3), padding))
    assert math.isnan(m.value()) and not m.stats.any()  # only padding: nothing counted
    # a confidently wrong model: a mean of 1000 nats overflows exp, which gives inf
    logits = torch.tensor([[0.0, 1000.0]], dtype=torch.float64)
    m.update(logits, Batch(torch.zeros(1, 1), torch.tensor([0])))
    assert m.stats.tolist() == [1000.0, 1.0]
    assert m.value() == math.inf and perplexity(1000.0) == math.inf
    # a uniform guess over V tokens: perplexity V, log2 V bits
    b.update(torch.zeros(3, 5, 256), Batch(torch.zeros(3, 5), torch.ones(3, 5, dtype=torch.long)))
    assert b.value() == pytest.approx(8.0)
    with pytest.raises(ValueError, match=r"needs logits of shape target shape \+ \(V,\)"):
        m.update(torch.randn(2, 4), Batch(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long)))
    with pytest.raises(ValueError, match=r"a target id is 4, outside \[0, 4\) for 4 logits"):
        m.update(torch.randn(2, 4), Batch(torch.zeros(2, 1), torch.tensor([1, 4])))
    with pytest.raises(ValueError, match=r"a target id is -1, outside"):
        m.update(torch.randn(2, 4), Batch(torch.zeros(2, 1), torch.tensor([-1, 2])))
    assert m.stats.tolist() == [1000.0, 1.0]  # a refused batch adds nothing
