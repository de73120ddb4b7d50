"""The two floors every music model's NLL is reported beside, as logits a metric scores.

* :class:`KeyFrequency`: each key independently on with its training frequency, the same
  at every frame (add-one smoothing: ``p_k = (n_k + 1) / (N + 2)`` over the ``N``
  training target frames, ``n_k`` of which have key ``k`` on), so a key never played in
  training still gets a finite NLL. It knows the register and the voicing density,
  nothing of time.
* :class:`RepeatLast`: the next frame is the last one, each key kept with probability
  ``1 - eps`` and flipped with probability ``eps``. ``eps`` is the maximum-likelihood
  flip rate on the training frames (changed key-frames over all key-frames; 0.057
  for the chorales at quarter-note steps), clipped to ``[1e-6, 0.5]``, so a change of
  chord costs ``log(1/eps)`` per key that changed, not infinity.

A model that does not beat both has learnt neither the chords nor their motion.

>>> import numpy as np
>>> rolls = [np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)]  # (T, K) with K = 2
>>> KeyFrequency.fit(rolls).probs.tolist()   # targets are frames 1, 2: key 0 on once of 2
[0.5, 0.5]
>>> RepeatLast.fit(rolls).eps                # 2 of 4 key-frames flipped
0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..checks import check_float

__all__ = ["KeyFrequency", "RepeatLast"]

EPS_RANGE = (1e-6, 0.5)


def _logit(p: np.ndarray | float) -> np.ndarray | float:
    return np.log(p) - np.log1p(-p)


def _targets(rolls: Sequence[np.ndarray]) -> np.ndarray:
    """The frames a next-frame model is scored on: every frame but each piece's first."""
    parts = [np.asarray(r, dtype=np.float64)[1:] for r in rolls]
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError("a baseline needs at least one piece of two or more frames")
    return np.concatenate(parts)  # (N, K)


@dataclass(frozen=True)
class KeyFrequency:
    """Independent per-key Bernoulli with the training frequencies (see the module doc)."""

    probs: np.ndarray  # (K,) in (0, 1)

    @classmethod
    def fit(cls, rolls: Sequence[np.ndarray]) -> KeyFrequency:
        y = _targets(rolls)
        return cls((y.sum(0) + 1.0) / (len(y) + 2.0))  # add-one (Laplace) smoothing

    def logits(self, inputs: Tensor) -> Tensor:
        """(B, T, K) logits, the same at every frame, for inputs (B, T, K)."""
        row = torch.as_tensor(_logit(self.probs), dtype=inputs.dtype, device=inputs.device)
        return row.expand(inputs.shape)

    def to_list(self) -> list[float]:
        return [float(p) for p in self.probs]


@dataclass(frozen=True)
class RepeatLast:
    """The last frame again, each key flipped with probability ``eps`` (module doc)."""

    eps: float

    def __post_init__(self):
        check_float("eps", self.eps, min=EPS_RANGE[0], max=EPS_RANGE[1])

    @classmethod
    def fit(cls, rolls: Sequence[np.ndarray]) -> RepeatLast:
        flips = pairs = 0.0
        for r in rolls:
            r = np.asarray(r, dtype=np.float64)
            if len(r) > 1:
                flips += float(np.abs(np.diff(r, axis=0)).sum())
                pairs += r[1:].size
        if pairs == 0:
            raise ValueError("a baseline needs at least one piece of two or more frames")
        return cls(float(min(max(flips / pairs, EPS_RANGE[0]), EPS_RANGE[1])))

    def logits(self, inputs: Tensor) -> Tensor:
        """(B, T, K): ``+log((1-eps)/eps)`` where the current frame has the key, else
        minus that: p(on) is ``1 - eps`` for a sounding key, ``eps`` for a silent one."""
        scale = math.log((1.0 - self.eps) / self.eps)
        return (2.0 * inputs - 1.0) * scale
