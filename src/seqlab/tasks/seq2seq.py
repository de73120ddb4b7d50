"""``seq2seq``: encoder-decoder, a source sequence to a target of its own length
(translation, date formats, reversal).

Data: a registered set of pairs (``date_conversion``, ``reversal``, ``bible_kjv_web``)
or tab-separated ``source<TAB>target`` files. Source and target have their own
tokenizer and vocabulary (from the training split); each target ends with ``<eos>``.
BLEU is computed on the targets as text (the target vocabulary's tokens, joined).

.. code-block:: yaml

    task: seq2seq
    data: {dataset: date_conversion, options: {n: 20000}, source_tokenizer: char,
           target_tokenizer: char}
    model: {encoder: {kind: gru, hidden_size: 128, bidirectional: true},
            attention: multiplicative, beam_size: 4}
    train: {metrics: [exact_match, bleu], monitor: val_exact_match, mode: max}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..data import TextPairs, Vocab, collate_seq2seq, read_parallel
from ..data.batch import Batch
from ..data.collate import pad_sequences
from .base import DataSource, Splits, Task, random_split
from .text import TextEncoder, Tokenizer, bucketed_loader, check_text_keys

__all__ = ["Seq2SeqData", "Seq2SeqTask"]


@dataclass
class Seq2SeqData(DataSource):
    source_tokenizer: Tokenizer = "word"
    target_tokenizer: Tokenizer = "word"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    max_length: int | None = None  # tokens per source and per target, the rest is cut

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text_keys(self)


class Seq2SeqTask(Task):
    name = "seq2seq"
    model_kind = "seq2seq"
    data_class = Seq2SeqData

    def __init__(self, data: Seq2SeqData):
        super().__init__(data)
        self.source: TextEncoder | None = None
        self.target: TextEncoder | None = None

    def read(self) -> None:
        d = self.data
        if d.dataset is not None:
            parts = {"train": self.load_dataset(TextPairs, "text pairs").pairs}
        else:
            parts = {k: read_parallel(v).pairs for k, v in d.files().items()}
        split = random_split(parts["train"], d, have=parts)
        self.splits = Splits(
            split.train, parts.get("val", split.val), parts.get("test", split.test)
        )

    def fit(self) -> None:
        d = self.data
        sources = [s for s, _ in self.splits.train]
        targets = [t for _, t in self.splits.train]
        fit = lambda texts, tok: TextEncoder.fit(texts, tok, d.min_freq, d.max_vocab, d.lowercase)  # noqa: E731
        self.source = fit(sources, d.source_tokenizer)
        self.target = fit(targets, d.target_tokenizer)

    def model_sizes(self) -> dict[str, Any]:
        return self.model_sizes_of(len(self.source.vocab), len(self.target.vocab))

    @staticmethod
    def model_sizes_of(source: int, target: int) -> dict[str, Any]:
        return {
            "inputs": {"vocab_size": source},
            "tgt_vocab_size": target,
            "pad_id": Vocab.pad_id,
            "bos_id": Vocab.bos_id,
            "eos_id": Vocab.eos_id,
        }

    def placeholder_sizes(self) -> dict[str, Any]:
        return {**self.model_sizes_of(8, 8)}

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        return {"bleu": {"decode": self.target.text}}

    def _source_ids(self, text: str) -> torch.Tensor:
        ids = self.source.ids(text, self.data.max_length) or [Vocab.unk_id]
        return torch.tensor(ids, dtype=torch.long)

    def loader(self, split: str, shuffle: bool = False):
        items = [
            (
                self._source_ids(s),
                torch.tensor([*self.target.ids(t, self.data.max_length), Vocab.eos_id]),
            )
            for s, t in self._require().get(split)
        ]
        lengths = [len(x) for x, _ in items]
        return bucketed_loader(
            items, lengths, self.data.batch_size, collate_seq2seq, shuffle, self.data.seed
        )

    def state(self) -> dict[str, Any]:
        return {"source": self.source.state(), "target": self.target.state()}

    @classmethod
    def restore(cls, data: Seq2SeqData, state: Mapping[str, Any]) -> Seq2SeqTask:
        task = cls(data)
        task.source = TextEncoder.from_state(state["source"], "source vocabulary")
        task.target = TextEncoder.from_state(state["target"], "target vocabulary")
        return task

    def encode(self, inputs: Sequence[Any]) -> Batch:
        padded, lengths = pad_sequences([self._source_ids(x) for x in inputs])
        return Batch(padded, lengths=lengths)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        rows = []
        for tokens, n, score in zip(
            prediction["tokens"].tolist(),
            prediction["lengths"].tolist(),
            prediction["scores"].tolist(),
            strict=True,
        ):
            rows.append({"output": self.target.text(tokens[:n]), "score": round(score, 6)})
        return rows
