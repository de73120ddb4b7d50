"""Seq2Seq's copy mechanism (pointer-generator, See, Liu & Manning 2017, eq. 8-9) against
a plain NumPy / loop reference, and tied embeddings (Press & Wolf 2017)."""

import math

import numpy as np
import pytest
import torch

import test_beam_search as beam_tests
from models_common import encoder, pad
from seqlab.data import IGNORE_INDEX, Batch
from seqlab.models import InputConfig, Seq2Seq, Seq2SeqConfig

V, BOS, EOS, PAD = 13, 2, 3, 0
DECODERS = [("multiplicative", False), ("multiplicative", True), ("additive", False)]


def _model(attention="multiplicative", feeding=False, seed=0, **kw):
    torch.manual_seed(seed)
    kw = {"copy": True, "shared_vocab": True, **kw}
    cfg = Seq2SeqConfig(
        inputs=InputConfig(vocab_size=V, embedding_dim=kw.pop("embedding_dim", 6)),
        tgt_vocab_size=V,
        encoder=encoder("bigru", 8),
        decoder_hidden_size=kw.pop("decoder_hidden_size", 16),
        attention=attention,
        input_feeding=feeding,
        attention_size=8,
        **kw,
    )
    return Seq2Seq(cfg).double().eval()


def _data(seed=1):
    g = torch.Generator().manual_seed(seed)
    src = [torch.randint(4, V, (L,), generator=g) for L in [5, 2, 4, 1]]
    tgt = [torch.cat([s[: max(1, len(s) - 1)].flip(0), torch.tensor([EOS])]) for s in src]
    tgt[2][0] = 12  # a word that may or may not be in its source
    ids, lengths = pad(src)
    targets, _ = pad(tgt, IGNORE_INDEX)
    return src, tgt, Batch(ids, targets, lengths)


def numpy_mixture(logits, z, weights, source):
    """P(w) = p_gen P_vocab(w) + (1 - p_gen) sum_{i: w_i = w} a_i, one row and source
    position at a time, in float64 probability space."""
    logits, z, weights, source = (np.asarray(x) for x in (logits, z, weights, source))
    out = np.zeros_like(logits)
    for n in range(logits.shape[0]):
        p_vocab = np.exp(logits[n] - logits[n].max())
        p_vocab /= p_vocab.sum()
        p_gen = 1.0 / (1.0 + math.exp(-z[n]))
        out[n] = p_gen * p_vocab
        for i in range(source.shape[1]):
            out[n, source[n, i]] += (1.0 - p_gen) * weights[n, i]
    return out


def _loop_loss(model, batch, eps=0.0):
    """The training loss by the definition, from the fused decoder's internals: the
    mixture as a Python loop over source positions in probability space, then its NLL
    (smoothed: ``(1 - eps) (-log P(y)) + eps mean_w (-log P(w))``)."""
    enc = model.encode(batch.inputs, batch.lengths)
    targets = model._targets(batch)
    real = targets != IGNORE_INDEX
    gold = targets.masked_fill(~real, PAD)
    h_tilde, weights, features = model._parallel(gold, enc.state, enc.memory, enc.mask)
    losses = []
    for b, t in real.nonzero().tolist():
        p_vocab = model.out(h_tilde[b, t]).softmax(-1)
        p_gen = torch.sigmoid(model.gate(features[b, t]))[0]
        p = p_gen * p_vocab
        for i in range(int(batch.lengths[b])):
            onehot = torch.zeros(V, dtype=p.dtype)
            onehot[batch.inputs[b, i]] = 1.0
            p = p + (1 - p_gen) * weights[b, t, i] * onehot
        y = int(targets[b, t])
        losses.append((1 - eps) * -p[y].log() + eps * -p.log().mean())
    return torch.stack(losses).mean()


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_mixture_loss_equals_the_loop_reference_values_and_gradients(eps):
    model = _model(label_smoothing=eps)
    _, _, batch = _data()
    params = [p for p in model.parameters() if p.requires_grad]
    loss = model(batch).loss
    want = _loop_loss(model, batch, eps)
    torch.testing.assert_close(loss, want, atol=1e-10, rtol=0)
    got = torch.autograd.grad(loss, params, allow_unused=True)
    ref = torch.autograd.grad(want, params, allow_unused=True)
    for g, r in zip(got, ref, strict=True):
        torch.testing.assert_close(g, r, atol=1e-10, rtol=0)


def test_mixture_equals_numpy_and_sums_to_one():
    model = _model()
    g = torch.Generator().manual_seed(3)
    N, S, F = 6, 5, model.gate.in_features
    logits = torch.randn(N, V, generator=g, dtype=torch.float64) * 3
    features = torch.randn(N, F, generator=g, dtype=torch.float64)
    weights = torch.rand(N, S, generator=g, dtype=torch.float64)
    weights[:, -1] = 0.0  # a padded source position: attention 0
    weights /= weights.sum(1, keepdim=True)
    source = torch.randint(4, V, (N, S), generator=g)
    source[0] = 7  # one word at every position: its copy probability sums them all
    source[:, -1] = PAD
    logp = model.mixture(logits, features, weights, source)
    z = model.gate(features)[:, 0].detach()
    want = numpy_mixture(logits, z, weights, source)
    np.testing.assert_allclose(logp.exp().detach().numpy(), want, atol=1e-10, rtol=0)
    np.testing.assert_allclose(logp.exp().sum(-1).detach().numpy(), 1.0, atol=1e-12, rtol=0)
    assert logp.exp()[0, 7] > 0.4 * (1 - torch.sigmoid(z[0]))  # most copy mass on word 7


def test_mixture_gradients_are_finite_where_the_copy_probability_is_zero():
    model = _model()
    logits = torch.randn(2, V, dtype=torch.float64, requires_grad=True)
    features = torch.randn(2, model.gate.in_features, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([[0.7, 0.3], [1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    source = torch.tensor([[5, 6], [5, 0]])
    logp = model.mixture(logits, features, weights, source)
    logp[:, 9].sum().backward()  # word 9 is in neither source
    for x in (logits, features, weights):
        assert torch.isfinite(x.grad).all()
    want = torch.sigmoid(model.gate(features))[:, 0].log() + logits.log_softmax(-1)[:, 9]
    torch.testing.assert_close(logp[:, 9], want, atol=1e-12, rtol=0)


@pytest.mark.parametrize(("attention", "feeding"), DECODERS)
def test_every_decoder_gives_a_distribution_and_padding_changes_nothing(attention, feeding):
    model = _model(attention, feeding)
    src, tgt, batch = _data()
    out = model(batch)
    real = batch.targets != IGNORE_INDEX
    sums = out.prediction.exp().sum(-1)[real]
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-12, rtol=0)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.gate.weight.grad.abs().sum() > 0
    for i in range(4):
        alone = model(Batch(src[i].unsqueeze(0), tgt[i].unsqueeze(0))).prediction[0]
        torch.testing.assert_close(out.prediction[i, : len(tgt[i])], alone, atol=1e-10, rtol=0)


def test_fused_copy_decoder_equals_its_step_loop():
    model = _model()
    assert model.parallel_decoder
    _, _, batch = _data()
    real = batch.targets != IGNORE_INDEX
    fused, _, _ = model.teacher_forced(batch)
    params = list(model.parameters())
    grads = torch.autograd.grad(fused[real].exp().square().sum(), params)
    enc = model.encode(batch.inputs, batch.lengths)
    gold = batch.targets.masked_fill(~real, PAD)
    prev, state, feed, loop = torch.full((4,), BOS), enc.state, None, []
    for t in range(gold.size(1)):
        logp, state, feed, _ = model.step(prev, state, feed, enc.memory, enc.mask, enc.source)
        loop.append(logp)
        prev = gold[:, t]
    loop = torch.stack(loop, 1)
    torch.testing.assert_close(fused[real], loop[real], atol=1e-10, rtol=0)
    want = torch.autograd.grad(loop[real].exp().square().sum(), params)
    for g, w in zip(grads, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=0)


@pytest.mark.parametrize(("attention", "feeding"), DECODERS)
def test_greedy_equals_beam_one_from_the_mixture(attention, feeding):
    model = _model(attention, feeding, max_length_a=1.0, max_length_b=2)
    ids, lengths = beam_tests._sources()
    ids = ids.clamp_max(V - 1)
    greedy = model.decode(ids, lengths, search="greedy", no_repeat_ngram_size=2)
    beam = model.decode(ids, lengths, search="beam", beam_size=1, no_repeat_ngram_size=2)
    assert torch.equal(greedy.tokens, beam.tokens) and torch.equal(greedy.lengths, beam.lengths)
    torch.testing.assert_close(greedy.scores, beam.scores, atol=1e-10, rtol=0)
    # greedy's score is the mixture's log-probability of what it produced
    prev = torch.cat([torch.full((ids.size(0), 1), BOS), greedy.tokens[:, :-1]], 1)
    enc = model.encode(ids, lengths)
    state, feed, total = enc.state, model._initial_feed(enc.memory), torch.zeros(ids.size(0))
    for t in range(greedy.tokens.size(1)):
        logp, state, feed, _ = model.step(prev[:, t], state, feed, enc.memory, enc.mask, enc.source)
        here = logp.gather(1, greedy.tokens[:, t : t + 1])[:, 0]
        total = total + torch.where(t < greedy.lengths, here, 0.0)
    torch.testing.assert_close(greedy.scores, total.double(), atol=1e-10, rtol=0)


@pytest.mark.parametrize(("k", "alpha"), [(3, 0.0), (4, 0.6)])
def test_batched_beam_from_the_mixture_equals_the_per_sentence_reference(k, alpha, monkeypatch):
    model = _model(seed=2)
    ids, lengths = beam_tests._sources()
    ids = ids.clamp_max(V - 1)
    out = model.decode(ids, lengths, beam_size=k, length_penalty=alpha, max_length=7,
                       search="beam")  # fmt: skip
    monkeypatch.setattr(beam_tests, "TGT", V)
    step = model.step
    for i in range(ids.size(0)):
        src = ids[i, : lengths[i]]
        # the reference calls step without the source ids: give it this sentence's
        monkeypatch.setattr(
            model, "step", lambda *a, src=src: step(*a, source=src.unsqueeze(0).expand(1, -1))
        )
        score, seq = beam_tests.reference_beam(model, src, k, alpha, 7)
        assert out.tokens[i, : out.lengths[i]].tolist() == seq
        assert abs(float(out.scores[i]) - score) < 1e-10


def test_copy_false_is_the_plain_decoder():
    torch.manual_seed(0)
    plain = _model(copy=False, shared_vocab=False)
    assert not hasattr(plain, "gate")
    assert not any(name.startswith("gate") for name, _ in plain.named_parameters())
    _, _, batch = _data()
    out = plain(batch)
    want = torch.nn.functional.cross_entropy(out.prediction.transpose(1, 2), batch.targets)
    torch.testing.assert_close(out.loss, want, atol=1e-10, rtol=0)
    # the copy model has the same weights plus the gate
    names = {n for n, _ in plain.named_parameters()}
    assert {n for n, _ in _model().named_parameters()} == names | {"gate.weight", "gate.bias"}


def test_tied_embeddings_share_one_table():
    model = _model(tie_embeddings=True)
    assert model.target is model.source.embed
    untied = _model()
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(untied) - n(model) == V * 6
    _, _, batch = _data()
    model(batch).loss.backward()
    table = model.source.embed.table.weight
    assert table.grad[batch.inputs[0, 0]].abs().sum() > 0  # a source word's row
    tied_out = _model(tie_embeddings=True, tie_output=True, embedding_dim=16)
    assert tied_out.out.weight is tied_out.target.table.weight
    tied_out(batch).loss.backward()
    assert torch.isfinite(tied_out.out.weight.grad).all()


def test_copy_and_tying_need_a_shared_vocabulary_and_matching_sizes():
    with pytest.raises(ValueError, match=r"copy: true needs .* set data\.shared_vocab: true"):
        _model(shared_vocab=False)
    with pytest.raises(ValueError, match=r"tie_embeddings: true needs .* data\.shared_vocab"):
        _model(copy=False, tie_embeddings=True, shared_vocab=False)
    with pytest.raises(ValueError, match=r"tie_output needs .* equal to decoder_hidden_size"):
        _model(tie_output=True)
    with pytest.raises(ValueError, match="tie_embeddings needs target_embedding_dim =="):
        _model(tie_embeddings=True, target_embedding_dim=5)
    with pytest.raises(ValueError, match="vocabularies differ in size"):
        Seq2SeqConfig(InputConfig(vocab_size=V), V + 1, shared_vocab=True)
    with pytest.raises(ValueError, match="copy must be"):
        _model(copy="yes")
