"""Seq2Seq: shapes, padding, attention, teacher forcing, greedy/beam search, learning."""

import pytest
import torch

from models_common import encoder, encoder_names, pad, roundtrip, train, train_on
from seqlab.data import IGNORE_INDEX, Batch
from seqlab.models import InputConfig, Seq2Seq, Seq2SeqConfig

SRC, TGT, BOS, EOS = 12, 14, 2, 3
ATTENTIONS = [("additive", "general"), ("multiplicative", "general"), ("multiplicative", "dot")]


def _model(enc="bigru", attention=("additive", "general"), hidden=8, **kw):
    torch.manual_seed(0)
    enc_cfg = encoder(enc, hidden)
    out_size = hidden * (2 if enc_cfg.bidirectional else 1)
    if enc_cfg.kind == "wavenet":
        out_size = enc_cfg.skip_channels
    cfg = Seq2SeqConfig(
        inputs=InputConfig(vocab_size=SRC, embedding_dim=6),
        tgt_vocab_size=TGT,
        encoder=enc_cfg,
        decoder_kind=kw.pop("decoder_kind", "gru"),
        decoder_hidden_size=kw.pop("decoder_hidden_size", out_size),
        attention=attention[0],
        score=attention[1],
        attention_size=8,
        **kw,
    )
    return Seq2Seq(cfg).eval()


def _data(seed=1):
    g = torch.Generator().manual_seed(seed)
    src = [torch.randint(4, SRC, (L,), generator=g) for L in [5, 2, 4, 1]]
    tgt = [
        torch.cat([torch.randint(4, TGT, (L,), generator=g), torch.tensor([EOS])])
        for L in [3, 4, 1, 2]
    ]
    ids, lengths = pad(src)
    targets, target_lengths = pad(tgt, IGNORE_INDEX)
    return src, tgt, ids, lengths, targets, target_lengths


@pytest.mark.parametrize("enc", encoder_names())
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padding_never_changes_a_prediction(enc, attention):
    model = _model(enc, attention)
    src, tgt, ids, lengths, targets, _ = _data()
    with torch.no_grad():
        out = model(Batch(ids, targets, lengths))
        assert out.prediction.shape == (4, 5, TGT) and out.loss.dim() == 0
        logits, att, _ = model.teacher_forced(Batch(ids, targets, lengths))
        assert att.shape == (4, 5, 5)
        assert (att.masked_select(~Batch(ids, lengths=lengths).mask().unsqueeze(1)) == 0).all()
        torch.testing.assert_close(att.sum(-1), torch.ones(4, 5))
        for i in range(4):
            alone = model(Batch(src[i].unsqueeze(0), tgt[i].unsqueeze(0))).prediction[0]
            n = len(tgt[i])
            torch.testing.assert_close(logits[i, :n], alone, atol=1e-5, rtol=1e-5)


def test_target_lengths_mask_the_loss_like_ignore_index():
    model = _model()
    _, _, ids, lengths, targets, target_lengths = _data()
    loss = model(Batch(ids, targets, lengths)).loss
    zero_padded = targets.masked_fill(targets == IGNORE_INDEX, 0)
    batch = Batch(ids, zero_padded, lengths, target_lengths=target_lengths)
    torch.testing.assert_close(model(batch).loss, loss)


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("decoder_kind", ["gru", "lstm"])
def test_greedy_equals_beam_size_one(attention, decoder_kind):
    model = _model("bilstm-2", attention, decoder_kind=decoder_kind)
    _, _, ids, lengths, _, _ = _data()
    greedy = model.decode(ids, lengths, search="greedy", max_length=9)
    beam = model.decode(ids, lengths, search="beam", beam_size=1, max_length=9)
    assert torch.equal(greedy.tokens, beam.tokens)
    assert torch.equal(greedy.lengths, beam.lengths)
    torch.testing.assert_close(greedy.scores, beam.scores)
    torch.testing.assert_close(greedy.attention, beam.attention)


@pytest.mark.parametrize("length_penalty", [0.0, 0.8])
def test_beam_scores_are_the_models_log_probabilities(length_penalty):
    model = _model("bigru", ("multiplicative", "general"), decoder_kind="lstm")
    _, _, ids, lengths, _, _ = _data()
    out = model.decode(ids, lengths, beam_size=4, length_penalty=length_penalty, max_length=8)
    assert out.tokens.shape[0] == 4 and out.attention.shape[1:] == (out.tokens.shape[1], 5)
    targets = out.tokens.masked_fill(
        torch.arange(out.tokens.size(1)) >= out.lengths.unsqueeze(1), IGNORE_INDEX
    )
    with torch.no_grad():
        logits, att, _ = model.teacher_forced(Batch(ids, targets, lengths))
    logp = logits.log_softmax(-1).gather(2, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    total = (logp * (targets != IGNORE_INDEX)).sum(1)
    lp = ((5 + out.lengths) / 6) ** length_penalty if length_penalty else 1.0
    torch.testing.assert_close(out.scores, total / lp, atol=1e-4, rtol=1e-4)
    real = (targets != IGNORE_INDEX).unsqueeze(-1)
    torch.testing.assert_close(out.attention, att * real, atol=1e-5, rtol=1e-5)


def test_wider_beam_finds_higher_scores_on_average():
    model = _model("bigru", hidden=8)
    ids = torch.randint(4, SRC, (16, 5))
    greedy = model.decode(ids, beam_size=1, max_length=8).scores
    beam = model.decode(ids, beam_size=5, max_length=8).scores
    assert beam.mean() >= greedy.mean()


def test_teacher_forcing_ratio_zero_feeds_back_the_models_own_argmax():
    model = _model("gru", teacher_forcing=0.0).train()  # no dropout: train() only flips the ratio
    _, _, ids, lengths, targets, _ = _data()
    with torch.no_grad():
        logits, _, _ = model.teacher_forced(Batch(ids, targets, lengths))
        greedy = model.decode(ids, lengths, max_length=targets.size(1))
    own = logits.argmax(-1)
    for i in range(4):
        n = int(greedy.lengths[i])
        assert torch.equal(own[i, :n], greedy.tokens[i, :n])
    model.eval()  # evaluation always reads the gold tokens
    with torch.no_grad():
        gold_fed = model.teacher_forced(Batch(ids, targets, lengths))[0]
    assert not torch.allclose(gold_fed, logits)


def test_forward_without_targets_decodes():
    model = _model()
    _, _, ids, lengths, _, _ = _data()
    out = model(Batch(ids, lengths=lengths))
    assert out.loss is None and torch.equal(out.prediction, model.decode(ids, lengths).tokens)


def test_mismatched_inputs_are_rejected():
    model = _model()
    _, _, ids, lengths, targets, _ = _data()
    with pytest.raises(ValueError, match=f"token id {SRC} is out of range"):
        model(Batch(ids.masked_fill(ids == 5, SRC), targets, lengths))
    with pytest.raises(ValueError, match=f"target id {TGT} is not in"):
        model(Batch(ids, targets.masked_fill(targets == EOS, TGT), lengths))
    with pytest.raises(ValueError, match="beam_size must be a positive int"):
        model.decode(ids, lengths, beam_size=0)
    with pytest.raises(ValueError, match="score='dot' needs"):
        _model("gru", ("multiplicative", "dot"), decoder_hidden_size=5)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_checkpoint_roundtrip(attention):
    model = _model("bilstm-2", attention, decoder_kind="lstm")
    _, _, ids, lengths, targets, _ = _data()
    batch = Batch(ids, targets, lengths)
    with torch.no_grad():
        torch.testing.assert_close(roundtrip(model)(batch).prediction, model(batch).prediction)


def test_overfits_a_small_batch():
    model = _model("bigru", hidden=16)
    _, _, ids, lengths, targets, _ = _data()
    assert train(model, Batch(ids, targets, lengths), steps=80, lr=3e-2) < 0.05


def _reversal_batch(step, n=64):
    """Source: 3..8 symbols from 4..11; target: the same reversed, then <eos>."""
    g = torch.Generator().manual_seed(step)
    lengths = torch.randint(3, 9, (n,), generator=g)
    src = [torch.randint(4, SRC, (int(L),), generator=g) for L in lengths]
    tgt = [torch.cat([s.flip(0), torch.tensor([EOS])]) for s in src]
    ids, lengths = pad(src)
    return Batch(ids, pad(tgt, IGNORE_INDEX)[0], lengths)


@pytest.mark.slow
@pytest.mark.parametrize("attention", ["additive", "multiplicative"])
def test_learns_sequence_reversal(attention):
    # Exact match of the whole output; copying the input scores about 0 (palindromes only).
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(
        inputs=InputConfig(vocab_size=SRC, embedding_dim=16),
        tgt_vocab_size=TGT,
        encoder=encoder("bigru", 32),
        decoder_hidden_size=64,
        attention=attention,
        attention_size=32,
    )
    model = Seq2Seq(cfg)
    train_on(model, _reversal_batch, steps=600, lr=5e-3)
    test = _reversal_batch(10_000, n=300)
    out = model.decode(test.inputs, test.lengths, beam_size=3, max_length=12)
    hits = 0
    for i in range(300):
        want = test.targets[i][test.targets[i] != IGNORE_INDEX]
        hits += int(out.lengths[i] == len(want) and torch.equal(out.tokens[i, : len(want)], want))
    print(f"reversal exact match ({attention}): {hits / 300:.3f}")
    assert hits / 300 >= 0.9, hits / 300


def _step_loop(model, batch):
    """Teacher forcing as U calls of ``model.step``: the definition the fused path keeps."""
    enc = model.encode(batch.inputs, batch.lengths)
    targets = model._targets(batch)
    gold = targets.masked_fill(targets == IGNORE_INDEX, 0)
    prev, state, feed, logits = torch.full((batch.size,), BOS), enc.state, None, []
    for t in range(targets.size(1)):
        step_logits, state, feed, _ = model.step(prev, state, feed, enc.memory, enc.mask)
        logits.append(step_logits)
        prev = gold[:, t]
    return torch.stack(logits, 1)


@pytest.mark.parametrize("decoder_kind", ["gru", "lstm"])
@pytest.mark.parametrize("score", ["general", "dot"])
def test_fused_luong_decoder_equals_its_step_loop(decoder_kind, score):
    model = _model("bigru", ("multiplicative", score), decoder_kind=decoder_kind).double()
    assert model.parallel_decoder
    _, _, ids, lengths, targets, _ = _data()
    batch = Batch(ids, targets, lengths)
    real = targets != IGNORE_INDEX
    fused, _, _ = model.teacher_forced(batch)
    assert (fused[~real] == 0).all()  # only real positions are projected to the vocabulary
    params = list(model.parameters())
    grads = torch.autograd.grad(fused[real].square().sum(), params)
    loop = _step_loop(model, batch)
    torch.testing.assert_close(fused[real], loop[real], atol=1e-10, rtol=0)
    for g, want in zip(grads, torch.autograd.grad(loop[real].square().sum(), params), strict=True):
        torch.testing.assert_close(g, want, atol=1e-10, rtol=0)
    loss = model(batch).loss  # the mean over real positions, as ignore_index gives it
    want = torch.nn.functional.cross_entropy(loop.transpose(1, 2), targets)
    torch.testing.assert_close(loss, want, atol=1e-10, rtol=0)


def test_input_feeding_and_additive_decoders_take_the_step_loop():
    for attention, feeding in (("multiplicative", True), ("additive", False)):
        model = _model("gru", (attention, "general"), input_feeding=feeding)
        assert not model.parallel_decoder
    with pytest.raises(ValueError, match="input_feeding applies to attention='multiplicative'"):
        _model("gru", ("additive", "general"), input_feeding=True)


def test_label_smoothing_is_the_smoothed_cross_entropy():
    eps = 0.1
    model = _model("gru", ("multiplicative", "general"), label_smoothing=eps).double()
    _, _, ids, lengths, targets, _ = _data()
    out = model(Batch(ids, targets, lengths))
    logp = out.prediction.log_softmax(-1)
    real = targets != IGNORE_INDEX
    nll = -logp.gather(2, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    uniform = -logp.mean(-1)  # eps spread evenly over the V classes
    want = ((1 - eps) * nll + eps * uniform)[real].mean()
    torch.testing.assert_close(out.loss, want, atol=1e-10, rtol=0)


def test_feature_sequences_as_sources():
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(
        inputs=InputConfig(input_size=5),
        tgt_vocab_size=TGT,
        encoder=encoder("bigru", 8),
        decoder_hidden_size=16,
        target_embedding_dim=6,
    )
    model = Seq2Seq(cfg).eval()
    feats = [torch.randn(L, 5) for L in (6, 3, 4, 2)]
    x, lengths = pad(feats)
    _, tgt, _, _, targets, _ = _data()
    out = model(Batch(x, targets, lengths))
    assert out.prediction.shape == (4, 5, TGT)
    alone = model(Batch(feats[1].unsqueeze(0), tgt[1].unsqueeze(0))).prediction[0]
    torch.testing.assert_close(out.prediction[1, : len(tgt[1])], alone, atol=1e-5, rtol=1e-5)
    assert model.decode(x, lengths, beam_size=2, max_length=4).tokens.shape[0] == 4
    with pytest.raises(ValueError, match="inputs must have 5 features"):
        model(Batch(torch.randn(2, 3, 4), targets[:2]))


def test_evaluate_batch_encodes_the_source_once(monkeypatch):
    model = _model()
    _, _, ids, lengths, targets, _ = _data()
    calls = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda *a: calls.append(1) or encode(*a))
    out = model.evaluate_batch(Batch(ids, targets, lengths))
    assert len(calls) == 1
    torch.testing.assert_close(out.loss, model(Batch(ids, targets, lengths)).loss)
    decoded = model.decode(ids, lengths)
    assert out.prediction[2] == decoded.tokens[2, : decoded.lengths[2]].tolist()
