"""Linear-chain CRF output layer: sentence-level tag scores and Viterbi decoding.

The tagger's encoder gives emission scores ``E[t, y]`` for each step and tag; the CRF
adds learned transition scores ``A[y_{t-1}, y_t]`` plus start and end scores, so a
whole tag sequence is scored at once (Lafferty, McCallum & Pereira 2001; the
BiLSTM-CRF of Huang, Xu & Yu 2015 and Lample et al. 2016, eq. (1)-(2))::

    s(x, y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} A[y_{t-1}, y_t] + end[y_n]
    log p(y | x) = s(x, y) - log Z,    log Z = logsumexp over all tag sequences of s

``log Z`` comes from the forward algorithm and the best sequence from Viterbi, both
O(T K^2). ``mask`` (B, T) marks real steps; it must be a prefix (a sequence is its
first ``length`` steps, padding after).

>>> import torch
>>> crf = LinearChainCRF(num_tags=3)
>>> emissions = torch.randn(2, 4, 3)
>>> mask = torch.tensor([[True] * 4, [True, True, False, False]])
>>> crf.decode(emissions, mask)[1]
tensor([..., ..., -100, -100])
>>> crf.nll(emissions, torch.tensor([[0, 1, 2, 1], [2, 2, -100, -100]]), mask).shape
torch.Size([])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.batch import IGNORE_INDEX
from ..nn.cells import check_positive_int

__all__ = ["LinearChainCRF"]


class LinearChainCRF(nn.Module):
    """Transition, start and end scores over ``num_tags`` tags (``transitions[i, j]``:
    score of tag ``j`` right after tag ``i``)."""

    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = check_positive_int("num_tags", num_tags)
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def _check(self, emissions: Tensor, mask: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.size(-1) != self.num_tags:
            raise ValueError(
                f"emissions must be (B, T, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        B, T, _ = emissions.shape
        if mask is None:
            return torch.ones(B, T, dtype=torch.bool, device=emissions.device)
        if tuple(mask.shape) != (B, T):
            raise ValueError(f"mask must have shape {(B, T)}, got {tuple(mask.shape)}")
        mask = mask.bool()
        lengths = mask.sum(1)
        prefix = torch.arange(T, device=mask.device).unsqueeze(0) < lengths.unsqueeze(1)
        if not bool((prefix == mask).all()) or bool((lengths == 0).any()):
            raise ValueError("mask must mark a non-empty prefix of each sequence (padding last)")
        return mask

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """``s(x, y)`` of the given tag sequences, (B,)."""
        mask = self._check(emissions, mask)
        if tags.shape != mask.shape:
            raise ValueError(f"tags must have shape {tuple(mask.shape)}, got {tuple(tags.shape)}")
        real = tags.masked_fill(~mask, 0).long()
        if bool(((real < 0) | (real >= self.num_tags)).any()):
            bad = int(real[(real < 0) | (real >= self.num_tags)][0])
            raise ValueError(f"tag {bad} at a real step is not in [0, {self.num_tags})")
        m = mask.to(emissions.dtype)
        emit = emissions.gather(2, real.unsqueeze(-1)).squeeze(-1)  # (B, T)
        trans = self.transitions[real[:, :-1], real[:, 1:]]  # (B, T-1)
        last = real.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return (
            self.start[real[:, 0]] + (emit * m).sum(1) + (trans * m[:, 1:]).sum(1) + self.end[last]
        )

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log Z`` by the forward algorithm, (B,)."""
        mask = self._check(emissions, mask)
        alpha = self.start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.size(1)):
            # alpha'[j] = logsumexp_i(alpha[i] + A[i, j]) + E[t, j]
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)  # padding keeps alpha
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean over the batch of ``-log p(y | x)`` (a scalar)."""
        return (self.log_partition(emissions, mask) - self.score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """The highest-scoring tag sequences by Viterbi, (B, T) long, ``-100`` at padding."""
        mask = self._check(emissions, mask)
        B, T, K = emissions.shape
        delta = self.start + emissions[:, 0]  # (B, K): best score ending in each tag
        back = []
        for t in range(1, T):
            cand = delta.unsqueeze(2) + self.transitions  # (B, K_prev, K)
            best, arg = cand.max(dim=1)  # (B, K)
            step = mask[:, t : t + 1]
            delta = torch.where(step, best + emissions[:, t], delta)
            # at padding, point each tag to itself so the backtrace passes through unchanged
            ident = torch.arange(K, device=emissions.device).expand(B, K)
            back.append(torch.where(step, arg, ident))
        tag = (delta + self.end).argmax(dim=1)  # (B,)
        path = [tag]
        for arg in reversed(back):
            tag = arg.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        tags = torch.stack(path[::-1], dim=1)  # (B, T)
        return tags.masked_fill(~mask, IGNORE_INDEX)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"
