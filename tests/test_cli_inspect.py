"""``seqlab inspect gradients`` and ``seqlab inspect receptive-field`` on a config and on a
run directory; bad input is one line and exit code 2."""

import json
import shutil

import pytest
import yaml

from seqlab.cli import main
from seqlab.diagnostics import plots_available

pytestmark = pytest.mark.skipif(not plots_available(), reason="plots need matplotlib")


def _config(tmp_path, kind="lstm", **encoder):
    config = {
        "task": "classification",
        "data": {"dataset": "adding_problem", "options": {"n": 96, "length": 24},
                 "batch_size": 16},
        "model": {"encoder": {"kind": kind, "hidden_size": 8, **encoder}},
        "train": {"epochs": 1, "max_steps": 2, "progress": False, "metrics": ["mae"]},
    }  # fmt: skip
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_gradients_compare_kinds_on_a_probe_of_length_t(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["inspect", "gradients", str(_config(tmp_path)), "--compare", "rnn,lstm,gru,tcn",
            "--length", "60", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "lstm (init)" in text and "first/last" in text
    data = json.loads((out / "gradients.json").read_text())
    assert list(data) == ["rnn (init)", "lstm (init)", "gru (init)", "tcn (init)"]
    assert all(len(d["norms"][0]) == 60 for d in data.values())
    ratio = {k: d["summary"][d["rows"][0]]["first_last_ratio"] for k, d in data.items()}
    assert ratio["rnn (init)"] < ratio["lstm (init)"]
    for name in ("gradients.png", "gradients_heatmap.png"):
        assert (out / name).stat().st_size > 5000


def test_gradients_and_field_of_a_run_directory(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(_config(tmp_path, "tcn", num_layers=2)), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["inspect", "gradients", str(run)]) == 0, capsys.readouterr().err
    data = json.loads((run / "plots" / "gradients.json").read_text())
    assert list(data) == ["tcn (init)", "tcn (trained)"]
    assert data["tcn (init)"]["rows"] == ["block 1", "block 2"]
    argv = ["inspect", "gradients", str(run), "--compare", "lstm", "--length", "30",
            "--out", str(tmp_path / "probe")]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((tmp_path / "probe" / "gradients.json").read_text())
    assert list(data) == ["lstm (init)", "tcn (trained)"]
    assert len(data["lstm (init)"]["norms"][0]) == 30
    assert main(["inspect", "receptive-field", str(run)]) == 0
    text = capsys.readouterr().out
    assert "receptive field 7 steps by the formula, 7 measured by gradients" in text
    assert (run / "plots" / "receptive_field.png").stat().st_size > 5000
    # a run directory without the checkpoint the pictures need
    bare = tmp_path / "bare"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("best*", "last*"))
    assert main(["inspect", "gradients", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint in this run directory" in err and len(err.strip().splitlines()) == 1


def test_gradients_of_a_config_read_the_data(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["inspect", "gradients", str(_config(tmp_path, "gru")), "--out", str(out)]) == 0
    data = json.loads((out / "gradients.json").read_text())
    assert len(data["gru (init)"]["norms"][0]) == 24  # the data's own length


def test_a_config_with_no_encoder_kind_is_inspected_as_it_will_train(tmp_path, capsys):
    """Numeric sequences with no kind get a TCN sized to the data (the classification
    task's model_defaults): inspect builds that one, not the generic default."""
    config = yaml.safe_load(_config(tmp_path).read_text())
    del config["model"]
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["inspect", "receptive-field", str(path), "--out", str(tmp_path / "rf")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tcn encoder: receptive field") and "measured" in out
    assert main(["inspect", "gradients", str(path), "--out", str(tmp_path / "g")]) == 0
    assert "tcn (init)" in json.loads((tmp_path / "g" / "gradients.json").read_text())


def test_an_encoder_it_cannot_measure_is_one_line(tmp_path, capsys):
    config = {
        "task": "forecasting",
        "data": {"dataset": "airline_passengers", "horizon": 4},
        "model": {"encoder": {"kind": "mlp", "hidden_size": 8}},
    }
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(config))
    out = str(tmp_path / "o")
    assert main(["inspect", "gradients", str(path), "--length", "12", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "this model's encoder is 'mlp'" in err and len(err.strip().splitlines()) == 1
    assert main(["inspect", "receptive-field", str(path), "--out", out]) == 2
    assert "this model's encoder is 'mlp'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["inspect", "gradients", "{cfg}", "--length", "0"], "--length must be >= 1"),
        (["inspect", "gradients", "{cfg}", "--compare", "lstm,cnn"], "--compare: expected"),
        (["inspect", "receptive-field", "{cfg}"], "a lstm encoder sees every earlier step"),
        (["inspect", "gradients", "{tmp}"], "not a run directory"),
        (["inspect", "gradients", "{tmp}/none.yaml"], "no such config file or run directory"),
    ],
    ids=["length-0", "kind", "recurrent-field", "not-a-run", "missing"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    cfg = _config(tmp_path)
    argv = [a.format(cfg=cfg, tmp=tmp_path) for a in argv]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
