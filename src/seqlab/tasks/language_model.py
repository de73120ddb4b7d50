"""``language_model``: one-to-many, predict the next token of a text; generate by sampling.

Data: a registered text (``shakespeare``) or text files. The text is one token stream
(characters or words); the last ``val_fraction`` and ``test_fraction`` of it are held
out, in order. The stream is laid out as ``batch_size`` parallel streams cut into chunks
of ``bptt`` steps, and trained with truncated BPTT (``train.tbptt.stateful`` is on unless
the config says otherwise), the layout of pytorch/examples' word language model. The
streams start again from the zero state every 4 chunks (``train.tbptt.reset_every``):
generation from a prompt and a fresh scoring window start there, and a model that only
ever carried its state meets it once per stream and epoch. It costs little: an LSTM
language model uses about the last 200 tokens (Khandelwal et al. 2018), and the demo's
held-out loss with the state carried moved from 1.529 to 1.533 nats while the loss on
fresh 64-character windows fell from 1.674 to 1.586 (``benchmarks/demo.py``).

.. code-block:: yaml

    task: language_model
    data: {dataset: shakespeare, tokenizer: char, bptt: 100, batch_size: 32}
    model: {inputs: {embedding_dim: 64}, encoder: {kind: lstm, hidden_size: 256, num_layers: 2}}
    train: {metrics: [bits_per_char], clip: {norm: 0.5}}

Conditioned generation (one-to-many, captioning-style): with ``condition: label`` or
``condition: features`` the data is per-example records instead, a CSV/TSV/JSONL file
with a ``text_column`` and the condition (a ``label_column``, one-hot through the label
names of the training split; or numeric ``feature_columns``, standardized on it), or a
registered labelled dataset (``rotten_tomatoes``: reviews by sentiment). Each record is
one sequence, ``<bos> text <eos>`` (cut to ``max_length`` tokens), in padded,
length-bucketed batches with its condition vector ``f`` in ``batch.features``; it trains
with full BPTT (``tbptt.stateful`` is off, and refused on), val/test are cut at random
(``seed``; ``limit``: a random sample of that many records), and the model's
``condition`` defaults to ``concat`` (``init``: the initial recurrent state
``tanh(W f)``). ``generate(..., condition=...)`` starts at ``<bos>`` (and the prompt, if
any) and stops at ``<eos>``.

.. code-block:: yaml

    task: language_model
    data: {dataset: rotten_tomatoes, condition: label, tokenizer: char, batch_size: 32}
    model: {encoder: {kind: lstm, hidden_size: 256}, condition: init}
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch

from ..checks import check_bool, check_choice, check_int
from ..config import ConfigError
from ..data import LabelledTexts, StreamChunks, Vocab, batchify, read_text
from ..data.batch import IGNORE_INDEX, Batch
from ..data.collate import pad_sequences
from .base import DataSource, Splits, Task, random_split
from .conditioned import Condition, read_records
from .text import TextEncoder, Tokenizer, bucketed_loader, check_text_keys, rank_and_world

__all__ = ["LanguageModelData", "LanguageModelTask"]


ConditionKind = Literal["none", "label", "features"]


@dataclass
class LanguageModelData(DataSource):
    tokenizer: Tokenizer = "char"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    bptt: int = 64  # steps per chunk (k1 of truncated BPTT; one text stream)
    condition: ConditionKind = "none"  # label / features: one record a text, conditioned on it
    format: str | None = None  # records: csv, tsv or jsonl; None: from the file name
    text_column: str = "text"  # records: the text of each
    label_column: str = "label"  # condition label: its column (one-hot), or a dataset's labels
    feature_columns: list[str] = field(default_factory=list)  # condition features: the numbers
    standardize: bool = True  # condition features: by the training split's mean and std
    max_length: int | None = None  # records: tokens per text, the rest is cut

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text_keys(self)
        check_int("bptt", self.bptt, min=1)
        check_choice("condition", self.condition, ("none", "label", "features"))
        check_choice("format", self.format, ("csv", "tsv", "jsonl", None))
        check_bool("standardize", self.standardize)
        if self.condition == "features":
            if self.dataset is not None:
                raise ValueError(
                    "condition 'features' reads numeric columns of your own files (train:); "
                    f"the registered dataset {self.dataset!r} gives labels: use condition: label"
                )
            if not self.feature_columns:
                raise ValueError("condition 'features' needs feature_columns (column names)")
            if self.text_column in self.feature_columns:
                raise ValueError(f"text_column {self.text_column!r} is also a feature column")
        elif self.feature_columns:
            raise ValueError(
                f"feature_columns go with condition: features, got condition={self.condition!r}"
            )
        if self.condition == "label" and self.text_column == self.label_column:
            raise ValueError(f"text_column and label_column are both {self.text_column!r}")

    @property
    def records(self) -> bool:
        """Per-example records (a condition), not one stream of text."""
        return self.condition != "none"


class LanguageModelTask(Task):
    name = "language_model"
    model_kind = "language_model"
    data_class = LanguageModelData
    train_defaults: ClassVar[dict[str, Any]] = {"tbptt": {"stateful": True, "reset_every": 4}}

    def __init__(self, data: LanguageModelData):
        super().__init__(data)
        self.text: TextEncoder | None = None
        self.condition: Condition | None = None  # records with a condition

    @classmethod
    def defaults_for(
        cls, data: LanguageModelData, model: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        if data.records:  # whole sequences: full BPTT; f appended to each step's input
            return {"train": {}, "model": {"condition": "concat"}}
        return super().defaults_for(data, model)

    @classmethod
    def check_train(cls, data: LanguageModelData, train: Any) -> None:
        if data.records and train.tbptt.stateful:
            raise ConfigError(
                f"train.tbptt.stateful: true carries the state from batch to batch, but "
                f"data.condition={data.condition!r} makes each record its own sequence "
                "(full BPTT); set it false"
            )

    # --- reading ----------------------------------------------------------------------
    def _read(self) -> dict[str, str]:
        d = self.data
        if d.dataset is not None:
            parts = {"train": self.load_dataset(str, "a text")}
        else:
            parts = {k: read_text(v) for k, v in d.files().items()}
        return {k: v[: d.limit] if d.limit else v for k, v in parts.items()}

    def read(self) -> None:
        if self.data.records:
            return self._read_records()
        d = self.data
        parts = self._read()
        train = parts["train"]
        n = len(train)
        n_val = 0 if "val" in parts else int(n * d.val_fraction)
        n_test = 0 if "test" in parts else int(n * d.test_fraction)
        cut = n - n_val - n_test  # held-out parts are the end of the text, in order
        val = parts.get("val", train[cut : cut + n_val])
        test = parts.get("test", train[cut + n_val :])
        self.splits = Splits([train[:cut]], [val] if val else [], [test] if test else [])

    def _read_records(self) -> None:
        """(text, raw condition) records; val/test files keep to the training labels."""
        d = self.data
        if d.dataset is not None:
            whole = self.load_dataset(LabelledTexts, "labelled texts (for condition: label)")
            parts = {"train": list(zip(whole.texts, whole.labels, strict=True))}
        else:
            parts = {"train": read_records(d, d.train)}
            labels = sorted({y for _, y in parts["train"]}) if d.condition == "label" else None
            for k, path in d.files().items():
                if k != "train":
                    parts[k] = read_records(d, path, labels)
        split = random_split(parts["train"], d, have=parts)
        val, test = parts.get("val", split.val), parts.get("test", split.test)
        self.splits = Splits(split.train, val, test)

    def fit(self) -> None:
        d = self.data
        train = self._require().train
        texts = [t for t, _ in train] if d.records else train
        self.text = TextEncoder.fit(texts, d.tokenizer, d.min_freq, d.max_vocab, d.lowercase)
        if d.records:
            columns = d.feature_columns or None
            self.condition = Condition.fit(
                d.condition, [c for _, c in train], columns, d.standardize
            )

    def model_sizes(self) -> dict[str, Any]:
        sizes = {"inputs": {"vocab_size": len(self.text.vocab)}, "pad_id": Vocab.pad_id}
        if self.condition is not None:
            sizes["feature_size"] = self.condition.size
        return sizes

    def placeholder_sizes(self) -> dict[str, Any]:
        sizes = {"inputs": {"vocab_size": 8}, "pad_id": Vocab.pad_id}
        if self.data.records:
            sizes["feature_size"] = max(len(self.data.feature_columns), 2)
        return sizes

    # --- batches ----------------------------------------------------------------------
    def loader(self, split: str, shuffle: bool = False):
        parts = self._require().get(split)
        if not parts:
            return []
        if self.data.records:
            return self._record_loader(split, parts, shuffle)
        ids = torch.tensor(self.text.ids(parts[0]), dtype=torch.long)
        B = self.data.batch_size
        if len(ids) < 2 * B:
            raise ConfigError(
                f"data: the {split} text has {len(ids)} tokens, too few for batch_size={B} "
                "parallel streams of two or more tokens"
            )
        streams = batchify(ids, B)  # (B, N // B)
        rank, world = rank_and_world()
        if world > 1:  # each rank carries its own share of the parallel streams
            if world > B:
                raise ConfigError(f"data.batch_size={B} streams cannot be shared by {world} ranks")
            streams = streams[rank::world]
        return StreamChunks(streams, self.data.bptt)  # in order: the state carries

    def _record_loader(self, split: str, parts, shuffle: bool):
        """Padded batches of whole records: inputs ``<bos> x_1..x_n``, targets
        ``x_1..x_n <eos>``, ``features`` (B, F)."""
        items = []
        for text, raw in parts:
            try:
                f = self.condition.vector(raw)
            except ValueError as e:
                raise ConfigError(f"data: the {split} split: {e} (of the training split)") from None
            ids = self.text.ids(text, self.data.max_length)
            items.append((torch.tensor([Vocab.bos_id, *ids, Vocab.eos_id]), f))
        lengths = [len(x) - 1 for x, _ in items]
        return bucketed_loader(
            items, lengths, self.data.batch_size, collate_records, shuffle, self.data.seed
        )

    # --- a saved run ------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        state = {"text": self.text.state()}
        if self.condition is not None:
            state["condition"] = self.condition.state()
        return state

    @classmethod
    def restore(cls, data: LanguageModelData, state: Mapping[str, Any]) -> LanguageModelTask:
        task = cls(data)
        task.text = TextEncoder.from_state(state["text"])
        if state.get("condition") is not None:
            task.condition = Condition.from_state(state["condition"])
        return task

    # --- new inputs -------------------------------------------------------------------
    def prompt_ids(self, prompt: str, strict: bool = False) -> list[int]:
        """The prompt's ids. A token outside the vocabulary becomes ``<unk>`` with one
        warning naming it (``strict=True``: an error instead)."""
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be text, got {type(prompt).__name__}")
        tokens = self.text.tokenize(prompt)
        if not tokens:
            raise ValueError("the prompt has no tokens")
        unknown = sorted({t for t in tokens if t not in self.text.vocab})
        if unknown:
            what = f"prompt tokens {unknown[:10]} are not in the vocabulary"
            if strict:
                raise ValueError(f"{what}; use tokens the run was trained on")
            warnings.warn(f"{what}: read as <unk>", stacklevel=2)
        return self.text.vocab.encode(tokens)

    def _start_ids(self, prompt: str | None, strict: bool) -> list[int]:
        """What generation reads first: a record starts at ``<bos>`` (then the prompt)."""
        if self.condition is None:
            return self.prompt_ids(prompt, strict)
        if prompt is None or not self.text.tokenize(prompt):
            return [Vocab.bos_id]
        return [Vocab.bos_id, *self.prompt_ids(prompt, strict)]

    def features(self, condition: Any) -> torch.Tensor | None:
        """The model's ``f`` (F,) for a raw condition; ``None`` for a run without one.
        A condition given to a run trained without one, or missing for a run trained
        with one, is an error."""
        if self.condition is None:
            if condition is not None:
                raise ValueError(
                    "this run was trained without a condition (data.condition: none); "
                    f"generate without one, got {condition!r:.60}"
                )
            return None
        if condition is None:
            raise ValueError(
                f"this run was trained conditioned on {self.condition.describe()}: give "
                "one (condition=..., --condition)"
            )
        return self.condition.vector(condition)

    def encode(self, inputs: Sequence[Any]) -> Batch:
        """Prompts; a conditioned run takes (condition, text) pairs, or lines
        ``CONDITION<TAB>TEXT``."""
        if self.condition is None:
            padded, lengths = pad_sequences(
                [torch.tensor(self.prompt_ids(x), dtype=torch.long) for x in inputs]
            )
            return Batch(padded, lengths=lengths)
        seqs, feats = [], []
        for x in inputs:
            if isinstance(x, str):
                if "\t" not in x:
                    raise ValueError(
                        f"this run is conditioned on {self.condition.describe()}: give each "
                        f"input as CONDITION<TAB>TEXT, got {x[:40]!r}"
                    )
                x = tuple(x.split("\t", 1))
            condition, text = x
            feats.append(self.features(condition))
            seqs.append(torch.tensor(self._start_ids(text, False), dtype=torch.long))
        padded, lengths = pad_sequences(seqs)
        return Batch(padded, lengths=lengths, features=torch.stack(feats))

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        probs = prediction["next_token"]  # (B, V)
        top = probs.max(-1)
        return [
            {"next": self.text.vocab.token(int(i)), "probability": round(float(p), 6)}
            for i, p in zip(top.indices, top.values, strict=True)
        ]

    def sample_prompts(self) -> list[tuple[str, dict[str, Any]]] | None:
        """What a run's ``samples.txt`` shows for a conditioned run: a sample from
        ``<bos>`` per label (the first four), or for the first held-out record's numbers;
        ``None``: the default (the start of the held-out text)."""
        if self.condition is None:
            return None
        if self.condition.kind == "label":
            return [("", {"condition": name}) for name in self.condition.labels[:4]]
        splits = self._require()
        first = next(p[0] for p in (splits.val, splits.train) if p)
        return [("", {"condition": list(first[1])})]

    def generate(
        self,
        model,
        prompt: str | None,
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
        strict: bool = False,
        condition: Any = None,
        **sampling: Any,
    ) -> str:
        """``prompt`` continued by ``max_new_tokens`` tokens (``sampling``: temperature,
        top_k, top_p, greedy, seed), as text; ``on_text`` gets each token's text as it
        is drawn. A conditioned run takes ``condition`` (a label name, or the numbers in
        the data's units: a sequence or a comma-separated string), starts at ``<bos>``
        (``prompt`` may be empty or ``None``) and stops at ``<eos>``."""
        features = self.features(condition)
        ids = self._start_ids(prompt, strict)
        sep = "" if self.text.tokenizer_name == "char" else " "
        eos = Vocab.eos_id if self.condition is not None else None
        emit = None
        if on_text is not None:
            started = [len(ids) > 1 or self.condition is None]  # a separator before a token

            def emit(t: torch.Tensor) -> None:
                token = int(t[0])
                if token in (Vocab.eos_id, Vocab.pad_id) and eos is not None:
                    return
                on_text((sep if started[0] else "") + self.text.text([token]))
                started[0] = True

        out = model.generate(
            ids, max_new_tokens, on_token=emit, features=features, eos_id=eos, **sampling
        )
        return self.text.text(out[len(ids) :].tolist())


def collate_records(items: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Batch:
    """Records ``<bos> x <eos>`` -> inputs (B, T) padded with 0, targets (B, T) shifted by
    one and padded with -100, lengths (B,), features (B, F)."""
    inputs, lengths = pad_sequences([x[:-1] for x, _ in items])
    targets, _ = pad_sequences([x[1:] for x, _ in items], pad_value=IGNORE_INDEX)
    features = torch.stack([f for _, f in items])  # (B, F)
    return Batch(inputs, targets=targets, lengths=lengths, features=features)
