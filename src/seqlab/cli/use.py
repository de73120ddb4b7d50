"""``seqlab evaluate / predict / generate / forecast``: what a run directory is for.

Each needs only the run directory (or one of its checkpoints): a run copied to another
machine works there. ``predict`` reads one input a line and writes one result a line,
``batch_size`` lines at a time, so an input of any length streams through.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..config import ConfigError
from ..music.generate import add_music_options, generate_music, refuse_music_options
from ..run import Run, load_run
from ..tasks import ForecastingTask, LanguageModelTask, MusicTask

__all__ = ["add_commands"]


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (a zero or negative count is an error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value}")
    return value


def add_commands(commands) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    e = commands.add_parser("evaluate", help="metrics of a run on a split", formatter_class=fmt)
    e.add_argument("run_dir", help="a run directory (or a checkpoint in one)")
    e.add_argument("--split", default="test", choices=["val", "test", "train"])
    e.add_argument("--data", help="another dataset name or training file, read the same way")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(run=run_evaluate)

    p = commands.add_parser(
        "predict", help="one prediction per input line (stdin with -)", formatter_class=fmt
    )
    p.add_argument("run_dir")
    p.add_argument("input", nargs="?", default="-", help="a file of inputs, one a line")
    p.add_argument("--format", default="text", choices=["text", "jsonl", "csv"])
    p.add_argument("--batch-size", type=positive_int, help="inputs per batch (default: the run's)")
    p.add_argument("--beam", type=int, help="beam size for a seq2seq run (1: greedy)")
    p.set_defaults(run=run_predict)

    g = commands.add_parser(
        "generate", help="sample text (language model) or a piece (music)", formatter_class=fmt
    )
    g.add_argument("run_dir")
    g.add_argument(
        "--prompt",
        help="the text to continue (default: a line break; a conditioned run starts at <bos>)",
    )
    g.add_argument("--length", type=positive_int, default=200, help="tokens to generate")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=positive_int, help="sample among the k most likely tokens")
    g.add_argument("--top-p", type=float, help="sample from the nucleus of mass p")
    g.add_argument("--greedy", action="store_true", help="the most likely token each step")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument(
        "--strict", action="store_true",
        help="refuse a prompt with tokens outside the vocabulary (default: <unk>, a warning)",
    )  # fmt: skip
    g.add_argument(
        "--condition", action="append", metavar="VALUE",
        help="a run trained with data.condition: the label name, or the feature vector as "
        "comma-separated numbers in the data's units (--condition=-0.5,12); repeat it for one "
        "sample per value, each on a line of its own after VALUE and a tab",
    )  # fmt: skip
    add_music_options(g)
    g.set_defaults(run=run_generate)

    f = commands.add_parser(
        "forecast", help="forecast past the end of a series", formatter_class=fmt
    )
    f.add_argument("run_dir")
    f.add_argument("--input", help="a CSV with the run's columns (default: the run's data)")
    f.add_argument(
        "--horizon", type=positive_int,
        help="steps to forecast, at most the run's data.horizon (default: all of them)",
    )  # fmt: skip
    f.add_argument("--plot", help="also draw history, forecast and interval to this PNG")
    f.set_defaults(run=run_forecast)


def _load(path: str, task: type | None = None) -> Run:
    run = load_run(path)
    if task is not None and not isinstance(run.task, task):
        raise ConfigError(f"{path}: a {run.config.task} run; this command needs a {task.name} run")
    return run


def run_evaluate(args: argparse.Namespace) -> int:
    run = _load(args.run_dir)
    if args.data is not None:
        key = "train" if Path(args.data).is_file() else "dataset"
        other = {"dataset": None, "train": None, "val": None, "test": None, "options": {}}
        data = dataclasses.replace(run.config.data, **{**other, key: args.data})
        run.task.data = data
    metrics = run.evaluate(args.split)
    if args.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{args.split}_{key}\t{value:.6g}")
    return 0


def _lines(path: str) -> Iterator[str]:
    stream: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for line in stream:
            yield line.rstrip("\r\n")
    finally:
        if stream is not sys.stdin:
            stream.close()


def _text(row: dict[str, Any]) -> str:
    if "label" in row:
        return f"{row['label']}\t{row['probability']}"
    if "tags" in row:
        return " ".join(f"{t}/{g}" for t, g in zip(row["tokens"], row["tags"], strict=True))
    if "output" in row:
        return row["output"]
    if "next" in row:
        return f"{row['next']!r}\t{row['probability']}"
    return json.dumps(row)


def run_predict(args: argparse.Namespace) -> int:
    run = _load(args.run_dir)
    if isinstance(run.task, ForecastingTask):
        raise ConfigError(f"{args.run_dir}: a forecasting run; use `seqlab forecast`")
    if args.beam is not None:
        if not hasattr(run.model.config, "beam_size"):
            raise ConfigError(f"--beam applies to a seq2seq run, not a {run.config.task} run")
        run.model.config = dataclasses.replace(run.model.config, beam_size=args.beam)
    if not Path(args.input).is_file() and args.input != "-":
        raise ConfigError(f"{args.input}: input file not found")
    out = sys.stdout
    writer = None
    for row in run.predict(_lines(args.input), batch_size=args.batch_size):
        if args.format == "jsonl":
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif args.format == "csv":
            flat = {
                k: v if isinstance(v, str | int | float) else json.dumps(v) for k, v in row.items()
            }
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(flat))
                writer.writeheader()
            writer.writerow(flat)
        else:
            out.write(_text(row) + "\n")
    out.flush()
    return 0


def run_generate(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    if isinstance(run.task, MusicTask):  # a piece: MIDI, PNG and WAV (seqlab.music.generate)
        return generate_music(run, args)
    if not isinstance(run.task, LanguageModelTask):
        raise ConfigError(
            f"{args.run_dir}: a {run.config.task} run; this command needs a language_model run "
            "(or a music run)"
        )
    refuse_music_options(args)
    sampling = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                    greedy=args.greedy, seed=args.seed)  # fmt: skip
    conditioned = run.task.condition is not None
    prompt = args.prompt if args.prompt is not None else ("" if conditioned else "\n")
    conditions = args.condition or [None]
    for value in conditions:  # every value checked before the first token is printed
        run.task.features(value)
    for value in conditions:
        if len(conditions) > 1:
            sys.stdout.write(f"{value}\t")
        sys.stdout.write(prompt)
        run.task.generate(
            run.model, prompt, args.length, strict=args.strict, condition=value,
            on_text=lambda t: (sys.stdout.write(t), sys.stdout.flush()), **sampling,
        )  # fmt: skip
        sys.stdout.write("\n")
    return 0


def run_forecast(args: argparse.Namespace) -> int:
    run = _load(args.run_dir, ForecastingTask)
    task = run.task
    series = task.forecast_series(args.input)  # with future columns: ends with the horizon
    trained = task.data.horizon
    if args.horizon is not None and args.horizon > trained:
        raise ConfigError(
            f"--horizon {args.horizon}: {args.run_dir} forecasts at most {trained} steps (its "
            "data.horizon, a direct multi-step model); train a run with a longer horizon"
        )
    if args.plot is not None:
        from ..diagnostics.plots import PLOTS_INSTALL, plots_available

        if not plots_available():
            raise ConfigError(f"--plot needs matplotlib: {PLOTS_INSTALL}")
        if Path(args.plot).is_dir():  # checked before any output, not at the rename
            raise ConfigError(f"--plot {args.plot}: a directory; expected the path of a PNG file")
    row = next(iter(run.predict([series])))  # a TimeSeries: calendar covariates from its times
    H = args.horizon or trained
    forecast = np.asarray(row["forecast"], dtype=np.float64)[:H]  # (H, O)
    levels = [k for k in row if k.startswith("q")]  # "q0.1", ... in data units
    bands = {q: np.asarray(row[q], dtype=np.float64)[:H] for q in levels}
    times = task.horizon_times(series)  # dates; None: steps after a numeric time column
    if times is None:
        times = _steps_after(series.times, len(series), len(forecast))
    writer = csv.writer(sys.stdout)
    names = task.names or [f"y{i}" for i in range(len(task.targets))]
    writer.writerow(["time", *names, *(f"{n}_{q}" for q in levels for n in names)])
    for h, values in enumerate(forecast):
        extra = [bands[q][h][k] for q in levels for k in range(len(names))]
        row_values = [f"{v:.6g}" for v in (*values, *extra)]
        writer.writerow([str(times[h]), *row_values])
    if args.plot is not None:
        if task.data.future_columns:  # the history, without the horizon's rows
            series = dataclasses.replace(
                series, times=series.times[:-trained], values=series.values[:-trained]
            )
        _plot_forecast(series, forecast, bands, names, args.plot)
    return 0


def _plot_forecast(series, forecast: np.ndarray, bands: dict, names: list[str], path) -> None:
    """The first target: its recent history, the forecast and the widest quantile band."""
    from ..diagnostics.run_plots import plot_forecast, widest_band

    history = np.asarray(series.targets[:, 0], dtype=np.float64)[-max(4 * len(forecast), 48) :]
    band = widest_band({float(q[1:]): values[:, 0] for q, values in bands.items()})
    plot_forecast(history, None, forecast[:, 0], band, path, names[0], title="forecast")
    print(f"seqlab forecast: plot written to {path}", file=sys.stderr)


def _steps_after(times: np.ndarray | None, n: int, steps: int) -> np.ndarray:
    """The ``steps`` time values after a series of ``n`` whose horizon dates are unknown:
    its (median) step on, or the step indices ``n, n + 1, ...`` with no time column."""
    if times is None or len(times) < 2:
        return np.arange(n, n + steps)
    step = times[-1] - times[-2] if times.dtype.kind == "M" else np.median(np.diff(times))
    return times[-1] + step * np.arange(1, steps + 1)
