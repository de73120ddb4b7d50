"""``seq2seq``: encoder-decoder, a source sequence to a target of its own length
(translation, date formats, reversal).

Data: a registered set of pairs (``date_conversion``, ``reversal``, ``bible_kjv_web``)
or tab-separated ``source<TAB>target`` files. Source and target have their own
tokenizer and vocabulary, fitted on the training split: ``char``, ``word``, or subwords
``bpe`` / ``unigram`` (:mod:`seqlab.data.subwords`, ``subword_vocab_size`` pieces each;
the trained model is saved as its own file, ``source_subwords.json`` /
``target_subwords.json``, in every checkpoint). ``shared_vocab: true`` fits one
vocabulary (one tokenizer kind) on the source and target training text together, saved
once (``shared_subwords.json``): source ids are then target ids, which the model's
``copy`` and ``tie_embeddings`` need (the task tells the model, as ``shared_vocab``).
The pipeline appends ``<eos>`` to each target; a user never writes it.

Lengths: ``max_source_length`` / ``max_target_length`` (default ``max_length``, default
none) cut longer sequences to that many tokens, with a warning counting how many were
cut in each split (an output limited at training time is limited at decoding time too).

Splits: ``split: random`` (seeded) or ``ordered``: val and test are the *last*
``val_fraction`` and ``test_fraction`` of the data in its order; or ``books`` (data
whose pairs carry a group, e.g. ``bible_kjv_web``'s book of each verse): test is the
closing whole books nearest ``test_fraction``, val the whole books before them nearest
``val_fraction`` (unseen books, not random verses that share a chapter with training
verses, nor a book cut in the middle). ``val_sample``: validate (loss and decoded
BLEU/chrF/exact match) on that many val pairs, evenly spaced, each epoch; decoding is the
cost of validation.

BLEU and chrF are computed on detokenized text: subwords decode to the text exactly;
word tokens are joined by :func:`seqlab.data.detokenize.detokenize` (no space before
punctuation), as a reader would write them.

.. code-block:: yaml

    task: seq2seq
    data: {dataset: date_conversion, options: {n: 20000}, source_tokenizer: char,
           target_tokenizer: char}
    model: {encoder: {kind: gru, hidden_size: 128, bidirectional: true},
            attention: multiplicative, beam_size: 4}
    train: {metrics: [exact_match, bleu], monitor: val_exact_match, mode: max}
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..checks import check_bool, check_choice, check_int
from ..config import ConfigError
from ..data import TextPairs, Vocab, collate_seq2seq, read_parallel
from ..data.batch import Batch
from ..data.collate import pad_sequences
from ..data.detokenize import detokenize
from ..data.errors import DataError
from ..data.subwords import SUBWORD_KINDS, Subwords
from .base import DataSource, Splits, Task, random_split
from .text import TextEncoder, bucketed_loader, check_text_keys

__all__ = ["Seq2SeqData", "Seq2SeqTask"]

Seq2SeqTokenizer = Literal["char", "word", "bpe", "unigram"]
TOKENIZERS = ("char", "word", *SUBWORD_KINDS)


@dataclass
class Seq2SeqData(DataSource):
    source_tokenizer: Seq2SeqTokenizer = "word"
    target_tokenizer: Seq2SeqTokenizer = "word"
    subword_vocab_size: int = 8000
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    max_length: int | None = None  # tokens per source and per target, the rest is cut
    max_source_length: int | None = None  # default: max_length
    max_target_length: int | None = None  # default: max_length
    split: Literal["random", "ordered", "books"] = "random"
    val_sample: int | None = None  # validate on this many val pairs (evenly spaced)
    shared_vocab: bool = False  # one vocabulary fitted on source + target training text

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text_keys(self)
        for name in ("source_tokenizer", "target_tokenizer"):
            check_choice(name, getattr(self, name), TOKENIZERS)
        check_choice("split", self.split, ("random", "ordered", "books"))
        check_bool("shared_vocab", self.shared_vocab)
        if self.shared_vocab and self.source_tokenizer != self.target_tokenizer:
            raise ConfigError(
                f"shared_vocab: true needs one tokenizer for both sides, got "
                f"source_tokenizer={self.source_tokenizer!r} and "
                f"target_tokenizer={self.target_tokenizer!r}"
            )
        check_int("subword_vocab_size", self.subword_vocab_size, min=8)
        for name in ("max_source_length", "max_target_length", "val_sample"):
            check_int(name, getattr(self, name), min=1, none=True)

    @property
    def source_limit(self) -> int | None:
        return self.max_source_length or self.max_length

    @property
    def target_limit(self) -> int | None:
        return self.max_target_length or self.max_length


class SubwordEncoder:
    """:class:`Subwords` behind :class:`TextEncoder`'s interface (``ids``, ``text``,
    ``vocab``, ``state``); the model itself is saved as a file of its own."""

    def __init__(self, subwords: Subwords):
        self.subwords = subwords
        self.vocab = subwords.vocab
        self.tokenizer_name = subwords.kind

    def ids(self, text: str, max_length: int | None = None) -> list[int]:
        return self.subwords.ids(text, max_length)

    def text(self, ids: Sequence[int]) -> str:
        return self.subwords.text(ids)

    def state(self) -> dict[str, Any]:
        return {"tokenizer": self.subwords.kind, "lowercase": self.subwords.lowercase}


def _fit(texts: list[str], tokenizer: str, d: Seq2SeqData):
    if tokenizer in SUBWORD_KINDS:
        return SubwordEncoder(
            Subwords.train(texts, tokenizer, d.subword_vocab_size, d.min_freq, d.lowercase)
        )
    return TextEncoder.fit(texts, tokenizer, d.min_freq, d.max_vocab, d.lowercase)


def _ordered_split(items: Sequence[Any], d: DataSource, have) -> Splits:
    """The last ``test_fraction`` is test, the ``val_fraction`` before it val."""
    items = list(items)[: d.limit]
    n = len(items)
    n_val = 0 if "val" in have else round(n * d.val_fraction)
    n_test = 0 if "test" in have else round(n * d.test_fraction)
    if n - n_val - n_test < 1:
        raise ConfigError(f"data: {n} examples leave none to train on after the val/test cut")
    cut = n - n_val - n_test
    return Splits(items[:cut], items[cut : cut + n_val], items[cut + n_val :])


def _book_split(items: Sequence[Any], groups: Sequence[str], d: DataSource, have) -> Splits:
    """Whole books held out at the end: test is the closing books (runs of one group in
    the data's order) whose size is nearest ``test_fraction`` of the data (at least one
    book), val the books before them nearest ``val_fraction``; no book is cut. ``limit``
    keeps that many pairs evenly spaced over the whole data (every book keeps its share,
    so the closing books are still the ones held out)."""
    items, groups = list(items), list(groups)
    if d.limit is not None and d.limit < len(items):
        keep = [int(i * len(items) / d.limit) for i in range(d.limit)]
        items, groups = [items[i] for i in keep], [groups[i] for i in keep]
    n = len(items)
    starts = [i for i in range(n) if i == 0 or groups[i] != groups[i - 1]]  # book starts

    def cut_back(end: int, fraction: float) -> int:
        """The start of the closing books before ``end`` nearest ``fraction * n`` pairs."""
        want = fraction * n
        best = None
        for start in reversed([s for s in starts if s < end]):
            if best is not None and abs(end - start - want) > abs(end - best - want):
                break  # sizes only grow: the nearest has passed
            best = start
        return best if best is not None else end

    test_start = n if "test" in have or d.test_fraction == 0 else cut_back(n, d.test_fraction)
    val_start = (
        test_start if "val" in have or d.val_fraction == 0 else cut_back(test_start, d.val_fraction)
    )
    if val_start < 1:
        raise ConfigError(f"data: {n} examples leave no book to train on after the val/test cut")
    return Splits(items[:val_start], items[val_start:test_start], items[test_start:])


class Seq2SeqTask(Task):
    name = "seq2seq"
    model_kind = "seq2seq"
    data_class = Seq2SeqData

    def __init__(self, data: Seq2SeqData):
        super().__init__(data)
        self.source: TextEncoder | SubwordEncoder | None = None
        self.target: TextEncoder | SubwordEncoder | None = None
        self._warned: set[str] = set()
        self.groups: dict[str, list[str]] = {}  # split: books, the book of each pair

    def read(self) -> None:
        d = self.data
        groups = None
        if d.dataset is not None:
            loaded = self.load_dataset(TextPairs, "text pairs")
            parts, groups = {"train": loaded.pairs}, loaded.groups
            where = {"train": f"dataset {d.dataset!r}"}
        else:
            parts = {k: read_parallel(v).pairs for k, v in d.files().items()}
            where = {k: str(v) for k, v in d.files().items()}
        for split, pairs in parts.items():
            for i, (s, t) in enumerate(pairs):
                if not str(s).strip() or not str(t).strip():
                    side = "source" if not str(s).strip() else "target"
                    raise DataError(f"{where[split]}: pair {i + 1} has an empty {side}")
        if d.split == "books":
            if groups is None:
                raise ConfigError(
                    f"data.split: 'books' needs pairs grouped by book (a dataset such as "
                    f"bible_kjv_web); {where['train']} has none"
                )
            both = _book_split(list(zip(parts["train"], groups, strict=True)), groups, d, parts)
            names = ("train", "val", "test")
            split = Splits(*([p for p, _ in getattr(both, k)] for k in names))
            self.groups = {k: [g for _, g in getattr(both, k)] for k in names}
        else:
            cut = _ordered_split if d.split == "ordered" else random_split
            split = cut(parts["train"], d, have=parts)
        val = parts.get("val", split.val)
        if d.val_sample is not None and len(val) > d.val_sample:
            step = len(val) / d.val_sample
            val = [val[int(i * step)] for i in range(d.val_sample)]
            if "val" in self.groups:
                self.groups["val"] = [
                    self.groups["val"][int(i * step)] for i in range(d.val_sample)
                ]
        self.splits = Splits(split.train, val, parts.get("test", split.test))

    def fit(self) -> None:
        sources = [s for s, _ in self.splits.train]
        targets = [t for _, t in self.splits.train]
        if self.data.shared_vocab:  # one model for both sides: source ids are target ids
            self.source = self.target = _fit(
                sources + targets, self.data.source_tokenizer, self.data
            )
            return
        self.source = _fit(sources, self.data.source_tokenizer, self.data)
        self.target = _fit(targets, self.data.target_tokenizer, self.data)

    def model_sizes(self) -> dict[str, Any]:
        return self.model_sizes_of(
            len(self.source.vocab), len(self.target.vocab), self.data.shared_vocab
        )

    @staticmethod
    def model_sizes_of(source: int, target: int, shared: bool = False) -> dict[str, Any]:
        return {
            "inputs": {"vocab_size": source},
            "tgt_vocab_size": target,
            "pad_id": Vocab.pad_id,
            "bos_id": Vocab.bos_id,
            "eos_id": Vocab.eos_id,
            "shared_vocab": shared,
        }

    def placeholder_sizes(self) -> dict[str, Any]:
        return {**self.model_sizes_of(8, 8, self.data.shared_vocab)}

    def target_text(self, ids: Sequence[int]) -> str:
        """Target ids as a reader would write the text: what BLEU and chrF score."""
        if isinstance(self.target, SubwordEncoder):
            return self.target.text(ids)
        if self.target.tokenizer_name == "word":
            return detokenize(self.target.vocab.decode(ids))
        return self.target.text(ids)

    def metric_facts(self) -> dict[str, dict[str, Any]]:
        return {"bleu": {"decode": self.target_text}, "chrf": {"decode": self.target_text}}

    def _source_ids(self, text: str) -> torch.Tensor:
        ids = self.source.ids(text, self.data.source_limit) or [Vocab.unk_id]
        return torch.tensor(ids, dtype=torch.long)

    def _cut_count(self, split: str, side: str, lengths: list[int], limit: int | None) -> None:
        """Warn once per split and side how many sequences ``max_*_length`` cut."""
        if limit is None or (split, side) in self._warned:
            return
        cut = sum(n > limit for n in lengths)
        if cut:
            self._warned.add((split, side))
            warnings.warn(
                f"seq2seq {split}: {cut} of {len(lengths)} {side}s are longer than "
                f"max_{side}_length={limit} tokens and were cut to it",
                stacklevel=3,
            )

    def loader(self, split: str, shuffle: bool = False):
        d = self.data
        pairs = self._require().get(split)
        src = [self.source.ids(s) or [Vocab.unk_id] for s, _ in pairs]
        tgt = [self.target.ids(t) for _, t in pairs]
        self._cut_count(split, "source", [len(x) for x in src], d.source_limit)
        self._cut_count(split, "target", [len(y) for y in tgt], d.target_limit)
        items = [
            (
                torch.tensor(x[: d.source_limit], dtype=torch.long),
                torch.tensor([*y[: d.target_limit], Vocab.eos_id], dtype=torch.long),
            )
            for x, y in zip(src, tgt, strict=True)
        ]
        lengths = [len(x) for x, _ in items]
        return bucketed_loader(items, lengths, d.batch_size, collate_seq2seq, shuffle, d.seed)

    # --- remembering ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        state = {"source": self.source.state(), "target": self.target.state()}
        return {**state, "shared": True} if self.source is self.target else state

    def state_files(self) -> dict[str, Any]:
        """The subword models, each saved as a checkpoint file of its own (JSON): a
        shared one once, as ``shared_subwords.json``."""
        if self.source is self.target and isinstance(self.source, SubwordEncoder):
            return {"shared_subwords": self.source.subwords.to_json()}
        out = {}
        for side in ("source", "target"):
            enc = getattr(self, side)
            if isinstance(enc, SubwordEncoder):
                out[f"{side}_subwords"] = enc.subwords.to_json()
        return out

    @classmethod
    def restore(cls, data: Seq2SeqData, state: Mapping[str, Any]) -> Seq2SeqTask:
        return cls.restore_saved(data, state, {})

    @classmethod
    def restore_saved(
        cls, data: Seq2SeqData, state: Mapping[str, Any], files: Mapping[str, Any]
    ) -> Seq2SeqTask:
        task = cls(data)
        shared = bool(state.get("shared"))
        for side in ("source", "target"):
            saved = state[side]
            if shared and side == "target":
                task.target = task.source  # one vocabulary, one object
            elif saved.get("tokenizer") in SUBWORD_KINDS:
                name = "shared_subwords" if shared else f"{side}_subwords"
                if not files or name not in files:
                    raise DataError(
                        f"the {side} vocabulary is {saved['tokenizer']} subwords, but the "
                        f"checkpoint has no {name}.json"
                    )
                sw = Subwords.from_json(
                    files[name], saved["tokenizer"], bool(saved.get("lowercase")), f"{name}.json"
                )
                setattr(task, side, SubwordEncoder(sw))
            else:
                setattr(task, side, TextEncoder.from_state(saved, f"{side} vocabulary"))
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
            rows.append({"output": self.target_text(tokens[:n]), "score": round(score, 6)})
        return rows
