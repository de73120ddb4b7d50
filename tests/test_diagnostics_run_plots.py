"""The pictures of a run: each plot function on small data, and what a short run leaves in
plots/. ``assert_picture`` (a PNG of a sensible size, not blank in its plot area) is also
what tests/test_examples.py applies to every example's plots."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from seqlab.diagnostics import plots_available

pytestmark = pytest.mark.skipif(not plots_available(), reason="plots need matplotlib")


def assert_picture(path: Path, min_side: int = 300) -> None:
    """A PNG that decodes, at least ``min_side`` pixels a side, with more than one colour
    in its middle (where the plot area is)."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = imread(path)  # (H, W, 3 or 4) floats
    h, w = image.shape[:2]
    assert h >= min_side and w >= min_side, (path, image.shape)
    middle = image[h // 5 : h - h // 5, w // 5 : w - w // 5, :3].reshape(-1, 3)
    assert len(np.unique(middle, axis=0)) > 1, f"{path}: blank plot area"


def test_steps_plots_draw_lr_and_the_pre_clip_norm(tmp_path):
    from seqlab.diagnostics.run_plots import plot_steps, read_steps

    csv = tmp_path / "steps.csv"
    rows = ["epoch,step,loss,grad_norm,lr,finite"]
    rows += [f"0,{i},{1 / (i + 1)},{10.0 ** (i % 5)},{1e-3 * (1 - i / 20)},True" for i in range(20)]
    csv.write_text("\n".join(rows) + "\n")
    steps = read_steps(csv)
    assert steps["grad_norm"][3] == 1000.0 and np.isnan(steps["finite"]).all()
    written = plot_steps(steps, tmp_path / "plots", clip_norm=1.0)
    assert [p.name for p in written] == ["lr.png", "grad_norm.png"]
    for p in written:
        assert_picture(p)
    assert plot_steps({}, tmp_path / "none") == []


def test_confusion_attention_forecast_pictures(tmp_path):
    from seqlab.diagnostics.run_plots import (
        plot_attention,
        plot_confusion,
        plot_forecast,
        plot_regression,
    )

    true = np.linspace(0, 2, 20)
    assert_picture(plot_regression(true, true + 0.1 * np.sin(true * 9), tmp_path / "r.png"))

    assert_picture(plot_confusion([0, 1, 2, 2], [0, 2, 2, 1], ["a", "b", "c"], tmp_path / "c.png"))
    w = np.random.default_rng(0).dirichlet(np.ones(5), size=4)  # (4 out, 5 src)
    pairs = [(list("ab cd"), list("xy\nz"), w)] * 2
    assert_picture(plot_attention(pairs, tmp_path / "a.png"))
    t = np.linspace(0, 6, 30)
    band = (np.sin(t[:6]) - 0.2, np.sin(t[:6]) + 0.2, "0.1-0.9 quantile band")
    p = plot_forecast(np.cos(t), np.sin(t[:6]), np.sin(t[:6]), band, tmp_path / "f.png", "y")
    assert_picture(p)


def _config(tmp_path, task_section, data, model, **train):
    config = {
        "task": task_section,
        "data": data,
        "model": model,
        "train": {"epochs": 2, "max_steps": 4, "progress": False, "clip": {"norm": 0.5}, **train},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_short_classification_run_leaves_its_pictures(tmp_path, capsys):
    from seqlab.cli import main

    csv = tmp_path / "reviews.csv"
    words = {"good": "good fine great", "bad": "bad poor awful", "meh": "so so okay"}
    rng = np.random.default_rng(0)
    lines = ["text,label"] + [
        f"{' '.join(rng.choice(w.split(), 4))},{label}"
        for label, w in words.items()
        for _ in range(20)
    ]
    csv.write_text("\n".join(lines) + "\n")
    data = {"train": str(csv), "batch_size": 8, "val_fraction": 0.25}
    model = {"encoder": {"kind": "gru", "hidden_size": 8}}
    out = tmp_path / "run"
    path = _config(tmp_path, "classification", data, model, metrics=["accuracy"])
    assert main(["train", str(path), "--out", str(out)]) == 0, capsys.readouterr().err
    names = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert names == ["accuracy.png", "confusion.png", "grad_norm.png", "loss.png", "lr.png"]
    for name in names:
        assert_picture(out / "plots" / name)


def test_a_language_model_logs_samples_each_epoch(tmp_path, capsys):
    from seqlab.cli import main

    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 40)
    data = {"train": str(text), "tokenizer": "char", "batch_size": 4, "bptt": 16}
    model = {"encoder": {"kind": "lstm", "hidden_size": 8}}
    out = tmp_path / "run"
    path = _config(tmp_path, "language_model", data, model, max_steps=None, epochs=2)
    torch.manual_seed(0)
    assert main(["train", str(path), "--out", str(out)]) == 0, capsys.readouterr().err
    samples = (out / "samples.txt").read_text()
    assert samples.count("=== epoch") == 2 and samples.count("--- sample") == 4
    assert "=== epoch 1: prompt 'the dog sat on the log.\\nthe cat sat on t'" in samples
