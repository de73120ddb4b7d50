"""``task: music`` end to end on small files the test writes: the run config, the split,
the baselines beside the NLL, a saved run, and ``seqlab generate`` writing MIDI, PNG and
WAV; every bad input is one clear line."""

import json

import numpy as np
import pytest
import yaml

from seqlab import load_run, run_config, train_run
from seqlab.cli import main
from seqlab.config import ConfigError
from seqlab.data.music import save_rolls_npz
from seqlab.music import read_midi, write_midi
from seqlab.tasks.music import MusicTask

K = 88


def chorale_like(n=20, seed=0):
    """Pieces of three-note chords, each held two frames."""
    rng = np.random.default_rng(seed)
    rolls = []
    for _ in range(n):
        r = np.zeros((16, K), np.float32)
        for i in range(8):
            r[2 * i : 2 * i + 2, rng.choice(np.arange(39, 51), 3, replace=False)] = 1
        rolls.append(r)
    return rolls


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run directory shared by the bad-argument cases."""
    folder = tmp_path_factory.mktemp("music")
    save_rolls_npz(folder / "pieces.npz", chorale_like())
    train_run(run_config(config(folder / "pieces.npz", epochs=1)), folder / "run")
    return folder / "run"


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "pieces.npz"
    save_rolls_npz(path, chorale_like())
    return path


def config(train, **train_section):
    return {
        "task": "music",
        "data": {"train": str(train), "batch_size": 3, "val_fraction": 0.2, "test_fraction": 0.2},
        "model": {"encoder": {"kind": "gru", "hidden_size": 16}},
        "train": {"epochs": 2, "progress": False, **train_section},
    }


def test_a_run_logs_the_nll_beside_both_baselines_and_reloads(npz, tmp_path):
    run = train_run(run_config(config(npz)), tmp_path / "run")
    assert [len(run.task.splits.get(s)) for s in ("train", "val", "test")] == [12, 4, 4]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    test = summary["metrics"]["test"]
    assert set(test) == {"loss", "frame_nll", "frequency_nll", "repeat_nll"}
    assert test["loss"] == pytest.approx(test["frame_nll"], rel=1e-5)  # val_loss is the NLL
    again = load_run(tmp_path / "run")
    assert isinstance(again.task, MusicTask) and again.task.epsilon == run.task.epsilon
    assert again.evaluate("test")["frame_nll"] == pytest.approx(test["frame_nll"], rel=1e-6)
    row = next(again.predict([chorale_like(1, seed=9)[0]]))
    assert len(row["probabilities"]) == K and all(21 <= p <= 108 for p in row["next_notes"])


def test_midi_files_in_a_folder_are_the_training_pieces(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i, r in enumerate(chorale_like(10)):
        write_midi(r, folder / f"{i:02d}.mid", step=0.5)
    cfg = config(folder)
    cfg["data"]["step"] = 0.5
    run = train_run(run_config(cfg))
    assert sum(len(run.task.splits.get(s)) for s in ("train", "val", "test")) == 10
    assert all(r.shape == (16, K) for r in run.task.splits.train)


def test_seqlab_generate_writes_midi_png_and_wav_with_the_generated_notes(npz, tmp_path, capsys):
    cfg = tmp_path / "m.yaml"
    cfg.write_text(yaml.safe_dump(config(npz)))
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 0
    out = tmp_path / "piece.mid"
    argv = ["generate", str(tmp_path / "run"), "--length", "24", "--out", str(out),
            "--max-notes", "4", "--seed", "3"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert f"midi\t{out}" in printed and "wav\t" in printed
    assert out.with_suffix(".wav").stat().st_size > 44
    if "png\tnot drawn" not in printed:
        assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    # the notes in the file are the primer (2 bars = 8 frames of test piece 0) and then
    # what the model sampled: the same seed gives the same roll through the Python API
    run = load_run(tmp_path / "run")
    roll, primed = run.task.generate(run.model, 24, prime="test", seed=3, max_notes=4)
    assert primed == 8 and roll.shape == (32, K)
    from seqlab.data.music import piano_roll

    back = piano_roll(read_midi(out), step=1.0)
    assert np.array_equal(back, roll[: len(back)]) and not roll[len(back) :].any()
    # from silence: only the sampled frames
    assert main(["generate", str(tmp_path / "run"), "--prime", "silence", "--length", "5",
                 "--out", str(tmp_path / "s.mid"), "--min-notes", "2"]) == 0  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [(["--temperature", "0"], "--temperature must be > 0, got 0"),
     (["--temperature", "-1"], "--temperature must be > 0, got -1"),
     (["--out", "{tmp}/missing/piece.mid"], "missing/piece.mid: cannot write the MIDI file: folder"),
     (["--out", "{tmp}"], "the MIDI file path is a directory"),
     (["--prime-index", "99"], "--prime-index must be"),
     (["--prime-bars", "9"], "--prime-bars must be"),
     (["--min-notes", "5", "--max-notes", "3"], "--max-notes must be"),
     (["--top-k", "3"], "--top-k applies to a language-model run, not a music run"),
     (["--prompt", "hello"], "--prompt is text for a language model")],
)  # fmt: skip
def test_generate_bad_arguments_are_one_line_and_exit_2(trained, tmp_path, capsys, args, message):
    run_dir = trained
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = main(
        ["generate", str(run_dir), "--length", "4", "--out", str(tmp_path / "p.mid"), *args]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "p.mid").exists() or "--out" in args


def test_bad_data_is_named(tmp_path):
    empty = tmp_path / "empty.npz"
    np.savez(empty, x=np.zeros((0, K), np.uint8), offsets=np.array([0, 0]))
    with pytest.raises(
        ValueError, match=r"empty\.npz: piece 0 is empty: a piano roll needs at least one frame"
    ):
        train_run(run_config(config(empty)))
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((4, 12), np.uint8), offsets=np.array([0, 4]))
    with pytest.raises(ValueError, match=r"wrong\.npz: piece 0 must be a \(T, 88\) piano roll"):
        train_run(run_config(config(wrong)))
    text = tmp_path / "notes.txt"
    text.write_text("C E G")
    with pytest.raises(ValueError, match=r"notes\.txt: expected a \.mid file, a folder of them"):
        train_run(run_config(config(text)))
    with pytest.raises(ConfigError, match=r"data: step must be a number > 0"):
        run_config({**config(text), "data": {"train": str(text), "step": 0}})


def test_a_language_model_run_refuses_music_options(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("abcabcabc " * 200)
    cfg = {"task": "language_model", "data": {"train": str(text), "batch_size": 2, "bptt": 8},
           "model": {"encoder": {"kind": "gru", "hidden_size": 8}},
           "train": {"epochs": 1, "max_steps": 2, "progress": False}}  # fmt: skip
    train_run(run_config(cfg), tmp_path / "lm")
    code = main(["generate", str(tmp_path / "lm"), "--out", "x.mid"])
    assert code == 2 and "--out applies to a music run" in capsys.readouterr().err


def test_seqlab_predict_reads_midi_paths_one_a_line(trained, tmp_path, capsys):
    write_midi(chorale_like(1, seed=4)[0], tmp_path / "a.mid")
    lines = tmp_path / "in.txt"
    lines.write_text(f"{tmp_path / 'a.mid'}\n")
    assert main(["predict", str(trained), str(lines), "--format", "jsonl"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert len(row["probabilities"]) == K and isinstance(row["next_notes"], list)
    lines.write_text(f"{tmp_path / 'none.mid'}\n")
    assert main(["predict", str(trained), str(lines)]) == 2
    assert "none.mid: file not found" in capsys.readouterr().err


def test_a_dataset_that_is_not_music_is_named():
    cfg = {"task": "music", "data": {"dataset": "shakespeare"}, "train": {"progress": False}}
    with pytest.raises(
        ConfigError,
        match=r"data\.dataset: 'shakespeare' is not a music dataset; expected one of \['bach_chorales'\]",
    ):
        train_run(run_config(cfg))


@pytest.mark.slow
def test_an_lstm_on_the_real_chorales_beats_both_baselines():
    """The example's model for 12 epochs on the chorales (the full numbers are in
    benchmarks/music.py): below the key-frequency and repeat-last floors on test."""
    pytest.importorskip("music21")
    from pathlib import Path

    cfg = yaml.safe_load(
        (Path(__file__).parent.parent / "examples" / "chorales_lstm.yaml").read_text()
    )
    cfg["train"].update(epochs=12, progress=False)
    run = train_run(run_config(cfg))
    test = run.evaluate("test")
    assert test["frame_nll"] < 0.92 * min(test["frequency_nll"], test["repeat_nll"]), test
