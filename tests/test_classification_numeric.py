"""Classification of numeric sequences: per-channel standardization fitted on the training
split's valid steps only, saved with the run; integer labels through a label vocabulary."""

import numpy as np
import torch

from seqlab import load_run, run_config, train_run
from seqlab.data.npz import save_npz


def _data(tmp_path, labels, n=60, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 12, n)  # ragged: padding would bias the statistics
    seqs = [
        np.c_[rng.normal(1000, 50, t), rng.normal(0, 0.01, t)] for t in lengths
    ]  # two channels on very different scales
    ys = [labels[i % len(labels)] for i in range(n)]
    path = tmp_path / "d.npz"
    save_npz(path, seqs, ys)
    return str(path), seqs, ys


def _run(tmp_path, path):
    cfg = run_config(
        {
            "task": "classification",
            "data": {"train": path, "val_fraction": 0.2, "test_fraction": 0.0, "batch_size": 16},
            "model": {"encoder": {"kind": "gru", "hidden_size": 4}},
            "train": {"epochs": 1, "progress": False},
        }
    )
    return train_run(cfg, tmp_path / "run")


def test_standardization_is_fit_on_the_training_steps_and_saved(tmp_path):
    torch.manual_seed(0)
    path, seqs, _ = _data(tmp_path, [1, 2, 3, 9, 10])
    run = _run(tmp_path, path)
    train = run.task.splits.train
    steps = np.concatenate([np.asarray(x, dtype=np.float64) for x, _ in train])  # valid only
    np.testing.assert_allclose(run.task.channels["mean"], steps.mean(0), rtol=1e-12)
    np.testing.assert_allclose(run.task.channels["std"], steps.std(0), rtol=1e-12)
    assert len(train) < len(seqs)  # fitted on the training split, not on all of it
    batch = run.task.encode([seqs[0]])
    np.testing.assert_allclose(
        batch.inputs[0].numpy(), (seqs[0] - steps.mean(0)) / steps.std(0), rtol=1e-5, atol=1e-5
    )
    # integer labels keep numeric order (9 before 10) and come back as their names
    assert run.task.labels == ["1", "2", "3", "9", "10"]
    again = load_run(tmp_path / "run")
    assert again.task.channels == run.task.channels
    rows, rows_again = list(run.predict(seqs[:5])), list(again.predict(seqs[:5]))
    assert rows == rows_again and {r["label"] for r in rows} <= set(run.task.labels)


def test_sparse_and_negative_integer_labels_map_to_ids_and_back(tmp_path):
    torch.manual_seed(0)
    path, seqs, _ = _data(tmp_path, [-1, 5, 40])
    run = _run(tmp_path, path)
    assert run.task.labels == ["-1", "5", "40"]  # numeric order, three class ids
    assert run.model.config.num_classes == 3
    assert {r["label"] for r in run.predict(seqs[:6])} <= {"-1", "5", "40"}
