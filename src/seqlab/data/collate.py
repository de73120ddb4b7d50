"""Padding collates: a list of examples to one :class:`~seqlab.data.Batch`.

Each task shape has its own collate, so nothing is guessed from the data:

=========================== ====================== =========================================
collate                      example                 batch
=========================== ====================== =========================================
``collate_classification``   (seq, label)            inputs (B, T[, C]), targets (B,) or (B, O)
``collate_tagging``          (seq, tags)             inputs (B, T), targets (B, T)
``collate_seq2seq``          (source, target)        inputs (B, S), targets (B, T_out)
``collate_windows``          (x (L, C), y (H, O))    inputs (B, L, C), targets (B, H, O)
=========================== ====================== =========================================

``seq`` is a 1-D sequence of token ids (long) or a (T, C) float array. Inputs are padded
with ``pad_id`` (0, ``Vocab.pad_id``) for ids and 0.0 for floats; tag and target id
sequences with :data:`~seqlab.data.IGNORE_INDEX` (-100), which the loss skips. ``lengths``
(int64, CPU) hold the real lengths; ``Batch.mask()`` gives the (B, T) mask.

>>> b = collate_classification([([5, 6, 7], 1), ([8], 0)])
>>> b.inputs
tensor([[5, 6, 7],
        [8, 0, 0]])
>>> b.lengths, b.targets
(tensor([3, 1]), tensor([1, 0]))
>>> b.mask()
tensor([[ True,  True,  True],
        [ True, False, False]])
>>> collate_tagging([([5, 6], [1, 2]), ([7], [3])]).targets
tensor([[   1,    2],
        [   3, -100]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .batch import IGNORE_INDEX, Batch


def as_tensor(seq, name: str = "a sequence") -> Tensor:
    """A sequence as a tensor: ints -> int64 (T,), floats -> float32 (T,) or (T, C).

    Strings, ragged nesting, bools, complex numbers and NaN/Inf are ``ValueError`` naming
    ``name`` (``"example 3"``), not an error from inside numpy or torch: a NaN input
    would only surface later as a non-finite loss."""
    if not isinstance(seq, Tensor):
        try:
            array = np.asarray(seq)
        except ValueError:  # ragged nesting
            raise ValueError(f"{name} is not a rectangular array of numbers (ragged)") from None
        if array.dtype.kind in "USO":
            raise ValueError(
                f"{name} holds {'strings' if array.dtype.kind in 'US' else 'objects'}, expected "
                "token ids (ints) or values (floats); encode text with a Vocab first"
            )
        seq = torch.as_tensor(array)
    if seq.dtype == torch.bool:
        raise ValueError(f"{name} is bools: neither token ids nor values")
    if seq.dtype.is_complex:
        raise ValueError(f"{name} is complex numbers, expected real values")
    if seq.is_floating_point():
        seq = seq.float()
        if not torch.isfinite(seq).all():
            where = tuple(int(i) for i in (~torch.isfinite(seq)).nonzero()[0])
            raise ValueError(f"{name} has {float(seq[where])} at index {where}: fill or drop it")
        return seq
    return seq.long()


def _stack(tensors: list[Tensor], what: str) -> Tensor:
    """Stack equal-shaped tensors; a differing one is named."""
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(
                f"{what} {i} has shape {tuple(t.shape)}, {what} 0 has {tuple(tensors[0].shape)}"
            )
    return torch.stack(tensors)


def pad_sequences(seqs: Sequence, pad_value: float = 0) -> tuple[Tensor, Tensor]:
    """Pad to the longest: returns ``(padded (B, T, ...), lengths (B,) int64)``.

    >>> x, n = pad_sequences([torch.ones(2, 3), torch.ones(4, 3)])
    >>> x.shape, n
    (torch.Size([2, 4, 3]), tensor([2, 4]))
    """
    if len(seqs) == 0:
        raise ValueError("cannot collate an empty list of examples")
    tensors = [as_tensor(s, f"example {i}") for i, s in enumerate(seqs)]
    for i, t in enumerate(tensors):
        if t.dim() == 0 or t.size(0) == 0:
            raise ValueError(f"example {i} is an empty sequence (shape {tuple(t.shape)})")
        if t.shape[1:] != tensors[0].shape[1:]:
            raise ValueError(
                f"example {i} has feature shape {tuple(t.shape[1:])}, "
                f"example 0 has {tuple(tensors[0].shape[1:])}"
            )
    lengths = torch.tensor([t.size(0) for t in tensors], dtype=torch.long)
    dtype = torch.float32 if any(t.is_floating_point() for t in tensors) else torch.long
    out = torch.full(
        (len(tensors), int(lengths.max()), *tensors[0].shape[1:]), pad_value, dtype=dtype
    )  # (B, T, ...)
    for i, t in enumerate(tensors):
        out[i, : t.size(0)] = t
    return out, lengths


def _pairs(items: Sequence, name: str) -> tuple[list, list]:
    if len(items) == 0:
        raise ValueError(f"{name}: cannot collate an empty list of examples")
    firsts, seconds = [], []
    for i, item in enumerate(items):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"{name}: example {i} must be a pair (input, target), got {item!r}")
        firsts.append(item[0])
        seconds.append(item[1])
    return firsts, seconds


def collate_classification(items: Sequence, pad_id: int = 0) -> Batch:
    """(seq, label) pairs; a label is a class id (int) or a value / vector of values."""
    seqs, labels = _pairs(items, "collate_classification")
    inputs, lengths = pad_sequences(seqs, pad_id)
    targets = _stack([as_tensor(y, f"label {i}") for i, y in enumerate(labels)], "label")
    # targets (B,) or (B, O)
    return Batch(inputs=inputs, targets=targets, lengths=lengths)


def collate_tagging(items: Sequence, pad_id: int = 0) -> Batch:
    """(seq, tags) pairs of equal length, one tag id per step."""
    seqs, tags = _pairs(items, "collate_tagging")
    inputs, lengths = pad_sequences(seqs, pad_id)
    targets, tag_lengths = pad_sequences(tags, IGNORE_INDEX)
    if not torch.equal(lengths, tag_lengths):
        i = int((lengths != tag_lengths).nonzero()[0])
        raise ValueError(
            f"collate_tagging: example {i} has {int(lengths[i])} steps "
            f"but {int(tag_lengths[i])} tags"
        )
    return Batch(inputs=inputs, targets=targets, lengths=lengths)


def collate_seq2seq(items: Sequence, pad_id: int = 0) -> Batch:
    """(source ids, target ids) pairs; targets padded with ``IGNORE_INDEX``, with
    ``target_lengths``. Targets are kept as given (add ``<bos>``/``<eos>`` when encoding)."""
    sources, targets = _pairs(items, "collate_seq2seq")
    inputs, lengths = pad_sequences(sources, pad_id)
    target_ids, target_lengths = pad_sequences(targets, IGNORE_INDEX)
    return Batch(inputs=inputs, targets=target_ids, lengths=lengths, target_lengths=target_lengths)


def collate_windows(items: Sequence) -> Batch:
    """(x (L, C), y (H, O)) forecasting windows, all the same size: stacked, no padding."""
    xs, ys = _pairs(items, "collate_windows")
    inputs = _stack([as_tensor(x, f"window {i} input") for i, x in enumerate(xs)], "input")
    targets = _stack([as_tensor(y, f"window {i} target") for i, y in enumerate(ys)], "target")
    inputs, targets = inputs.float(), targets.float()  # (B, L, C), (B, H, O)
    return Batch(inputs=inputs, targets=targets)
