"""``LanguageModel``: one-to-many. Predict the next token; generate text one token at a time.

Training: ``batch.inputs`` (B, T) ids, ``batch.targets`` (B, T) the next ids (``-100``
where there is none); ``prediction`` is logits (B, T, vocab_size), the loss the mean
cross-entropy in nats, so perplexity is ``exp(loss)`` and bits per character
``loss / ln 2`` (:mod:`seqlab.train.metrics`; name them in the trainer's ``metrics``).
The final recurrent state comes back in ``Output.state`` for truncated BPTT: feed it
(detached) with the next chunk.

Generation (``generate``) carries the encoder's state from step to step: a recurrent
encoder reads the prompt in one call and then steps with its ``(h, c)``; a TCN/WaveNet
runs its streaming path (each step reuses the cached activations of earlier steps), so
neither recomputes the past.

Conditioning (image-captioning style, ``feature_size > 0``) on ``batch.features``
(B, F): ``condition="init"`` sets the initial recurrent state to ``tanh(W f)`` (each
layer's ``h``, and ``c`` for an LSTM); ``condition="concat"`` appends ``f`` to every
step's input (works with every encoder).

>>> import torch
>>> from seqlab.data import Batch
>>> lm = LanguageModel(LanguageModelConfig(InputConfig(vocab_size=12, embedding_dim=8),
...                    encoder=EncoderConfig(kind="lstm", hidden_size=16)))
>>> ids = torch.randint(4, 12, (2, 6))
>>> out = lm(Batch(ids[:, :-1], targets=ids[:, 1:]))
>>> out.prediction.shape, out.state[0].shape
(torch.Size([2, 5, 12]), torch.Size([1, 2, 16]))
>>> lm.generate([2, 5, 7], max_new_tokens=4, seed=0).shape
torch.Size([7])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_dropout, check_float, check_int
from ..data.batch import IGNORE_INDEX, Batch
from .base import TaskModel, count_targets, without_targets
from .encoders import EncoderConfig, build_encoder
from .inputs import InputConfig, InputLayer
from .output import Output

__all__ = ["LanguageModel", "LanguageModelConfig", "sample_next"]


@dataclass
class LanguageModelConfig:
    """``inputs``: the token ids and how they enter (embedding or one-hot), as every task
    model takes them; ``pad_id`` fills a row after its ``eos_id`` in generation."""

    inputs: InputConfig
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    feature_size: int = 0
    condition: Literal["none", "init", "concat"] = "none"
    dropout: float = 0.0
    pad_id: int = 0

    def __post_init__(self):
        if not self.inputs.tokens:
            raise ValueError("a language model reads token ids: set inputs.vocab_size")
        if self.vocab_size < 2:
            raise ValueError(f"inputs.vocab_size must be >= 2, got {self.vocab_size}")
        check_int("pad_id", self.pad_id, min=0, max=self.vocab_size - 1)
        if (self.condition == "none") != (self.feature_size == 0):
            raise ValueError(
                "feature_size > 0 needs condition 'init' or 'concat' and vice versa, "
                f"got feature_size={self.feature_size}, condition={self.condition!r}"
            )
        if self.condition == "init" and not self.encoder.recurrent:
            raise ValueError(
                "condition='init' sets a recurrent state; "
                f"use 'concat' for kind={self.encoder.kind!r}"
            )
        if self.encoder.bidirectional:
            raise ValueError(
                "a language model predicts the next token: bidirectional must be false"
            )
        check_dropout("dropout", self.dropout)
        check_int("feature_size", self.feature_size, min=0)

    @property
    def vocab_size(self) -> int:
        return self.inputs.vocab_size


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick the next token from ``logits`` (B, V) -> (B,).

    ``greedy``: the argmax. Else sample from ``softmax(logits / temperature)`` restricted
    to the ``top_k`` most likely tokens and/or to the nucleus, the smallest set whose
    probability reaches ``top_p`` (Holtzman et al. 2020).
    """
    if greedy:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of the tokens ranked above each one
        drop_sorted = before >= top_p  # the top token always stays (before = 0)
        drop = drop_sorted.scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _prompt_ids(prompt: Any, vocab_size: int) -> Tensor:
    """A prompt as a long tensor of ids in [0, vocab_size); text, floats and out-of-range
    ids are refused by name (a text prompt goes through the run's tokenizer first)."""
    if isinstance(prompt, str):
        raise ValueError(
            "prompt must be token ids, got a string; encode it with the run's vocabulary "
            "(seqlab.load_run(...).task.generate(model, text, n), or seqlab generate)"
        )
    try:
        ids = torch.as_tensor(prompt)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"prompt must be token ids, got {prompt!r:.60}") from None
    if ids.is_floating_point() or ids.dtype == torch.bool or ids.is_complex():
        raise ValueError(f"prompt must be integer token ids, got dtype {ids.dtype}")
    ids = ids.long()
    bad = (ids < 0) | (ids >= vocab_size)
    if bool(bad.any()):
        raise ValueError(f"prompt id {int(ids[bad][0])} is not in [0, vocab_size={vocab_size})")
    return ids


class LanguageModel(TaskModel):
    kind = "language_model"
    config_class = LanguageModelConfig

    def __init__(self, config: LanguageModelConfig, pretrained_embeddings: Tensor | None = None):
        super().__init__()
        self.config = config
        c = config
        self.input = InputLayer(c.inputs, pretrained_embeddings)
        extra = c.feature_size if c.condition == "concat" else 0
        self.encoder = build_encoder(c.encoder, self.input.output_size + extra)
        if c.condition == "init":
            size = c.encoder.num_states * c.encoder.num_layers * c.encoder.hidden_size
            self.init_proj = nn.Linear(c.feature_size, size)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(self.encoder.output_size, c.vocab_size)

    # --- conditioning ------------------------------------------------------------------
    def _features(self, features: Tensor | None, batch_size: int) -> Tensor | None:
        c = self.config
        if c.condition == "none":
            return None
        if features is None:
            raise ValueError(f"condition={c.condition!r} needs features (B, {c.feature_size})")
        if features.shape != (batch_size, c.feature_size):
            raise ValueError(
                f"features must be (B={batch_size}, feature_size={c.feature_size}), "
                f"got {tuple(features.shape)}"
            )
        # the model's device too: a condition built by the caller (a label's one-hot, a
        # user's vector) is on the CPU while a model trained on a GPU stays there
        return features.to(device=self.head.weight.device, dtype=self.head.weight.dtype)

    def initial_state(self, features: Tensor | None):
        """The encoder state set from ``features`` (``condition="init"``), else ``None``."""
        if self.config.condition != "init" or features is None:
            return None
        L, H = self.config.encoder.num_layers, self.config.encoder.hidden_size
        parts = torch.tanh(self.init_proj(features)).view(features.size(0), -1, L, H)
        state = tuple(p.transpose(0, 1).contiguous() for p in parts.unbind(1))  # (L, B, H) each
        return state if len(state) == 2 else state[0]

    def _embed(self, ids: Tensor, features: Tensor | None) -> Tensor:
        x = self.input(ids)  # (B, T, E)
        if self.config.condition == "concat":
            f = features.unsqueeze(1).expand(-1, x.size(1), -1)  # (B, T, F)
            x = torch.cat([x, f], dim=-1)  # (B, T, E + F)
        return x

    # --- training ----------------------------------------------------------------------
    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        features = self._features(batch.features, batch.size)
        if state is None:
            state = self.initial_state(features)
        x = self._embed(batch.inputs, features)
        out, state = self.encoder(x, self._lengths(batch), state)
        logits = self.head(self.dropout(out))  # (B, T, V)
        if batch.targets is None:
            return Output(logits, None, state)
        targets = batch.targets
        if targets.is_floating_point():
            raise ValueError(f"targets must be the next token ids (integers), got {targets.dtype}")
        if targets.shape != batch.inputs.shape:
            raise ValueError(
                f"targets must have the inputs' shape {tuple(batch.inputs.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        V = self.config.vocab_size
        bad = (targets != IGNORE_INDEX) & ((targets < 0) | (targets >= V))
        if bool(bad.any()):
            raise ValueError(f"target id {int(targets[bad][0])} is not in [0, vocab_size={V})")
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX)
        return Output(logits, loss, state, weight=count_targets(targets))

    def supported_metrics(self) -> tuple[str, ...]:
        return ("accuracy", "perplexity", "bits_per_char")

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """``next_token`` (B, V): the distribution of the token after each row's last
        real step (generation is :meth:`generate`)."""
        logits = self(without_targets(batch)).prediction  # (B, T, V)
        last = batch.mask().sum(1) - 1  # (B,)
        rows = torch.arange(batch.size, device=logits.device)
        return {"next_token": logits[rows, last.to(logits.device)].softmax(-1)}

    # --- generation --------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        prompt: Sequence[int] | Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        greedy: bool = False,
        seed: int | None = None,
        features: Tensor | None = None,
        eos_id: int | None = None,
        on_token: Callable[[Tensor], None] | None = None,
    ) -> Tensor:
        """Continue ``prompt`` ((T,) or (B, T) ids, at least one) by ``max_new_tokens``.

        Returns the prompt and the new tokens, (T + n,) or (B, T + n); with ``eos_id`` a
        row that produced it continues with ``pad_id`` and generation stops early once
        every row has. ``seed`` makes sampling reproducible (a private generator; the
        global RNG is untouched). ``on_token`` is called with each step's new tokens
        (B,) as they are drawn, so a caller can print them as they come.
        """
        ids = _prompt_ids(prompt, self.config.vocab_size).to(self.head.weight.device)
        single = ids.dim() == 1
        ids = ids.unsqueeze(0) if single else ids
        if ids.dim() != 2 or ids.size(1) == 0:
            raise ValueError(
                f"prompt must be (T,) or (B, T) ids with T >= 1, got {tuple(ids.shape)}"
            )
        check_int("max_new_tokens", max_new_tokens, min=0)
        check_float("temperature", temperature, min=0.0, min_open=True)
        check_int("top_k", top_k, min=1, none=True)
        check_float("top_p", top_p, min=0.0, max=1.0, min_open=True, none=True)
        check_int("eos_id", eos_id, min=0, max=self.config.vocab_size - 1, none=True)
        check_int("seed", seed, min=0, none=True)
        B = ids.size(0)
        if features is not None and features.dim() == 1:
            features = features.unsqueeze(0).expand(B, -1)
        features = self._features(features, B)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=ids.device).manual_seed(seed)

        was_training = self.training
        self.eval()
        try:
            x = self._embed(ids, features)  # (B, T, C)
            if self.encoder.recurrent:  # the whole prompt in one call, then carry the state
                out, state = self.encoder(x, state=self.initial_state(features))
                stream = self.encoder.stream(B, state)
                h = out[:, -1]
            else:  # TCN / WaveNet streaming path, one step at a time
                stream = self.encoder.stream(B)
                for t in range(x.size(1)):
                    h = stream.step(x[:, t])
            tokens = [ids]
            done = torch.zeros(B, dtype=torch.bool, device=ids.device)
            for i in range(max_new_tokens):
                nxt = sample_next(self.head(h), temperature, top_k, top_p, greedy, generator)
                nxt = nxt.masked_fill(done, self.config.pad_id)
                tokens.append(nxt.unsqueeze(1))
                if on_token is not None:
                    on_token(nxt)
                if eos_id is not None:
                    done |= nxt == eos_id
                    if bool(done.all()):
                        break
                if i + 1 < max_new_tokens:
                    h = stream.step(self._embed(nxt.unsqueeze(1), features)[:, 0])
        finally:
            self.train(was_training)
        result = torch.cat(tokens, dim=1)  # (B, T + n)
        return result[0] if single else result
