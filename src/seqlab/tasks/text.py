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
from torch.utils.data import DataLoader, DistributedSampler

from ..checks import check_bool, check_int
from ..data import BucketSampler, Vocab, get_tokenizer
from ..data.batch import Batch
from ..train.distributed import world_size

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


class RankBatches:
    """This rank's share of each batch of a batch sampler that every rank runs alike (the
    same seed and epoch): ``batch[rank::world]``, so ``world`` ranks together take the
    batches one process would. A batch smaller than ``world`` lends its first items again
    so that every rank takes a step."""

    def __init__(self, batches: BucketSampler, rank: int, world: int):
        self.batches, self.rank, self.world = batches, rank, world

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            while len(batch) < self.world:
                batch = batch + batch[: self.world - len(batch)]
            yield batch[self.rank :: self.world]


# the tokenization keys of the text tasks' data sections, and what each must be
TEXT_KEYS = {
    "min_freq": dict(min=1),
    "max_vocab": dict(min=1, none=True),
    "max_length": dict(min=1, none=True),
}


def check_text_keys(data: Any) -> None:
    """Check the tokenization keys a data section has (``min_freq``, ``max_vocab``,
    ``max_length``, ``lowercase``): one check for every text task."""
    for name, bounds in TEXT_KEYS.items():
        if hasattr(data, name):
            check_int(name, getattr(data, name), **bounds)
    check_bool("lowercase", data.lowercase)


def bucketed_loader(
    items: Sequence[tuple[Any, Any]],
    lengths: Sequence[int],
    batch_size: int,
    collate: Callable[[Sequence], Batch],
    shuffle: bool,
    seed: int,
) -> DataLoader:
    """Batches of similar lengths (:class:`~seqlab.data.BucketSampler`) when shuffling;
    in order, as given, when not (evaluation and prediction). Under torchrun each rank
    takes its share of every batch (``batch_size`` is the global batch)."""
    rank, world = rank_and_world()
    if shuffle:
        sampler = BucketSampler(lengths, batch_size=batch_size, seed=seed)
        if world > 1:
            sampler = RankBatches(sampler, rank, world)
        return DataLoader(items, batch_sampler=sampler, collate_fn=collate)
    return plain_loader(items, batch_size, collate, shuffle=False, seed=seed)


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (0 and 1 alone)."""
    world = world_size()
    return (torch.distributed.get_rank() if world > 1 else 0), world


def plain_loader(
    items: Sequence[Any], batch_size: int, collate: Callable, shuffle: bool, seed: int
) -> DataLoader:
    """Batches in order (or shuffled); under torchrun a ``DistributedSampler`` gives each
    rank its ``1/world`` (it repeats a few items to make the shares equal)."""
    _, world = rank_and_world()
    if world == 1:
        return DataLoader(items, batch_size=batch_size, shuffle=shuffle, collate_fn=collate)
    sampler = DistributedSampler(items, shuffle=shuffle, seed=seed)
    per_rank = max(1, batch_size // world)
    return DataLoader(items, batch_size=per_rank, sampler=sampler, collate_fn=collate)
