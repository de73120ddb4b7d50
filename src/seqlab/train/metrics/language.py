"""Language-model metrics: perplexity and bits per character, from the mean negative
log-likelihood per token in nats (what the models' cross-entropy loss is).

Trivial baseline to beat: a uniform guess over V tokens, perplexity V, log2 V bits.

The plain functions take that mean; the accumulators :class:`Perplexity` and
:class:`BitsPerChar` take logits and targets batch by batch and keep the summed
cross-entropy and the number of targets, so the mean (and so the value) is exact over
batches of any size and over data-parallel ranks: not a mean of per-batch means, which
weighs a short last batch as much as a full one.

>>> import math, torch
>>> round(perplexity(math.log(10.0)), 6), bits_per_char(math.log(2.0)), perplexity(1e4)
(10.0, 1.0, inf)
>>> m = Perplexity()
>>> m.update(torch.zeros(2, 3, 5), Batch(torch.zeros(2, 3), torch.tensor([[1, 2, -100]] * 2)))
>>> m.stats[1].item(), round(m.value(), 6)  # 4 targets, uniform over 5 tokens
(4.0, 5.0)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ...data.batch import IGNORE_INDEX, Batch
from .base import Metric, mean_of, targets_of

__all__ = ["BitsPerChar", "Perplexity", "bits_per_char", "perplexity"]


def perplexity(mean_nll: float | Tensor) -> float:
    """``exp`` of the mean negative log-likelihood per token in nats (Jelinek et al. 1977):
    the number of equally likely tokens the model is as unsure as. ``inf`` where that is
    past the float range (a mean above ~709.78 nats), nan for nan."""
    try:
        return math.exp(float(mean_nll))
    except OverflowError:
        return math.inf


def bits_per_char(mean_nll: float | Tensor) -> float:
    """Mean negative log-likelihood per character in bits: nats / ln 2 (Graves 2013)."""
    return float(mean_nll) / math.log(2.0)


class _SummedNLL(Metric):
    """Sums the cross-entropy (nats) of logits ``(..., V)`` against integer targets ``(...)``,
    leaving out ``IGNORE_INDEX`` targets, and counts the targets kept."""

    size = 2  # summed cross-entropy in nats, number of targets kept

    def update(self, prediction: Any, batch: Batch) -> None:
        target = targets_of(batch, self.name)
        if (
            not isinstance(prediction, Tensor)
            or not prediction.is_floating_point()
            or prediction.shape[:-1] != target.shape
            or target.is_floating_point()
        ):
            got = tuple(prediction.shape) if isinstance(prediction, Tensor) else type(prediction)
            raise ValueError(
                f"metric {self.name!r} needs logits of shape target shape + (V,) and integer "
                f"targets, got prediction {got} for targets {tuple(target.shape)} "
                f"of {target.dtype}"
            )
        logits = prediction.detach()
        if logits.element_size() < 4:  # bf16/fp16 logits: a log-softmax in float32
            logits = logits.float()
        V = logits.size(-1)
        gold = target.to(logits.device).reshape(-1).long()  # (N,)
        kept = gold[gold != IGNORE_INDEX]
        if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= V):
            bad = int(kept.min()) if int(kept.min()) < 0 else int(kept.max())
            raise ValueError(
                f"metric {self.name!r}: a target id is {bad}, outside [0, {V}) for {V} logits "
                f"(padding is {IGNORE_INDEX})"
            )
        # Per-token losses in the logits' precision, summed in float64 (0 at ignored targets).
        nll = F.cross_entropy(
            logits.reshape(-1, V), gold, ignore_index=IGNORE_INDEX, reduction="none"
        )  # (N,)
        self.stats += torch.tensor([nll.double().sum().item(), kept.numel()], dtype=torch.float64)


class Perplexity(_SummedNLL):
    """``exp`` of the mean cross-entropy per target over everything seen (see
    :func:`perplexity`); nan when no target was seen, inf past the float range."""

    name = "perplexity"

    def compute(self, stats: Tensor) -> float:
        return perplexity(mean_of(stats))


class BitsPerChar(_SummedNLL):
    """The mean cross-entropy per target over everything seen, in bits (see
    :func:`bits_per_char`); nan when no target was seen."""

    name = "bits_per_char"

    def compute(self, stats: Tensor) -> float:
        return bits_per_char(mean_of(stats))
