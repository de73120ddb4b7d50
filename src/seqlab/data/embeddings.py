"""Token ids as vectors: one-hot encoding, and pretrained word vectors as an embedding matrix.

``load_word_vectors`` reads the GloVe / word2vec *text* format: one word per line followed
by its numbers, separated by spaces; word2vec files start with a ``count dim`` header
line, GloVe files do not (both are accepted). Only the vocabulary's words are kept, so a
large file is streamed, never held whole in memory.

Rows of words missing from the file are drawn from N(0, s^2), with s the standard
deviation of all found vectors' entries (so they have the scale of the real ones); the
``<pad>`` row is zero. A file whose vectors do not have the expected ``dim`` is an error.

>>> x = one_hot(torch.tensor([[2, 0, 1]]), num_classes=3)   # (B, T) -> (B, T, V); <pad> = 0
>>> x
tensor([[[0., 0., 1.],
         [0., 0., 0.],
         [0., 1., 0.]]])
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np
import torch
from torch import Tensor

from ..checks import check_bool, check_int
from ..nn.embedding import one_hot as nn_one_hot
from .errors import DataError
from .files import iter_lines, read_file_text
from .vocab import Vocab


def one_hot(ids: Tensor, num_classes: int, pad_id: int | None = 0) -> Tensor:
    """Long ids ``(...)`` -> float ``(..., num_classes)``; ``pad_id`` steps (``<pad>`` = 0 by
    default; ``None``: none) are all-zero vectors, so padding adds nothing to a linear
    layer's input. The same function as :func:`seqlab.nn.embedding.one_hot` (and
    :class:`~seqlab.nn.OneHot`), whose ``padding_idx`` is this ``pad_id``."""
    return nn_one_hot(ids, num_classes, padding_idx=pad_id)


@dataclass
class PretrainedVectors:
    """``weight`` (len(vocab), dim) float32 for ``nn.Embedding.from_pretrained``; ``found``
    and ``missing`` list the vocabulary words that were / were not in the file."""

    weight: Tensor
    found: list[str]
    missing: list[str]

    @property
    def coverage(self) -> float:
        return len(self.found) / max(1, len(self.found) + len(self.missing))


def load_word_vectors(
    path: str | PathLike,
    vocab: Vocab,
    dim: int | None = None,
    lowercase_fallback: bool = True,
    seed: int = 0,
    encoding: str = "utf-8",
) -> PretrainedVectors:
    """An embedding matrix for ``vocab`` from a GloVe / word2vec text file.

    Args:
        dim: the expected vector size; None takes it from the file.
        lowercase_fallback: a word not in the file takes the vector of its lowercase
            form when that is there (GloVe's vocabularies are lowercase).
        seed: for the random rows of missing words.

    Every number read must be finite: a NaN or Inf in a vector (or one past float32's
    range) is an error naming the line, since it would also set the scale of the random
    rows and poison them all.
    """
    if not isinstance(vocab, Vocab):
        raise ValueError(f"vocab must be a seqlab.data.Vocab, got {type(vocab).__name__}")
    dim = check_int("dim", dim, min=1, none=True)
    check_bool("lowercase_fallback", lowercase_fallback)
    seed = check_int("seed", seed, min=0)
    text = read_file_text(path, encoding)
    wanted = {t: i for i, t in enumerate(vocab.tokens) if i != vocab.pad_id}
    lower: dict[str, list[int]] = {}
    if lowercase_fallback:
        for t, i in wanted.items():
            if t.lower() != t:
                lower.setdefault(t.lower(), []).append(i)
    rows: dict[int, np.ndarray] = {}
    exact: set[int] = set()
    file_dim = None
    for n, line in iter_lines(text):
        parts = line.rstrip().split(" ")
        if n == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            file_dim = int(parts[1])  # word2vec header: count dim
            continue
        if not line.strip():
            continue
        word, numbers = parts[0], parts[1:]
        if file_dim is None:
            file_dim = len(numbers)
        if len(numbers) != file_dim:
            raise DataError(
                f"expected {file_dim} numbers after the word, got {len(numbers)}", path, n
            )
        if dim is not None and file_dim != dim:
            raise DataError(f"vectors have dimension {file_dim}, expected dim={dim}", path, n)
        targets = []
        if word in wanted:
            targets.append((wanted[word], True))
        targets += [(i, False) for i in lower.get(word, ())]
        if not targets:
            continue
        try:
            vector = np.array(numbers, dtype=np.float64)
        except ValueError:
            raise DataError(f"non-numeric value in the vector of {word!r}", path, n) from None
        ok = np.abs(vector) <= np.finfo(np.float32).max  # False for NaN, Inf, past float32
        if not ok.all():
            k = int(np.argmin(ok))
            raise DataError(
                f"the vector of {word!r} has {numbers[k]!r} at position {k}, expected a "
                "finite float32 number (NaN or Inf would poison the embedding table)",
                path,
                n,
            )
        vector = vector.astype(np.float32)
        for i, is_exact in targets:
            if is_exact or i not in exact:
                rows[i] = vector
                if is_exact:
                    exact.add(i)
    if file_dim is None:
        raise DataError("no vectors in the file", path=path)
    weight = torch.zeros(len(vocab), file_dim)
    found = sorted(rows)
    if found:
        weight[found] = torch.from_numpy(np.stack([rows[i] for i in found]))
        std = float(weight[found].std()) if len(found) * file_dim > 1 else 1.0
    else:
        std = 1.0
    missing = [i for i in wanted.values() if i not in rows]
    g = torch.Generator().manual_seed(seed)
    weight[missing] = torch.randn(len(missing), file_dim, generator=g) * std
    return PretrainedVectors(
        weight, [vocab.tokens[i] for i in found], [vocab.tokens[i] for i in missing]
    )
