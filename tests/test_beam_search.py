"""Batched beam search (seqlab.models.beam_search) against a plain per-sentence,
per-hypothesis reference of the same definition; greedy == beam 1; the stopping rule,
the length limit relative to the source and the repetition guard."""

import itertools
import math

import pytest
import torch

from models_common import encoder, pad
from seqlab.models import InputConfig, Seq2Seq, Seq2SeqConfig
from seqlab.models.beam_search import repeated_ngram_mask

SRC, TGT, BOS, EOS, PAD = 12, 9, 2, 3, 0


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = Seq2SeqConfig(
        inputs=InputConfig(vocab_size=SRC, embedding_dim=6),
        tgt_vocab_size=TGT,
        encoder=encoder("bigru", 8),
        decoder_hidden_size=16,
        attention=kw.pop("attention", "multiplicative"),
        attention_size=8,
        **kw,
    )
    model = Seq2Seq(cfg).double().eval()
    with torch.no_grad():  # sharpen the output layer: <eos> competes with real tokens
        model.out.weight.mul_(3.0)
    return model


def _sources(seed=1, lengths=(5, 2, 4, 1, 6)):
    g = torch.Generator().manual_seed(seed)
    return pad([torch.randint(4, SRC, (L,), generator=g) for L in lengths])


def _banned(seq: list[int], n: int) -> set[int]:
    if n == 0 or len(seq) < n - 1:
        return set()
    if n == 1:
        return set(seq)
    prefix = tuple(seq[len(seq) - n + 1 :])
    return {seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == prefix}


def reference_beam(model, src, k, alpha, limit, n=0):
    """One sentence, one hypothesis per model call; the module docstring's definition."""
    lp = lambda L: ((5 + L) / 6) ** alpha  # noqa: E731
    enc = model.encode(src.unsqueeze(0))
    live = [([], 0.0, enc.state, model._initial_feed(enc.memory))]  # tokens, log p, state, feed
    best = None
    for t in range(limit):
        L = t + 1
        cands = []  # (log p, order key, tokens, state, feed)
        for j, (seq, score, state, feed) in enumerate(live):
            prev = torch.tensor([seq[-1] if seq else BOS])
            logits, st, fd, _ = model.step(prev, state, feed, enc.memory, enc.mask)
            logp = logits.log_softmax(-1)[0].tolist()
            for v in _banned(seq, n):
                logp[v] = -math.inf
            for v in range(TGT):
                if logp[v] > -math.inf:
                    cands.append((score + logp[v], j * TGT + v, [*seq, v], st, fd))
        cands.sort(key=lambda c: (-c[0], c[1]))
        cands = cands[: 2 * k]
        new_live, live_seen = [], 0
        for score, _, seq, st, fd in cands:
            if seq[-1] == EOS:
                if live_seen < k and (best is None or score / lp(L) > best[0]):
                    best = (score / lp(L), seq)
            else:
                live_seen += 1
                if len(new_live) < k:
                    new_live.append((seq, score, st, fd))
        live = new_live
        if limit <= L:
            for seq, score, _, _ in live:
                if best is None or score / lp(L) > best[0]:
                    best = (score / lp(L), seq)
            break
        if not live:
            break
        if best is not None:
            top = max(score for _, score, _, _ in live)
            if best[0] >= (top / lp(limit) if alpha > 0 else top):
                break
    return best


@pytest.mark.parametrize("attention", ["multiplicative", "additive"])
@pytest.mark.parametrize(("k", "alpha", "n"), [(1, 0.0, 0), (3, 0.0, 0), (3, 1.0, 0), (4, 0.6, 2)])
def test_batched_beam_equals_the_per_sentence_reference(attention, k, alpha, n):
    model = _model(attention=attention)
    ids, lengths = _sources()
    limit = 7
    out = model.decode(
        ids, lengths, beam_size=k, length_penalty=alpha, max_length=limit,
        search="beam", no_repeat_ngram_size=n,
    )  # fmt: skip
    for i in range(ids.size(0)):
        score, seq = reference_beam(model, ids[i, : lengths[i]], k, alpha, limit, n)
        got = out.tokens[i, : out.lengths[i]].tolist()
        assert got == seq, (i, got, seq)
        assert abs(float(out.scores[i]) - score) < 1e-10
        assert (out.tokens[i, out.lengths[i] :] == PAD).all()


@pytest.mark.parametrize("attention", ["multiplicative", "additive"])
@pytest.mark.parametrize("n", [0, 1, 2])
def test_greedy_equals_beam_one_with_the_guard_and_relative_limit(attention, n):
    model = _model(attention=attention, max_length_a=1.0, max_length_b=1)
    ids, lengths = _sources()
    greedy = model.decode(ids, lengths, search="greedy", no_repeat_ngram_size=n)
    beam = model.decode(ids, lengths, search="beam", beam_size=1, no_repeat_ngram_size=n)
    assert torch.equal(greedy.tokens, beam.tokens) and torch.equal(greedy.lengths, beam.lengths)
    torch.testing.assert_close(greedy.scores, beam.scores, atol=1e-10, rtol=0)
    torch.testing.assert_close(greedy.attention, beam.attention, atol=1e-10, rtol=0)
    assert (greedy.lengths <= lengths + 1).all()  # floor(1.0 * S) + 1


def test_length_limit_is_relative_to_the_source_and_capped():
    model = _model(max_length_a=0.5, max_length_b=2, max_length=4)
    assert model.max_lengths(torch.tensor([1, 3, 4, 10])).tolist() == [2, 3, 4, 4]
    assert _model().max_lengths(torch.tensor([1, 30])).tolist() == [100, 100]


def test_no_repeat_ngram_guard_holds_in_outputs():
    model = _model()
    ids, lengths = _sources(lengths=(6, 6, 6))
    for search, k in (("greedy", 1), ("beam", 3)):
        out = model.decode(ids, lengths, search=search, beam_size=k, max_length=20,
                           no_repeat_ngram_size=2)  # fmt: skip
        for i in range(ids.size(0)):
            seq = out.tokens[i, : out.lengths[i]].tolist()
            bigrams = list(itertools.pairwise(seq))
            assert len(bigrams) == len(set(bigrams)), seq


def test_repeated_ngram_mask():
    history = torch.tensor([[5, 6, 5, 7, 5], [4, 4, 4, 4, 4]])
    m = repeated_ngram_mask(history, 2, 9)
    assert m[0].nonzero().flatten().tolist() == [6, 7]  # after "5": 6 and 7 were seen
    assert m[1].nonzero().flatten().tolist() == [4]
    assert repeated_ngram_mask(history, 1, 9)[0].nonzero().flatten().tolist() == [5, 6, 7]
    assert not repeated_ngram_mask(history[:, :1], 3, 9).any()


def test_stopping_rule_waits_for_longer_hypotheses_that_can_still_win():
    # A toy decoder: from <bos>, <eos> at once has log p = -1.0; token 4 costs -0.2 for
    # five steps, then <eos> -0.1. With alpha = 0 the short one wins (-1.0 > -1.1); with
    # alpha = 2 the long one's -1.1 / ((5 + 6) / 6)^2 = -0.33 beats -1.0 / 1, although the
    # short one finished first: a search that stopped there would miss it.
    from seqlab.models.beam_search import beam_search

    V = 6

    def step(prev, state):
        t = state
        logp = torch.full((prev.size(0), V), -50.0, dtype=torch.float64)
        at_start = prev == BOS
        logp[at_start, EOS] = -1.0
        logp[at_start, 4] = -0.2
        grown = ~at_start
        logp[grown, 4] = torch.where(t[grown] < 5, -0.2, -50.0).double()
        logp[grown, EOS] = torch.where(t[grown] < 5, -30.0, -0.1).double()
        return logp, t + 1, torch.ones(prev.size(0), 1, dtype=torch.float64)

    start = torch.zeros(2, dtype=torch.long)
    limits = torch.tensor([20])
    for alpha, want in ((0.0, [EOS]), (2.0, [4] * 5 + [EOS])):
        out = beam_search(step, lambda s, i: s[i], start, limits, 2, BOS, EOS, PAD, alpha)
        assert out.tokens[0, : out.lengths[0]].tolist() == want, alpha


def test_beam_size_zero_is_one_clear_error():
    model = _model()
    ids, lengths = _sources()
    with pytest.raises(ValueError, match="beam_size must be a positive int, got 0"):
        model.decode(ids, lengths, beam_size=0)
    with pytest.raises(ValueError, match="beam_size must be a positive int, got 0"):
        Seq2SeqConfig(InputConfig(vocab_size=SRC), TGT, beam_size=0)
