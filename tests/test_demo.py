import pytest

from seqlab import demo


def test_demo_loss_falls_below_trivial_baseline():
    # Predicting 1.0 always gives MSE ≈ 0.167 on the adding problem.
    val = demo.main(["--adding", "--steps", "600", "--length", "50", "--seed", "0"])
    assert val < 0.02


def test_shakespeare_demo_runs_end_to_end(tmp_path, capsys):
    # the main job, a few steps of a tiny LSTM: run directory, a sample, what to try next
    demo.main(["--steps", "2", "--epochs", "1", "--hidden", "16", "--sample", "40",
               "--out", str(tmp_path / "demo"), "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert "bits per character" in out and "ROMEO." in out and "try next:" in out
    assert (tmp_path / "demo" / "best").is_dir() and (tmp_path / "demo" / "plots").is_dir()


@pytest.mark.parametrize(
    "argv", [["--steps", "0"], ["--hidden", "0"], ["--adding", "--steps", "-1"]]
)
def test_a_zero_size_is_refused_not_read_as_the_default(argv, capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(argv)
    assert e.value.code == 2 and "must be a positive int" in capsys.readouterr().err
