"""The quality benchmark's quick mode, as a smoke test (``make slow``): each task trains
its small models through the run layer and clears a loose bar that fails only when a
model does not learn at all (the script exits 1 then). The full runs are for
benchmarks/RESULTS.md, not for CI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.cli.info import dataset_available
from seqlab.data import list_datasets

ROOT = Path(__file__).resolve().parent.parent
NEEDS = {"smnist": "mnist", "pmnist": "mnist", "rows": "mnist", "sentiment": "rotten_tomatoes",
         "charlm": "shakespeare", "adding": None, "copy": None, "forecasting": None}  # fmt: skip
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
