"""The neural peers of ``benchmarks/forecasting.py`` on its splits, run in a throwaway venv.

Not a seqlab dependency: run with the peers' own Python, on series exported by the
seqlab venv, e.g.::

    .venv/bin/python benchmarks/forecasting.py --export /tmp/series.npz
    /tmp/peers/bin/python benchmarks/forecasting_peers.py /tmp/series.npz \
        --models nf-lstm nf-tcn darts-tcn --out /tmp/peers.json

Every peer is fitted once on all steps before the test part and forecasts every test
window from the history before its origin without refitting (the benchmark's split),
scored by the same MASE (in-sample seasonal naive MAE of the steps before the test).
neuralforecast's :meth:`NeuralForecast.cross_validation` with ``refit=False`` and
``step_size=1`` is exactly that split; darts' ``historical_forecasts(retrain=False)`` too.
Settings: neuralforecast LSTM and TCN with the issue's input 36 and 500 steps on airline
(its figures 0.752 and 0.827), the same 500 steps elsewhere with an input of two seasons
(sunspots 22) or a week (electricity 336); darts TCNModel as the earlier run had it
(input 336, 3 epochs, on electricity). ``train_s`` is the fit alone (neuralforecast's:
the fit and the test windows' forecasts). ``--seeds 1 2 3``: the row is the median
over those seeds (each seed's MASE and time alongside).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

# name -> the benchmark's split (as in forecasting.py's DATASETS) and the peers' input
SPLITS = {
    "airline": {"horizon": 24, "test_size": 24, "season": 12, "input": 36, "freq": "MS"},
    "electricity": {"horizon": 48, "test_size": 336, "season": 48, "input": 336, "freq": "30min"},
    "sunspots": {
        "horizon": 20,
        "test_size": 20,
        "season": 11,
        "input": 22,
        "freq": "YS",
        "start": "1700-01-01",
    },
}


def mase(forecasts: np.ndarray, series: np.ndarray, origins: list[int], m: int) -> float:
    """As benchmarks/forecasting.py's: MAE over the test windows / in-sample naive MAE."""
    H = forecasts.shape[1]
    truth = np.stack([series[o : o + H] for o in origins])
    insample = series[: origins[0]]
    return float(np.abs(forecasts - truth).mean() / np.abs(insample[m:] - insample[:-m]).mean())


def neuralforecast_row(kind: str, y: np.ndarray, split: dict, steps: int, seed: int):
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM, TCN

    H, n_test = split["horizon"], split["test_size"]
    n_windows = n_test - H + 1
    dates = pd.date_range(split.get("start", "2000-01-01"), periods=len(y), freq=split["freq"])
    df = pd.DataFrame({"unique_id": "s", "ds": dates, "y": y})
    cls = {"lstm": LSTM, "tcn": TCN}[kind]
    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False}
    model = cls(h=H, input_size=split["input"], max_steps=steps, random_seed=seed, **quiet)
    nf = NeuralForecast(models=[model], freq=split["freq"])
    start = time.perf_counter()
    cv = nf.cross_validation(df, n_windows=n_windows, step_size=1, refit=False)
    seconds = time.perf_counter() - start  # the fit and the windows' forecasts
    name = type(model).__name__
    cv = cv.sort_values(["cutoff", "ds"])
    forecasts = cv[name].to_numpy().reshape(n_windows, H)
    return forecasts, seconds


def darts_tcn_row(y: np.ndarray, split: dict, epochs: int, seed: int):
    import pandas as pd
    from darts import TimeSeries
    from darts.models import TCNModel

    H, n = split["horizon"], len(y)
    start_test = n - split["test_size"]
    dates = pd.date_range(split.get("start", "2000-01-01"), periods=n, freq=split["freq"])
    ts = TimeSeries.from_times_and_values(dates, y.astype(np.float32))
    model = TCNModel(
        input_chunk_length=split["input"], output_chunk_length=H, n_epochs=epochs,
        random_state=seed, pl_trainer_kwargs={"enable_progress_bar": False, "logger": False,
                                              "enable_model_summary": False},
    )  # fmt: skip
    start = time.perf_counter()
    model.fit(ts[:start_test])
    seconds = time.perf_counter() - start
    fc = model.historical_forecasts(
        ts, start=start_test, forecast_horizon=H, stride=1, retrain=False,
        last_points_only=False, verbose=False,
    )  # fmt: skip
    return np.stack([f.values()[:, 0] for f in fc]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("series", help="npz from forecasting.py --export: one array a dataset")
    parser.add_argument("--datasets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--models", nargs="+", default=["nf-lstm", "nf-tcn"],
                        choices=["nf-lstm", "nf-tcn", "darts-tcn"])  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=int, default=[1], help="the median is the row")
    parser.add_argument("--steps", type=int, default=500, help="neuralforecast max_steps")
    parser.add_argument("--darts-epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    arrays = np.load(args.series)
    load = os.getloadavg()
    rows: dict[str, dict] = {}
    for name in args.datasets:
        y, split = np.asarray(arrays[name], np.float64), SPLITS[name]
        origins = list(range(len(y) - split["test_size"], len(y) - split["horizon"] + 1))
        for m in args.models:
            scores, times, loads = [], [], []
            for seed in args.seeds:
                loads.append(os.getloadavg()[0])
                if m == "darts-tcn":
                    import darts

                    f, s = darts_tcn_row(y, split, args.darts_epochs, seed)
                    label = f"darts TCNModel (input {split['input']}, {args.darts_epochs} epochs)"
                    version = darts.__version__
                else:
                    import neuralforecast

                    f, s = neuralforecast_row(m[3:], y, split, args.steps, seed)
                    kind = m[3:].upper()
                    label = f"neuralforecast {kind} (input {split['input']}, {args.steps} steps)"
                    version = neuralforecast.__version__
                scores.append(mase(f, y, origins, split["season"]))
                times.append(s)
                print(f"{name} {label} seed {seed}: MASE {scores[-1]:.3f} ({s:.1f} s, "
                      f"load {loads[-1]:.1f})", flush=True)  # fmt: skip
            row = {"mase": statistics.median(scores), "train_s": statistics.median(times),
                   "version": version, "torch": torch.__version__, "threads": args.threads,
                   "load_before": loads[0], "seeds": args.seeds}  # fmt: skip
            if len(args.seeds) > 1:
                row.update(min=min(scores), max=max(scores), mase_each=scores,
                           train_s_each=times, load_before_each=loads)  # fmt: skip
            rows.setdefault(name, {})[label] = row
    meta = {"load_average": load, "python": platform.python_version(), "threads": args.threads}
    with open(args.out, "w") as fh:
        json.dump({**rows, "_meta": meta}, fh, indent=2)


if __name__ == "__main__":
    main()
