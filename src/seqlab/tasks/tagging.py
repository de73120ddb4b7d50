"""``tagging``: many-to-many aligned, one tag per token (named entities, parts of speech).

Data: CoNLL-style files (``token<TAB>tag`` lines, a blank line between sentences; pick the
columns with ``token_column`` and ``tag_column``), or a registered dataset of aligned
integer sequences (``copy_memory``: inputs and targets (N, T); each symbol becomes a token
and a tag named by its number, and ``scheme`` does not apply). Token and tag vocabularies
come from the training split; ``entity_f1`` gets the tag names from here. New input is
one sentence a line, tokens separated by whitespace.

.. code-block:: yaml

    task: tagging
    data: {train: train.conll, val: dev.conll}
    model: {encoder: {kind: lstm, hidden_size: 128, bidirectional: true}, crf: true}
    train: {metrics: [entity_f1], monitor: val_entity_f1, mode: max}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import TensorDataset

from ..config import ConfigError
from ..data import Vocab, collate_tagging, read_conll
from ..data.batch import IGNORE_INDEX, Batch
from ..data.collate import pad_sequences
from .base import DataSource, Splits, Task, random_split
from .text import bucketed_loader, check_text_keys

__all__ = ["TaggingData", "TaggingTask"]


@dataclass
class TaggingData(DataSource):
    token_column: int = 0
    tag_column: int = -1
    scheme: str | None = "bio"  # tags checked as O / B-X / I-X; None: any tag names
    lowercase: bool = False
    min_freq: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text_keys(self)
        if self.scheme not in ("bio", None):
            raise ValueError(f"scheme must be 'bio' or None, got {self.scheme!r}")


class TaggingTask(Task):
    name = "tagging"
    model_kind = "tagger"
    data_class = TaggingData

    def __init__(self, data: TaggingData):
        super().__init__(data)
        self.words: Vocab | None = None
        self.tags: list[str] | None = None

    def _read(self, path: str):
        d = self.data
        return read_conll(path, d.token_column, d.tag_column, d.scheme).sentences

    def _read_dataset(self) -> list[tuple[list[str], list[str]]]:
        pairs = self.load_dataset(TensorDataset, "aligned symbol and tag sequences")
        inputs, targets = pairs.tensors
        if inputs.shape != targets.shape or inputs.dim() != 2 or inputs.is_floating_point():
            raise ConfigError(
                f"data.dataset: {self.data.dataset!r} must give integer inputs and targets of "
                f"one shape (N, T), got {tuple(inputs.shape)} and {tuple(targets.shape)}"
            )
        return [
            ([str(t) for t in x], [str(t) for t in y])
            for x, y in zip(inputs.tolist(), targets.tolist(), strict=True)
        ]

    def read(self) -> None:
        if self.data.dataset is not None:
            parts = {"train": self._read_dataset()}
        else:
            parts = {k: self._read(v) for k, v in self.data.files().items()}
        split = random_split(parts["train"], self.data, have=parts)
        self.splits = Splits(
            split.train, parts.get("val", split.val), parts.get("test", split.test)
        )

    def fit(self) -> None:
        train = self._require().train
        self.words = Vocab.build([self._norm(t) for t, _ in train], self.data.min_freq)
        # "O" first when present, so an untrained tagger's id 0 is "no entity"
        names = sorted({tag for _, tags in train for tag in tags}, key=lambda t: (t != "O", t))
        if len(names) < 2:
            raise ConfigError(f"data.train: one tag only ({names}); a tagger needs two or more")
        self.tags = names

    def _norm(self, tokens: Sequence[str]) -> list[str]:
        return [t.lower() for t in tokens] if self.data.lowercase else list(tokens)

    def model_sizes(self) -> dict[str, Any]:
        return {"inputs": {"vocab_size": len(self.words)}, "num_tags": len(self.tags)}

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"inputs": {"vocab_size": 8}, "num_tags": 3}

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        bio = self.data.scheme == "bio" and self.data.dataset is None
        return {"entity_f1": {"tags": list(self.tags)}} if bio else {}

    def _ids(self, tokens: Sequence[str]) -> torch.Tensor:
        return torch.tensor(self.words.encode(self._norm(tokens)), dtype=torch.long)

    def loader(self, split: str, shuffle: bool = False):
        index = {t: i for i, t in enumerate(self.tags)}
        items = []
        for tokens, tags in self._require().get(split):
            unknown = [t for t in tags if t not in index]
            if unknown:
                raise ValueError(f"{split}: tag {unknown[0]!r} is not among the training tags")
            items.append((self._ids(tokens), torch.tensor([index[t] for t in tags])))
        lengths = [len(x) for x, _ in items]
        return bucketed_loader(
            items, lengths, self.data.batch_size, collate_tagging, shuffle, self.data.seed
        )

    def state(self) -> dict[str, Any]:
        return {"words": self.words.to_dict(), "tags": self.tags}

    @classmethod
    def restore(cls, data: TaggingData, state: Mapping[str, Any]) -> TaggingTask:
        task = cls(data)
        task.words = Vocab.from_dict(state["words"], source="words")
        task.tags = list(state["tags"])
        return task

    def encode(self, inputs: Sequence[Any]) -> Batch:
        sentences = [x.split() if isinstance(x, str) else list(x) for x in inputs]
        for i, s in enumerate(sentences):
            if not s:
                raise ValueError(f"input {i + 1} has no tokens")
        padded, lengths = pad_sequences([self._ids(s) for s in sentences])
        return Batch(padded, lengths=lengths)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        rows = []
        for x, tags in zip(inputs, prediction["tags"].tolist(), strict=True):
            tokens = x.split() if isinstance(x, str) else list(x)
            names = [self.tags[t] for t in tags if t != IGNORE_INDEX]
            rows.append({"tokens": tokens, "tags": names})
        return rows
