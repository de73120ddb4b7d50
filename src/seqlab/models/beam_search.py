"""Batched greedy and beam search for a step-wise decoder: every sentence of a batch at
once, ``k`` hypotheses per sentence as a batch dimension (``N = B * k`` rows).

The decoder is a function ``step(prev (N,), state) -> (logp (N, V), state, attention (N, S))``
and ``reorder(state, index (N,))`` picks rows of a state; neither search knows the model.
``logp`` is any normalized log-distribution: a softmax, or :class:`~seqlab.models.Seq2Seq`'s
copy mixture (pointer-generator) as it is, so both searches decode from the mixture.

**The search, one step** (length ``L`` after it). Each live hypothesis ``y`` scores
``log p(y)``. Of the ``k * V`` extensions of a sentence's hypotheses the ``2k`` best are
taken in order (at most ``k`` of them end in ``<eos>``, one per hypothesis, so at least ``k``
do not): an ``<eos>`` one ranked before the ``k``-th non-``<eos>`` one is *finished* with the
GNMT score ``log p(y) / lp(L)``, ``lp(L) = ((5 + L) / 6) ** alpha`` (Wu et al. 2016, eq. 14,
without the coverage term); the first ``k`` non-``<eos>`` ones live on.

**Stopping** (per sentence). Log-probabilities only fall as a hypothesis grows, so a live
hypothesis at ``log p`` can at best reach ``log p`` (``alpha = 0``) or ``log p / lp(L_max)``
(``alpha > 0``: the largest penalty divides a negative number the most). A sentence stops
when its best finished score is at least that bound for every live hypothesis, so no
longer hypothesis that could still win is cut off (stopping at the first ``k`` finished, as
some toolkits do, can). At its length limit ``L_max`` the live hypotheses finish as they
are, without ``<eos>``, and compete too.

**Length limit** per sentence: ``max_lengths`` (B,), e.g. ``a * source_length + b``.

**Repetition guard** ``no_repeat_ngram_size = n`` (OpenNMT, fairseq): a token that would
complete an n-gram the hypothesis already holds gets probability 0.

Greedy search is the argmax each step with the same guard and limit; it equals the beam
search with ``k = 1`` and ``alpha = 0`` (with ``alpha > 0`` a beam of 1 may go on past an
``<eos>`` that a longer hypothesis could outscore).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["Search", "beam_search", "greedy_search", "length_penalty", "repeated_ngram_mask"]

Step = Callable[[Tensor, Any], tuple[Tensor, Any, Tensor]]
Reorder = Callable[[Any, Tensor], Any]


class Search(NamedTuple):
    """``tokens`` (B, L) padded with ``pad_id``, ``lengths`` (B,) (with ``<eos>`` where one
    was produced), ``attention`` (B, L, S), zero past each length, ``scores`` (B,)."""

    tokens: Tensor
    lengths: Tensor
    attention: Tensor
    scores: Tensor


def length_penalty(length: Tensor | int, alpha: float) -> Tensor | float:
    """GNMT's ``lp(Y) = ((5 + |Y|) / 6) ** alpha`` (Wu et al. 2016, eq. 14)."""
    return ((5 + length) / 6) ** alpha


def repeated_ngram_mask(history: Tensor, n: int, vocab_size: int) -> Tensor:
    """(N, V) bool, True at each token that would complete an ``n``-gram already in the
    row's ``history`` (N, t): the next token after every earlier occurrence of the last
    ``n - 1`` tokens (for ``n = 1``: every token seen)."""
    N, t = history.shape
    banned = torch.zeros(N, vocab_size, dtype=torch.bool, device=history.device)
    if n < 1 or t < n - 1 or (n > 1 and t < n):
        return banned
    if n == 1:
        return banned.scatter_(1, history, True)
    prefix = history[:, t - (n - 1) :]  # (N, n-1): what the next token would follow
    windows = history.unfold(1, n - 1, 1)[:, : t - n + 1]  # (N, t-n+1, n-1)
    match = (windows == prefix.unsqueeze(1)).all(-1)  # (N, t-n+1)
    following = history[:, n - 1 :]  # (N, t-n+1): the token after each window
    rows, cols = match.nonzero(as_tuple=True)
    banned[rows, following[rows, cols]] = True
    return banned


def _collate(hyps: list[tuple[float, list[int], list[Tensor]]], S: int, pad_id: int, like: Tensor):
    L = max(1, max(len(seq) for _, seq, _ in hyps))
    tokens = torch.full((len(hyps), L), pad_id, dtype=torch.long, device=like.device)
    attention = like.new_zeros(len(hyps), L, S)
    for i, (_, seq, att) in enumerate(hyps):
        if seq:
            tokens[i, : len(seq)] = torch.tensor(seq, device=like.device)
            attention[i, : len(seq)] = torch.stack(att)
    lengths = torch.tensor([len(seq) for _, seq, _ in hyps], device=like.device)
    scores = torch.tensor([s for s, _, _ in hyps], device=like.device, dtype=like.dtype)
    return Search(tokens, lengths, attention, scores)


def greedy_search(
    step: Step,
    state: Any,
    max_lengths: Tensor,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    no_repeat_ngram_size: int = 0,
) -> Search:
    """The argmax at each step for all B sentences at once; a sentence ends at ``<eos>`` or
    at its ``max_lengths`` entry. ``scores`` are the summed log-probabilities."""
    B = max_lengths.size(0)
    device = max_lengths.device
    prev = torch.full((B,), bos_id, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    scores = None
    tokens, attention = [], []
    for t in range(int(max_lengths.max())):
        logp, state, weights = step(prev, state)  # (B, V), state, (B, S)
        if no_repeat_ngram_size and tokens:
            history = torch.stack(tokens, 1)
            logp = logp.masked_fill(
                repeated_ngram_mask(history, no_repeat_ngram_size, logp.size(1)), float("-inf")
            )
        scores = logp.new_zeros(B) if scores is None else scores
        prev = logp.argmax(-1)
        scores += torch.where(done, 0.0, logp.gather(1, prev.unsqueeze(1)).squeeze(1))
        tokens.append(prev.masked_fill(done, pad_id))
        attention.append(weights * (~done).unsqueeze(1))
        lengths += (~done).long()
        done |= (prev == eos_id) | (t + 1 >= max_lengths)
        if bool(done.all()):
            break
    return Search(torch.stack(tokens, 1), lengths, torch.stack(attention, 1), scores)


def beam_search(
    step: Step,
    reorder: Reorder,
    state: Any,
    max_lengths: Tensor,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    alpha: float = 0.0,
    no_repeat_ngram_size: int = 0,
) -> Search:
    """Beam search as the module docstring defines it. ``state`` holds ``B * beam_size``
    rows, sentence ``b``'s hypotheses at rows ``b * k ... b * k + k - 1`` (each row the
    sentence's initial state); returns each sentence's best hypothesis."""
    k = beam_size
    B = max_lengths.size(0)
    device = max_lengths.device
    N = B * k
    neg_inf = float("-inf")
    prev = torch.full((N,), bos_id, dtype=torch.long, device=device)
    history = torch.zeros(N, 0, dtype=torch.long, device=device)  # (N, t) tokens so far
    att_history = None  # (N, t, S)
    score = None  # (B, k) log p of each live hypothesis; -inf: no hypothesis
    best: list[tuple[float, list[int], list[Tensor]] | None] = [None] * B
    done = torch.zeros(B, dtype=torch.bool, device=device)
    base = (torch.arange(B, device=device) * k).unsqueeze(1)  # (B, 1) first row of each
    for t in range(int(max_lengths.max())):
        L = t + 1
        logp, state, weights = step(prev, state)  # (N, V), state, (N, S)
        V = logp.size(1)
        if score is None:  # the k rows of a sentence start alike: only row 0 extends
            score = logp.new_full((B, k), neg_inf)
            score[:, 0] = 0.0
            att_history = weights.new_zeros(N, 0, weights.size(1))
        if no_repeat_ngram_size:
            ban = repeated_ngram_mask(history, no_repeat_ngram_size, V)
            logp = logp.masked_fill(ban, neg_inf)
        cand = (score.unsqueeze(2) + logp.view(B, k, V)).view(B, k * V)
        top, idx = cand.topk(min(2 * k, k * V), dim=1)  # (B, 2k), best first
        beam, tok = idx // V, idx % V
        valid = top > neg_inf
        is_eos = (tok == eos_id) & valid
        live = ~is_eos & valid
        live_before = torch.cumsum(live.long(), 1) - live.long()  # non-<eos> ranked above
        finish = is_eos & (live_before < k)
        rows = base + beam  # (B, 2k) row of the extended hypothesis
        for b, j in finish.nonzero().tolist():  # finished hypotheses: a few per step
            if done[b]:
                continue
            s = float(top[b, j]) / length_penalty(L, alpha)
            if best[b] is None or s > best[b][0]:
                r = int(rows[b, j])
                atts = [*att_history[r].unbind(0), weights[r]]
                best[b] = (s, [*history[r].tolist(), eos_id], atts)
        # the first k live candidates of each sentence (stable: best first), -inf beyond
        order = torch.argsort((~(live & (live_before < k))).long(), dim=1, stable=True)[:, :k]
        pick = order  # (B, k) positions among the 2k candidates
        new_score = top.gather(1, pick).masked_fill(~live.gather(1, pick), neg_inf)
        src_rows = rows.gather(1, pick).view(N)
        prev = tok.gather(1, pick).view(N)
        state = reorder(state, src_rows)
        history = torch.cat([history.index_select(0, src_rows), prev.unsqueeze(1)], 1)
        att_history = torch.cat(
            [att_history.index_select(0, src_rows), weights.index_select(0, src_rows)[:, None]], 1
        )
        score = new_score
        alive = score > neg_inf  # (B, k)
        for b in ((max_lengths <= L) & ~done).nonzero().flatten().tolist():
            for j in alive[b].nonzero().flatten().tolist():  # the limit: finish as they are
                s = float(score[b, j]) / length_penalty(L, alpha)
                if best[b] is None or s > best[b][0]:
                    r = b * k + j
                    best[b] = (s, history[r].tolist(), list(att_history[r].unbind(0)))
            done[b] = True
        best_score = torch.tensor(
            [neg_inf if h is None else h[0] for h in best], dtype=score.dtype, device=device
        )
        top_live = score.max(1).values  # (B,)
        bound = top_live / length_penalty(max_lengths.to(score.dtype), alpha) if alpha else top_live
        done |= ~alive.any(1) | (best_score >= bound)
        score = score.masked_fill(done.unsqueeze(1), neg_inf)
        if bool(done.all()):
            break
    hyps = [h if h is not None else (neg_inf, [], []) for h in best]
    return _collate(hyps, weights.size(1), pad_id, weights)
