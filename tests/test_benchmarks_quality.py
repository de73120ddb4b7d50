"""The quality benchmark's quick mode, as a smoke test (``make slow``): each task trains
its small models through the run layer and clears a loose bar that fails only when a
model does not learn at all (the script exits 1 then). The full runs are for
benchmarks/RESULTS.md, not for CI."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlab.cli.info import dataset_available
from seqlab.data import list_datasets

ROOT = Path(__file__).resolve().parent.parent
NEEDS = {"smnist": "mnist", "pmnist": "mnist", "rows": "mnist", "sentiment": "rotten_tomatoes",
         "charlm": "shakespeare", "adding": None, "copy": None, "forecasting": None,
         "uea": None}  # fmt: skip
INSTALL = {d.name: d.install for d in list_datasets()}


@pytest.mark.slow
@pytest.mark.parametrize("task", list(NEEDS))
def test_quick_quality_run_learns(task, tmp_path):
    dataset = NEEDS[task]
    if dataset and not dataset_available(INSTALL[dataset]):
        pytest.skip(f"{dataset} needs: {INSTALL[dataset]}")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", task, "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / f"quality_{task}_quick.json").read_text())
    assert result["rows"] and all(r["value"] == r["value"] for r in result["rows"])  # no NaN


class _Trainer:
    def __init__(self):
        self.stopped = None

    def stop(self, reason):
        self.stopped = reason


def test_trace_records_the_curve_and_when_the_loss_left_the_plateau():
    from benchmarks.quality import Trace

    trace = Trace(every=2, below=0.1)
    trace.on_fit_start(None)
    for step, loss in enumerate([0.2, 0.2, 0.15, 0.05, 0.04, float("nan")], start=1):
        trace.on_step_end(None, {"loss": loss, "samples": 32, "finite": loss == loss, "step": step})
    assert trace.steps == 6 and trace.samples == 192
    assert [p[0] for p in trace.points] == [2, 4, 6] and [p[1] for p in trace.points] == [
        64,
        128,
        192,
    ]
    assert [round(p[4], 3) for p in trace.points] == [
        0.2,
        0.1,
        0.04,
    ]  # the NaN step is not averaged
    assert trace.left["step"] == 6 and trace.left["samples"] == 192  # 0.1 is not below 0.1


def test_time_budget_counts_cpu_seconds():
    from benchmarks.quality import TimeBudget

    budget, trainer = TimeBudget(0.05), _Trainer()
    budget.on_fit_start(trainer)
    budget.on_step_end(trainer, {})
    assert trainer.stopped is None
    end = time.process_time() + 0.1
    while time.process_time() < end:  # spend CPU time, not wall time
        pass
    budget.on_step_end(trainer, {})
    assert trainer.stopped and "CPU" in trainer.stopped


def test_table_says_where_each_model_left_the_plateau():
    from benchmarks.quality import table

    rows = [
        {"model": "tcn", "metric": "test MSE", "value": 1e-3, "samples": 6400, "steps": 200,
         "load": [1.0, 2.0], "left_plateau": {"step": 100, "samples": 3200, "wall_s": 9.0}},
        {"model": "gru", "metric": "test MSE", "value": 0.17, "left_plateau": None},
    ]  # fmt: skip
    lines = table({"rows": rows}).splitlines()
    assert lines[0].endswith("| left plateau at |")
    assert lines[2].endswith("| 3200 samples |") and "| 6400 | 200 |" in lines[2]
    assert lines[3].endswith("| — |")


def test_length_is_refused_for_a_task_without_one(capsys):
    from benchmarks.quality import main

    with pytest.raises(SystemExit) as stop:
        main(["smnist", "--length", "100"])
    assert stop.value.code == 2
    assert "--length" in capsys.readouterr().err


def test_a_run_of_some_models_replaces_their_rows_and_keeps_the_others(tmp_path):
    from benchmarks.quality import merged

    path = tmp_path / "quality_adding.json"
    old = {"commit": "aaa", "command": "old", "budget_s": 150.0,
           "rows": [{"model": "tcn", "value": 0.17}, {"model": "gru", "value": 0.17}]}  # fmt: skip
    path.write_text(json.dumps(old))
    new = {"commit": "bbb", "rows": [{"model": "tcn", "value": 1e-4, "commit": "bbb",
                                      "command": "new", "seconds": 5.0}]}  # fmt: skip
    rows = merged(path, new)["rows"]
    assert [(r["model"], r["value"], r["command"]) for r in rows] == [
        ("tcn", 1e-4, "new"), ("gru", 0.17, "old")]  # fmt: skip
    assert rows[1]["commit"] == "aaa" and rows[1]["budget_s"] == 150.0
    assert merged(tmp_path / "none.json", new) is new


def _adding_row(model, value, standardize=None):
    data = {} if standardize is None else {"standardize": standardize}
    return {"task": "adding", "model": model, "metric": "test MSE", "value": value,
            "settings": {"data": data}}  # fmt: skip


def test_adding_rows_say_whether_their_inputs_were_standardized_or_raw():
    from benchmarks.quality import inputs_of, table

    rows = [_adding_row("tcn", 1e-3, True), _adding_row("tcn", 0.16, False),
            _adding_row("gru", 0.17)]  # fmt: skip  # no key: seqlab's default, standardized
    assert [inputs_of(r) for r in rows] == ["standardized", "raw", "standardized"]
    lines = table({"rows": rows}).splitlines()
    assert lines[0].startswith("| model | inputs | metric |")
    assert lines[2].startswith("| tcn | standardized | test MSE |")
    assert lines[3].startswith("| tcn | raw | test MSE |")
    other = {"task": "copy", "model": "tcn", "metric": "loss", "value": 0.01}
    assert inputs_of(other) is None and "inputs" not in table({"rows": [other]})


def test_a_standardized_adding_row_replaces_its_kind_and_keeps_the_raw_one(tmp_path):
    from benchmarks.quality import merged

    path = tmp_path / "quality_adding.json"
    old = [_adding_row("tcn", 0.16, False), _adding_row("gru", 0.17)]
    path.write_text(json.dumps({"commit": "aaa", "command": "old", "rows": old}))
    new = {"rows": [_adding_row("tcn", 1e-3, True), _adding_row("gru", 0.01, True)]}
    rows = merged(path, new)["rows"]
    assert [(r["model"], r["value"]) for r in rows] == [("tcn", 0.16), ("gru", 0.01), ("tcn", 1e-3)]


def test_raw_inputs_is_refused_for_a_task_without_them(capsys):
    from benchmarks.quality import main

    with pytest.raises(SystemExit) as stop:
        main(["copy", "--raw-inputs"])
    assert stop.value.code == 2
    assert "--raw-inputs" in capsys.readouterr().err


def test_a_section_names_data_given_as_a_mapping(tmp_path):
    # forecasting rows carry their data section (a dict): RESULTS.md names it in words
    from benchmarks.quality import _section

    row = {"model": "airline: seasonal naive", "metric": "test MASE", "value": 2.49}
    rows = [
        {**row, "data": {"dataset": "airline_passengers", "horizon": 24}},
        {**row, "model": "sunspots: seasonal naive", "data": {"dataset": "sunspots"}},
    ]
    path = tmp_path / "quality_forecasting.json"
    path.write_text(json.dumps({"rows": rows, "commit": "abc", "command": "c", "threads": 1}))
    text = "\n".join(_section("forecasting", path))
    assert "dataset airline_passengers, horizon 24; dataset sunspots" in text


def _copy_row(value, train):
    return {"task": "copy", "model": "tcn", "metric": "test loss", "value": value,
            "settings": {"train": train}}  # fmt: skip


def test_a_longer_run_names_its_training_and_stands_beside_the_budgets_row(tmp_path):
    from benchmarks.quality import merged, table, training_of

    budget = _copy_row(2e-3, {"epochs": 200})
    longer = _copy_row(1e-4, {"max_steps": 15000, "schedule": {"name": "cosine"}})
    assert training_of(budget) is None and training_of(longer) == "cosine, 15000 steps"
    assert training_of(_copy_row(0.1, {"max_steps": 40})) == "40 steps"
    fixed = {"max_steps": 40, "early_stopping": {"patience": None}}  # --no-early-stopping
    assert training_of(_copy_row(0.1, fixed)) == "40 steps, no early stopping"
    assert training_of(_copy_row(0.1, {"early_stopping": {"patience": 10}})) is None
    lines = table({"rows": [budget, longer]}).splitlines()
    assert lines[0].startswith("| model | training | metric |")
    assert lines[2].startswith("| tcn | default | test loss |")
    assert lines[3].startswith("| tcn | cosine, 15000 steps | test loss |")
    assert "training" not in table({"rows": [budget]})
    path = tmp_path / "quality_copy.json"
    path.write_text(json.dumps({"commit": "aaa", "command": "old", "rows": [budget]}))
    rows = merged(path, {"rows": [longer]})["rows"]
    assert [r["value"] for r in rows] == [2e-3, 1e-4]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["sentiment", "--max-steps", "100"], "only for adding, copy, smnist, pmnist"),
        (["copy", "--max-steps", "0"], "--max-steps must be an int >= 1, got 0"),
        (["copy", "--cosine"], "--cosine needs --max-steps"),
        (["sentiment", "--no-early-stopping", "--budget", "9"], "for full runs of adding, copy"),
        (["copy", "--quick", "--no-early-stopping"], "for full runs of adding, copy"),
        (["copy", "--no-early-stopping"], "needs --max-steps or --budget to end the run"),
    ],
)
def test_longer_training_flags_refuse_what_they_cannot_do(argv, words, capsys):
    from benchmarks.quality import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert words in capsys.readouterr().err


def test_max_steps_and_cosine_reach_the_trainer(monkeypatch):
    # a paper task's run gets the flags' trainer settings over its own
    import benchmarks.quality as quality

    seen = {}

    def fake_row(task, name, raw, budget, metric, score, trace=None):
        seen[name] = raw["train"]
        raise StopIteration  # the settings are all this test needs

    monkeypatch.setattr(quality, "encoder_row", fake_row)
    with pytest.raises(StopIteration):
        quality.copy_memory(
            True, None, None, train={"max_steps": 9, "schedule": {"name": "cosine"}}
        )
    assert seen["tcn"]["max_steps"] == 9 and seen["tcn"]["schedule"] == {"name": "cosine"}
    assert seen["tcn"]["optimizer"]["name"] == "rmsprop"  # the task's own settings stay


def test_no_early_stopping_reaches_the_trainer_as_no_patience(monkeypatch, tmp_path):
    import benchmarks.quality as quality

    seen = {}

    def fake_task(task, quick, budget, models, length, raw, train, size):
        seen.update(train)
        raise StopIteration

    monkeypatch.setattr(quality, "run_task", fake_task)
    with pytest.raises(StopIteration):
        quality.main(["copy", "--max-steps", "99", "--no-early-stopping", "--out", str(tmp_path)])
    assert seen == {"max_steps": 99, "early_stopping": {"patience": None}}


def test_the_uea_table_keeps_the_stored_runs_commit_and_its_spread(tmp_path, monkeypatch):
    # the classification benchmark's table (its peers need aeon): read, never rerun, and
    # each row names the commit that made it, not the commit that copied it
    from benchmarks import quality

    stored = {
        "meta": {"commit": "abcdef0123456789", "seeds": [0, 1, 2],
                 "load_average_at_start": [1.0, 1.0, 1.0], "load_average_at_end": [2.0, 1.0, 1.0]},
        "datasets": {"ArrowHead": {"test_examples": 175, "rows": {
            "seqlab default": {"accuracy": 0.7, "accuracy_sd": 0.03, "fit_s": 60.0},
            "logistic regression (flattened)": {"accuracy": 0.73, "fit_s": 0.02}}}},
    }  # fmt: skip
    (tmp_path / "classification.json").write_text(json.dumps(stored))
    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    result = quality.run_task("uea", quick=False, budget=None, models=None)
    assert [r["model"] for r in result["rows"]] == [
        "ArrowHead: seqlab default",
        "ArrowHead: logistic regression (flattened)",
    ]
    assert {r["commit"] for r in result["rows"]} == {"abcdef0"}
    assert all("benchmarks/classification.py" in r["command"] for r in result["rows"])
    path = tmp_path / "quality_uea.json"
    path.write_text(json.dumps(result))
    text = "\n".join(quality._section("uea", path))
    assert "| ArrowHead: seqlab default | test accuracy % | 70 ± 3.0 |" in text
    assert "| 73 |" in text and "Data: ArrowHead 175 test." in text
    assert "early stopping" in text and "commit abcdef0" in text


def test_a_set_rerun_alone_names_its_own_commit_and_the_others_keep_the_runs(monkeypatch):
    from benchmarks import quality

    meta = {"commit": "abcdef0123", "seeds": [0, 1, 2], "load_average_at_start": [1.0],
            "load_average_at_end": [2.0]}  # fmt: skip
    rows = {"seqlab default": {"accuracy": 0.7, "fit_s": 60.0}}
    stored = {"meta": meta, "datasets": {
        "ArrowHead": {"test_examples": 175, "rows": rows, "commit": "1234567890",
                      "command": "python benchmarks/classification.py --only ArrowHead",
                      "load": [1.5, 1.6]},
        "GunPoint": {"test_examples": 150, "rows": rows}}}  # fmt: skip
    made = {r["model"]: (r["commit"], r["command"], r["load"])
            for r in quality._uea_rows(stored, None)}  # fmt: skip
    assert made["ArrowHead: seqlab default"] == (
        "1234567",
        "python benchmarks/classification.py --only ArrowHead",
        [1.5, 1.6],
    )
    commit, command, load = made["GunPoint: seqlab default"]
    assert commit == "abcdef0" and "--only" not in command and load == [1.0, 2.0]


BROKEN_TABLES = [  # (the file's text, what the uea and forecasting messages say)
    ('{"meta": {"commit": "abc"', "not JSON", "not JSON"),
    ('{"datasets": {}}', "no key 'meta'", "no key 'results'"),
    ('{"meta": [], "results": []}', "not the table", "not the table"),
]


@pytest.mark.parametrize("text, uea_says, forecasting_says", BROKEN_TABLES)
def test_a_stored_table_that_is_not_its_writers_json_is_one_line_naming_it(
    tmp_path, monkeypatch, text, uea_says, forecasting_says
):
    from benchmarks import quality

    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    for task, stem, says in [("uea", "classification", uea_says),
                             ("forecasting", "forecasting", forecasting_says)]:  # fmt: skip
        (tmp_path / f"{stem}.json").write_text(text)
        with pytest.raises(SystemExit) as stop:
            quality.TASKS[task](quick=True, budget=None, models=None)
        message = str(stop.value)
        assert message.startswith(f"{tmp_path / stem}.json: ") and says in message
        assert f"rerun benchmarks/{stem}.py" in message and "\n" not in message


def test_a_train_size_run_stands_beside_the_default_ones_row_and_names_its_data(tmp_path):
    from benchmarks.quality import merged, table

    default = {**_adding_row("tcn", 7e-5, True), "data": "T=600, 20000 train / 1000 test"}
    bigger = {**_adding_row("tcn", 5e-5, True), "data": "T=600, 50000 train / 1000 test"}
    path = tmp_path / "quality_adding.json"
    path.write_text(json.dumps({"commit": "aaa", "command": "old", "rows": [default]}))
    rows = merged(path, {"rows": [bigger]})["rows"]
    assert [r["value"] for r in rows] == [7e-5, 5e-5]
    again = {**bigger, "value": 4e-5}  # the same data again: it replaces its row
    path.write_text(json.dumps({"rows": rows}))
    assert [r["value"] for r in merged(path, {"rows": [again]})["rows"]] == [7e-5, 4e-5]
    lines = table({"rows": rows}).splitlines()
    assert lines[0].startswith("| model | data | inputs |")
    assert lines[3].startswith("| tcn | T=600, 50000 train / 1000 test | standardized |")
    assert "| data |" not in table({"rows": [default]})


REFUSED_SIZES = [
    ["copy", "--train-size", "100"],
    ["adding", "--train-size", "0"],
    ["adding", "--quick", "--train-size", "100"],
]


@pytest.mark.parametrize("argv", REFUSED_SIZES)
def test_train_size_is_refused_where_it_means_nothing(argv, capsys):
    from benchmarks.quality import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert "--train-size" in capsys.readouterr().err


def test_a_row_trained_on_a_gpu_stands_beside_the_cpus_and_says_so(tmp_path):
    import torch
    from benchmarks.quality import _section, device_facts, merged

    assert device_facts(torch.device("cpu")) == {}  # the CPU rows every table holds
    cpu = {**_adding_row("gru", 0.0204, True), "task": "copy", "metric": "test loss"}
    gpu = {**cpu, "value": 0.0105, "device": "cuda (NVIDIA H200)", "torch": "2.11.0+cu130"}
    path = tmp_path / "quality_copy.json"
    path.write_text(json.dumps({"commit": "aaa", "command": "old", "torch": "2.13.0+cpu",
                                "threads": 1, "rows": [cpu]}))  # fmt: skip
    result = merged(path, {"rows": [gpu]})
    assert [r["value"] for r in result["rows"]] == [0.0204, 0.0105]
    path.write_text(json.dumps(result))
    text = "\n".join(_section("copy", path))
    assert "| gru | default | test loss | 0.0204 |" in text
    assert "| gru | on cuda (NVIDIA H200) | test loss | 0.0105 |" in text
    assert "torch 2.13.0+cpu, 1 threads" in text and "ran torch 2.11.0+cu130 there" in text


def test_the_summary_sets_each_kinds_best_row_on_the_cpu_and_on_a_gpu_beside_the_paper(tmp_path):
    from benchmarks.quality import against_the_paper

    def row(model, kind, value, device=None, data="T=600, 20000 train / 1000 test"):
        r = {"model": model, "value": value, "data": data,
             "settings": {"model": {"encoder": {"kind": kind}}, "train": {}}}  # fmt: skip
        return {**r, "device": device} if device else r

    adding = [row("tcn", "tcn", 7e-5), row("tcn", "tcn", 6e-5),
              row("tcn", "tcn", 5e-5, "cuda (H200)", "T=600, 50000 train / 1000 test"),
              row("lstm_chrono", "lstm", 1e-4), row("predict 1", None, 0.17)]  # fmt: skip
    copy = [row("lstm", "lstm", 0.02039, data="T=1000")]
    (tmp_path / "quality_adding.json").write_text(json.dumps({"rows": adding}))
    (tmp_path / "quality_copy.json").write_text(json.dumps({"rows": copy}))
    lines = against_the_paper(tmp_path)
    tcn = next(x for x in lines if x.startswith("| adding | TCN |"))
    assert tcn == ("| adding | TCN | 5.8e-05 | 6e-05 (tcn, 20000 train) | worse"
                   " | 5e-05 (tcn, 50000 train) | better |")  # fmt: skip
    assert "| adding | LSTM | 0.164 | 0.0001 (lstm_chrono, 20000 train) | better | — | — |" in lines
    assert "| adding | GRU | 5.3e-05 | — | — | — | — |" in lines  # no row of that kind
    assert "| copy | LSTM | 0.0204 | 0.02039 (lstm) | within 1% | — | — |" in lines  # the plateau
    assert "| smnist | TCN | 99 | — | — | — | — |" in lines  # no table yet
