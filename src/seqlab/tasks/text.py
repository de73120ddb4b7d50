"""What the text tasks share: a tokenizer named in the config, a vocabulary fitted on the
training split, and padded, length-bucketed batches.

>>> enc = TextEncoder.fit(["to be or not", "to be"], tokenizer="word", min_freq=1)
>>> enc.ids("not to be"), enc.text(enc.ids("not to be"))
([7, 4, 5], 'not to be')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader

from ..data import BucketSampler, Vocab, get_tokenizer
from ..data.batch import Batch

__all__ = ["TextEncoder", "Tokenizer", "bucketed_loader"]

Tokenizer = Literal["char", "word"]


class TextEncoder:
    """Text <-> ids with one tokenizer and one vocabulary (``max_length`` truncates)."""

    def __init__(self, vocab: Vocab, tokenizer: str, lowercase: bool = False):
        self.vocab = vocab
        self.tokenizer_name = tokenizer
        self.lowercase = lowercase
        options = {"lowercase": lowercase} if tokenizer == "word" else {}
        if tokenizer == "char" and lowercase:
            raise ValueError("lowercase applies to the word tokenizer only")
        self.tokenize = get_tokenizer(tokenizer, **options)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        tokenizer: str,
        min_freq: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
    ) -> TextEncoder:
        probe = cls(Vocab(), tokenizer, lowercase)
        vocab = Vocab.build((probe.tokenize(t) for t in texts), min_freq, max_size)
        return cls(vocab, tokenizer, lowercase)

    def ids(self, text: str, max_length: int | None = None) -> list[int]:
        tokens = self.tokenize(text)
        if max_length is not None:
            tokens = tokens[:max_length]
        return self.vocab.encode(tokens)

    def text(self, ids: Sequence[int]) -> str:
        return self.tokenize.join(self.vocab.decode(ids))

    def state(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab.to_dict(),
            "tokenizer": self.tokenizer_name,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], source: str = "text encoder") -> TextEncoder:
        vocab = Vocab.from_dict(state["vocab"], source=source)
        return cls(vocab, state["tokenizer"], bool(state.get("lowercase", False)))


def bucketed_loader(
    items: Sequence[tuple[Any, Any]],
    lengths: Sequence[int],
    batch_size: int,
    collate: Callable[[Sequence], Batch],
    shuffle: bool,
    seed: int,
) -> DataLoader:
    """Batches of similar lengths (:class:`~seqlab.data.BucketSampler`) when shuffling;
    in order, as given, when not (evaluation and prediction)."""
    if shuffle:
        sampler = BucketSampler(lengths, batch_size=batch_size, seed=seed)
        return DataLoader(items, batch_sampler=sampler, collate_fn=collate)
    return DataLoader(items, batch_size=batch_size, shuffle=False, collate_fn=collate)


def as_ids(seq: Sequence[int]) -> torch.Tensor:
    return torch.tensor(seq, dtype=torch.long)
