"""benchmarks/classification_sweep.py: one fit per (dataset, candidate, seed) on a tiny
``.ts`` set, and the summary's seed ensemble (the mean of the seeds' probabilities)."""

import json

import numpy as np
from benchmarks.classification_sweep import CANDIDATES, data_section, fit, merged, summary

TS = "@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n"
TS += "@classLabel true up down\n@data\n"


def _toy(folder, name, n, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        t, up = int(rng.integers(4, 12)), i % 2 == 0
        a, b = np.cumsum(rng.normal(1.0 if up else -1.0, 0.1, t)), rng.normal(size=t)
        lines.append(f"{','.join(map(str, a))}:{','.join(map(str, b))}:{'up' if up else 'down'}")
    (folder / f"{name}.ts").write_text(TS + "\n".join(lines) + "\n")


def test_a_fit_keeps_the_test_probabilities(tmp_path):
    (tmp_path / "Toy").mkdir()
    _toy(tmp_path / "Toy", "Toy_TRAIN", 30, 0)
    _toy(tmp_path / "Toy", "Toy_TEST", 12, 1)
    data = data_section("Toy", tmp_path)
    change = merged(CANDIDATES["label_smoothing0.1"], {"train": {"epochs": 2, "max_steps": 3}})
    assert change == {"model": {"label_smoothing": 0.1}, "train": {"epochs": 2, "max_steps": 3}}
    row = fit("Toy", data, "ls", change, seed=0)
    p = np.asarray(row["probabilities"])
    assert p.shape == (12, 2) and np.allclose(p.sum(1), 1.0, atol=1e-4)
    assert row["accuracy"] == np.mean(p.argmax(1) == np.asarray(row["targets"]))
    assert row["epochs"] <= 2 and row["model"].startswith("tcn")


def test_the_summary_scores_the_mean_of_the_seeds_probabilities(tmp_path):
    y = [0, 1, 1]
    probs = {0: [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]],  # 2 of 3 right
             1: [[0.6, 0.4], [0.3, 0.7], [0.45, 0.55]],  # 3 of 3
             2: [[0.4, 0.6], [0.45, 0.55], [0.7, 0.3]]}  # 1 of 3  # fmt: skip
    lines = [
        {"dataset": "d", "candidate": "c", "change": {}, "seed": s, "targets": y,
         "probabilities": p, "accuracy": float(np.mean(np.argmax(p, 1) == y)), "fit_s": 1.0,
         "epochs": 3, "load": [0.0, 0.0], "model": "tcn"}
        for s, p in probs.items()
    ]  # fmt: skip
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    row = summary(path)["d"]["c"]
    assert row["seeds"] == [0, 1, 2] and row["median"] == round(2 / 3, 4)
    # mean probabilities: [0.633, 0.367], [0.45, 0.55], [0.45, 0.55] -> all 3 right
    assert row["ensemble_of_seeds"] == 1.0 and row["mean"] == round(2 / 3, 4)
