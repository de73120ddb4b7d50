"""SequenceClassifier: shapes, padding, pooling, errors, checkpoints, learning."""

import pytest
import torch

from models_common import encoder, encoder_names, pad, roundtrip, train, train_on
from seqlab.data import Batch
from seqlab.models import ClassifierConfig, InputConfig, SequenceClassifier

POOLINGS = ["last", "mean", "max", "attention"]


def _model(enc="gru", pooling="last", **kw):
    torch.manual_seed(0)
    inputs = kw.pop("inputs", InputConfig(vocab_size=20, embedding_dim=6))
    cfg = ClassifierConfig(inputs=inputs, encoder=encoder(enc), pooling=pooling, **kw)
    return SequenceClassifier(cfg).eval()


def _seqs(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 20, (int(L),), generator=g) for L in [7, 3, 5, 1][:n]]


@pytest.mark.parametrize("enc", encoder_names())
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_never_changes_a_prediction(enc, pooling):
    model = _model(enc, pooling, num_classes=3)
    seqs = _seqs()
    ids, lengths = pad(seqs)
    with torch.no_grad():
        batched = model(Batch(ids, lengths=lengths)).prediction
        assert batched.shape == (4, 3)
        for i, s in enumerate(seqs):
            alone = model(Batch(s.unsqueeze(0))).prediction
            torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=1e-5)


def test_last_pooling_of_a_bidirectional_encoder_uses_each_directions_final_state():
    model = _model("bigru", "last")
    ids = torch.randint(1, 20, (2, 5))
    lengths = torch.tensor([5, 3])
    with torch.no_grad():
        x = model.input(ids)
        _, h = model.encoder(x, lengths)  # (2, B, H): forward and backward final states
        pooled = model.encode(Batch(ids, lengths=lengths))
    torch.testing.assert_close(pooled, torch.cat([h[0], h[1]], dim=-1))


def test_float_features_and_regression():
    cfg_inputs = InputConfig(input_size=3)
    model = _model("lstm", "mean", inputs=cfg_inputs, task="regression", num_classes=2)
    out = model(Batch(torch.randn(4, 6, 3), targets=torch.randn(4, 2)))
    assert out.prediction.shape == (4, 2) and out.loss.dim() == 0
    one = _model("lstm", "mean", inputs=cfg_inputs, task="regression", num_classes=1)
    assert one(Batch(torch.randn(4, 6, 3), targets=torch.randn(4))).loss.dim() == 0


def test_one_hot_inputs():
    model = _model("gru", inputs=InputConfig(vocab_size=20, one_hot=True))
    assert model.input.output_size == 20
    assert model(Batch(torch.randint(0, 20, (2, 4)))).prediction.shape == (2, 2)


def test_pretrained_embeddings_frozen():
    matrix = torch.randn(20, 6)
    inputs = InputConfig(vocab_size=20, embedding_dim=6, freeze_embeddings=True)
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(inputs=inputs), pretrained_embeddings=matrix)
    assert torch.equal(model.input.embed.weight, matrix)
    model(Batch(torch.randint(1, 20, (2, 4)), targets=torch.tensor([0, 1]))).loss.backward()
    assert model.input.embed.weight.grad is None


def test_mismatched_inputs_are_rejected():
    model = _model("gru", num_classes=3)
    with pytest.raises(ValueError, match="token id 20 is out of range for a vocabulary of 20"):
        model(Batch(torch.tensor([[1, 20]])))
    with pytest.raises(ValueError, match=r"target class 3 is not in \[0, num_classes=3\)"):
        model(Batch(torch.tensor([[1, 2]]), targets=torch.tensor([3])))
    with pytest.raises(ValueError, match=r"batch\.lengths"):
        model(Batch(torch.tensor([[1, 2]]), lengths=torch.tensor([3])))
    features = _model("gru", inputs=InputConfig(input_size=3))
    with pytest.raises(ValueError, match=r"inputs must have 3 features \(input_size\)"):
        features(Batch(torch.randn(2, 4, 5)))
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        InputConfig(vocab_size=5, input_size=3)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_checkpoint_roundtrip(pooling):
    model = _model("lstm-peephole-ln", pooling)
    batch = Batch(*pad(_seqs())[:1], lengths=pad(_seqs())[1])
    rebuilt = roundtrip(model)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(batch).prediction, model(batch).prediction)


def test_overfits_a_small_batch():
    model = _model("gru", "attention", num_classes=3)
    ids, lengths = pad(_seqs())
    batch = Batch(ids, targets=torch.tensor([0, 2, 1, 2]), lengths=lengths)
    assert train(model, batch, steps=150) < 0.02


def _parity_batch(step, n=64):
    """Bits of length 2..8 as tokens 4 (zero) / 5 (one); the class is the parity of the ones."""
    g = torch.Generator().manual_seed(step)
    lengths = torch.randint(2, 9, (n,), generator=g)
    bits = torch.randint(0, 2, (n, 8), generator=g)
    bits = bits * (torch.arange(8) < lengths.unsqueeze(1))
    ids = (bits + 4) * (torch.arange(8) < lengths.unsqueeze(1))
    return Batch(ids, targets=bits.sum(1) % 2, lengths=lengths)


def test_learns_parity():
    # Chance is 0.5; parity needs every bit, so a model that counts nothing stays there.
    torch.manual_seed(0)
    inputs = InputConfig(vocab_size=6, embedding_dim=8)
    model = SequenceClassifier(
        ClassifierConfig(inputs=inputs, encoder=encoder("gru", hidden=32), pooling="last")
    )
    train_on(model, _parity_batch, steps=200, lr=1e-2)
    test = _parity_batch(10_000, n=1000)
    with torch.no_grad():
        acc = (model(test).prediction.argmax(-1) == test.targets).float().mean().item()
    assert acc >= 0.95, acc


def test_label_smoothing_is_the_smoothed_cross_entropy():
    eps, K = 0.1, 4
    model = _model("gru", "mean", num_classes=K, label_smoothing=eps).double()
    ids, lengths = pad(_seqs())
    targets = torch.tensor([0, 3, 1, 1])
    out = model(Batch(ids, targets=targets, lengths=lengths))
    logp = out.prediction.log_softmax(-1)  # (B, K)
    q = torch.full((4, K), eps / K, dtype=torch.float64)  # eps spread over the K classes
    q[torch.arange(4), targets] += 1 - eps
    want = -(q * logp).sum(-1).mean()
    torch.testing.assert_close(out.loss, want, atol=1e-10, rtol=0)
    out.loss.backward()
    grad = model.head.bias.grad  # d loss / d logits = (softmax - q) / B, summed over B
    torch.testing.assert_close(grad, (logp.exp() - q).sum(0).detach() / 4, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="label_smoothing must be a number in"):
        _model(num_classes=K, label_smoothing=1.0)


def _member_outputs(model, batch):
    """Each member's logits, computed member by member from its own modules."""
    x = model.input(batch.inputs)
    outs = []
    for m in (model, *model.others):
        out, _ = m.encoder(x, batch.lengths)
        pooled = out.masked_fill(~batch.mask().unsqueeze(-1), float("-inf")).max(1).values
        outs.append(m.head(pooled))
    return outs


def test_an_ensemble_predicts_the_mean_probability_and_trains_each_member():
    model = _model("tcn", "max", num_classes=3, members=3).double()
    assert len(model.others) == 2
    first = next(iter(model.encoder.parameters()))
    assert not torch.equal(first, next(model.others[0].encoder.parameters()))  # own init
    ids, lengths = pad(_seqs())
    targets = torch.tensor([0, 2, 1, 1])
    out = model(Batch(ids, targets=targets, lengths=lengths))
    members = _member_outputs(model, Batch(ids, targets=targets, lengths=lengths))
    mean_p = torch.stack([z.softmax(-1) for z in members]).mean(0)  # (B, K)
    torch.testing.assert_close(out.prediction.softmax(-1), mean_p, atol=1e-10, rtol=0)
    torch.testing.assert_close(out.prediction.exp().sum(-1), torch.ones(4, dtype=torch.float64))
    want = sum(torch.nn.functional.cross_entropy(z, targets) for z in members) / 3
    torch.testing.assert_close(out.loss, want, atol=1e-10, rtol=0)
    out.loss.backward()  # each member's gradient is a third of its own loss's
    z = members[1].detach().requires_grad_()
    (torch.nn.functional.cross_entropy(z, targets) / 3).backward()
    torch.testing.assert_close(model.others[0].head.bias.grad, z.grad.sum(0), atol=1e-10, rtol=0)
    # padding never changes a prediction; the checkpoint rebuilds the ensemble
    with torch.no_grad():
        for i, s in enumerate(_seqs()):
            alone = model(Batch(s.unsqueeze(0))).prediction
            torch.testing.assert_close(out.prediction[i : i + 1].detach(), alone)
        rebuilt = roundtrip(model.float())
        batch = Batch(ids, lengths=lengths)
        torch.testing.assert_close(rebuilt(batch).prediction, model(batch).prediction)
    one = _model("tcn", "max", num_classes=3)
    assert not any(k.startswith("others") for k in one.state_dict())  # members=1: as before
    with pytest.raises(ValueError, match="members must be"):
        _model(members=0)


def test_an_ensemble_regressor_predicts_the_mean_value():
    inputs = InputConfig(input_size=3)
    model = _model("gru", "mean", inputs=inputs, task="regression", num_classes=2, members=2)
    batch = Batch(torch.randn(4, 6, 3), targets=torch.randn(4, 2))
    out = model(batch)
    x = model.input(batch.inputs)
    each = [m.head(m.encoder(x, None)[0].mean(1)) for m in (model, model.others[0])]
    torch.testing.assert_close(out.prediction, (each[0] + each[1]) / 2)
    mse = [torch.nn.functional.mse_loss(e, batch.targets) for e in each]
    torch.testing.assert_close(out.loss, (mse[0] + mse[1]) / 2)
