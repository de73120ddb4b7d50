"""``write_report(RUN_DIR)``: one self-contained HTML page of a run, to open or send.

Everything is inside the one file: the pictures in ``plots/`` inlined as base64 PNG
(``data:`` URIs), the final metrics (``summary.json``) and the per-epoch table
(``epochs.csv``), the run config (``config.yaml``) and, for a language model, the samples
it wrote (``samples.txt``, the last 20,000 characters). No script, no external style
sheet, no link to fetch.

A run directory whose ``plots/`` holds no PNG (trained without matplotlib) has its curves
drawn now from ``epochs.csv`` and ``steps.csv``; one without those either is refused with
one line naming what is missing.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import os
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .plots import PLOTS_INSTALL, plot_training, plots_available

__all__ = ["REPORT_FILE", "read_epochs", "write_report"]

REPORT_FILE = "report.html"
SAMPLES_SHOWN = 20_000  # characters of samples.txt, its end
# the order pictures appear in (others follow, by name)
FIRST = ["loss", "lr", "grad_norm", "confusion", "attention", "forecast", "gradients",
         "gradients_heatmap", "receptive_field"]  # fmt: skip

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.key { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; text-align: center; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""


def _number(value: str) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def read_epochs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """``epochs.csv`` as a history: one dict per epoch, numbers as floats."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _number(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], first: str = "") -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{_shown(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in rows
    )
    return f"<table>{f'<caption>{first}</caption>' if first else ''}<tr>{head}</tr>{body}</table>"


def _facts(summary: dict[str, Any]) -> str:
    keys = ["task", "epochs", "stop_reason", "monitor", "best", "wall_time_s", "parameters",
            "seed", "git_commit"]  # fmt: skip
    rows = [(k, summary[k]) for k in keys if k in summary]
    rows += [(f"{k} version", v) for k, v in (summary.get("versions") or {}).items()]
    cells = "".join(
        f"<tr><td class='key'>{html.escape(k)}</td><td>{_shown(v)}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


def _pictures(directory: Path) -> list[Path]:
    plots = directory / "plots"
    found = sorted(plots.glob("*.png")) if plots.is_dir() else []
    if found:
        order = {name: i for i, name in enumerate(FIRST)}
        return sorted(found, key=lambda p: (order.get(p.stem, len(FIRST)), p.stem))
    epochs = directory / "epochs.csv"
    if not epochs.is_file():
        raise ConfigError(
            f"{directory}: no pictures in plots/ and no epochs.csv to draw the training "
            "curves from; is this a finished run directory of seqlab train?"
        )
    if not plots_available():
        raise ConfigError(f"{directory}: plots/ holds no pictures; to draw them: {PLOTS_INSTALL}")
    from .run_plots import plot_steps, read_steps

    drawn = plot_training(read_epochs(epochs), plots)
    if (directory / "steps.csv").is_file():
        drawn += plot_steps(read_steps(directory / "steps.csv"), plots)
    return drawn


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.stem.replace("_", " "))
    return (
        f"<figure><img alt='{name}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{name}</figcaption></figure>"
    )


def write_report(directory: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the report of the run in ``directory`` (default ``directory/report.html``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory (give a run directory)")
    config = directory / "config.yaml"
    summary_path = directory / "summary.json"
    for need, what in ((config, "the run config"), (summary_path, "the final metrics")):
        if not need.is_file():
            raise ConfigError(
                f"{directory}: no {need.name} ({what}); a report needs a run directory that "
                "seqlab train finished"
            )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{summary_path}: not valid JSON ({e})") from None
    pictures = _pictures(directory)
    by_split = (summary.get("metrics") or {}).items()
    metrics = [{"split": split, **values} for split, values in by_split]
    parts = [
        f"<h1>seqlab run: {html.escape(directory.resolve().name)}</h1>",
        "<h2>Final metrics (best checkpoint)</h2>",
        _table(metrics) if metrics else "<p>no held-out split was scored</p>",
        "<h2>Run</h2>",
        _facts(summary),
    ]
    if (directory / "epochs.csv").is_file():
        parts += ["<h2>By epoch</h2>", _table(read_epochs(directory / "epochs.csv"))]
    parts += ["<h2>Pictures</h2>", "".join(_image(p) for p in pictures)]
    samples = directory / "samples.txt"
    if samples.is_file():
        text = samples.read_text(encoding="utf-8", errors="replace")[-SAMPLES_SHOWN:]
        parts += ["<h2>Generated samples</h2>", f"<pre>{html.escape(text)}</pre>"]
    parts += ["<h2>Config</h2>", f"<pre>{html.escape(config.read_text(encoding='utf-8'))}</pre>"]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>seqlab run {html.escape(directory.resolve().name)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    out = Path(out) if out is not None else directory / REPORT_FILE
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
