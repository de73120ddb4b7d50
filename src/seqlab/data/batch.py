"""``Batch``: what the data side hands to a model, for every task shape.

One container, so that collate functions, models and the trainer agree on names:

========== ================================================ =========================
field      shape                                            used by
========== ================================================ =========================
inputs     (B, T) token ids (long) or (B, T, C) float         every task
lengths    (B,) int64 real lengths, or None (all T)         padded batches
targets    (B,) classes / (B, O) values / (B, T) tags or    training and metrics
           next tokens / (B, T_out) target ids / (B, H, O)
target_lengths (B,) for seq2seq targets, or None
features   (B, F) conditioning vector (captioning-style), or None
========== ================================================ =========================

Padding uses id 0 for tokens (``Vocab.pad_id``) and -100 in tag/target sequences
(``IGNORE_INDEX``, what ``F.cross_entropy`` skips).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

IGNORE_INDEX = -100


@dataclass
class Batch:
    inputs: Tensor
    targets: Tensor | None = None
    lengths: Tensor | None = None
    target_lengths: Tensor | None = None
    features: Tensor | None = None

    @property
    def size(self) -> int:
        return self.inputs.size(0)

    def mask(self) -> Tensor:
        """(B, T) bool, True at real steps."""
        B, T = self.inputs.shape[:2]
        if self.lengths is None:
            return torch.ones(B, T, dtype=torch.bool, device=self.inputs.device)
        steps = torch.arange(T, device=self.inputs.device)
        return steps.unsqueeze(0) < self.lengths.to(self.inputs.device).unsqueeze(1)

    def to(self, device: torch.device | str) -> Batch:
        """A copy on ``device``; ``lengths`` stay on the CPU (packing wants them there)."""
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Tensor) and f.name != "lengths":
                moved[f.name] = value.to(device, non_blocking=True)
        return replace(self, **moved)
