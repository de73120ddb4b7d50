"""Stream batching for language modelling, the layout truncated BPTT needs.

A long token stream is laid out as ``B`` parallel streams (``batchify``), then cut in
order into chunks of ``k`` steps (``StreamChunks``); the target of each step is the next
token. Row ``b`` of chunk ``j+1`` continues row ``b`` of chunk ``j``, so the recurrent
state at the end of one chunk is the right start for the next (detach it between chunks,
which is what truncated BPTT is). This is the ``batchify`` / ``get_batch`` layout of
pytorch/examples' word language model, batch-first::

    stream: a b c d e f g h i j k l m n o p q r s t u v w x   (N = 24, B = 4)

    batchify -> (B, N // B) = (4, 6), the tail that does not fill a row is dropped

        row 0: a b c d e f            chunks of k = 2:
        row 1: g h i j k l
        row 2: m n o p q r              chunk 0     chunk 1     chunk 2
        row 3: s t u v w x            inputs  a b   c d         e
                                      targets b c   d e         f   (row 0)

    The last chunk is shorter: targets reach one step beyond the inputs, so the 6
    columns give 5 input steps: chunks of 2, 2 and 1.

>>> ids = torch.arange(24)
>>> data = batchify(ids, 4)
>>> data.shape
torch.Size([4, 6])
>>> chunks = list(StreamChunks(data, bptt=2))
>>> [c.inputs.shape[1] for c in chunks]
[2, 2, 1]
>>> chunks[1].inputs[0], chunks[1].targets[0]
(tensor([2, 3]), tensor([3, 4]))
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .batch import Batch


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Lay a 1-D stream of ids out as ``(batch_size, N // batch_size)`` parallel streams."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    ids = torch.as_tensor(ids)
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"ids must be integer token ids, got dtype {ids.dtype}")
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D stream, got shape {tuple(ids.shape)}")
    steps = ids.numel() // batch_size
    if steps < 2:
        raise ValueError(
            f"a stream of {ids.numel()} tokens is too short for batch_size {batch_size} "
            "(each row needs at least 2 tokens: an input and its next-token target)"
        )
    return ids[: steps * batch_size].reshape(batch_size, steps)  # (B, N // B)


class StreamChunks:
    """Chunks of ``bptt`` steps over a batchified stream ``(B, L)``, in order.

    Each chunk is a ``Batch`` with ``inputs`` (B, k) and ``targets`` (B, k), the next
    tokens; ``k = bptt`` except for a shorter last chunk.
    """

    def __init__(self, data: Tensor, bptt: int):
        if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
            raise ValueError(f"bptt must be a positive int, got {bptt!r}")
        if data.dim() != 2 or data.size(1) < 2:
            raise ValueError(f"data must be (B, L) with L >= 2, got shape {tuple(data.shape)}")
        self.data = data
        self.bptt = bptt

    def __len__(self) -> int:
        return -(-(self.data.size(1) - 1) // self.bptt)

    def __iter__(self) -> Iterator[Batch]:
        steps = self.data.size(1) - 1
        for start in range(0, steps, self.bptt):
            k = min(self.bptt, steps - start)
            yield Batch(
                inputs=self.data[:, start : start + k],  # (B, k)
                targets=self.data[:, start + 1 : start + 1 + k],  # (B, k)
            )
