"""``SequenceClassifier``: many-to-one. A whole sequence in, one class (or value) out.

Sentiment of a review, the activity in a window of sensor readings, the digit in a
sequence of pixels: inputs (token ids or features) -> encoder -> one vector per
sequence -> a linear head. How the vector is taken from the encoder's outputs is
``pooling``, always over real steps only (so padding never changes a prediction):

* ``"last"``: the output at the last real step; for a bidirectional encoder the forward
  half there and the backward half at step 0 (each direction's final state);
* ``"mean"`` / ``"max"``: over real steps; ``"mean_max"``: both, concatenated (2C), as
  ROCKET keeps two statistics per convolution (its max and its proportion of positive
  values, Dempster et al. 2020);
* ``"attention"``: a learned additive-attention average over the steps, the query a
  learned vector (Bahdanau-style scores, as in Yang et al. 2016's attention pooling).

``task="classification"``: ``prediction`` is logits (B, num_classes), loss cross-entropy
on ``targets`` (B,), with ``label_smoothing`` ``eps`` (Szegedy et al. 2016): the target
distribution is ``1 - eps + eps/K`` on the true class and ``eps/K`` on each other one.
``task="regression"``: ``prediction`` (B, num_classes) values, loss MSE on ``targets``
(B, num_classes) or (B,) when ``num_classes == 1``.

``members``: a deep ensemble (Lakshminarayanan et al. 2017) of that many encoder +
pooling + head stacks, each from its own random initial weights, trained side by side on
the same batches, each on its own loss (the loss is their mean); the prediction is the
log of the members' mean probability (regression: their mean value).

>>> import torch
>>> from seqlab.data import Batch
>>> cfg = ClassifierConfig(
...     inputs=InputConfig(vocab_size=30, embedding_dim=8),
...     encoder=EncoderConfig(kind="gru", hidden_size=16),
...     num_classes=3, pooling="mean")
>>> model = SequenceClassifier(cfg)
>>> batch = Batch(torch.randint(1, 30, (4, 7)), targets=torch.tensor([0, 2, 1, 1]),
...               lengths=torch.tensor([7, 3, 5, 1]))
>>> out = model(batch)
>>> out.prediction.shape, out.loss.shape
(torch.Size([4, 3]), torch.Size([]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_dropout, check_float, check_int
from ..data.batch import Batch
from ..nn.attention import AdditiveAttention
from .base import TaskModel, without_targets
from .encoders import EncoderConfig, build_encoder
from .inputs import InputConfig, InputLayer
from .output import Output

__all__ = ["ClassifierConfig", "SequenceClassifier", "pool"]


@dataclass
class ClassifierConfig:
    inputs: InputConfig
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    num_classes: int = 2
    task: Literal["classification", "regression"] = "classification"
    pooling: Literal["last", "mean", "max", "mean_max", "attention"] = "last"
    attention_size: int = 32
    dropout: float = 0.0
    label_smoothing: float = 0.0  # classification: eps of the smoothed cross-entropy
    members: int = 1  # an ensemble of this many encoder + head pairs (deep ensemble)

    def __post_init__(self):
        check_int("num_classes", self.num_classes, min=1)
        check_int("attention_size", self.attention_size, min=1)
        check_int("members", self.members, min=1)
        check_dropout("dropout", self.dropout)
        check_float("label_smoothing", self.label_smoothing, min=0.0, max=1.0, max_open=True)
        if self.num_classes < 1 or (self.task == "classification" and self.num_classes < 2):
            raise ValueError(
                f"num_classes must be >= 2 for classification (>= 1 outputs for regression), "
                f"got {self.num_classes}"
            )


def pool(
    outputs: Tensor,
    mask: Tensor,
    how: str,
    num_directions: int = 1,
) -> Tensor:
    """Pool ``outputs`` (B, T, C) over the real steps ``mask`` (B, T) -> (B, C)."""
    m = mask.unsqueeze(-1)  # (B, T, 1)
    if how == "mean":
        return (outputs * m).sum(1) / m.sum(1).clamp_min(1)
    if how == "max":
        return outputs.masked_fill(~m, float("-inf")).max(dim=1).values
    if how == "mean_max":
        return torch.cat([pool(outputs, mask, "mean"), pool(outputs, mask, "max")], dim=-1)
    if how == "last":
        last = mask.sum(1) - 1  # (B,)
        idx = last.view(-1, 1, 1).expand(-1, 1, outputs.size(2))  # (B, 1, C)
        final = outputs.gather(1, idx).squeeze(1)  # (B, C)
        if num_directions == 2:  # the backward direction ends at step 0
            H = outputs.size(2) // 2
            final = torch.cat([final[:, :H], outputs[:, 0, H:]], dim=-1)
        return final
    raise ValueError(
        f"pooling must be 'last', 'mean', 'max', 'mean_max' or 'attention', got {how!r}"
    )


class SequenceClassifier(TaskModel):
    kind = "classifier"
    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig, pretrained_embeddings: Tensor | None = None):
        super().__init__()
        self.config = config
        self.input = InputLayer(config.inputs, pretrained_embeddings)
        _add_member(self, config, self.input.output_size)  # encoder, pooling, head
        # members 2..K of an ensemble, each from its own random initial weights
        self.others = nn.ModuleList(
            _Member(config, self.input.output_size) for _ in range(config.members - 1)
        )

    def encode(self, batch: Batch) -> Tensor:
        """One vector per sequence, (B, encoder.output_size) (of the first member)."""
        return _pooled(self, self.input(batch.inputs), self._lengths(batch), batch.mask())

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        x, lengths, mask = self.input(batch.inputs), self._lengths(batch), batch.mask()
        preds = [m.head(m.dropout(_pooled(m, x, lengths, mask))) for m in (self, *self.others)]
        pred = preds[0] if len(preds) == 1 else self._combine(torch.stack(preds))
        if batch.targets is None:
            return Output(pred)
        # an ensemble's loss: the mean of its members' losses, each trained for itself
        loss = sum(self.loss(p, batch.targets) for p in preds) / len(preds)
        return Output(pred, loss)

    def _combine(self, preds: Tensor) -> Tensor:
        """(M, B, K) member outputs -> (B, K): regression the mean value; classification
        the log of the mean probability, log (1/M) sum_m softmax(z_m) (Lakshminarayanan
        et al. 2017), a logit vector whose softmax is that mean."""
        if self.config.task == "regression":
            return preds.mean(0)
        return torch.logsumexp(preds.log_softmax(-1), dim=0) - math.log(preds.size(0))

    def supported_metrics(self) -> tuple[str, ...]:
        if self.config.task == "classification":
            return ("accuracy", "macro_f1")
        return ("mae", "rmse", "mape")

    def default_metrics(self) -> tuple[str, ...]:
        # what Keras' and Ludwig's users read first; MAPE is left out (targets near zero)
        if self.config.task == "classification":
            return ("accuracy", "macro_f1")
        return ("mae", "rmse")

    def metric_options(self) -> dict[str, dict]:
        return {"macro_f1": {"num_classes": self.config.num_classes}}

    def evaluate_batch(self, batch: Batch, state=None) -> Output:
        """As ``forward``; a one-value regression scored against (B,) targets gives (B,)
        values, the shape the regression metrics compare."""
        out = self(batch)
        t = batch.targets
        if self.config.task == "regression" and t is not None and t.dim() == 1:
            return out._replace(prediction=out.prediction.squeeze(-1))
        return out

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """Classification: ``label`` (B,) ids, ``probability`` (B,) of that label and
        ``probabilities`` (B, num_classes); regression: ``value`` (B, num_classes)."""
        pred = self(without_targets(batch)).prediction
        if self.config.task == "regression":
            return {"value": pred}
        probs = pred.softmax(-1)  # (B, K)
        top = probs.max(-1)
        return {"label": top.indices, "probability": top.values, "probabilities": probs}

    def loss(self, pred: Tensor, targets: Tensor) -> Tensor:
        """One member's loss for ``pred`` (B, num_classes)."""
        B, K = pred.shape
        if self.config.task == "classification":
            if targets.shape != (B,) or targets.dtype.is_floating_point:
                raise ValueError(
                    f"targets must be (B={B},) class ids, "
                    f"got {tuple(targets.shape)} {targets.dtype}"
                )
            if bool(((targets < 0) | (targets >= K)).any()):
                bad = int(targets[(targets < 0) | (targets >= K)][0])
                raise ValueError(f"target class {bad} is not in [0, num_classes={K})")
            return F.cross_entropy(pred, targets, label_smoothing=self.config.label_smoothing)
        if K == 1 and targets.shape == (B,):
            targets = targets.unsqueeze(1)  # (B, 1)
        if targets.shape != (B, K):
            raise ValueError(f"targets must be (B, {K}) values, got {tuple(targets.shape)}")
        return F.mse_loss(pred, targets.to(pred.dtype))


def _add_member(module: nn.Module, config: ClassifierConfig, input_size: int) -> None:
    """An encoder, its pooling's parameters and a head, as attributes of ``module``."""
    module.encoder = build_encoder(config.encoder, input_size)
    size = module.encoder.output_size
    if config.pooling == "attention":
        module.attention = AdditiveAttention(size, size, config.attention_size)
        module.query = nn.Parameter(torch.randn(size) / size**0.5)
    module.dropout = nn.Dropout(config.dropout)
    pooled = 2 * size if config.pooling == "mean_max" else size
    module.head = nn.Linear(pooled, config.num_classes)
    module.pooling = config.pooling


class _Member(nn.Module):
    """One more member of an ensemble: its own encoder, pooling and head."""

    def __init__(self, config: ClassifierConfig, input_size: int):
        super().__init__()
        _add_member(self, config, input_size)


def _pooled(member: nn.Module, x: Tensor, lengths: Tensor | None, mask: Tensor) -> Tensor:
    """``member``'s encoder over the input ``x`` (B, T, D), pooled over the real steps."""
    out, _ = member.encoder(x, lengths)  # (B, T, C)
    if member.pooling == "attention":
        query = member.query.expand(out.size(0), -1)  # (B, C)
        pooled, _ = member.attention(query, out, mask=mask)
        return pooled
    return pool(out, mask, member.pooling, member.encoder.num_directions)
