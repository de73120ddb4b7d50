"""``InputConfig`` + ``InputLayer``: what a model's ``batch.inputs`` are and how they enter.

Token ids ``(B, T)`` go through an embedding (or one-hot); float features ``(B, T, C)``
go straight in. Either way the layer checks the inputs against the config (ids below
``vocab_size``, ``C == input_size``) and raises a ``ValueError`` naming the mismatch,
so a model built for one vocabulary never silently reads another.

>>> import torch
>>> layer = InputLayer(InputConfig(vocab_size=20, embedding_dim=4))
>>> layer(torch.tensor([[3, 7, 0]])).shape
torch.Size([1, 3, 4])
>>> InputLayer(InputConfig(input_size=3))(torch.randn(2, 5, 4))
Traceback (most recent call last):
...
ValueError: inputs must have 3 features (input_size), got shape (2, 5, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..checks import check_bool, check_int
from ..nn.embedding import Embedding, OneHot

__all__ = ["InputConfig", "InputLayer"]


@dataclass
class InputConfig:
    """``vocab_size > 0``: token ids (embedded, or one-hot with ``one_hot``); else float
    features with ``input_size`` channels. ``freeze_embeddings`` keeps a (pretrained)
    table fixed."""

    vocab_size: int = 0
    input_size: int = 0
    embedding_dim: int = 32
    one_hot: bool = False
    freeze_embeddings: bool = False

    def __post_init__(self):
        check_int("vocab_size", self.vocab_size, min=0)
        check_int("input_size", self.input_size, min=0)
        check_int("embedding_dim", self.embedding_dim, min=1)
        check_bool("one_hot", self.one_hot)
        check_bool("freeze_embeddings", self.freeze_embeddings)
        if self.vocab_size < 0 or self.input_size < 0:
            raise ValueError(
                f"vocab_size and input_size must be >= 0, got {self.vocab_size}, {self.input_size}"
            )
        if (self.vocab_size > 0) == (self.input_size > 0):
            raise ValueError(
                "set exactly one of vocab_size (token ids) and input_size (float features), "
                f"got vocab_size={self.vocab_size}, input_size={self.input_size}"
            )
        if self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be positive, got {self.embedding_dim}")

    @property
    def tokens(self) -> bool:
        return self.vocab_size > 0


class InputLayer(nn.Module):
    """Embedding / one-hot for ids, identity for features; ``output_size`` channels out."""

    def __init__(self, config: InputConfig, pretrained: Tensor | None = None):
        super().__init__()
        self.config = config
        c = config
        if pretrained is not None and (not c.tokens or c.one_hot):
            raise ValueError("pretrained embeddings need token inputs with one_hot=False")
        if not c.tokens:
            self.embed = None
            self.output_size = c.input_size
        elif c.one_hot:
            self.embed = OneHot(c.vocab_size)
            self.output_size = c.vocab_size
        else:
            self.embed = Embedding(c.vocab_size, c.embedding_dim, pretrained, c.freeze_embeddings)
            self.output_size = c.embedding_dim

    def forward(self, inputs: Tensor) -> Tensor:
        if self.embed is not None:
            if inputs.dim() != 2:
                raise ValueError(
                    f"inputs must be (B, T) token ids, got shape {tuple(inputs.shape)}"
                )
            return self.embed(inputs)  # (B, T, E); checks ids < vocab_size
        if inputs.dim() != 3 or inputs.size(2) != self.output_size:
            raise ValueError(
                f"inputs must have {self.output_size} features (input_size), "
                f"got shape {tuple(inputs.shape)}"
            )
        if not inputs.dtype.is_floating_point:
            raise ValueError(f"feature inputs must be floats, got dtype {inputs.dtype}")
        return inputs
