"""Polyphonic-music metrics: the per-frame negative log-likelihood of a multi-hot
next-frame model, the two baselines' NLL beside it, and Bay et al.'s frame accuracy.

**Per-frame NLL** (the number Boulanger-Lewandowski et al. 2012 and Bai et al. 2018,
Table 1, report for JSB Chorales, Nottingham, MuseData, Piano-midi): each key ``k`` of
frame ``t`` is an independent Bernoulli with ``p_tk = sigmoid(logit_tk)``, and

    NLL = (1 / N) * sum_pieces sum_t  -sum_k [ y_tk log p_tk + (1 - y_tk) log(1 - p_tk) ]

in nats, summed over the 88 keys and averaged over all ``N`` predicted frames of all
pieces pooled (locuslab/TCN's ``total_loss / count``), not a mean of per-piece means.
Padding frames (past ``batch.lengths``) count for nothing. ``frequency_nll`` and
``repeat_nll`` score :mod:`seqlab.music.baselines` on the same frames, so a run's
``val_frame_nll`` has its floors beside it.

**Frame accuracy** (Bay, Ehmann & Downie 2009): keys with ``p > 0.5`` against the
target, ``sum TP / sum (TP + FP + FN)`` over all frames (silence predicted for silence
adds nothing).

>>> import torch
>>> from seqlab.data.batch import Batch
>>> y = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])           # (B, T, K) = (1, 2, 2)
>>> m = FrameNLL()
>>> m.update(torch.zeros(1, 2, 2), Batch(y, targets=y))   # p = 1/2 for each key
>>> round(m.value(), 6) == round(2 * 0.693147, 6)          # 2 keys * ln 2 per frame
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...checks import check_float
from ...data.batch import Batch
from ...models.music import frame_nll_terms
from ...music.baselines import KeyFrequency, RepeatLast
from .base import Metric, mean_of, targets_of

__all__ = ["FrameAccuracy", "FrameNLL", "FrequencyNLL", "RepeatNLL", "frame_nll"]


def frame_nll(logits: Tensor, targets: Tensor, lengths: Tensor | None = None) -> float:
    """The per-frame NLL in nats (module doc) of logits and 0/1 targets (B, T, K), over
    the first ``lengths[b]`` frames of each row (all when ``None``)."""
    batch = Batch(targets, targets=targets, lengths=lengths)
    m = FrameNLL()
    m.update(logits, batch)
    return m.value()


def _checked(name: str, prediction: Any, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """Logits, targets (B, T, K) and the (B, T) mask of real frames, checked."""
    target = targets_of(batch, name)
    if (
        not isinstance(prediction, Tensor)
        or not prediction.is_floating_point()
        or prediction.shape != target.shape
        or target.dim() != 3
    ):
        got = tuple(prediction.shape) if isinstance(prediction, Tensor) else type(prediction)
        raise ValueError(
            f"metric {name!r} needs logits and 0/1 targets of one shape (B, T, keys), got "
            f"prediction {got} for targets {tuple(target.shape)}"
        )
    mask = batch.mask().to(prediction.device)
    return prediction.detach(), target.to(prediction.device), mask


class _SummedFrameNLL(Metric):
    """Sums per-frame NLL (float64) over real frames and counts them."""

    size = 2  # summed NLL in nats, frames

    def logits(self, prediction: Tensor, batch: Batch) -> Tensor:
        return prediction

    def update(self, prediction: Any, batch: Batch) -> None:
        logits, target, mask = _checked(self.name, prediction, batch)
        logits = self.logits(logits, batch).to(logits.device)
        nll = frame_nll_terms(logits.double(), target.double())  # (B, T)
        kept = mask.sum().item()
        self.stats += torch.tensor([nll[mask].sum().item(), kept], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)


class FrameNLL(_SummedFrameNLL):
    """The model's per-frame NLL in nats (module doc)."""

    name = "frame_nll"


class FrequencyNLL(_SummedFrameNLL):
    """The per-frame NLL of :class:`~seqlab.music.baselines.KeyFrequency` with the
    training frequencies ``key_probs`` (K,), on the same frames."""

    name = "frequency_nll"

    def __init__(self, key_probs: Sequence[float]):
        probs = np.asarray(key_probs, dtype=np.float64)
        if probs.ndim != 1 or not len(probs) or not np.all((probs > 0) & (probs < 1)):
            raise ValueError(f"key_probs must be a list of probabilities in (0, 1), got {probs}")
        self.baseline = KeyFrequency(probs)
        super().__init__()

    def logits(self, prediction: Tensor, batch: Batch) -> Tensor:
        if prediction.size(-1) != len(self.baseline.probs):
            raise ValueError(
                f"metric 'frequency_nll' has {len(self.baseline.probs)} key probabilities for "
                f"{prediction.size(-1)} keys"
            )
        return self.baseline.logits(prediction.double())  # float64, as the sum is


class RepeatNLL(_SummedFrameNLL):
    """The per-frame NLL of :class:`~seqlab.music.baselines.RepeatLast` with flip
    probability ``epsilon``: the input frame is the prediction of the next one."""

    name = "repeat_nll"

    def __init__(self, epsilon: float):
        self.baseline = RepeatLast(check_float("epsilon", epsilon, min=1e-6, max=0.5))
        super().__init__()

    def logits(self, prediction: Tensor, batch: Batch) -> Tensor:
        x = batch.inputs
        if x.shape != prediction.shape:
            raise ValueError(
                f"metric 'repeat_nll' needs inputs of the targets' shape, got {tuple(x.shape)}"
            )
        return self.baseline.logits(x.to(prediction.device, torch.float64))


class FrameAccuracy(Metric):
    """Bay et al. (2009) frame accuracy at threshold 0.5 (module doc); nan when neither
    the targets nor the predictions have a note."""

    name = "frame_accuracy"
    size = 2  # true positives, true positives + false positives + false negatives

    def update(self, prediction: Any, batch: Batch) -> None:
        logits, target, mask = _checked(self.name, prediction, batch)
        on = (logits > 0) & mask.unsqueeze(-1)
        gold = (target > 0.5) & mask.unsqueeze(-1)
        tp = (on & gold).sum().item()
        self.stats += torch.tensor([tp, (on | gold).sum().item()], dtype=torch.float64)

    def compute(self, stats: Tensor) -> float:
        return mean_of(stats)
