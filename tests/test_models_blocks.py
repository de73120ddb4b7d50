"""Building blocks of the task models: embeddings, attention, the linear-chain CRF."""

import itertools
import math

import pytest
import torch

from seqlab.models import LinearChainCRF
from seqlab.nn import AdditiveAttention, Embedding, MultiplicativeAttention, OneHot


# --- embeddings ---------------------------------------------------------------------------
def test_one_hot_and_embedding_shapes_and_pad_row():
    torch.manual_seed(0)
    ids = torch.tensor([[1, 4, 0], [2, 0, 0]])
    assert torch.equal(OneHot(5)(ids).argmax(-1), ids)
    emb = Embedding(5, 3)
    out = emb(ids)
    assert out.shape == (2, 3, 3)
    assert out[1, 1:].abs().sum() == 0  # <pad> = 0 is the zero vector


@pytest.mark.parametrize("layer", [OneHot(6), Embedding(6, 2)])
@pytest.mark.parametrize("bad", [6, -1])
def test_out_of_vocabulary_ids_are_rejected(layer, bad):
    with pytest.raises(ValueError, match=f"token id {bad} is out of range"):
        layer(torch.tensor([[1, bad]]))


def test_float_ids_are_rejected():
    with pytest.raises(ValueError, match="must be integers"):
        Embedding(6, 2)(torch.tensor([[1.0, 2.0]]))


def test_pretrained_matrix_loaded_and_frozen():
    torch.manual_seed(0)
    matrix = torch.randn(7, 4)
    emb = Embedding(7, 4, pretrained=matrix, freeze=True)
    assert torch.equal(emb(torch.tensor([[3]]))[0, 0], matrix[3])
    assert emb.frozen and not emb.weight.requires_grad
    emb.freeze(False)
    assert emb.weight.requires_grad
    with pytest.raises(ValueError, match=r"must have shape \(7, 4\), got \(7, 5\)"):
        Embedding(7, 4, pretrained=torch.randn(7, 5))


# --- attention ----------------------------------------------------------------------------
def test_additive_attention_is_bahdanaus_equation():
    torch.manual_seed(0)
    att = AdditiveAttention(query_size=3, key_size=4, hidden_size=5)
    q, k = torch.randn(2, 3), torch.randn(2, 6, 4)
    context, weights = att(q, k)
    W, U, b, v = att.query_proj.weight, att.key_proj.weight, att.key_proj.bias, att.v.weight[0]
    for i in range(2):
        e = torch.stack([v @ torch.tanh(W @ q[i] + U @ k[i, j] + b) for j in range(6)])
        a = torch.softmax(e, 0)
        torch.testing.assert_close(weights[i], a)
        torch.testing.assert_close(context[i], a @ k[i])


@pytest.mark.parametrize("score", ["general", "dot"])
def test_multiplicative_attention_is_luongs_equation(score):
    torch.manual_seed(0)
    att = MultiplicativeAttention(4, 4, score=score)
    q, k = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    _, weights = att(q, k)
    W = att.weight.weight if score == "general" else torch.eye(4)
    expect = torch.softmax(torch.einsum("bqd,de,bke->bqk", q, W, k), -1)
    torch.testing.assert_close(weights, expect)


def test_attention_masks_padding_and_ignores_padded_keys():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 8)
    q, k = torch.randn(1, 3), torch.randn(1, 5, 4)
    mask = torch.tensor([[True, True, False, False, False]])
    context, weights = att(q, k, mask=mask)
    assert weights[0, 2:].sum() == 0
    assert math.isclose(weights.sum().item(), 1.0, rel_tol=1e-6)
    alone, _ = att(q, k[:, :2])
    torch.testing.assert_close(context, alone)
    with pytest.raises(ValueError, match="mask must have shape"):
        att(q, k, mask=mask[:, :3])
    with pytest.raises(ValueError, match="dot score needs"):
        MultiplicativeAttention(3, 4, score="dot")


# --- CRF ----------------------------------------------------------------------------------
def _brute_force(crf, emissions, length):
    """Every tag sequence of one sentence: (log Z, best tags)."""
    K = crf.num_tags
    e = emissions[:length]
    scores = {}
    for tags in itertools.product(range(K), repeat=length):
        s = crf.start[tags[0]] + crf.end[tags[-1]] + sum(e[t, y] for t, y in enumerate(tags))
        s = s + sum(crf.transitions[a, b] for a, b in itertools.pairwise(tags))
        scores[tags] = s
    values = torch.stack(list(scores.values()))
    best = max(scores, key=lambda t: scores[t].item())
    return torch.logsumexp(values, 0), list(best)


def test_crf_matches_brute_force_on_tiny_cases():
    torch.manual_seed(0)
    crf = LinearChainCRF(3)
    with torch.no_grad():  # seeded, far from the small init, so ties cannot hide bugs
        for p in crf.parameters():
            p.normal_()
    B, T = 5, 4
    emissions = torch.randn(B, T, 3, dtype=torch.float64)
    crf.double()
    lengths = torch.tensor([4, 1, 3, 2, 4])
    mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
    log_z = crf.log_partition(emissions, mask)
    decoded = crf.decode(emissions, mask)
    for i in range(B):
        n = int(lengths[i])
        ref_z, ref_best = _brute_force(crf, emissions[i], n)
        torch.testing.assert_close(log_z[i], ref_z)
        assert decoded[i, :n].tolist() == ref_best
        assert (decoded[i, n:] == -100).all()
    # score of the decoded path is the max, and log p(y) <= 0
    tags = decoded.masked_fill(~mask, 0)
    assert (crf.score(emissions, tags, mask) <= log_z + 1e-9).all()


def test_crf_probabilities_sum_to_one():
    torch.manual_seed(1)
    crf = LinearChainCRF(2).double()
    emissions = torch.randn(1, 3, 2, dtype=torch.float64)
    total = sum(
        torch.exp(-crf.nll(emissions, torch.tensor([tags]))).item()
        for tags in itertools.product(range(2), repeat=3)
    )
    assert math.isclose(total, 1.0, rel_tol=1e-9)


def test_crf_rejects_bad_masks_and_tags():
    crf = LinearChainCRF(3)
    e = torch.randn(1, 3, 3)
    with pytest.raises(ValueError, match="prefix"):
        crf.decode(e, torch.tensor([[True, False, True]]))
    with pytest.raises(ValueError, match=r"tag 3 at a real step is not in \[0, 3\)"):
        crf.nll(e, torch.tensor([[0, 3, 1]]))
    with pytest.raises(ValueError, match=r"emissions must be \(B, T, 3\)"):
        crf.decode(torch.randn(1, 3, 4))
