"""The run layer: a config to a trained model, a run directory, load_run, predict."""

import json
import math
import random

import numpy as np
import pytest
import torch
import yaml

from devices import on_cpu
from seqlab import load_run, load_run_config, run_config, train_run
from seqlab.config import ConfigError

QUIET = {"progress": False, "tensorboard": False}


def _reviews(path, n=240, seed=0):
    r = random.Random(seed)
    with open(path, "w") as f:
        f.write("text,label\n")
        for _ in range(n):
            pos = r.random() < 0.5
            words = [
                r.choice(["good", "great", "fine"] if pos else ["bad", "awful", "poor"])
                for _ in range(2)
            ]
            words += [
                r.choice(["movie", "film", "plot", "the", "a"]) for _ in range(r.randint(2, 6))
            ]
            r.shuffle(words)
            f.write(" ".join(words) + "," + ("pos" if pos else "neg") + "\n")
    return str(path)


def _conll(path, n=120, seed=0):
    r = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            for _ in range(r.randint(2, 7)):
                if r.random() < 0.3:
                    f.write(f"{r.choice(['Ada', 'Alan', 'Grace'])}\tB-PER\n")
                else:
                    f.write(f"{r.choice(['met', 'the', 'in', 'and', 'saw'])}\tO\n")
            f.write("\n")
    return str(path)


def _config(task, data, model=None, **train):
    return run_config(
        {"task": task, "data": data, "model": model or {}, "train": {**QUIET, **train}}
    )


def test_classification_run_directory_load_and_predict(tmp_path):
    torch.manual_seed(0)
    cfg = _config("classification", {"train": _reviews(tmp_path / "r.csv"), "batch_size": 16},
                  {"encoder": {"kind": "gru", "hidden_size": 16}, "pooling": "mean"},
                  epochs=4, optimizer={"lr": 1e-2}, metrics=["accuracy", "macro_f1"],
                  monitor="val_accuracy", mode="max")  # fmt: skip
    run = train_run(cfg, tmp_path / "run")
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.yaml", "last", "best", "summary.json", "epochs.csv", "steps.csv"} <= files
    assert {"loss.png", "accuracy.png", "macro_f1.png"} <= {
        p.name for p in (tmp_path / "run" / "plots").iterdir()
    }
    assert (tmp_path / "run" / "plots" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["parameters"] == sum(p.numel() for p in run.model.parameters())
    assert summary["epochs"] == 4 and summary["versions"]["torch"] == torch.__version__
    metrics = summary["metrics"]
    assert metrics["val"]["accuracy"] > 0.9 and metrics["test"]["accuracy"] > 0.9
    assert set(metrics["test"]) == {"loss", "accuracy", "macro_f1"}
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["task"] == "classification" and saved["train"]["monitor"] == "val_accuracy"

    again = load_run(tmp_path / "run")
    lines = ["good great film", "awful poor plot", "the movie was fine fine"]
    rows = list(again.predict(iter(lines), batch_size=2))  # a stream, two at a time
    assert [r["label"] for r in rows] == ["pos", "neg", "pos"]
    assert rows == list(
        on_cpu(run).predict(lines)
    )  # the rebuilt run predicts what the trained one does
    assert again.evaluate("test") == pytest.approx(
        metrics["test"], rel=1e-5
    )  # trained on a GPU, maybe
    assert load_run(tmp_path / "run" / "last").config.task == "classification"  # a checkpoint


def test_numeric_sequences_standardized_and_regression(tmp_path):
    torch.manual_seed(0)
    cfg = _config("classification", {"dataset": "adding_problem", "options": {"n": 200, "length": 10}},
                  {"encoder": {"kind": "lstm", "hidden_size": 8}}, epochs=2, metrics=["mae"])  # fmt: skip
    run = train_run(cfg)
    assert run.model.config.task == "regression" and run.model.config.inputs.input_size == 2
    assert len(run.task.channels["mean"]) == 2
    rows = list(run.predict([np.random.rand(10, 2)]))
    assert len(rows[0]["value"]) == 1


def test_tagging_run_with_entity_f1_from_the_data(tmp_path):
    torch.manual_seed(0)
    cfg = _config("tagging", {"train": _conll(tmp_path / "t.conll"), "batch_size": 8},
                  {"encoder": {"kind": "lstm", "hidden_size": 16, "bidirectional": True}, "crf": True},
                  epochs=6, optimizer={"lr": 2e-2}, metrics=["entity_f1"], monitor="val_entity_f1", mode="max")  # fmt: skip
    run = train_run(cfg, tmp_path / "run")
    assert run.history[-1]["val_entity_f1"] > 0.9
    rows = list(load_run(tmp_path / "run").predict(["Ada met Grace", "the saw"]))
    assert rows[0] == {"tokens": ["Ada", "met", "Grace"], "tags": ["B-PER", "O", "B-PER"]}
    assert rows[1]["tags"] == ["O", "O"]


def test_language_model_run_turns_truncated_bptt_on_and_generates(tmp_path):
    torch.manual_seed(0)
    text = tmp_path / "t.txt"
    text.write_text("abcabcabc " * 300)
    cfg = _config("language_model", {"train": str(text), "bptt": 12, "batch_size": 8},
                  {"inputs": {"embedding_dim": 8}, "encoder": {"kind": "gru", "hidden_size": 24}},
                  epochs=3, optimizer={"lr": 1e-2}, metrics=["bits_per_char"])  # fmt: skip
    assert cfg.train.tbptt.stateful  # the task's default
    run = train_run(cfg, tmp_path / "run")
    assert run.history[-1]["val_bits_per_char"] < 0.5 * math.log2(len(run.task.text.vocab))
    again = load_run(tmp_path / "run")
    assert again.task.generate(again.model, "abc", 6, greedy=True) == "abcabc"
    assert next(iter(again.predict(["ab"])))["next"] == "c"
    off = _config("language_model", {"train": str(text)}, tbptt={"stateful": False})
    assert not off.train.tbptt.stateful  # the user's word wins


def test_seq2seq_run_scores_its_decoding(tmp_path):
    torch.manual_seed(0)
    cfg = _config("seq2seq", {"dataset": "reversal", "options": {"n": 300, "min_length": 2, "max_length": 4},
                              "source_tokenizer": "char", "target_tokenizer": "char", "batch_size": 16},
                  {"inputs": {"embedding_dim": 16}, "encoder": {"kind": "gru", "hidden_size": 16, "bidirectional": True},
                   "decoder_hidden_size": 32, "attention_size": 16, "max_length": 8},
                  epochs=2, optimizer={"lr": 1e-2}, metrics=["exact_match", "bleu"])  # fmt: skip
    run = train_run(cfg, tmp_path / "run")
    assert {"val_exact_match", "val_bleu"} <= set(run.history[-1])
    rows = list(load_run(tmp_path / "run").predict(["abc", "de"]))
    assert len(rows) == 2 and all(isinstance(r["output"], str) for r in rows)
    assert rows == list(on_cpu(run).predict(["abc", "de"]))


def test_forecasting_run_predicts_in_the_data_units(tmp_path):
    torch.manual_seed(0)
    t = np.arange(400)
    noise = np.random.default_rng(0).normal(0, 0.5, 400)
    values = 100 + 10 * np.sin(2 * np.pi * t / 12) + noise
    csv = tmp_path / "s.csv"
    lines = ["time,y"] + [
        f"{np.datetime64('2000-01-01') + np.timedelta64(int(i), 'D')},{v}"
        for i, v in zip(t, values, strict=True)
    ]
    csv.write_text("\n".join(lines) + "\n")
    cfg = _config("forecasting", {"train": str(csv), "target_columns": ["y"], "input_length": 24, "horizon": 3, "season": 12},
                  {"encoder": {"kind": "gru", "hidden_size": 16}}, epochs=12, optimizer={"lr": 1e-2}, metrics=["mae", "mase"])  # fmt: skip
    run = train_run(cfg, tmp_path / "run")
    assert run.history[-1]["val_mase"] < 1.0
    again = load_run(tmp_path / "run")
    row = next(iter(again.predict([values[:300]])))
    expected = values[300:303]
    assert np.abs(np.array(row["forecast"])[:, 0] - expected).max() < 3.0  # amplitude 10, in units
    with pytest.raises(ValueError, match=r"input 1: expected \(N >= 24, 1\) values"):
        list(again.predict([values[:5]]))


@pytest.mark.parametrize(
    "mapping, match",
    [
        ({"task": "clasification"}, r"task: expected one of \['classification'"),
        ({"data": {}}, "task: required"),
        (
            {"task": "classification", "data": {"dataset": "rotten_tomatoes"}, "trian": {}},
            "trian: unknown section",
        ),
        (
            {"task": "classification", "data": {"dataset": "rotten_tomatoes", "tokeniser": "char"}},
            r"data\.tokeniser: unknown key",
        ),
        ({"task": "classification", "data": {}}, "data: set exactly one of dataset"),
        (
            {"task": "classification", "data": {"dataset": "rotten_tomatos"}},
            r"data: unknown dataset 'rotten_tomatos'; known: \['adding_problem'",
        ),
        (
            {"task": "classification", "data": {"dataset": "mnist", "options": {"bye": 1}}},
            r"data: dataset 'mnist' takes no option 'bye'",
        ),
        (
            {"task": "classification", "data": {"train": "/no/such.csv"}},
            r"data\.train: file not found",
        ),
        (
            {
                "task": "classification",
                "data": {"dataset": "rotten_tomatoes"},
                "model": {"num_classes": 3},
            },
            r"model\.num_classes: set from the data",
        ),
        (
            {
                "task": "classification",
                "data": {"dataset": "rotten_tomatoes"},
                "model": {"inputs": {"vocab_size": 3}},
            },
            r"model\.inputs\.vocab_size: set from the data",
        ),
        (
            {
                "task": "classification",
                "data": {"dataset": "rotten_tomatoes"},
                "model": {"encoder": {"kind": "tcn", "peephole": True}},
            },
            r"model\.encoder\.peephole: needs kind 'lstm'",
        ),
        (
            {
                "task": "classification",
                "data": {"dataset": "rotten_tomatoes"},
                "train": {"monitor": 3},
            },
            r"train\.monitor: expected a string",
        ),
        (
            {"task": "forecasting", "data": {"dataset": "sunspots", "horizon": 0}},
            "data: horizon must be a positive int",
        ),
    ],
)
def test_a_bad_config_is_refused_before_anything_runs(mapping, match):
    with pytest.raises(ConfigError, match=match):
        run_config(mapping)


def test_task_aliases():
    cfg = run_config({"task": "forecast", "data": {"dataset": "airline_passengers"}})
    assert cfg.task == "forecasting"
    assert (
        run_config({"task": "classify", "data": {"dataset": "rotten_tomatoes"}}).task
        == "classification"
    )


def test_overrides_and_files(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"task": "classification", "data": {"dataset": "rotten_tomatoes"},
                                    "model": {"encoder": {"kind": "gru"}}}))  # fmt: skip
    cfg = load_run_config(path, ["model.encoder.hidden_size=7", "train.epochs=3", "data.seed=2024",
                                 "train.log_dir=2024", "task=classification"])  # fmt: skip
    assert cfg.model["encoder"]["hidden_size"] == 7 and cfg.train.epochs == 3
    assert cfg.data.seed == 2024 and cfg.train.log_dir == "2024"  # a string field stays a string
    with pytest.raises(ConfigError, match=rf"{path}: model\.encoder\.kernel_size: needs kind"):
        load_run_config(path, ["model.encoder.kernel_size=3"])
    with pytest.raises(ConfigError, match="not a run directory or a checkpoint"):
        load_run(tmp_path / "nothing")


def test_a_dataset_of_another_task_is_named():
    cfg = _config("seq2seq", {"dataset": "adding_problem", "options": {"n": 10, "length": 4}})
    with pytest.raises(
        ConfigError, match=r"'adding_problem' is not text pairs .* pick a seq2seq dataset"
    ):
        train_run(cfg)


def test_tagging_reads_an_aligned_registered_dataset():
    cfg = _config("tagging", {"dataset": "copy_memory", "options": {"n": 40, "length": 5}})
    task = cfg.task_class(cfg.data)
    task.prepare()
    tokens, tags = task.splits.train[0]
    assert len(tokens) == len(tags) == 25 and tags[-10:] == tokens[:10]
    assert task.metric_facts() == {}  # symbol tags: no BIO entities
    bad = _config("tagging", {"dataset": "adding_problem", "options": {"n": 10, "length": 4}})
    with pytest.raises(ConfigError, match="is not aligned symbol and tag sequences"):
        train_run(bad)
