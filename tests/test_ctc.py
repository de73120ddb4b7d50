"""CTC: prefix beam search against brute-force enumeration of every alignment, best-path
decoding, the loss against an independent NumPy forward recursion, and the model's
contract (loss weight, bad targets, checkpoints through build_model)."""

import itertools
import math

import numpy as np
import pytest
import torch

from seqlab.config import to_dict
from seqlab.data import Batch
from seqlab.models import (
    CTCConfig,
    CTCTranscriber,
    EncoderConfig,
    InputConfig,
    build_model,
    greedy_decode,
    prefix_beam_search,
)
from seqlab.models.ctc import frames_needed

torch.set_num_threads(1)


def collapse(path, blank=0):
    """B: merge repeats, then drop blanks."""
    out, last = [], None
    for s in path:
        if s != last and s != blank:
            out.append(s)
        last = s
    return tuple(out)


def brute_force(log_probs):
    """log p(y | x) for every labelling y, summing over all V^T alignments."""
    T, V = log_probs.shape
    probs = {}
    for path in itertools.product(range(V), repeat=T):
        p = math.exp(sum(log_probs[t, s] for t, s in enumerate(path)))
        y = collapse(path)
        probs[y] = probs.get(y, 0.0) + p
    return {y: math.log(p) for y, p in probs.items()}


def random_log_probs(T, V, seed, sharp=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(sharp * torch.randn(T, V, generator=g, dtype=torch.float64), -1)


@pytest.mark.parametrize(
    ("T", "V", "seed"), [(1, 3, 0), (3, 3, 1), (4, 3, 2), (5, 3, 3), (4, 4, 4), (6, 2, 5)]
)
def test_prefix_beam_with_every_prefix_is_exact(T, V, seed):
    lp = random_log_probs(T, V, seed)
    exact = brute_force(lp.numpy())
    found = prefix_beam_search(lp, beam_size=V**T)
    assert {y for y, _ in found} == set(exact)
    for y, score in found:
        assert score == pytest.approx(exact[y], abs=1e-10)
    best = max(exact, key=exact.get)
    assert found[0][0] == best  # best first


@pytest.mark.parametrize("seed", range(6))
def test_a_narrow_beam_ranks_its_prefixes_and_scores_at_most_their_probability(seed):
    """Pruning drops alignments, so a narrow beam's score is a lower bound of p(y | x)."""
    lp = random_log_probs(6, 3, seed, sharp=2.0)
    exact = brute_force(lp.numpy())
    found = prefix_beam_search(lp, beam_size=4)
    assert len(found) == 4
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    for y, score in found:
        assert score <= exact[y] + 1e-12


def test_greedy_is_the_collapsed_best_path():
    lp = random_log_probs(7, 4, 0, sharp=3.0)[None]  # (1, T, V)
    out = greedy_decode(lp)
    path = lp[0].argmax(-1).tolist()
    assert tuple(out.labels[0, : out.lengths[0]].tolist()) == collapse(path)
    assert float(out.scores[0]) == pytest.approx(float(lp[0].max(-1).values.sum()), abs=1e-12)


def test_greedy_respects_lengths_and_the_repeat_rule():
    V = 4
    path = torch.tensor([[1, 1, 0, 1, 2, 2, 3, 3]])  # -> 1 1 2 3; past length 5: 1 1 2
    lp = torch.log_softmax(10.0 * torch.nn.functional.one_hot(path, V).double(), -1)
    full = greedy_decode(lp)
    cut = greedy_decode(lp, torch.tensor([5]))
    assert full.labels[0, : full.lengths[0]].tolist() == [1, 1, 2, 3]
    assert cut.labels[0, : cut.lengths[0]].tolist() == [1, 1, 2]


@pytest.mark.parametrize("seed", range(20))
def test_beam_width_one_equals_greedy_on_peaked_frames(seed):
    """Where every frame's best symbol has probability > 0.9, the single prefix the beam
    keeps is the collapsed best path (in general width 1 may differ from best path: it
    compares p(blank) + p(last) with p(c), greedy compares them one by one)."""
    T, V = 9, 4
    g = torch.Generator().manual_seed(seed)
    best = torch.randint(0, V, (T,), generator=g)
    probs = torch.full((T, V), 0.05 / (V - 1), dtype=torch.float64)
    probs[torch.arange(T), best] = 0.95
    lp = probs.log()
    (y, _), *_ = prefix_beam_search(lp, beam_size=1)
    assert y == collapse(best.tolist())
    out = greedy_decode(lp[None])
    assert tuple(out.labels[0, : out.lengths[0]].tolist()) == y


def numpy_ctc_nll(log_probs, target, blank=0):
    """-log p(target | x) by the alpha recursion of Graves et al. 2006 (eq. 6-8), in
    probabilities (float64; short inputs only)."""
    probs = np.exp(log_probs)
    ext = [blank]
    for c in target:
        ext += [c, blank]
    S, T = len(ext), len(probs)
    alpha = np.zeros((T, S))
    alpha[0, 0] = probs[0, blank]
    if S > 1:
        alpha[0, 1] = probs[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            a = alpha[t - 1, s] + (alpha[t - 1, s - 1] if s >= 1 else 0.0)
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a += alpha[t - 1, s - 2]
            alpha[t, s] = a * probs[t, ext[s]]
    total = alpha[T - 1, S - 1] + (alpha[T - 1, S - 2] if S > 1 else 0.0)
    return -math.log(total)


def small_model(dtype=torch.float64, beam_size=1, kind="lstm"):
    torch.manual_seed(0)
    extra = {} if kind == "tcn" else {"bidirectional": True}
    enc = EncoderConfig(kind=kind, hidden_size=6, **extra)
    cfg = CTCConfig(InputConfig(input_size=3), num_labels=5, encoder=enc, beam_size=beam_size)
    return CTCTranscriber(cfg).to(dtype)


def test_loss_is_the_per_label_mean_of_the_exact_negative_log_likelihood():
    model = small_model()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    targets = torch.tensor([[1, 2, 2], [3, -100, -100]])
    batch = Batch(x, targets, torch.tensor([6, 4]), torch.tensor([3, 1]))
    out = model(batch)
    lp = model.log_probs(batch).detach().numpy()
    nll = numpy_ctc_nll(lp[0, :6], [1, 2, 2]) + numpy_ctc_nll(lp[1, :4], [3])
    assert int(out.weight) == 4
    assert float(out.loss.detach()) == pytest.approx(nll / 4, abs=1e-10)
    # and the posterior is exact too: p(y | x) from brute force over alignments
    exact = brute_force(lp[1, :4])
    assert numpy_ctc_nll(lp[1, :4], [3]) == pytest.approx(-exact[(3,)], abs=1e-10)


def test_loss_gradients_match_finite_differences():
    model = small_model()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    batch = Batch(x, torch.tensor([[1, 2], [4, -100]]), torch.tensor([5, 3]), torch.tensor([2, 1]))
    params = [p for p in model.parameters()][:2]

    def f(*ps):
        with torch.no_grad():
            for p, v in zip(params, ps, strict=True):
                p.copy_(v)
        return model(batch).loss

    model.zero_grad()
    model(batch).loss.backward()
    for p in params:
        analytic = p.grad.clone()
        base = p.detach().clone()
        num = torch.zeros_like(base)
        flat, nflat = base.view(-1), num.view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 7)):
            eps = 1e-6
            with torch.no_grad():
                p.view(-1)[i] = flat[i] + eps
                up = float(model(batch).loss)
                p.view(-1)[i] = flat[i] - eps
                down = float(model(batch).loss)
                p.view(-1)[i] = flat[i]
            nflat[i] = (up - down) / (2 * eps)
            assert analytic.view(-1)[i].item() == pytest.approx(nflat[i].item(), abs=1e-6)


def test_frames_needed_counts_a_blank_between_repeats():
    labels = torch.tensor([[1, 1, 2, 2, 2], [3, 4, 3, 0, 0]])
    assert frames_needed(labels, torch.tensor([5, 3])).tolist() == [8, 3]


@pytest.mark.parametrize(
    ("targets", "lengths", "frames", "message"),
    [
        ([[1, 1, 1]], [3], 4, "4 frames cannot emit its 3 labels, which need 5"),
        ([[0, 1]], [2], 6, "target label 0 is the CTC blank"),
        ([[7, 1]], [2], 6, r"target label 7 is not in \[1, 5\)"),
    ],
)
def test_bad_targets_are_one_clear_error(targets, lengths, frames, message):
    model = small_model(torch.float32)
    batch = Batch(
        torch.randn(1, frames, 3),
        torch.tensor(targets),
        torch.tensor([frames]),
        torch.tensor(lengths),
    )
    with pytest.raises(ValueError, match=message):
        model(batch)


def test_wrong_feature_width_is_one_clear_error():
    model = small_model(torch.float32)
    with pytest.raises(ValueError, match=r"inputs must have 3 features \(input_size\)"):
        model(Batch(torch.randn(1, 5, 4)))


def test_predict_gives_labels_lengths_and_scores_and_beam_scores_are_exact():
    model = small_model(beam_size=64)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    batch = Batch(x, lengths=torch.tensor([4, 3]))
    out = model.predict(batch)
    assert set(out) == {"labels", "lengths", "scores"}
    lp = model.log_probs(batch).detach()
    for b, n in enumerate([4, 3]):
        exact = brute_force(lp[b, :n].numpy())
        best = max(exact, key=exact.get)
        assert tuple(out["labels"][b, : out["lengths"][b]].tolist()) == best
        assert float(out["scores"][b]) == pytest.approx(exact[best], abs=1e-10)


def test_evaluate_batch_scores_the_configured_decoding():
    model = small_model(beam_size=3)
    batch = Batch(torch.randn(2, 6, 3, dtype=torch.float64), torch.tensor([[1, 2], [3, -100]]),
                  torch.tensor([6, 5]), torch.tensor([2, 1]))  # fmt: skip
    out = model.evaluate_batch(batch)
    decoded = model.decode(batch)
    assert out.prediction.tolist() == decoded.labels.tolist()
    assert float(out.loss.detach()) == pytest.approx(float(model(batch).loss.detach()))


@pytest.mark.parametrize("kind", ["lstm", "gru", "tcn"])
def test_rebuilds_from_its_config_with_any_encoder(kind):
    model = small_model(torch.float32, kind=kind)
    again = build_model("ctc", to_dict(model.config))
    again.load_state_dict(model.state_dict())
    batch = Batch(torch.randn(2, 8, 3), torch.tensor([[1, 2, 3], [4, 4, -100]]),
                  torch.tensor([8, 6]), torch.tensor([3, 2]))  # fmt: skip
    assert torch.equal(again(batch).loss, model(batch).loss)


def test_overfits_one_batch():
    model = small_model(torch.float32)
    x = torch.randn(2, 8, 3)
    batch = Batch(
        x, torch.tensor([[1, 2, 3], [4, 4, -100]]), torch.tensor([8, 8]), torch.tensor([3, 2])
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        model(batch).loss.backward()
        opt.step()
    out = model.predict(Batch(x, lengths=torch.tensor([8, 8])))
    assert out["labels"].tolist() == [[1, 2, 3], [4, 4, -100]]
