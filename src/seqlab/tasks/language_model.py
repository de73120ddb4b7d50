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
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..checks import check_int
from ..config import ConfigError
from ..data import StreamChunks, Vocab, batchify, read_text
from ..data.batch import Batch
from ..data.collate import pad_sequences
from .base import DataSource, Splits, Task
from .text import TextEncoder, Tokenizer, check_text_keys, rank_and_world

__all__ = ["LanguageModelData", "LanguageModelTask"]


@dataclass
class LanguageModelData(DataSource):
    tokenizer: Tokenizer = "char"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    bptt: int = 64  # steps per chunk (k1 of truncated BPTT)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_text_keys(self)
        check_int("bptt", self.bptt, min=1)


class LanguageModelTask(Task):
    name = "language_model"
    model_kind = "language_model"
    data_class = LanguageModelData
    train_defaults: ClassVar[dict[str, Any]] = {"tbptt": {"stateful": True, "reset_every": 4}}

    def __init__(self, data: LanguageModelData):
        super().__init__(data)
        self.text: TextEncoder | None = None

    def _read(self) -> dict[str, str]:
        d = self.data
        if d.dataset is not None:
            parts = {"train": self.load_dataset(str, "a text")}
        else:
            parts = {k: read_text(v) for k, v in d.files().items()}
        return {k: v[: d.limit] if d.limit else v for k, v in parts.items()}

    def read(self) -> None:
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

    def fit(self) -> None:
        d = self.data
        train = self._require().train
        self.text = TextEncoder.fit(train, d.tokenizer, d.min_freq, d.max_vocab, d.lowercase)

    def model_sizes(self) -> dict[str, Any]:
        return {"inputs": {"vocab_size": len(self.text.vocab)}, "pad_id": Vocab.pad_id}

    def placeholder_sizes(self) -> dict[str, Any]:
        return {"inputs": {"vocab_size": 8}, "pad_id": Vocab.pad_id}

    def loader(self, split: str, shuffle: bool = False):
        parts = self._require().get(split)
        if not parts:
            return []
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

    def state(self) -> dict[str, Any]:
        return {"text": self.text.state()}

    @classmethod
    def restore(cls, data: LanguageModelData, state: Mapping[str, Any]) -> LanguageModelTask:
        task = cls(data)
        task.text = TextEncoder.from_state(state["text"])
        return task

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

    def encode(self, inputs: Sequence[Any]) -> Batch:
        padded, lengths = pad_sequences(
            [torch.tensor(self.prompt_ids(x), dtype=torch.long) for x in inputs]
        )
        return Batch(padded, lengths=lengths)

    def decode(self, inputs: Sequence[Any], prediction: Mapping[str, Any]) -> list[dict]:
        probs = prediction["next_token"]  # (B, V)
        top = probs.max(-1)
        return [
            {"next": self.text.vocab.token(int(i)), "probability": round(float(p), 6)}
            for i, p in zip(top.indices, top.values, strict=True)
        ]

    def generate(
        self,
        model,
        prompt: str,
        max_new_tokens: int,
        on_text: Callable[[str], None] | None = None,
        strict: bool = False,
        **sampling: Any,
    ) -> str:
        """``prompt`` continued by ``max_new_tokens`` tokens (``sampling``: temperature,
        top_k, top_p, greedy, seed), as text; ``on_text`` gets each token's text as it
        is drawn."""
        ids = self.prompt_ids(prompt, strict)
        sep = "" if self.text.tokenizer_name == "char" else " "
        emit = None
        if on_text is not None:
            emit = lambda t: on_text(sep + self.text.text([int(t[0])]))  # noqa: E731
        out = model.generate(ids, max_new_tokens, on_token=emit, **sampling)
        return self.text.text(out[len(ids) :].tolist())
