"""Token ids to vectors: ``OneHot`` (no parameters) and ``Embedding`` (learned or pretrained).

Both take ``(B, T)`` integer ids and return ``(B, T, C)`` floats, and both reject ids
outside ``[0, num_embeddings)`` with a ``ValueError`` naming the bad id (an id past the
vocabulary is a data/model mismatch, never something to wrap around or clip).
Id 0 is padding project-wide (``<pad>``); both map it to the zero vector
(``padding_idx=0``, torch's name) so that padding carries no signal into the next layer,
and ``Embedding`` gives it no gradient. :func:`one_hot` is the one one-hot encoding in
seqlab (``seqlab.data.one_hot`` is this function).

>>> import torch
>>> OneHot(5)(torch.tensor([[1, 4, 0]]))        # (B, T) -> (B, T, V); <pad> is all zero
tensor([[[0., 1., 0., 0., 0.],
         [0., 0., 0., 0., 1.],
         [0., 0., 0., 0., 0.]]])
>>> emb = Embedding(10, 4)
>>> emb(torch.tensor([[1, 2], [3, 0]])).shape
torch.Size([2, 2, 4])
>>> emb(torch.tensor([[1, 10]]))
Traceback (most recent call last):
...
ValueError: token id 10 is out of range for a vocabulary of 10 (ids must be in [0, 10))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_bool, check_int

__all__ = ["Embedding", "OneHot", "check_token_ids", "one_hot"]


def check_token_ids(ids: Tensor, vocab_size: int, name: str = "token id") -> None:
    """Raise ``ValueError`` unless ``ids`` are integers in ``[0, vocab_size)``."""
    if not isinstance(ids, Tensor):
        raise ValueError(f"{name}s must be a tensor of integer ids, got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"{name}s must be integers, got dtype {ids.dtype}")
    if ids.numel() == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    bad = lo if lo < 0 else hi
    if lo < 0 or hi >= vocab_size:
        raise ValueError(
            f"{name} {bad} is out of range for a vocabulary of {vocab_size} "
            f"(ids must be in [0, {vocab_size}))"
        )


def _check_padding_idx(padding_idx: int | None, size: int) -> int | None:
    if padding_idx is not None and (
        isinstance(padding_idx, bool)
        or not isinstance(padding_idx, int)
        or not 0 <= padding_idx < size
    ):
        raise ValueError(f"padding_idx must be None or an int in [0, {size}), got {padding_idx!r}")
    return padding_idx


def one_hot(ids: Tensor, num_classes: int, padding_idx: int | None = 0) -> Tensor:
    """Integer ids ``(...)`` -> float ``(..., num_classes)``; ``padding_idx`` steps (``<pad>``
    = 0 by default, ``None`` for none) are all-zero vectors, as ``Embedding``'s pad row."""
    num_classes = check_int("num_classes", num_classes, min=1)
    _check_padding_idx(padding_idx, num_classes)
    check_token_ids(ids, num_classes)
    out = F.one_hot(ids.long(), num_classes).float()  # (..., V)
    if padding_idx is not None:
        out[..., padding_idx] = 0.0  # the pad id's column is 1 exactly at its steps
    return out


class OneHot(nn.Module):
    """``(B, T)`` ids -> ``(B, T, num_classes)`` one-hot floats; the character-RNN input.
    ``padding_idx`` (default 0, ``<pad>``) gives the all-zero vector; ``None``: none."""

    def __init__(self, num_classes: int, padding_idx: int | None = 0):
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, min=1)
        self.padding_idx = _check_padding_idx(padding_idx, self.num_classes)

    @property
    def output_size(self) -> int:
        return self.num_classes

    def forward(self, ids: Tensor) -> Tensor:
        return one_hot(ids, self.num_classes, self.padding_idx)  # (B, T, V)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, padding_idx={self.padding_idx}"


class Embedding(nn.Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Args:
        pretrained: a ``(num_embeddings, embedding_dim)`` tensor to start from (word2vec,
            GloVe …); its shape must match. The pad row is left as given.
        freeze: keep the table fixed (no gradient); only with ``pretrained`` is this useful,
            but it is honoured either way.
        padding_idx: the id whose vector is zero and untrained (``<pad>`` = 0), or ``None``.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        pretrained: Tensor | None = None,
        freeze: bool = False,
        padding_idx: int | None = 0,
    ):
        super().__init__()
        self.num_embeddings = check_int("num_embeddings", num_embeddings, min=1)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, min=1)
        _check_padding_idx(padding_idx, self.num_embeddings)
        check_bool("freeze", freeze)
        self.table = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
        if pretrained is not None:
            self.load_pretrained(pretrained)
        self.freeze(freeze)

    @property
    def output_size(self) -> int:
        return self.embedding_dim

    @property
    def weight(self) -> Tensor:
        return self.table.weight

    def load_pretrained(self, matrix: Tensor) -> None:
        """Copy a ``(num_embeddings, embedding_dim)`` matrix into the table."""
        want = (self.num_embeddings, self.embedding_dim)
        if not isinstance(matrix, Tensor) or tuple(matrix.shape) != want:
            got = tuple(matrix.shape) if isinstance(matrix, Tensor) else type(matrix).__name__
            raise ValueError(f"pretrained embeddings must have shape {want}, got {got}")
        with torch.no_grad():
            self.table.weight.copy_(matrix)

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) training the table."""
        check_bool("frozen", frozen)
        self.table.weight.requires_grad_(not frozen)

    @property
    def frozen(self) -> bool:
        return not self.table.weight.requires_grad

    def forward(self, ids: Tensor) -> Tensor:
        check_token_ids(ids, self.num_embeddings)
        return self.table(ids.long())  # (B, T, E)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (", frozen" if self.frozen else "")
