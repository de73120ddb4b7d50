"""The command line: every command on small files, and every bad input as exit code 2."""

import io
import json
import random
import sys

import pytest
import yaml

from seqlab.cli import main
from seqlab.cli.info import starter_config
from seqlab.run import run_config
from seqlab.tasks import TASKS


def _reviews(path, n=160):
    r = random.Random(0)
    lines = ["text,label"]
    for _ in range(n):
        pos = r.random() < 0.5
        words = [r.choice(["good", "great"] if pos else ["bad", "awful"]) for _ in range(2)]
        words += [r.choice(["movie", "plot", "the"]) for _ in range(3)]
        lines.append(" ".join(words) + "," + ("pos" if pos else "neg"))
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_config(path, mapping):
    path.write_text(yaml.safe_dump(mapping))
    return str(path)


def _classifier_config(tmp_path, **train):
    return _write_config(tmp_path / "c.yaml", {
        "task": "classification",
        "data": {"train": str(_reviews(tmp_path / "r.csv")), "batch_size": 16},
        "model": {"encoder": {"kind": "gru", "hidden_size": 8}, "pooling": "mean"},
        "train": {"epochs": 3, "optimizer": {"lr": 0.02}, "metrics": ["accuracy"],
                  "progress": False, "tensorboard": False, **train},
    })  # fmt: skip


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors (a bad option value): exit 2, usage
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_datasets(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("seqlab ")
    code, out, _ = run(capsys, "datasets", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {"adding_problem", "shakespeare"} <= {r["name"] for r in rows}
    assert next(r for r in rows if r["name"] == "adding_problem")["available"] == "yes"


@pytest.mark.parametrize("task", list(TASKS))
def test_config_prints_a_valid_complete_starter(capsys, task):
    code, out, _ = run(capsys, "config", task)
    assert code == 0 and out == starter_config(task)
    mapping = yaml.safe_load(out)
    config = run_config(mapping, check_files=False)  # valid as printed
    assert config.task == task and "max_steps" in mapping["train"]
    assert "epochs: 10" in out and "#" in out  # defaults and comments


def test_train_predict_evaluate(tmp_path, capsys, monkeypatch):
    cfg = _classifier_config(tmp_path)
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", cfg, "--out", out_dir, "--set", "train.epochs=4")
    assert code == 0, err
    assert "val_accuracy" in out and (out_dir / "best").is_dir()
    assert yaml.safe_load((out_dir / "config.yaml").read_text())["train"]["epochs"] == 4

    inputs = tmp_path / "in.txt"
    inputs.write_text("good great movie\nawful bad plot\n")
    code, out, _ = run(capsys, "predict", out_dir, inputs)
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["pos", "neg"]
    code, out, _ = run(capsys, "predict", out_dir, "-", "--format", "jsonl", "--batch-size", "1",
                       stdin="great good plot\n", monkeypatch=monkeypatch)  # fmt: skip
    assert code == 0 and json.loads(out)["label"] == "pos"
    code, out, _ = run(capsys, "predict", out_dir, inputs, "--format", "csv")
    assert out.splitlines()[0] == "label,probability" and len(out.splitlines()) == 3
    code, out, _ = run(capsys, "evaluate", out_dir, "--split", "test", "--json")
    assert code == 0 and json.loads(out)["accuracy"] > 0.8


def test_resume_continues_a_run(tmp_path, capsys):
    cfg = _classifier_config(tmp_path, epochs=2)
    assert run(capsys, "train", cfg, "--out", tmp_path / "run")[0] == 0
    code, _, err = run(capsys, "train", cfg, "--out", tmp_path / "run")
    assert code == 2 and "already there; continue it with --resume" in err
    code, _out, err = run(
        capsys, "train", cfg, "--out", tmp_path / "run", "--resume", "--set", "train.epochs=3"
    )
    assert code == 0, err
    epochs = (tmp_path / "run" / "epochs.csv").read_text().splitlines()
    assert len(epochs) == 1 + 3  # header, two epochs, then the third


def test_generate_and_forecast(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("abcabc " * 200)
    cfg = _write_config(tmp_path / "lm.yaml", {
        "task": "language_model", "data": {"train": str(text), "bptt": 8, "batch_size": 4},
        "model": {"encoder": {"kind": "gru", "hidden_size": 16}},
        "train": {"epochs": 2, "optimizer": {"lr": 0.02}, "progress": False},
    })  # fmt: skip
    assert run(capsys, "train", cfg, "--out", tmp_path / "lm")[0] == 0
    code, out, _ = run(
        capsys, "generate", tmp_path / "lm", "--prompt", "ab", "--length", "5", "--greedy"
    )
    assert code == 0 and out.startswith("ab") and len(out.rstrip("\n")) == 7

    csv = tmp_path / "s.csv"
    csv.write_text(
        "time,y\n"
        + "".join(
            f"{2000 + i // 12}-{1 + i % 12:02d},{100 + (i % 12) + i * 0.5}\n" for i in range(120)
        )
    )
    cfg = _write_config(tmp_path / "f.yaml", {
        "task": "forecasting",
        "data": {"train": str(csv), "target_columns": ["y"], "input_length": 12, "horizon": 3},
        "model": {"encoder": {"kind": "gru", "hidden_size": 8}, "quantiles": [0.1, 0.5, 0.9]},
        "train": {"epochs": 2, "progress": False},
    })  # fmt: skip
    assert run(capsys, "train", cfg, "--out", tmp_path / "f")[0] == 0
    code, out, _ = run(capsys, "forecast", tmp_path / "f")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "time,y,y_q0.1,y_q0.5,y_q0.9" and len(lines) == 4
    assert lines[1].startswith("2010-01,")
    code, again, _ = run(
        capsys, "forecast", tmp_path / "f", "--input", csv
    )  # new data, same columns
    assert code == 0 and again == out
    code, _, err = run(capsys, "forecast", tmp_path / "f", "--input", tmp_path / "none.csv")
    assert code == 2 and "none.csv" in err and "Traceback" not in err
    code, _, err = run(capsys, "generate", tmp_path / "f")
    assert code == 2 and "a forecasting run; this command needs a language_model run" in err
    code, out, _ = run(capsys, "forecast", tmp_path / "f", "--horizon", "2")
    assert code == 0 and out.splitlines() == lines[:3]  # the first two steps
    code, _, err = run(capsys, "forecast", tmp_path / "f", "--horizon", "5")
    assert code == 2 and "--horizon 5" in err and "forecasts at most 3 steps" in err
    code, _, err = run(capsys, "forecast", tmp_path / "f", "--horizon", "0")
    assert code == 2 and "expected a positive int, got 0" in err
    png = tmp_path / "forecast.png"
    code, out, err = run(capsys, "forecast", tmp_path / "f", "--plot", png)
    assert code == 0 and out.splitlines() == lines and png.stat().st_size > 0
    assert f"plot written to {png}" in err
    code, out, err = run(capsys, "forecast", tmp_path / "f", "--plot", tmp_path)
    assert code == 2 and out == "" and "a directory; expected the path of a PNG file" in err
    code, _, err = run(capsys, "generate", tmp_path / "lm", "--length", "0")
    assert code == 2 and "--length: expected a positive int, got 0" in err
    code, out, err = run(
        capsys, "generate", tmp_path / "lm", "--prompt", "a\u2603", "--length", "3"
    )
    assert code == 0 and out.startswith("a\u2603")
    assert err.strip().splitlines() == [
        "seqlab generate: warning: prompt tokens ['\u2603'] are not in the vocabulary: read as <unk>"
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "{tmp}/missing.yaml"], "missing.yaml: config file not found"),
        (["train", "{tmp}"], "a directory, not a config file"),
        (["train", "{cfg}", "--set", "train.epochs"], "expected key=value"),
        (
            ["train", "{cfg}", "--set", "model.encoder.peephole=true"],
            "model.encoder: peephole needs kind 'lstm', got kind='gru'",
        ),
        (["train", "{cfg}", "--set", "train.epoch=3"], "train.epoch: unknown key"),
        (
            ["train", "{cfg}", "--set", "data.dataset=shakespear", "--set", "data.train=null"],
            "data: unknown dataset 'shakespear'; known:",
        ),
        (["train", "{cfg}", "--resume", "--out", "{tmp}/new"], "--resume needs a run directory"),
        (["predict", "{tmp}"], "not a run directory or a checkpoint"),
        (["evaluate", "{tmp}/nothing"], "not a run directory or a checkpoint"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, argv, message):
    cfg = _classifier_config(tmp_path)
    argv = [a.format(tmp=tmp_path, cfg=cfg) for a in argv]
    code, _out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nonly one,pos\n")  # one label: the task refuses it when read
    cfg = _write_config(tmp_path / "c.yaml", {"task": "classification", "data": {"train": str(bad)},
                                              "train": {"progress": False}})  # fmt: skip
    code, _, err = run(capsys, "train", cfg, "--out", tmp_path / "run")
    assert code == 2 and not (tmp_path / "run").exists(), err


def test_nproc_2_trains_as_one_process_does(tmp_path, capsys):
    # two ranks on torchrun (gloo), each a half of every global batch, take the same steps
    cfg = _write_config(tmp_path / "a.yaml", {
        "task": "classification",
        "data": {"dataset": "adding_problem", "options": {"n": 400, "length": 8}, "batch_size": 32},
        "model": {"encoder": {"kind": "gru", "hidden_size": 8}},
        # the CPU for both: two processes train there anyway on a machine of one GPU
        "train": {"epochs": 2, "metrics": ["mae"], "progress": False, "tensorboard": False,
                  "device": "cpu"},
    })  # fmt: skip
    assert run(capsys, "train", cfg, "--out", tmp_path / "one")[0] == 0
    code, _, err = run(capsys, "train", cfg, "--out", tmp_path / "two", "--nproc", "2")
    assert code == 0, err
    one = (tmp_path / "one" / "epochs.csv").read_text().splitlines()
    two = (tmp_path / "two" / "epochs.csv").read_text().splitlines()
    assert len(one) == len(two) == 3
    for a, b in zip(one[1:], two[1:], strict=True):
        assert [float(v) for v in a.split(",")] == pytest.approx(
            [float(v) for v in b.split(",")], rel=1e-5
        )
    assert (tmp_path / "two" / "summary.json").is_file()
