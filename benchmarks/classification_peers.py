"""Peers for benchmarks/classification.py, run in a throwaway environment with aeon and
scikit-learn (seqlab does not depend on either): MiniRocket and logistic regression.

Run: ``PEERS_PYTHON benchmarks/classification_peers.py SPLITS_DIR OUT.json`` where
SPLITS_DIR holds the splits ``classification.py --export SPLITS_DIR`` wrote (one
``NAME.npz`` per dataset: ragged ``x_<split>`` with ``offsets_<split>`` and ``y_<split>``
for train, val and test, the very examples seqlab trains, validates and tests on). The
peers fit on train + val (they need no validation data), and are scored on test;
MiniRocket also on train alone (the examples seqlab fits its weights on), seed 0.

* **MiniRocket** (Dempster et al. 2021, aeon's ``MiniRocketClassifier``: 10,000 random
  convolutional features, then a ridge classifier with cross-validated penalty), on series
  padded to the longest length (aeon's unequal-length path pads the same way);
* **logistic regression** on the flattened input (steps x channels), every series padded
  with zeros to the longest training one (or cut to it), each feature standardized on the
  training data: the baseline that ignores the order of the steps.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np


def _split(z, name: str) -> tuple[list[np.ndarray], np.ndarray]:
    x, off, y = z[f"x_{name}"], z[f"offsets_{name}"], z[f"y_{name}"]
    return [x[a:b] for a, b in itertools.pairwise(off)], y


def _padded(seqs: list[np.ndarray], length: int) -> np.ndarray:
    """(N, T, C) zero-padded (or cut) to ``length`` steps."""
    out = np.zeros((len(seqs), length, seqs[0].shape[1]), dtype=np.float64)
    for i, s in enumerate(seqs):
        out[i, : min(len(s), length)] = s[:length]
    return out


def minirocket(train, test, seeds=(0, 1, 2)) -> dict:
    """Mean test accuracy over ``seeds`` (its random biases and dilations), median fit time."""
    import aeon
    from aeon.classification.convolution_based import MiniRocketClassifier

    (xtr, ytr), (xte, yte) = train, test
    T = max(max(map(len, xtr)), max(map(len, xte)))
    accs, fits = [], []
    for seed in seeds:
        start = time.perf_counter()
        clf = MiniRocketClassifier(random_state=seed, n_jobs=1)
        clf.fit(_padded(xtr, T).transpose(0, 2, 1), ytr)  # aeon: (N, C, T)
        fits.append(time.perf_counter() - start)
        accs.append(float((clf.predict(_padded(xte, T).transpose(0, 2, 1)) == yte).mean()))
    note = f"MiniRocketClassifier(random_state={list(seeds)}, n_jobs=1), padded to the longest"
    return {"accuracy": float(np.mean(accs)), "accuracy_sd": float(np.std(accs, ddof=1))
            if len(accs) > 1 else 0.0, "fit_s": float(np.median(fits)), "seeds": accs,
            "version": f"aeon {aeon.__version__}", "note": note}  # fmt: skip


def logistic(train, test) -> dict:
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (xtr, ytr), (xte, yte) = train, test
    T = max(map(len, xtr))
    flat = lambda s: _padded(s, T).reshape(len(s), -1)  # noqa: E731
    start = time.perf_counter()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(flat(xtr), ytr)
    fit = time.perf_counter() - start
    acc = float((clf.predict(flat(xte)) == yte).mean())
    note = "StandardScaler + LogisticRegression(max_iter=2000) on the flattened input"
    version = f"scikit-learn {sklearn.__version__}"
    return {"accuracy": acc, "fit_s": fit, "version": version, "note": note}


def main() -> None:
    splits, out = Path(sys.argv[1]), Path(sys.argv[2])
    results = {}
    for path in sorted(splits.glob("*.npz")):
        with np.load(path) as z:
            tr, va, te = (_split(z, s) for s in ("train", "val", "test"))
        train = (tr[0] + va[0], np.concatenate([tr[1], va[1]]))
        rows = {"logistic regression (flattened)": logistic(train, te),
                "aeon MiniRocket": minirocket(train, te),
                "aeon MiniRocket (train only)": minirocket(tr, te, seeds=(0,))}  # fmt: skip
        for name, row in rows.items():
            print(f"{path.stem:<16} {name:<34} {row['accuracy']:.4f} {row['fit_s']:7.1f} s")
        results[path.stem] = rows
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
