"""Bad examples given to the collates: one ValueError naming the example, never an error
from inside numpy or torch, and never a NaN that would surface later as a NaN loss."""

import numpy as np
import pytest
import torch

from seqlab.data import (
    BucketSampler,
    batchify,
    collate_classification,
    collate_tagging,
    collate_windows,
    pad_sequences,
)


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ([([1, 2], 0), (["a", "b"], 1)], "example 1 holds strings, expected token ids .*Vocab"),
        ([([[1, 2], [3]], 1)], r"example 0 is not a rectangular array of numbers \(ragged\)"),
        ([([None, 1], 1)], "example 0 holds objects"),
        ([([1.0, float("nan")], 1)], r"example 0 has nan at index \(1,\)"),
        ([(np.array([[0.0], [np.inf]]), 1)], r"example 0 has inf at index \(1, 0\)"),
        ([([True, False], 1)], "example 0 is bools"),
        ([([1j, 2j], 1)], "example 0 is complex"),
        ([([1, 2], "pos")], "label 0 holds strings"),
        ([([1, 2], 0.5), ([3], float("nan"))], "label 1 has nan"),
        ([([1, 2], [0.5, 1.0]), ([3], [1.0])], r"label 1 has shape \(1,\), label 0 has \(2,\)"),
    ],
)
def test_bad_classification_examples(items, match):
    with pytest.raises(ValueError, match=match):
        collate_classification(items)


def test_bad_tagging_and_windows():
    with pytest.raises(ValueError, match="example 0 holds strings"):
        collate_tagging([([1, 2], ["B-PER", "O"])])
    with pytest.raises(ValueError, match=r"input 1 has shape \(4, 2\), input 0 has \(3, 2\)"):
        collate_windows(
            [(torch.zeros(3, 2), torch.zeros(1, 1)), (torch.zeros(4, 2), torch.zeros(1, 1))]
        )
    with pytest.raises(ValueError, match="window 0 target has nan"):
        collate_windows([(torch.zeros(3, 2), torch.tensor([[float("nan")]]))])
    b = collate_windows([(np.zeros((3, 2), dtype=int), np.zeros((1, 1), dtype=int))])
    assert b.inputs.dtype == b.targets.dtype == torch.float32


def test_good_examples_still_collate():
    x, n = pad_sequences([np.ones((2, 3)), torch.ones(4, 3)])
    assert x.shape == (2, 4, 3) and n.tolist() == [2, 4]
    b = collate_classification([(np.array([1, 2]), 0), (torch.tensor([3]), 1)])
    assert b.inputs.dtype == torch.long and b.targets.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("lengths", "match"),
    [
        ([3, 2.7, 4], r"lengths\[1\] must be a positive int, got 2.7"),  # never truncated to 2
        (np.array([3.0, 2.0]), r"lengths\[0\] must be a positive int, got 3.0"),
        ([3, 0], r"lengths\[1\] must be a positive int, got 0"),
        ([3, True], r"lengths\[1\] must be a positive int, got True"),
        ([[3, 4]], r"lengths\[0\] must be a positive int"),
        ([], "lengths must be a non-empty list of ints"),
    ],
)
def test_bucket_sampler_lengths_are_whole_numbers(lengths, match):
    with pytest.raises(ValueError, match=match):
        BucketSampler(lengths, batch_size=2)


def test_bucket_sampler_arguments():
    assert len(list(BucketSampler(torch.tensor([3, 1, 2]), batch_size=2, shuffle=False))) == 2
    assert len(list(BucketSampler(np.array([3, 1, 2]), batch_size=2, shuffle=False))) == 2
    with pytest.raises(ValueError, match="shuffle must be true or false, got 1"):
        BucketSampler([3, 1], 2, shuffle=1)
    with pytest.raises(ValueError, match=r"batch_size must be a positive int, got 2\.0"):
        BucketSampler([3, 1], 2.0)


@pytest.mark.parametrize("ids", [torch.arange(20.0), torch.ones(20, dtype=torch.bool)])
def test_batchify_takes_token_ids_only(ids):
    with pytest.raises(ValueError, match="ids must be integer token ids, got dtype"):
        batchify(ids, 2)
