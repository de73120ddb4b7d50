"""SequenceTagger: shapes, padding, CRF, errors, checkpoints, learning."""

import pytest
import torch

from models_common import encoder, encoder_names, pad, roundtrip, train, train_on
from seqlab.data import IGNORE_INDEX, Batch
from seqlab.models import InputConfig, SequenceTagger, TaggerConfig


def _model(enc="bigru", crf=False, hidden=8, num_tags=4):
    torch.manual_seed(0)
    cfg = TaggerConfig(
        inputs=InputConfig(vocab_size=16, embedding_dim=6),
        num_tags=num_tags,
        encoder=encoder(enc, hidden),
        crf=crf,
    )
    return SequenceTagger(cfg).eval()


def _data(seed=1):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(1, 16, (L,), generator=g) for L in [6, 2, 4, 1]]
    tags = [torch.randint(0, 4, (L,), generator=g) for L in [6, 2, 4, 1]]
    ids, lengths = pad(seqs)
    return seqs, ids, lengths, pad(tags, IGNORE_INDEX)[0]


@pytest.mark.parametrize("enc", encoder_names())
@pytest.mark.parametrize("crf", [False, True])
def test_padding_never_changes_a_prediction(enc, crf):
    model = _model(enc, crf)
    seqs, ids, lengths, tags = _data()
    with torch.no_grad():
        out = model(Batch(ids, tags, lengths))
        assert out.prediction.shape == ids.shape and out.loss.dim() == 0
        assert (out.prediction[ids == 0] == IGNORE_INDEX).all()
        scores = model.emissions(Batch(ids, lengths=lengths))
        for i, s in enumerate(seqs):
            n = len(s)
            alone = model(Batch(s.unsqueeze(0), tags[i : i + 1, :n]))
            torch.testing.assert_close(
                scores[i, :n], model.emissions(Batch(s.unsqueeze(0)))[0], atol=1e-5, rtol=1e-5
            )
            assert torch.equal(out.prediction[i, :n], alone.prediction[0])


def test_padding_positions_do_not_enter_the_loss():
    model = _model("bigru")
    _, ids, lengths, tags = _data()
    loss = model(Batch(ids, tags, lengths)).loss
    noisy = tags.clone()
    noisy[ids == 0] = IGNORE_INDEX
    ids_noisy = ids.clone()
    ids_noisy[ids == 0] = 7  # garbage after each length
    torch.testing.assert_close(model(Batch(ids_noisy, noisy, lengths)).loss, loss)


def test_crf_loss_is_the_sentence_negative_log_likelihood():
    model = _model("bigru", crf=True)
    _, ids, lengths, tags = _data()
    batch = Batch(ids, tags, lengths)
    scores = model.emissions(batch)
    mask = batch.mask()
    expect = (
        model.crf.log_partition(scores, mask) - model.crf.score(scores, tags.clamp_min(0), mask)
    ).mean()
    torch.testing.assert_close(model(batch).loss, expect)


def test_mismatched_inputs_are_rejected():
    model = _model("gru", crf=True)
    _, ids, lengths, tags = _data()
    with pytest.raises(ValueError, match=r"tag 4 is not in \[0, num_tags=4\)"):
        model(Batch(ids, tags.masked_fill(tags == 1, 4), lengths))
    with pytest.raises(ValueError, match="every real step needs a tag"):
        model(Batch(ids, tags.masked_fill(tags == 1, IGNORE_INDEX), lengths))
    with pytest.raises(ValueError, match="targets must be"):
        model(Batch(ids, tags[:, :2], lengths))
    with pytest.raises(ValueError, match="out of range for a vocabulary of 16"):
        model(Batch(ids + 10))


@pytest.mark.parametrize("crf", [False, True])
def test_checkpoint_roundtrip(crf):
    model = _model("bilstm-2", crf)
    _, ids, lengths, tags = _data()
    batch = Batch(ids, tags, lengths)
    with torch.no_grad():
        torch.testing.assert_close(roundtrip(model)(batch).loss, model(batch).loss)


@pytest.mark.parametrize("crf", [False, True])
def test_overfits_a_small_batch(crf):
    model = _model("bigru", crf, hidden=16)
    _, ids, lengths, tags = _data()
    assert train(model, Batch(ids, tags, lengths), steps=60, lr=3e-2) < 0.05


def _tagging_batch(step, n=32, T=12):
    """Tokens 4..11; tag = 1 if larger than the left neighbour, + 2 if larger than the right
    one (so each tag needs both sides: a bidirectional task, 4 tags)."""
    g = torch.Generator().manual_seed(step)
    lengths = torch.randint(3, T + 1, (n,), generator=g)
    mask = torch.arange(T) < lengths.unsqueeze(1)
    x = torch.randint(4, 12, (n, T), generator=g) * mask
    left = torch.cat([torch.full((n, 1), 99), x[:, :-1]], 1)
    right = torch.cat([x[:, 1:], torch.full((n, 1), 99)], 1).masked_fill(~mask, 99)
    right = right.masked_fill(torch.arange(T) == (lengths - 1).unsqueeze(1), 99)
    tags = (x > left).long() + 2 * (x > right).long()
    return Batch(x, tags.masked_fill(~mask, IGNORE_INDEX), lengths)


@pytest.mark.parametrize("crf", [False, True])
def test_learns_a_generated_tagging_task(crf):
    # Chance over 4 tags is 0.25; the majority tag scores about 0.4.
    model = _model("bigru", crf, hidden=32)
    train_on(model, _tagging_batch, steps=300, lr=1e-2)
    test = _tagging_batch(10_000, n=500)
    with torch.no_grad():
        pred = model(test).prediction
    real = test.targets != IGNORE_INDEX
    acc = (pred[real] == test.targets[real]).float().mean().item()
    assert acc >= 0.95, acc
