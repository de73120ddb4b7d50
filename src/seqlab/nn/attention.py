"""Attention: score each key against a query, softmax over real keys, average the values.

Two score functions, the two of the lectures:

* **additive** (Bahdanau, Cho & Bengio 2015, eq. (6) and appendix A.1.2):
  ``e_j = v_a^T tanh(W_a q + U_a k_j)``;
* **multiplicative** (Luong, Pham & Manning 2015, eq. (8)): ``"general"``
  ``e_j = q^T W_a k_j``, or ``"dot"`` ``e_j = q^T k_j`` (query and key sizes equal).

Then ``a = softmax(e)`` over the keys where ``mask`` is True (padding gets weight exactly
0) and ``context = sum_j a_j v_j``. ``forward`` takes one query per sequence ``(B, Q)``
or a sequence of them ``(B, T_q, Q)`` and returns the context and the weights (for
plotting alignments).

>>> import torch
>>> att = AdditiveAttention(query_size=6, key_size=4, hidden_size=8)
>>> keys = torch.randn(2, 5, 4)
>>> mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
>>> context, weights = att(torch.randn(2, 6), keys, mask=mask)
>>> context.shape, weights.shape
(torch.Size([2, 4]), torch.Size([2, 5]))
>>> weights[1, 3:].sum().item()
0.0
>>> MultiplicativeAttention(4, 4, score="dot")(torch.randn(2, 3, 4), keys)[1].shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_choice, check_int
from .tcn import check_float_input

__all__ = ["AdditiveAttention", "Attention", "MultiplicativeAttention"]

SCORES = ("general", "dot")


class Attention(nn.Module):
    """Base: subclasses define ``score(query (B, Tq, Q), keys (B, Tk, K)) -> (B, Tq, Tk)``."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.query_size = check_int("query_size", query_size, min=1)
        self.key_size = check_int("key_size", key_size, min=1)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        raise NotImplementedError

    def _check_inputs(self, query: object, keys: object, values: object, mask: object) -> None:
        """``ValueError`` naming the argument unless the shapes and dtypes fit ``forward``."""
        p = next(self.parameters(), None)  # the dot score has none: inputs match the keys
        dtype, owner = (None, None) if p is None else (p.dtype, type(self).__name__)
        check_float_input("keys", keys, "btc", self.key_size, dtype, owner)
        B, Tk = keys.shape[:2]
        Q = self.query_size
        if isinstance(query, Tensor) and query.dim() not in (2, 3):
            raise ValueError(
                f"query must have shape (batch, {Q}) or (batch, time, {Q}), "
                f"got {tuple(query.shape)}"
            )
        layout = "bc" if isinstance(query, Tensor) and query.dim() == 2 else "btc"
        check_float_input("query", query, layout, Q, dtype, owner)
        if query.size(0) != B:
            raise ValueError(
                f"query and keys must have the same batch size, got {query.size(0)} and {B}"
            )
        if values is not None:
            check_float_input("values", values, "btc", None, dtype, owner)
            if values.shape[:2] != keys.shape[:2]:
                raise ValueError(
                    f"values must have shape ({B}, {Tk}, V) like keys, got {tuple(values.shape)}"
                )
        for name, t in (("query", query), ("values", values)):
            if dtype is None and t is not None and t.dtype != keys.dtype:
                raise ValueError(
                    f"{name} has dtype {t.dtype} but keys have {keys.dtype}: cast them to one dtype"
                )
        if mask is not None:
            _check_mask(mask, B, Tk)

    def forward(
        self, query: Tensor, keys: Tensor, values: Tensor | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``query`` (B, Q) or (B, Tq, Q), ``keys`` (B, Tk, K), ``values`` (B, Tk, V) or
        ``None`` (the keys), ``mask`` (B, Tk) bool, True at real keys.

        Returns ``context`` (B, V) / (B, Tq, V) and ``weights`` (B, Tk) / (B, Tq, Tk).
        Every row of ``mask`` needs at least one True: a query with no key to attend to
        has no defined context (the softmax of nothing)."""
        self._check_inputs(query, keys, values, mask)
        values = keys if values is None else values
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, Tq, Q)
        scores = self.score(q, keys)  # (B, Tq, Tk)
        if mask is not None:
            scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, Tq, Tk)
        context = weights @ values  # (B, Tq, V)
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights


def _check_mask(mask: object, batch_size: int, keys: int) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a bool tensor, True at real keys, got {got}")
    if tuple(mask.shape) != (batch_size, keys):
        raise ValueError(f"mask must have shape {(batch_size, keys)}, got {tuple(mask.shape)}")
    empty = ~mask.any(dim=1)  # (B,)
    if empty.any():
        rows = empty.nonzero().flatten().tolist()
        raise ValueError(
            f"mask rows {rows} have no valid key (all False): every sequence needs at least "
            "one key to attend to"
        )


class AdditiveAttention(Attention):
    """Bahdanau's ``e_j = v^T tanh(W q + U k_j)``; ``hidden_size`` is the size of ``v``."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__(query_size, key_size)
        self.hidden_size = check_int("hidden_size", hidden_size, min=1)
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False)  # W_a
        self.key_proj = nn.Linear(key_size, hidden_size, bias=True)  # U_a (+ bias)
        self.v = nn.Linear(hidden_size, 1, bias=False)  # v_a

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        q = self.query_proj(query).unsqueeze(2)  # (B, Tq, 1, A)
        k = self.key_proj(keys).unsqueeze(1)  # (B, 1, Tk, A)
        return self.v(torch.tanh(q + k)).squeeze(-1)  # (B, Tq, Tk)


class MultiplicativeAttention(Attention):
    """Luong's ``"general"`` score ``q^T W k_j`` or ``"dot"`` score ``q^T k_j``."""

    def __init__(self, query_size: int, key_size: int, score: str = "general"):
        super().__init__(query_size, key_size)
        check_choice("score", score, SCORES)
        if score == "dot" and query_size != key_size:
            raise ValueError(
                f"the dot score needs query_size == key_size, got {query_size} and {key_size}"
            )
        self.score_kind = score
        self.weight = nn.Linear(key_size, query_size, bias=False) if score == "general" else None

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        k = keys if self.weight is None else self.weight(keys)  # (B, Tk, Q)
        return query @ k.transpose(1, 2)  # (B, Tq, Tk)

    def extra_repr(self) -> str:
        return f"score={self.score_kind!r}"
