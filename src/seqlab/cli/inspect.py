"""``seqlab inspect gradients`` and ``seqlab inspect receptive-field``: seeing inside a model.

::

    seqlab inspect gradients CONFIG_OR_RUN_DIR [--compare rnn,lstm,gru,tcn] [--length T]
                             [--out DIR] [--set key=value ...]
    seqlab inspect receptive-field RUN_DIR_OR_CONFIG [--length T] [--out DIR]

``gradients`` measures ``||dL/dh_t||`` (:func:`seqlab.diagnostics.gradient_flow`) for the
config's model at initialization (seeded by ``train.seed``), and for a run directory also
after training; ``--compare`` adds the same model with other encoder kinds (hidden size
and layers kept), all at initialization. The loss is the task's on the first validation
batch of the data; with ``--length T`` it is instead a unit read-out of the encoder at
the last of ``T`` unit-normal input steps (8 sequences), the lectures' setting, which
needs no data. Models are measured in float64 (a copy), so a vanishing gradient shows
its size instead of underflowing to zero. It writes ``gradients.png`` (one line per
model, log scale), ``gradients_heatmap.png`` (layer by step) and ``gradients.json`` into
``--out``
(default: ``RUN_DIR/plots``, or ``<config name>-inspect``), and prints each model's
first/last ratio and effective memory.

``receptive-field`` prints a TCN/WaveNet encoder's field by the formula and as measured
by gradients, and draws ``receptive_field.png``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import ConfigError
from ..diagnostics.gradient_flow import (
    CONVOLUTIONAL,
    RECURRENT,
    GradientFlow,
    find_encoder,
    gradient_flow,
)
from ..diagnostics.plots import PLOTS_INSTALL, plots_available
from ..diagnostics.receptive_field import measure_receptive_field
from ..models import build_model
from ..run import CONFIG_FILE, Run, RunConfig, load_run, load_run_config, model_section
from ..tasks.base import merge_sizes
from ..train import seed_everything

__all__ = ["add_commands"]

KINDS = RECURRENT + CONVOLUTIONAL
PROBE_BATCH = 8  # sequences in the --length probe


def add_commands(commands) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = commands.add_parser(
        "inspect", help="gradient flow through time, receptive fields", formatter_class=fmt
    )
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    g = what.add_parser(
        "gradients", help="||dL/dh_t|| against t, at init and after training",
        formatter_class=fmt,
    )  # fmt: skip
    g.add_argument("source", help="a run config (YAML) or a run directory")
    g.add_argument("--compare", help="encoder kinds to compare, e.g. rnn,lstm,gru,tcn")
    g.add_argument("--length", type=int, help="probe the encoder on T random steps (no data)")
    g.add_argument("--out", help="where the plots go (default: RUN_DIR/plots or NAME-inspect)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (a config source only)")  # fmt: skip
    g.set_defaults(run=run_gradients)
    r = what.add_parser(
        "receptive-field", help="a TCN/WaveNet's field: formula and measured",
        formatter_class=fmt,
    )  # fmt: skip
    r.add_argument("source", help="a run directory or a run config (YAML)")
    r.add_argument("--length", type=int, help="steps to measure on (default: field + 25%%)")
    r.add_argument("--out", help="where the plot goes (default: RUN_DIR/plots or NAME-inspect)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (a config source only)")  # fmt: skip
    r.set_defaults(run=run_receptive_field)


@dataclass
class Source:
    """What a command was pointed at: a config, or a run directory (with its run)."""

    config: RunConfig
    run: Run | None
    out: Path


def _source(path: str, overrides: list[str], out: str | None) -> Source:
    p = Path(path)
    if p.is_dir():
        if not (p / CONFIG_FILE).is_file():
            raise ConfigError(f"{p}: not a run directory (no {CONFIG_FILE}); give one or a config")
        if overrides:
            raise ConfigError("--set applies to a config, not to a run directory")
        run = load_run(p)
        return Source(run.config, run, Path(out) if out else p / "plots")
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file or run directory")
    config = load_run_config(p, overrides)
    return Source(config, None, Path(out) if out else Path(f"{p.stem}-inspect"))


def _check_length(length: int | None) -> None:
    if length is not None and length < 1:
        raise ConfigError(f"--length must be >= 1 (time steps), got {length}")


def _task_and_sizes(src: Source, need_data: bool):
    if src.run is not None:
        task = src.run.task
        if need_data and task.splits is None:
            task.read()
        return task, task.model_sizes()
    task = src.config.task_class(src.config.data)
    if need_data:
        task.prepare()
        return task, task.model_sizes()
    return task, task.placeholder_sizes()


def _encoder_section(model: dict[str, Any], kind: str | None) -> dict[str, Any]:
    section = copy.deepcopy(model)
    if kind is None:
        return section
    old = section.get("encoder") or {}
    new = {"kind": kind}
    for key in ("hidden_size", "num_layers"):  # the keys every kind shares
        if key in old:
            new[key] = old[key]
    section["encoder"] = new
    return section


def _model_at_init(config: RunConfig, sizes: dict, kind: str | None, task=None):
    """The config's model at its initial weights (``kind``: another encoder kind, with
    the shared keys); with ``task`` read, exactly what ``train_run`` builds."""
    seed_everything(config.train.seed)
    if kind is None and task is not None and task.splits is not None:
        return build_model(config.task_class.model_kind, model_section(config.model, task))
    section = merge_sizes(_encoder_section(config.model, kind), sizes)
    return build_model(config.task_class.model_kind, section)


def _kinds(compare: str | None) -> list[str]:
    if compare is None:
        return []
    kinds = [k.strip() for k in compare.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ConfigError(f"--compare: expected kinds from {', '.join(KINDS)}, got {compare!r}")
    return kinds


def _kind_of(model) -> str:
    return model.config.encoder.kind


def _first_batch(task):
    for split in ("val", "train"):
        if task.splits.get(split):
            for batch in task.loader(split):
                return batch
    raise ConfigError("the data has no validation or training batch to measure on")


def run_gradients(args: argparse.Namespace) -> int:
    _check_length(args.length)
    kinds = _kinds(args.compare)
    src = _source(args.source, args.overrides, args.out)
    task, sizes = _task_and_sizes(src, need_data=args.length is None)
    models: dict[str, torch.nn.Module] = {}
    own = src.run.model.config.encoder.kind if src.run else None
    for kind in kinds or [None]:
        model = _model_at_init(src.config, sizes, kind, task)
        models[f"{_kind_of(model)} (init)"] = model
    if src.run is not None:
        if not kinds:
            models = {f"{own} (init)": _model_at_init(src.config, sizes, None, task)}
        models[f"{own} (trained)"] = src.run.model
    models = {label: copy.deepcopy(m).double() for label, m in models.items()}
    if args.length is None:
        batch = _double(_first_batch(task))
        flows = {label: gradient_flow(m, batch) for label, m in models.items()}
    else:
        gen = torch.Generator().manual_seed(src.config.train.seed or 0)
        flows = {}
        for label, m in models.items():
            _, net = find_encoder(m)  # an encoder it cannot measure is refused here
            x = torch.randn(PROBE_BATCH, args.length, net.input_size, generator=gen)
            p = next(m.parameters())
            flows[label] = gradient_flow(net, x.to(p.device, p.dtype))
    _print_flows(flows)
    _write_flows(flows, src.out)
    return 0


def _double(batch):
    """Float inputs and targets in float64, as the models are measured."""
    floats = {
        name: value.double()
        for name in ("inputs", "targets", "features")
        if isinstance(value := getattr(batch, name), torch.Tensor) and value.is_floating_point()
    }
    return dataclasses.replace(batch, **floats)


def _print_flows(flows: dict[str, GradientFlow]) -> None:
    width = max(len(k) for k in flows)
    print(f"{'model':<{width}}  {'row':<16} {'first/last':>11} {'memory (1%)':>12}")
    for label, flow in flows.items():
        for row, s in flow.summary().items():
            ratio = f"{s['first_last_ratio']:.3g}"
            print(f"{label:<{width}}  {row:<16} {ratio:>11} {s['memory_length']:>6} steps")
    sys.stdout.flush()


def _write_flows(flows: dict[str, GradientFlow], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {label: f.to_dict() for label, f in flows.items()}
    (out / "gradients.json").write_text(json.dumps(data, allow_nan=True) + "\n")
    if not plots_available():
        print(f"plots not drawn: {PLOTS_INSTALL}")
        return
    from ..diagnostics.flow_plots import plot_gradient_heatmap, plot_gradient_lines

    plot_gradient_lines(flows, out / "gradients.png")
    plot_gradient_heatmap(flows, out / "gradients_heatmap.png")
    print(f"wrote {out / 'gradients.png'}, {out / 'gradients_heatmap.png'}")


def run_receptive_field(args: argparse.Namespace) -> int:
    _check_length(args.length)
    src = _source(args.source, args.overrides, args.out)
    if src.run is not None:
        model = src.run.model
    else:
        depends = hasattr(src.config.task_class, "model_defaults")  # the model follows the data
        task, sizes = _task_and_sizes(src, need_data=depends)
        model = _model_at_init(src.config, sizes, None, task)
    rf = measure_receptive_field(model, args.length)
    bound = " (at least: the length is not longer than the field)" if rf.truncated else ""
    print(
        f"{rf.kind} encoder: receptive field {rf.formula} steps by the formula, "
        f"{rf.measured} measured by gradients on {rf.length} steps{bound}"
    )
    src.out.mkdir(parents=True, exist_ok=True)
    (src.out / "receptive_field.json").write_text(json.dumps(rf.to_dict()) + "\n")
    if plots_available():
        from ..diagnostics.flow_plots import plot_receptive_field

        path = plot_receptive_field(rf, src.out / "receptive_field.png")
        print(f"wrote {path}")
    else:
        print(f"plot not drawn: {PLOTS_INSTALL}")
    return 0
