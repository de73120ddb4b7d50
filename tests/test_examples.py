"""Every example config runs end to end for a few steps, through the command line, and
its run directory answers evaluate and predict / generate / forecast, so none goes stale.
The examples' full results are in the README (measured with the configs as they are)."""

from pathlib import Path

import pytest
import yaml

from seqlab.cli import main
from seqlab.cli.info import dataset_available
from seqlab.data import list_datasets

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
INSTALL = {d.name: d.install for d in list_datasets()}
CONDITIONS = {"rotten_tomatoes": ["fresh", "rotten"]}  # conditioned generation's labels
INPUTS = {  # one input per task for predict
    "classification": "a good and moving film",
    "tagging": "Ada met Alan in London .",
    "seq2seq": "Tuesday, 3 May 1994",
}


def test_there_is_an_example_per_task():
    tasks = {yaml.safe_load(p.read_text())["task"] for p in EXAMPLES}
    assert tasks == {
        "classification", "tagging", "language_model", "seq2seq", "forecasting", "music",
        "transcription", "transcription_attention",
    }  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_for_a_few_steps(path, tmp_path, capsys, monkeypatch):
    config = yaml.safe_load(path.read_text())
    dataset = config["data"].get("dataset")
    if dataset is not None and not dataset_available(INSTALL[dataset]):
        pytest.skip(f"{dataset} needs: {INSTALL[dataset]}")
    monkeypatch.chdir(ROOT)  # the examples name their files from the project root
    small = "1000" if config["task"] == "forecasting" else "20000"
    if config["task"] in ("classification", "seq2seq", "tagging"):
        small = "200"
    if config["task"] == "music":
        small = "12"  # the first 12 chorales: a short parse
    if config["data"].get("condition", "none") != "none":  # records, not characters
        small = "200"
    out = tmp_path / "run"
    sets = ["train.max_steps=3", "train.epochs=1", "train.progress=false", f"data.limit={small}"]
    if dataset == "spoken_words":  # 40 words: clips synthesized in seconds on a new machine
        sets.append("data.options.n_words=40")
    argv = ["train", str(path), "--out", str(out)] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 0, capsys.readouterr().err
    check_pictures(out, config)
    assert main(["evaluate", str(out), "--split", "val", "--json"]) == 0
    task = config["task"]
    if task in INPUTS:
        line = tmp_path / "in.txt"
        text = INPUTS[task]
        if dataset in ("adding_problem", "mnist"):  # feature sequences: steps as JSON
            text = (
                "[[0.5, 1.0], [0.2, 0.0], [0.7, 1.0]]"
                if dataset == "adding_problem"
                else str([[0.0] * 28] * 28)
            )
        if dataset == "copy_memory":  # digits, blanks, then the markers
            text = " ".join(
                ["3", "1", "4", "1", "5", "9", "2", "6", "5", "3"] + ["0"] * 9 + ["9"] * 11
            )
        line.write_text(text + "\n")
        assert main(["predict", str(out), str(line)]) == 0
    elif task in ("transcription", "transcription_attention"):  # one spoken word to transcribe
        from seqlab.data.speech import synthesize

        clip = synthesize("garden", "en-us", 160, tmp_path / "clips")
        (tmp_path / "in.txt").write_text(f"{clip}\n")
        assert main(["predict", str(out), str(tmp_path / "in.txt")]) == 0
    elif task == "language_model" and dataset in CONDITIONS:  # one sample per condition
        given = [a for c in CONDITIONS[dataset] for a in ("--condition", c)]
        assert main(["generate", str(out), *given, "--length", "20"]) == 0
    elif task == "language_model":
        assert main(["generate", str(out), "--prompt", "ROMEO:", "--length", "20"]) == 0
    elif task == "forecasting":
        assert main(["forecast", str(out)]) == 0
    elif task == "music":
        piece = tmp_path / "piece.mid"
        assert main(["generate", str(out), "--length", "64", "--out", str(piece)]) == 0
        assert piece.stat().st_size > 0 and piece.with_suffix(".wav").stat().st_size > 0
    err = capsys.readouterr().err
    assert "error" not in err, err


def check_pictures(out: Path, config: dict) -> None:
    """Every PNG the run drew opens, is of a sensible size and is not blank; the task's
    own picture is among them (a language model logs samples instead)."""
    from seqlab.diagnostics import plots_available

    if not plots_available():
        return
    from test_diagnostics_run_plots import assert_picture

    pngs = {p.name: p for p in (out / "plots").glob("*.png")}
    assert {"loss.png", "lr.png", "grad_norm.png"} <= set(pngs), sorted(pngs)
    own = {"seq2seq": "attention.png", "forecasting": "forecast.png", "music": "piece.png"}.get(
        config["task"]
    )
    if config["task"] == "classification":  # the adding problem is a regression
        own = (
            "regression.png"
            if config["data"].get("dataset") == "adding_problem"
            else "confusion.png"
        )
    assert own is None or own in pngs, sorted(pngs)
    if config["task"] == "language_model":
        assert "--- sample 1" in (out / "samples.txt").read_text()
    for path in pngs.values():
        assert_picture(path)
