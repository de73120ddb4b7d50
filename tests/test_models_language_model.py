"""LanguageModel: shapes, padding, state carrying, generation, conditioning, metrics."""

import math

import pytest
import torch

from models_common import encoder, encoder_names, pad, roundtrip, train
from seqlab.data import IGNORE_INDEX, Batch
from seqlab.models import (
    EncoderConfig,
    InputConfig,
    LanguageModel,
    LanguageModelConfig,
    sample_next,
)
from seqlab.train.metrics import bits_per_char as bits_per_character
from seqlab.train.metrics import perplexity

V = 11


def _model(enc="lstm", hidden=8, **kw):
    torch.manual_seed(0)
    cfg = LanguageModelConfig(
        InputConfig(vocab_size=V, embedding_dim=6), encoder=encoder(enc, hidden), **kw
    )
    return LanguageModel(cfg).eval()


def _seqs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, V, (L,), generator=g) for L in [7, 3, 5, 1]]


@pytest.mark.parametrize("enc", encoder_names(causal=True))
def test_padding_never_changes_a_prediction(enc):
    model = _model(enc)
    seqs = _seqs()
    ids, lengths = pad(seqs)
    targets = pad([s.roll(-1) for s in seqs], IGNORE_INDEX)[0]
    with torch.no_grad():
        out = model(Batch(ids, targets, lengths))
        assert out.prediction.shape == (4, 7, V) and out.loss.dim() == 0
        for i, s in enumerate(seqs):
            alone = model(Batch(s.unsqueeze(0))).prediction[0]
            torch.testing.assert_close(out.prediction[i, : len(s)], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("enc", ["rnn", "gru", "lstm-peephole-ln"])
def test_state_carried_across_chunks_equals_one_pass(enc):
    # truncated BPTT feeds Output.state back in; the forward values must not change
    model = _model(enc)
    ids = torch.randint(2, V, (3, 9))
    with torch.no_grad():
        full = model(Batch(ids)).prediction
        first = model(Batch(ids[:, :4]))
        second = model(Batch(ids[:, 4:]), state=first.state)
    torch.testing.assert_close(torch.cat([first.prediction, second.prediction], 1), full)


@pytest.mark.parametrize("enc", encoder_names(causal=True))
def test_greedy_generation_follows_the_models_own_argmax(enc):
    # Step-by-step generation (recurrent state / TCN streaming) equals one full pass.
    model = _model(enc)
    prompt = torch.tensor([[2, 5, 7], [3, 3, 9]])
    seq = model.generate(prompt, max_new_tokens=6, greedy=True)
    assert seq.shape == (2, 9) and torch.equal(seq[:, :3], prompt)
    with torch.no_grad():
        logits = model(Batch(seq[:, :-1])).prediction
    assert torch.equal(logits[:, 2:].argmax(-1), seq[:, 3:])


@pytest.mark.parametrize("enc", encoder_names(causal=True))
def test_generation_with_a_seed_is_reproducible(enc):
    model = _model(enc)
    a = model.generate([2, 4], 12, temperature=1.5, seed=7)
    b = model.generate([2, 4], 12, temperature=1.5, seed=7)
    c = model.generate([2, 4], 12, temperature=1.5, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (14,) and int(a.max()) < V


def test_sampling_filters():
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0]]).repeat(500, 1)
    greedy = sample_next(logits, greedy=True)
    assert torch.equal(sample_next(logits, top_k=1, generator=g), greedy)
    assert torch.equal(sample_next(logits, top_p=0.01, generator=g), greedy)
    top2 = sample_next(logits, top_k=2, generator=g)
    assert set(top2.tolist()) == {0, 1}
    # p = softmax: 0.61, 0.22, 0.14, 0.03 -> the 0.8 nucleus is the first two tokens
    assert set(sample_next(logits, top_p=0.8, generator=g).tolist()) == {0, 1}
    assert set(sample_next(logits, top_p=0.9, generator=g).tolist()) == {0, 1, 2}
    cold = sample_next(logits, temperature=0.05, generator=g)
    assert (cold == 0).float().mean() > 0.99


def test_generation_stops_at_eos_and_pads():
    model = _model("gru")
    out = model.generate([[2, 5], [2, 6]], 20, seed=0, eos_id=4, temperature=3.0)
    for row in out:
        hits = (row[2:] == 4).nonzero()
        if len(hits):
            assert (row[2 + int(hits[0]) + 1 :] == 0).all()


@pytest.mark.parametrize("condition", ["init", "concat"])
@pytest.mark.parametrize("enc", ["lstm", "gru", "tcn", "wavenet"])
def test_conditioning_on_a_feature_vector(condition, enc):
    if condition == "init" and enc in ("tcn", "wavenet"):
        with pytest.raises(ValueError, match="condition='init' sets a recurrent state"):
            _model(enc, feature_size=3, condition=condition)
        return
    model = _model(enc, feature_size=3, condition=condition)
    ids = torch.randint(2, V, (2, 5))
    f = torch.randn(2, 3)
    with torch.no_grad():
        a = model(Batch(ids, features=f)).prediction
        b = model(Batch(ids, features=f + 1)).prediction
    assert not torch.allclose(a, b)
    seq = model.generate(ids[:, :2], 4, greedy=True, features=f)
    with torch.no_grad():
        logits = model(Batch(seq[:, :-1], features=f)).prediction
    assert torch.equal(logits[:, 1:].argmax(-1), seq[:, 2:])
    with pytest.raises(ValueError, match=r"features must be \(B=2, feature_size=3\), got \(2, 4\)"):
        model(Batch(ids, features=torch.randn(2, 4)))
    with pytest.raises(ValueError, match="needs features"):
        model(Batch(ids))


def test_mismatched_inputs_and_configs_are_rejected():
    model = _model("lstm")
    with pytest.raises(ValueError, match=f"token id {V} is out of range"):
        model(Batch(torch.tensor([[2, V]])))
    with pytest.raises(ValueError, match=f"target id {V} is not in"):
        model(Batch(torch.tensor([[2, 3]]), targets=torch.tensor([[3, V]])))
    with pytest.raises(ValueError, match="bidirectional must be false"):
        LanguageModelConfig(
            InputConfig(vocab_size=V), encoder=EncoderConfig(kind="gru", bidirectional=True)
        )
    with pytest.raises(ValueError, match="feature_size > 0 needs condition"):
        LanguageModelConfig(InputConfig(vocab_size=V), feature_size=3)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        model.generate([2], 3, temperature=0)
    with pytest.raises(ValueError, match="prompt must be"):
        model.generate([], 3)


def test_metrics():
    # a uniform guess over V tokens has loss ln V: perplexity V, log2 V bits per character
    assert math.isclose(perplexity(math.log(V)), V)
    assert math.isclose(bits_per_character(torch.tensor(math.log(256))), 8.0, rel_tol=1e-6)


@pytest.mark.parametrize(
    "enc,condition",
    [("lstm-peephole-ln", "none"), ("lstm", "init"), ("tcn", "none"), ("wavenet", "concat")],
)
def test_checkpoint_roundtrip(enc, condition):
    kw = {} if condition == "none" else dict(feature_size=2, condition=condition)
    model = _model(enc, **kw)
    batch = Batch(torch.randint(2, V, (2, 5)), features=torch.randn(2, 2) if kw else None)
    with torch.no_grad():
        torch.testing.assert_close(roundtrip(model)(batch).prediction, model(batch).prediction)


def test_overfits_a_small_batch():
    model = _model("gru", hidden=32)
    ids, lengths = pad(_seqs())
    targets = pad([s.roll(-1) for s in _seqs()], IGNORE_INDEX)[0]
    assert train(model, Batch(ids, targets, lengths), steps=100, lr=3e-2) < 0.05
