"""The numeric-sequence defaults of the classification task: with no encoder kind given, a
TCN whose receptive field covers the longest training sequence, pooled over real steps;
a named kind keeps its own defaults; texts are left as they were. And the ``.ts`` files
as training data (``format: ts`` or the name)."""

import numpy as np
import pytest
import torch

from devices import on_cpu
from seqlab import load_run, run_config, train_run
from seqlab.config import ConfigError
from seqlab.data.npz import save_npz
from seqlab.tasks.classification import NUMERIC_ENCODER, NUMERIC_POOLING, tcn_depth


def _npz(tmp_path, n=40, longest=37, seed=0):
    rng = np.random.default_rng(seed)
    lengths = [longest, *rng.integers(3, longest, n - 1)]
    seqs = [rng.normal(size=(t, 3)) for t in lengths]
    path = tmp_path / "d.npz"
    save_npz(path, seqs, [i % 3 for i in range(n)])
    return str(path), seqs


def _train(tmp_path, data, model=None, directory=None, **train):
    cfg = run_config({
        "task": "classification",
        "data": {"val_fraction": 0.25, "test_fraction": 0.0, **data},
        "model": model or {},
        "train": {"epochs": 1, "max_steps": 2, "progress": False, **train},
    })  # fmt: skip
    return train_run(cfg, directory)


def test_no_encoder_kind_gives_a_tcn_that_sees_the_whole_sequence(tmp_path):
    torch.manual_seed(0)
    path, seqs = _npz(tmp_path)
    run = _train(tmp_path, {"train": path}, directory=tmp_path / "run")
    enc, cfg = run.model.encoder, run.model.config
    assert cfg.encoder.kind == NUMERIC_ENCODER["kind"] == "tcn"
    assert cfg.pooling == NUMERIC_POOLING == "max"
    field = enc.net.receptive_field
    assert field >= 37 > enc.net.receptive_field // 2  # the fewest blocks that cover it
    assert cfg.encoder.num_layers == tcn_depth(37) == 5  # 1 + 2(2^5 - 1) = 63 >= 37 > 31
    # the resolved model is what the checkpoint rebuilds
    again = load_run(tmp_path / "run")
    assert again.model.config == cfg
    assert list(again.predict(seqs[:3])) == list(on_cpu(run).predict(seqs[:3]))


def test_the_user_keys_win_and_a_named_kind_keeps_its_defaults(tmp_path):
    path, _ = _npz(tmp_path)
    run = _train(tmp_path, {"train": path}, {"encoder": {"hidden_size": 8}, "pooling": "last"})
    assert run.model.config.encoder.kind == "tcn" and run.model.config.encoder.hidden_size == 8
    assert run.model.config.pooling == "last"
    run = _train(tmp_path, {"train": path}, {"encoder": {"kind": "tcn", "kernel_size": 3}})
    assert run.model.config.encoder.num_layers == tcn_depth(37, 3) == 4  # 1 + 4*15 >= 37
    assert run.model.config.pooling == "last"  # the classifier's own default for a named kind
    run = _train(tmp_path, {"train": path}, {"encoder": {"kind": "tcn", "num_layers": 2}})
    assert run.model.config.encoder.num_layers == 2  # as given (receptive field 7 < 37)
    run = _train(tmp_path, {"train": path}, {"encoder": {"kind": "gru", "hidden_size": 8}})
    assert run.model.config.encoder.kind == "gru" and run.model.config.pooling == "last"
    # keys of a recurrent kind and no kind: the old default kind (lstm), as before
    run = _train(tmp_path, {"train": path}, {"encoder": {"hidden_size": 8, "bidirectional": True}})
    assert run.model.config.encoder.kind == "lstm" and run.model.config.encoder.bidirectional


def test_keys_only_the_tcn_takes_need_no_kind_for_numeric_data(tmp_path):
    path, _ = _npz(tmp_path)
    run = _train(tmp_path, {"train": path}, {"encoder": {"kernel_size": 3}})
    cfg = run.model.config
    assert cfg.encoder.kind == "tcn" and cfg.encoder.kernel_size == 3
    assert cfg.encoder.num_layers == tcn_depth(37, 3) and cfg.pooling == NUMERIC_POOLING


def test_texts_refuse_tcn_keys_without_the_kind(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\n" + "".join(f"good {i},pos\nbad {i},neg\n" for i in range(8)))
    with pytest.raises(ConfigError, match=r"model\.encoder\.kernel_size: needs kind 'tcn'"):
        _train(tmp_path, {"train": str(path)}, {"encoder": {"kernel_size": 3}})


def test_texts_keep_the_classifier_defaults(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "text,label\n" + "".join(f"good film {i},pos\nbad plot {i},neg\n" for i in range(8))
    )
    run = _train(tmp_path, {"train": str(path)})
    assert run.model.config.encoder.kind == "lstm" and run.model.config.pooling == "last"


TS = """@problemName Toy
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
"""


def test_ts_files_train_by_name_or_by_format(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(30):
        t = int(rng.integers(4, 12))
        up = i % 2 == 0
        a = np.cumsum(rng.normal(1.0 if up else -1.0, 0.1, t))
        b = rng.normal(size=t)
        lines.append(f"{','.join(map(str, a))}:{','.join(map(str, b))}:{'up' if up else 'down'}")
    (tmp_path / "toy_TRAIN.ts").write_text(TS + "\n".join(lines) + "\n")
    (tmp_path / "toy.txt").write_text(TS + "\n".join(lines) + "\n")
    run = _train(tmp_path, {"train": str(tmp_path / "toy_TRAIN.ts")})
    assert run.task.labels == ["down", "up"] and run.model.config.encoder.kind == "tcn"
    rows = list(run.predict([np.c_[np.arange(5.0), np.zeros(5)]]))
    assert rows[0]["label"] in ("down", "up")
    run = _train(tmp_path, {"train": str(tmp_path / "toy.txt"), "format": "ts"})
    assert len(run.task.splits.train) + len(run.task.splits.val) == 30
    with pytest.raises(ConfigError, match=r"data: format must be one of .*'ts'.*got 'tsx'"):
        run_config({"task": "classification", "data": {"train": str(tmp_path / "toy.txt"),
                                                       "format": "tsx"}})  # fmt: skip


def test_mean_max_pooling_against_numpy_values_and_gradients():
    from seqlab.models.classifier import pool

    rng = np.random.default_rng(0)
    B, T, C = 3, 6, 4
    x = torch.tensor(rng.normal(size=(B, T, C)), dtype=torch.float64, requires_grad=True)
    lengths = [6, 2, 4]
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    w = rng.normal(size=(B, 2 * C))
    out = pool(x, mask, "mean_max")
    (out * torch.from_numpy(w)).sum().backward()
    a = x.detach().numpy()
    grad = np.zeros_like(a)
    for b, t in enumerate(lengths):
        mean, top = a[b, :t].mean(0), a[b, :t].max(0)
        np.testing.assert_allclose(out[b].detach().numpy(), np.r_[mean, top], rtol=1e-12)
        grad[b, :t] += w[b, :C] / t  # d mean / d x_t
        grad[b, a[b, :t].argmax(0), np.arange(C)] += w[b, C:]  # d max: the arg max step only
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-10, atol=1e-12)


def test_the_default_depth_draws_nothing_so_the_written_out_config_trains_the_same(tmp_path):
    state = torch.random.get_rng_state()
    assert tcn_depth(1000, 3) == 8
    assert torch.equal(torch.random.get_rng_state(), state)  # arithmetic, no TCN built
    path, _ = _npz(tmp_path)
    cpu = {"device": "cpu"}  # bitwise equal: a GPU's kernels need not be run to run
    default = _train(tmp_path, {"train": path}, **cpu)
    resolved = default.model.config.encoder
    written = {"kind": "tcn", "num_layers": resolved.num_layers}
    again = _train(tmp_path, {"train": path}, {"encoder": written, "pooling": "max"}, **cpu)
    assert again.model.config == default.model.config
    for a, b in zip(default.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)  # the same seed gives the same weights either way


def test_a_run_silent_on_metrics_scores_accuracy_and_macro_f1(tmp_path):
    path, _ = _npz(tmp_path)
    run = _train(tmp_path, {"train": path}, directory=tmp_path / "run")
    assert run.config.train.metrics == ["accuracy", "macro_f1"]
    assert {"val_accuracy", "val_macro_f1"} <= set(run.history[-1])
    assert set(load_run(tmp_path / "run").evaluate("val")) >= {"loss", "accuracy", "macro_f1"}
    given = run_config({
        "task": "classification", "data": {"train": path, "val_fraction": 0.25},
        "train": {"epochs": 1, "max_steps": 1, "progress": False, "metrics": ["macro_f1"]},
    })  # fmt: skip
    assert train_run(given).config.train.metrics == ["macro_f1"]  # what the user names


def test_label_smoothing_is_the_default_from_100_training_series(tmp_path):
    from seqlab.tasks.classification import LABEL_SMOOTHING_FROM, NUMERIC_LABEL_SMOOTHING

    assert LABEL_SMOOTHING_FROM == 100 and NUMERIC_LABEL_SMOOTHING == 0.1
    small, _ = _npz(tmp_path, n=132, longest=6)  # 99 training series (a quarter held out)
    assert _train(tmp_path, {"train": small}).model.config.label_smoothing == 0.0
    big_dir = tmp_path / "big"
    big_dir.mkdir()
    big, _ = _npz(big_dir, n=134, longest=6)  # 100 training series
    run = _train(tmp_path, {"train": big}, directory=tmp_path / "run")
    assert len(run.task.splits.train) == 100
    assert run.model.config.label_smoothing == NUMERIC_LABEL_SMOOTHING
    assert load_run(tmp_path / "run").model.config.label_smoothing == NUMERIC_LABEL_SMOOTHING
    # the user's value wins, a kind given keeps the rule, and texts are left as they were
    assert (
        _train(tmp_path, {"train": big}, {"label_smoothing": 0.0}).model.config.label_smoothing
        == 0.0
    )
    gru = _train(tmp_path, {"train": big}, {"encoder": {"kind": "gru", "hidden_size": 8}})
    assert gru.model.config.label_smoothing == NUMERIC_LABEL_SMOOTHING
    texts = tmp_path / "t.csv"
    texts.write_text("text,label\n" + "".join(f"good {i},pos\nbad {i},neg\n" for i in range(80)))
    assert _train(tmp_path, {"train": str(texts)}).model.config.label_smoothing == 0.0


def test_below_100_training_series_the_default_is_an_ensemble_of_3(tmp_path):
    from seqlab.tasks.classification import SMALL_DATA_MEMBERS

    assert SMALL_DATA_MEMBERS == 3
    small, seqs = _npz(tmp_path, n=132, longest=6)  # 99 training series
    run = _train(tmp_path, {"train": small}, directory=tmp_path / "run")
    assert run.model.config.members == 3 and len(run.model.others) == 2
    again = load_run(tmp_path / "run")  # the checkpoint rebuilds all three
    assert again.model.config.members == 3
    assert list(again.predict(seqs[:2])) == list(on_cpu(run).predict(seqs[:2]))
    big_dir = tmp_path / "big"
    big_dir.mkdir()
    big, _ = _npz(big_dir, n=134, longest=6)  # 100 training series: one net, smoothed
    assert _train(tmp_path, {"train": big}).model.config.members == 1
    # the user's value wins; texts are left as they were
    assert _train(tmp_path, {"train": small}, {"members": 1}).model.config.members == 1
    texts = tmp_path / "t.csv"
    texts.write_text("text,label\n" + "".join(f"good {i},pos\nbad {i},neg\n" for i in range(30)))
    assert _train(tmp_path, {"train": str(texts)}).model.config.members == 1
