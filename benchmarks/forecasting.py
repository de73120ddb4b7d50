"""Forecast quality with the default config: seqlab's LSTM and TCN vs seasonal naive and peers.

Run: ``.venv/bin/python benchmarks/forecasting.py`` (prints a table, writes
results/forecasting.json). ``--datasets airline electricity sunspots``, ``--seeds 0 1 2``,
``--models lstm tcn``, ``--variants default earlier calendar`` (the rows a run measures;
each row replaces its namesake in the file, the others stay, each with its own
``meta``: load, threads, versions, commit). ``--export FILE.npz`` writes the three
series for ``benchmarks/forecasting_peers.py`` (neuralforecast, darts' TCN) in another venv.

Each seqlab row is the config a new user writes: only the task, the data and the horizon
(plus the hold-out and season that define the benchmark), the encoder kind, nothing
else::

    task: forecasting
    data: {dataset: airline_passengers, horizon: 24, test_size: 24, season: 12}
    model: {encoder: {kind: tcn}}

Every row is scored the same way: the test part's windows (each forecast from the whole
history before its origin, through ``Run.predict``, in the data's units), MASE with the
seasonal naive in-sample MAE of all the steps before the test part (Hyndman & Koehler
2006; the scaling darts and statsforecast use, so that their numbers compare). Seasonal
naive (repeat the last season) is the baseline to beat: its MASE is not 1 because it is
scored out of sample. seqlab rows are the median over ``--seeds`` training seeds (min and
max alongside); "least squares alone" is the default model's start before training (its
linear highway fitted by ridge, the network's head at zero), so the difference is what
the network adds. ``train_s`` is the whole ``train_run`` (reading and windowing the data
included; the one-off import of ``torch._dynamo`` by the first optimizer is not).
``--peers FILE``: a JSON of peer rows measured elsewhere (a throwaway venv), ``{dataset:
{name: {"mase": ..., "train_s": ..., "version": ...}}}``; the peers are never dependencies
of seqlab. results/forecasting_peers.json holds those measured for issue #23
(statsforecast 2.1.1, darts 0.48.1 with torch 2.13.0 CPU, on the same split: fitted on
everything before the test part, forecasting from every test origin without refitting)
and, marked so, the issue's airline figures that were not re-measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from seqlab import run_config, train_run
from seqlab.data.windows import holdout_steps
from seqlab.models import build_model
from seqlab.models.forecaster import seasonal_naive
from seqlab.run import Run, git_commit, model_section

# name -> data section: the benchmark's split (the last test_size steps), season, horizon
DATASETS = {
    "airline": {"dataset": "airline_passengers", "horizon": 24, "test_size": 24, "season": 12},
    # a week of half-hourly demand held out, forecast a day (48 steps) at a time
    "electricity": {"dataset": "electricity", "horizon": 48, "test_size": 336, "season": 48},
    # yearly sunspots, the last 20 years held out; season: the ~11-year solar cycle
    "sunspots": {"dataset": "sunspots", "horizon": 20, "test_size": 20, "season": 11},
}
MODELS = {"lstm": {"encoder": {"kind": "lstm"}}, "tcn": {"encoder": {"kind": "tcn"}}}
# variant -> (row label, data keys, model keys per kind): what a row changes from the default
VARIANTS = {
    "default": ("default", {}, {}),
    # before issue #23's second pass: the highway trained with the network, which read 96
    # steps, a TCN with 64 channels (its rows in results/ were measured at commit 64f1701,
    # with the ridge penalty chosen on val and the window mean always taken out;
    # run now, it gets the GCV penalty and the KPSS normalize default too)
    "earlier": (
        "earlier default: highway trained",
        {},
        {
            "lstm": {"train_linear": True, "encoder_steps": 96},
            "tcn": {"train_linear": True, "encoder": {"hidden_size": 64}, "encoder_steps": 96},
        },
    ),
    # the calendar as inputs over the window and, known in advance, over the horizon
    "calendar": ("calendar: true, known-future", {"calendar": True}, {}),
}


def test_origins(n: int, data: dict, stride: int = 1) -> list[int]:
    """The first target step of each test window (as prepare_forecasting cuts them)."""
    n_test = holdout_steps(n, data["test_size"])
    start, H = n - n_test, data["horizon"]
    return list(range(start, n - H + 1, stride))


def mase(forecasts: np.ndarray, series: np.ndarray, origins: list[int], m: int) -> float:
    """MAE over every test window and step / in-sample seasonal naive MAE before the test."""
    H = forecasts.shape[1]
    truth = np.stack([series[o : o + H] for o in origins])  # (W, H)
    insample = series[: origins[0]]
    scale = np.abs(insample[m:] - insample[:-m]).mean()
    return float(np.abs(forecasts - truth).mean() / scale)


def run_seqlab(data: dict, model: dict, seed: int, ts, origins: list[int]):
    config = run_config(
        {"task": "forecasting", "data": data, "model": model, "train": {"seed": seed}}
    )
    config.train.progress = False
    start = time.perf_counter()
    run = train_run(config)
    seconds = time.perf_counter() - start
    if run.task.calendar:  # a TimeSeries a window: its calendar, the horizon's too
        cut = lambda o: dataclasses.replace(ts, times=ts.times[:o], values=ts.values[:o])  # noqa: E731
        inputs = [cut(o) for o in origins]
    else:
        inputs = [ts.values[:o, :1] for o in origins]
    rows = list(run.predict(inputs, batch_size=256))
    forecasts = np.array([r["forecast"] for r in rows])[..., 0]  # (W, H)
    return forecasts, seconds, run.history


def run_highway(data: dict, series: np.ndarray, origins: list[int]):
    """The least-squares start alone (Forecaster.fit_linear, no training): what the
    network adds to it is the difference from the default rows."""
    config = run_config({"task": "forecasting", "data": data, "model": {}})
    task = config.task_class(config.data)
    task.prepare()
    model = build_model(task.model_kind, model_section(config.model, task))
    start = time.perf_counter()
    task.init_model(model)
    seconds = time.perf_counter() - start
    model.eval()
    run = Run(config, task, model)
    rows = list(run.predict([series[:o, None] for o in origins], batch_size=256))
    return np.array([r["forecast"] for r in rows])[..., 0], seconds, task, model


def meta(threads: int, seeds: list[int] | None = None) -> dict:
    """Where and how a row was measured."""
    return {
        "load_average": os.getloadavg(),
        "threads": threads,
        "seeds": seeds,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "commit": git_commit(short=True),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def bench(name: str, kinds: list[str], variants: list[str], seeds: list[int], threads: int):
    """The rows of one dataset: seasonal naive, the least-squares start, and each seqlab
    ``kind`` x ``variant`` (the median over ``seeds``)."""
    from seqlab.data import load

    data = DATASETS[name]
    ts = load(data["dataset"])
    series = np.asarray(ts.values[:, 0], dtype=np.float64)
    origins = test_origins(len(series), data)
    m, H = data["season"], data["horizon"]
    history = torch.as_tensor(np.stack([series[o - m : o] for o in origins]))[..., None]
    naive = seasonal_naive(history, H, m)[..., 0].numpy()
    result = {
        "data": data,
        "steps": len(series),
        "test_windows": len(origins),
        "rows": {"seasonal naive": {"mase": mase(naive, series, origins, m)}},
    }
    forecasts, seconds, task, model = run_highway(data, series, origins)
    result["defaults"] = {
        "window": task.window,
        "transform": task.transform,
        "season": task.season,
        "kpss": task.kpss,
        "normalize": model.config.normalize,
        "ridge_penalty": task.penalty,
    }
    result["rows"]["seqlab least squares alone (its start)"] = {
        "mase": mase(forecasts, series, origins, m),
        "train_s": seconds,
        "meta": meta(threads),
    }
    for variant in variants:
        label, extra_data, extra_model = VARIANTS[variant]
        for kind in kinds:
            model = _merge(MODELS[kind], extra_model.get(kind, {}))
            scores, times, epochs, row_meta = [], [], [], meta(threads, seeds)
            for seed in seeds:
                forecasts, seconds, hist = run_seqlab(
                    {**data, **extra_data}, model, seed, ts, origins
                )
                scores.append(mase(forecasts, series, origins, m))
                times.append(seconds)
                epochs.append(len(hist))
            result["rows"][f"seqlab {kind} ({label})"] = {
                "mase": statistics.median(scores),
                "min": min(scores),
                "max": max(scores),
                "seeds": scores,
                "train_s": statistics.median(times),
                "train_s_each": times,
                "epochs": statistics.median(epochs),
                "config": {"data": extra_data, "model": model},
                "meta": row_meta,
            }
            print(f"  {name} {kind} {variant}: {[round(s, 3) for s in scores]} "
                  f"{statistics.median(times):.1f} s", flush=True)  # fmt: skip
    return result


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--variants", nargs="+", default=["default"], choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--peers", type=Path, help="JSON {dataset: {name: row}} from elsewhere")
    parser.add_argument("--export", type=Path, help="write the series (npz) and stop")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.export:
        from seqlab.data import load

        arrays = {k: np.asarray(load(d["dataset"]).values[:, 0]) for k, d in DATASETS.items()}
        np.savez(args.export, **arrays)
        return
    torch.set_num_threads(args.threads)
    importlib.import_module("torch._dynamo")  # the first optimizer imports it: 5 s, untimed
    out = Path(__file__).parent / "results" / "forecasting.json"
    saved = json.loads(out.read_text())["results"] if out.exists() else {}
    for name in args.datasets:
        result = bench(name, args.models, args.variants, args.seeds, args.threads)
        entry = saved.setdefault(name, {})
        rows = {**entry.get("rows", {}), **result.pop("rows")}  # these rows replace theirs
        entry.update(result)
        entry["rows"] = rows
        entry.pop("meta", None)  # each row has its own now
    if args.peers:
        for name, rows in json.loads(args.peers.read_text()).items():
            if name in saved:
                saved[name]["rows"].update(rows)
    print(f"{'dataset':<12} {'forecaster':<58} {'MASE':>7} {'min':>7} {'max':>7} {'train s':>8}")
    for name in args.datasets:
        for row, v in saved[name]["rows"].items():
            cells = [f"{v[k]:7.3f}" if k in v else f"{'':7}" for k in ("mase", "min", "max")]
            t = f"{v['train_s']:8.1f}" if "train_s" in v else ""
            print(f"{name:<12} {row:<58} {' '.join(cells)} {t}")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": saved}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
