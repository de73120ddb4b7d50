"""Classification of numeric sequences: per-channel standardization fitted on the training
split's valid steps only, saved with the run; integer and string labels through a label
vocabulary, and back to their names in predictions (the CLI's too)."""

import json

import numpy as np
import pytest
import torch
import yaml

from devices import on_cpu
from seqlab import load_run, run_config, train_run
from seqlab.data import DataError
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
    rows, rows_again = list(on_cpu(run).predict(seqs[:5])), list(again.predict(seqs[:5]))
    assert rows == rows_again and {r["label"] for r in rows} <= set(run.task.labels)


def test_sparse_and_negative_integer_labels_map_to_ids_and_back(tmp_path):
    torch.manual_seed(0)
    path, seqs, _ = _data(tmp_path, [-1, 5, 40])
    run = _run(tmp_path, path)
    assert run.task.labels == ["-1", "5", "40"]  # numeric order, three class ids
    assert run.model.config.num_classes == 3
    assert {r["label"] for r in run.predict(seqs[:6])} <= {"-1", "5", "40"}


def _separable(tmp_path, names, n=48, seed=0):
    """Two-channel sequences whose class is the sign of channel 0's mean: learnable fast."""
    rng = np.random.default_rng(seed)
    seqs, ys = [], []
    for i in range(n):
        k = i % len(names)
        t = int(rng.integers(4, 9))
        seqs.append(np.c_[rng.normal(3.0 * k - 1.5, 0.3, t), rng.normal(0, 1, t)])
        ys.append(names[k])
    path = tmp_path / "s.npz"
    np.savez(
        path, x=np.concatenate(seqs), offsets=np.cumsum([0, *map(len, seqs)]), y=np.asarray(ys)
    )
    return str(path), seqs, ys


def test_read_npz_takes_label_names():
    import tempfile

    from seqlab.data import read_npz

    with tempfile.TemporaryDirectory() as d:
        for y in (np.array(["walk", "run"]), np.array([b"walk", b"run"])):
            np.savez(f"{d}/a.npz", x=np.zeros((2, 3)), y=y)
            assert read_npz(f"{d}/a.npz").labels.tolist() == ["walk", "run"]
        np.savez(f"{d}/a.npz", x=np.zeros((2, 3)), y=np.array([True, False]))
        assert read_npz(f"{d}/a.npz").labels.tolist() == [1, 0]
        np.savez(f"{d}/a.npz", x=np.zeros((2, 3)), y=np.array(["walk", " "]))
        with pytest.raises(DataError, match=r"a.npz: 'y'\[1\] is an empty label"):
            read_npz(f"{d}/a.npz")
        np.savez(f"{d}/a.npz", x=np.zeros((2, 3)), y=np.array(["walk", None], dtype=object))
        with pytest.raises(DataError, match=r"'y' is an object array.*dtype=str"):
            read_npz(f"{d}/a.npz")


def test_string_labels_map_to_ids_and_back(tmp_path):
    torch.manual_seed(0)
    path, seqs, _ = _separable(tmp_path, ["walk", "run"])
    run = _run(tmp_path, path)
    assert run.task.labels == ["run", "walk"]  # ids in sorted order of the names
    assert run.task._target("walk") == 1 and run.task._target(np.str_("run")) == 0
    with pytest.raises(ValueError, match="label 'jump' is not among the training labels"):
        run.task._target("jump")
    rows = list(run.predict(seqs[:4]))
    assert {r["label"] for r in rows} <= {"run", "walk"}


def test_cli_predict_writes_label_names(tmp_path, capsys):
    from seqlab.cli import main

    path, seqs, ys = _separable(tmp_path, ["walk", "run"], n=96)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "task": "classification",
        "data": {"train": path, "batch_size": 16},
        "model": {"encoder": {"kind": "gru", "hidden_size": 8}, "pooling": "mean"},
        "train": {"epochs": 8, "optimizer": {"lr": 0.02}, "progress": False,
                  "tensorboard": False},
    }))  # fmt: skip
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 0
    inputs = tmp_path / "in.txt"
    inputs.write_text("".join(json.dumps(s.tolist()) + "\n" for s in seqs[:6]))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(inputs)]) == 0
    got = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert got == ys[:6]  # the names, as in the file
    assert main(["predict", str(tmp_path / "run"), str(inputs), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ys[:6]


def test_without_a_validation_split_the_default_early_stopping_is_dropped(tmp_path):
    """The task's default early stopping needs validation data: with val_fraction 0 the
    run trains its steps; early stopping the user asked for is an error before training."""
    from seqlab.config import ConfigError

    path, _, _ = _data(tmp_path, ["a", "b"])
    raw = {
        "task": "classification",
        "data": {"train": path, "val_fraction": 0.0, "test_fraction": 0.0, "batch_size": 16},
        "model": {"encoder": {"kind": "gru", "hidden_size": 4}},
        "train": {"max_steps": 4, "progress": False},
    }
    cfg = run_config(raw)
    assert cfg.train.early_stopping.patience == 10  # the task's default
    assert cfg.train.early_stopping.min_steps == 300  # ... after a warm-up
    run = train_run(cfg, tmp_path / "run")
    assert len(run.history) == 1  # 4 steps, no validation, no early stopping
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["train"]["early_stopping"]["patience"] is None  # what it ran with
    raw["train"]["early_stopping"] = {"patience": 3}
    with pytest.raises(ConfigError, match=r"train.early_stopping.patience=3 watches val_loss"):
        train_run(run_config(raw), tmp_path / "run2")
    assert not (tmp_path / "run2").exists()  # refused before anything was written
