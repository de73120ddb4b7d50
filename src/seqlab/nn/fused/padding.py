"""Padded batches: reversing each sequence within its length, and the valid-step mask.

Both the reference loop (:mod:`seqlab.nn.recurrent`) and the fast paths run the reverse
direction over ``reverse_padded(x)``, where each sequence's real steps come first, so
every path sees padding only after a sequence's last real step.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["reverse_padded", "valid_steps"]


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``x`` (B, T, C) within its own length; padding stays put.

    ``[a b c 0 0] -> [c b a 0 0]``: the reverse direction then starts at the last real
    step, and reversing twice gives back the input.
    """
    if lengths is None:
        return x.flip(1)
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).expand(B, T)
    lens = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(t < lens, lens - 1 - t, t)  # (B, T)
    return x.gather(1, idx.unsqueeze(-1).expand_as(x))


def valid_steps(lengths: Tensor | None, T: int, device: torch.device) -> Tensor | None:
    """``(B, T)`` bool: step ``t`` of sequence ``b`` is real (``t < lengths[b]``)."""
    if lengths is None:
        return None
    return torch.arange(T, device=device) < lengths.to(device).unsqueeze(1)
