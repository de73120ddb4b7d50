"""Padding collates, the bucketing sampler, and LM stream chunks."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seqlab.data import (
    IGNORE_INDEX,
    Batch,
    BucketSampler,
    StreamChunks,
    batchify,
    collate_classification,
    collate_seq2seq,
    collate_tagging,
    collate_windows,
    pad_sequences,
)


def test_collate_classification_tokens_and_floats():
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(4, 50, (n,), generator=g) for n in (3, 7, 1)]
    b = collate_classification([(s, y) for s, y in zip(seqs, [2, 0, 1], strict=True)])
    assert isinstance(b, Batch) and b.inputs.shape == (3, 7) and b.inputs.dtype == torch.long
    assert b.lengths.tolist() == [3, 7, 1] and b.targets.tolist() == [2, 0, 1]
    for s, row, n in zip(seqs, b.inputs, b.lengths, strict=True):
        assert torch.equal(row[:n], s) and (row[n:] == 0).all()
    assert b.mask().sum().item() == 11
    x = [np.random.default_rng(i).normal(size=(n, 2)) for i, n in enumerate((4, 2))]
    fb = collate_classification([(x[0], 1.5), (x[1], -0.5)])
    assert fb.inputs.shape == (2, 4, 2) and fb.inputs.dtype == torch.float32
    assert fb.targets.dtype == torch.float32 and (fb.inputs[1, 2:] == 0).all()


def test_collate_tagging_pads_tags_with_ignore_index():
    b = collate_tagging([([5, 6, 7], [1, 2, 3]), ([8], [4])], pad_id=0)
    assert b.targets.tolist() == [[1, 2, 3], [4, IGNORE_INDEX, IGNORE_INDEX]]
    loss = torch.nn.functional.cross_entropy(
        torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0)).transpose(1, 2),
        b.targets,
        reduction="sum",
    )
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="example 1 has 2 steps but 1 tags"):
        collate_tagging([([5], [1]), ([6, 7], [1])])


def test_collate_seq2seq_and_windows():
    b = collate_seq2seq([([4, 5], [2, 6, 7, 3]), ([4, 5, 6], [2, 3])])
    assert b.inputs.shape == (2, 3) and b.targets.shape == (2, 4)
    assert b.target_lengths.tolist() == [4, 2] and b.targets[1, 2:].tolist() == [-100, -100]
    w = collate_windows([(torch.ones(5, 3), torch.zeros(2, 1))] * 4)
    assert w.inputs.shape == (4, 5, 3) and w.targets.shape == (4, 2, 1) and w.lengths is None


def test_collate_errors():
    with pytest.raises(ValueError, match="empty list"):
        collate_classification([])
    with pytest.raises(ValueError, match="example 0 must be a pair"):
        collate_classification([[1, 2, 3]])
    with pytest.raises(ValueError, match="example 1 is an empty sequence"):
        pad_sequences([[1], []])
    with pytest.raises(ValueError, match=r"example 1 has feature shape \(3,\)"):
        pad_sequences([torch.ones(2, 2), torch.ones(2, 3)])


def test_bucket_sampler_covers_every_index_once_and_groups_lengths():
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(3.5, 0.8, size=1000), 5, 500).astype(int).tolist()
    sampler = BucketSampler(lengths, batch_size=16, pool_batches=20, seed=3)
    epoch0 = list(sampler)
    epoch1 = list(sampler)
    for batches in (epoch0, epoch1):
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(1000))
        assert len(batches) == len(sampler) == 63
    assert epoch0 != epoch1  # reshuffled across epochs
    sampler.set_epoch(0)
    assert list(sampler) == epoch0  # reproducible

    def padding(batches):
        return sum(
            len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches
        )

    random_batches = [list(range(i, min(i + 16, 1000))) for i in range(0, 1000, 16)]
    assert padding(epoch0) < 0.2 * padding(random_batches)
    # batch order is shuffled across buckets: not sorted by length
    maxima = [max(lengths[i] for i in b) for b in epoch0]
    assert maxima != sorted(maxima)


def test_bucket_sampler_drop_last_and_loader():
    lengths = list(range(1, 11))
    sampler = BucketSampler(lengths, batch_size=3, drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3 and all(len(b) == 3 for b in batches)
    data = [(list(range(1, n + 1)), n % 2) for n in lengths]
    loader = DataLoader(
        data, batch_sampler=BucketSampler(lengths, 4), collate_fn=collate_classification
    )
    assert sum(b.size for b in loader) == 10
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        BucketSampler(lengths, 0)


def test_batchify_and_stream_chunks():
    ids = torch.arange(103)
    data = batchify(ids, 4)  # (4, 25), 3 tokens dropped
    assert data.shape == (4, 25)
    assert data[1, 0].item() == 25 and data[3, -1].item() == 99
    chunks = list(StreamChunks(data, bptt=7))
    assert len(chunks) == len(StreamChunks(data, bptt=7)) == 4
    assert [c.inputs.size(1) for c in chunks] == [7, 7, 7, 3]
    for c in chunks:
        assert torch.equal(c.targets, c.inputs + 1)  # next token, stream row by row
    # consecutive chunks continue each row: together they give back the row
    rows = torch.cat([c.inputs for c in chunks], dim=1)
    assert torch.equal(rows, data[:, :-1])
    with pytest.raises(ValueError, match="too short for batch_size 8"):
        batchify(torch.arange(10), 8)
    with pytest.raises(ValueError, match="bptt must be a positive int, got 0"):
        StreamChunks(data, 0)
