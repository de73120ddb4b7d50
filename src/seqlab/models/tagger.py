"""``SequenceTagger``: many-to-many, aligned. One label per input step.

Named entities, parts of speech, per-frame activity: inputs -> encoder (bidirectional
where the whole sentence is known) -> per-step tag scores (emissions). Two output
layers:

* ``crf=False``: each step on its own, softmax + cross-entropy; ``IGNORE_INDEX`` (-100)
  targets (padding) are skipped;
* ``crf=True``: a linear-chain CRF over the emissions (:class:`LinearChainCRF`, the
  BiLSTM-CRF of Huang et al. 2015 / Lample et al. 2016): loss ``-log p(y | x)`` of the
  whole tag sequence, prediction by Viterbi. Every real step needs a tag.

``prediction`` is the predicted tag ids (B, T) with ``-100`` at padding either way;
``emissions(batch)`` gives the scores (B, T, num_tags).

>>> import torch
>>> from seqlab.data import Batch
>>> cfg = TaggerConfig(inputs=InputConfig(vocab_size=50, embedding_dim=8), num_tags=5,
...                    encoder=EncoderConfig(kind="lstm", hidden_size=8, bidirectional=True),
...                    crf=True)
>>> model = SequenceTagger(cfg)
>>> tags = torch.tensor([[1, 2, 3], [4, 0, -100]])
>>> out = model(Batch(torch.tensor([[5, 6, 7], [8, 9, 0]]), tags, torch.tensor([3, 2])))
>>> out.prediction.shape, out.prediction[1, 2].item()
(torch.Size([2, 3]), -100)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_bool, check_dropout, check_int
from ..data.batch import IGNORE_INDEX, Batch
from .base import TaskModel, count_targets, without_targets
from .crf import LinearChainCRF
from .encoders import EncoderConfig, build_encoder
from .inputs import InputConfig, InputLayer
from .output import Output

__all__ = ["SequenceTagger", "TaggerConfig"]


@dataclass
class TaggerConfig:
    inputs: InputConfig
    num_tags: int
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    crf: bool = False
    dropout: float = 0.0

    def __post_init__(self):
        check_int("num_tags", self.num_tags, min=2)
        check_bool("crf", self.crf)
        check_dropout("dropout", self.dropout)


class SequenceTagger(TaskModel):
    kind = "tagger"
    config_class = TaggerConfig

    def __init__(self, config: TaggerConfig, pretrained_embeddings: Tensor | None = None):
        super().__init__()
        self.config = config
        self.input = InputLayer(config.inputs, pretrained_embeddings)
        self.encoder = build_encoder(config.encoder, self.input.output_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.num_tags)
        self.crf = LinearChainCRF(config.num_tags) if config.crf else None

    def emissions(self, batch: Batch) -> Tensor:
        """Per-step tag scores, (B, T, num_tags)."""
        out, _ = self.encoder(self.input(batch.inputs), self._lengths(batch))
        return self.head(self.dropout(out))  # (B, T, K)

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        scores = self.emissions(batch)
        mask = batch.mask()
        if self.crf is not None:
            pred = self.crf.decode(scores, mask)
        else:
            pred = scores.argmax(-1).masked_fill(~mask, IGNORE_INDEX)  # (B, T)
        if batch.targets is None:
            return Output(pred)
        loss = self.loss(scores, batch.targets, mask)
        # softmax: the mean over tagged steps; CRF: the mean over sentences
        weight = count_targets(batch.targets) if self.crf is None else None
        return Output(pred, loss, weight=weight)

    def supported_metrics(self) -> tuple[str, ...]:
        return ("accuracy", "macro_f1", "entity_f1")

    def metric_options(self) -> dict[str, dict]:
        return {"macro_f1": {"num_classes": self.config.num_tags}}

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """``tags`` (B, T) tag ids (Viterbi with a CRF), ``-100`` past each length."""
        return {"tags": self(without_targets(batch)).prediction}

    def loss(self, scores: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
        K = self.config.num_tags
        if targets.shape != mask.shape or targets.dtype.is_floating_point:
            raise ValueError(
                f"targets must be (B, T)={tuple(mask.shape)} tag ids, got {tuple(targets.shape)}"
            )
        bad = (targets != IGNORE_INDEX) & ((targets < 0) | (targets >= K))
        if bool(bad.any()):
            raise ValueError(f"tag {int(targets[bad][0])} is not in [0, num_tags={K})")
        if self.crf is None:
            return F.cross_entropy(scores.transpose(1, 2), targets, ignore_index=IGNORE_INDEX)
        if bool((mask & (targets == IGNORE_INDEX)).any()):
            raise ValueError(
                "with crf=True every real step needs a tag; found -100 inside a length"
            )
        return self.crf.nll(scores, targets, mask)
