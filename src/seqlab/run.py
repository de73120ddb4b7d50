"""A run: one config from data to a trained model, a run directory, and ``load_run``.

``RunConfig{task, data, model, train}`` is the whole of a YAML run config. It is checked
in full before anything runs: the task name, every ``data:`` key (the task's
:class:`~seqlab.tasks.DataSource`), every ``model:`` key (against the task model's
config, with stand-ins for what the data decides), every ``train:`` key
(:class:`~seqlab.train.TrainerConfig`), and that the named files exist.

.. code-block:: yaml

    task: classification
    data: {dataset: rotten_tomatoes, tokenizer: word, lowercase: true, batch_size: 64}
    model: {encoder: {kind: gru, hidden_size: 64, bidirectional: true}, pooling: mean}
    train: {epochs: 5, metrics: [accuracy], monitor: val_accuracy, mode: max}

``train_run(config, directory)`` reads the data, fits the encoders (vocabularies, labels,
a scaler) on the training split, builds the model with the sizes the data gives, trains
it and writes the run directory::

    RUN_DIR/
      config.yaml        the run config as run (defaults filled in)
      last/  best/       checkpoints: weights, the model config, the task's encoders
                         (task.json) and the run config (run.json), the training state
      epochs.csv  steps.csv
      plots/             loss.png and one PNG per validation metric, by epoch; lr.png,
                         grad_norm.png per step; the task's confusion.png,
                         attention.png or forecast.png (seqlab.diagnostics.run_plots)
      samples.txt        a language model's generated samples, a few per epoch
      summary.json       the final metrics on val and test (of the best checkpoint), epochs,
                         wall time, parameter count, seed, versions, git commit, command

``load_run(RUN_DIR or a checkpoint)`` rebuilds the model and its encoders from that alone,
ready to ``predict`` raw inputs (text lines, token lists, series) into rows of plain
values, or to ``evaluate`` a split.

Data flows one way: config -> data (``seqlab.tasks``) -> model (``seqlab.models``) ->
trainer (``seqlab.train``) -> checkpoint -> ``load_run`` -> predict; nothing below this
module imports it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from .config import ConfigError, apply_overrides, from_dict, load_yaml, to_dict
from .diagnostics.plots import PLOTS_INSTALL, plots_available
from .diagnostics.run_plots import plot_run
from .diagnostics.samples import SampleLog
from .models import MODELS, TaskModel, build_model
from .tasks import TASKS, DataSource, Task
from .tasks.base import merge_sizes
from .train import Trainer, TrainerConfig, is_main_process, load_checkpoint, seed_everything
from .train.callbacks import Callback, improved

__all__ = ["Run", "RunConfig", "load_run", "load_run_config", "run_config", "train_run"]

SECTIONS = ("task", "data", "model", "train")
CONFIG_FILE, SUMMARY_FILE = "config.yaml", "summary.json"


@dataclass
class RunConfig:
    """``task``: a name in :data:`seqlab.tasks.TASKS`; ``data``: that task's data
    config; ``model``: the user's model section (the data's sizes are added when the
    model is built); ``train``: the trainer's config."""

    task: str
    data: DataSource
    model: dict
    train: TrainerConfig
    # the early stopping is the task's default, not the user's: a run with no validation
    # split trains without it instead of failing on a key the user never wrote
    default_early_stopping: bool = field(default=False, compare=False, repr=False)

    @property
    def task_class(self) -> type[Task]:
        return TASKS[self.task]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "data": to_dict(self.data),
            "model": json.loads(json.dumps(self.model)),
            "train": to_dict(self.train),
        }


# the short names people also write
TASK_ALIASES = {"classify": "classification", "tag": "tagging", "forecast": "forecasting",
                "lm": "language_model", "translate": "seq2seq",
                "transcribe": "transcription"}  # fmt: skip


def _task_class(name: Any) -> type[Task]:
    name = TASK_ALIASES.get(name, name) if isinstance(name, str) else name
    if name not in TASKS:
        raise ConfigError(
            f"task: expected one of {list(TASKS)} (or {', '.join(TASK_ALIASES)}), got {name!r}"
        )
    return TASKS[name]


def _defaults_under(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with ``defaults`` filled in where it is silent (sections merged)."""
    merged = dict(defaults)
    for key, value in given.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _defaults_under(merged[key], value)
        else:
            merged[key] = value
    return merged


def run_config(
    mapping: Mapping[str, Any], overrides: Sequence[str] = (), check_files: bool = True
) -> RunConfig:
    """The checked :class:`RunConfig` of a YAML mapping, with ``section.key=value``
    ``overrides`` applied (each coerced against the field it sets)."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"config: expected a mapping of {', '.join(SECTIONS)}")
    data = json.loads(json.dumps(dict(mapping), default=str))  # a private, plain copy
    by_section: dict[str, list[str]] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"--set {item!r}: expected key=value, e.g. model.encoder.hidden_size=64"
            )
        head = item.split("=", 1)[0].strip().split(".", 1)[0]
        by_section.setdefault(head, []).append(item)
    for item in by_section.pop("task", []):
        data["task"] = item.split("=", 1)[1].strip()
    unknown = [k for k in [*data, *by_section] if k not in SECTIONS]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; expected {', '.join(SECTIONS)}")
    if "task" not in data:
        raise ConfigError(f"task: required; one of {list(TASKS)}")
    task = _task_class(data["task"])
    model_class = MODELS[task.model_kind].config_class
    schemas = {"data": task.data_class, "model": model_class, "train": TrainerConfig}
    for section, schema in schemas.items():
        value = data.setdefault(section, {})
        if value is None:
            value = data[section] = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{section}: expected a mapping, got {value!r}")
        if section in by_section:
            prefix = len(section) + 1
            items = [o.strip()[prefix:] for o in by_section[section]]
            try:
                apply_overrides(value, items, schema)
            except ConfigError as e:
                raise ConfigError(f"{section}.{e}") from None
    source = from_dict(task.data_class, data["data"], prefix="data.")
    if check_files:
        source.check_files()
    # what the data (and the model section's choices) need unless the user says otherwise
    defaults = task.defaults_for(source, data["model"])
    train = from_dict(
        TrainerConfig, _defaults_under(defaults["train"], data["train"]), prefix="train."
    )
    task.check_train(source, train)
    data["model"] = _defaults_under(defaults["model"], data["model"])
    # the model section is checked now, with stand-ins for the sizes the data decides
    placeholders = task(source).placeholder_model(data["model"])
    from_dict(model_class, placeholders, prefix="model.")
    defaulted = "early_stopping" in defaults["train"] and "early_stopping" not in data["train"]
    return RunConfig(
        task=task.name, data=source, model=data["model"], train=train,
        default_early_stopping=defaulted,
    )  # fmt: skip


def load_run_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> RunConfig:
    """:func:`run_config` of a YAML file; errors name the file."""
    mapping = load_yaml(os.fspath(path))
    try:
        return run_config(mapping, overrides)
    except ConfigError as e:
        raise ConfigError(f"{os.fspath(path)}: {e}") from None


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` by a temporary file and a rename: never half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class Run:
    """A trained model with the task pipeline that feeds it (see the module doc)."""

    config: RunConfig
    task: Task
    model: TaskModel
    directory: Path | None = None
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def predict(self, inputs: Iterable[Any], batch_size: int | None = None) -> Iterator[dict]:
        """One row per input, in order; inputs are read ``batch_size`` at a time, so a
        long input stream is never held whole."""
        size = batch_size or self.config.data.batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"batch_size must be a positive int, got {size!r}")
        device = next(self.model.parameters()).device
        chunk: list[Any] = []
        for item in inputs:
            chunk.append(item)
            if len(chunk) == size:
                yield from self._predict(chunk, device)
                chunk = []
        if chunk:
            yield from self._predict(chunk, device)

    def _predict(self, chunk: list[Any], device: torch.device) -> list[dict]:
        batch = self.task.encode(chunk).to(device)
        return self.task.decode(chunk, self.model.predict(batch))

    def evaluate(self, split: str = "val") -> dict[str, float]:
        """Loss and the config's metrics on ``split`` of the run's data (read again)."""
        if self.task.splits is None:
            self.task.read()
        train = dataclasses.replace(
            self.config.train,
            checkpoints=dataclasses.replace(self.config.train.checkpoints, dir=None),
            progress=False,
            log_dir=None,
        )
        trainer = Trainer(self.model, train, metric_options=self.task.metric_facts())
        loader = self.task.loader(split)
        if not loader:
            raise ValueError(f"the {split} split of this run's data is empty")
        return trainer.evaluate(loader)


def git_commit(short: bool = False) -> str | None:
    """The commit of the seqlab checkout this runs from, when it is one (``short``: the
    abbreviated hash); the run summary and the benchmarks record it."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", *(["--short"] if short else []), "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def run_summary(
    config: RunConfig, model: TaskModel, trainer: Trainer, metrics: dict, seconds: float
) -> dict[str, Any]:
    """What ``summary.json`` records of a finished run."""
    from . import __version__

    return {
        "task": config.task,
        "metrics": metrics,
        "epochs": trainer.epoch,
        "monitor": config.train.monitor,
        "best": trainer.best,
        "stop_reason": trainer.stop_reason,
        "wall_time_s": round(seconds, 3),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seed": config.train.seed,
        "versions": {
            "seqlab": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "git_commit": git_commit(),
        "command": sys.argv,
    }


class _BestInMemory(Callback):
    """Without a run directory there is no ``best/`` to reload: keep a copy of the best
    epoch's weights (by ``monitor``, as ``best/`` is chosen) and load it at the end."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Mapping[str, Any]) -> None:
        c = trainer.config
        if improved(logs.get(c.monitor), trainer.best, c.mode, c.early_stopping.min_delta):
            self.state = {k: v.detach().clone() for k, v in trainer.module.state_dict().items()}

    def restore(self, model: torch.nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def model_section(model: Mapping[str, Any], task: Task) -> dict[str, Any]:
    """The ``model:`` section a run builds from: the task's data-dependent defaults where
    the section is silent (e.g. a classifier's numeric-sequence TCN), then the sizes the
    data sets (vocabulary, classes, channels). ``task`` has read its data."""
    fill = getattr(task, "model_defaults", None)
    return merge_sizes(fill(model) if fill is not None else dict(model), task.model_sizes())


def _early_stopping_needs_val(config: RunConfig, task: Task) -> RunConfig:
    """Early stopping watches the validation split: without one, the task's default is
    dropped (the run trains its epochs or steps), and the user's is an error now, before
    any training (the trainer would only find out at the end of the first epoch)."""
    stopping = config.train.early_stopping
    if task.splits.val or stopping.patience is None or not config.train.monitor.startswith("val_"):
        return config
    if config.default_early_stopping:
        stopping = dataclasses.replace(stopping, patience=None)
        train = dataclasses.replace(config.train, early_stopping=stopping)
        return dataclasses.replace(config, train=train, default_early_stopping=False)
    raise ConfigError(
        f"train.early_stopping.patience={stopping.patience} watches "
        f"{config.train.monitor}, but the data gives no validation split: give one "
        "(data.val or data.val_fraction > 0) or set train.early_stopping.patience: null"
    )


def train_run(
    config: RunConfig,
    directory: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
) -> Run:
    """Read the data, build the model, train, and (with ``directory``) write the run
    directory; ``resume`` continues from ``directory/last``."""
    start = time.perf_counter()
    seed_everything(config.train.seed)  # the model's initial weights follow train.seed
    task = config.task_class(config.data)
    task.prepare()
    config = _early_stopping_needs_val(config, task)
    # parsed once the data decided the sizes and defaults, a bad key named in full
    model_config = from_dict(
        MODELS[task.model_kind].config_class, model_section(config.model, task), prefix="model."
    )
    model = build_model(task.model_kind, model_config)
    if not config.train.metrics and (scored := list(model.default_metrics())):
        train = dataclasses.replace(config.train, metrics=scored)  # what the user reads
        config = dataclasses.replace(config, train=train)
    start_from_data = getattr(task, "init_model", None)  # e.g. a forecaster's least squares
    if start_from_data is not None and not resume:
        start_from_data(model)
    train = config.train
    if directory is not None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        train = dataclasses.replace(
            train, checkpoints=dataclasses.replace(train.checkpoints, dir=os.fspath(directory))
        )
        config = dataclasses.replace(config, train=train)
        if is_main_process():  # under torchrun, rank 0 writes what the run directory holds
            text = yaml.safe_dump(config.to_dict(), sort_keys=False)
            _write_text(directory / CONFIG_FILE, text)
    elif resume:
        raise ValueError("resume needs the run directory")
    in_memory = train.checkpoints.dir is None and train.checkpoints.keep_best
    keep_best = _BestInMemory() if in_memory else None  # keep_best false: the last epoch's
    extra = [keep_best] if keep_best else []
    if directory is not None and task.name == "language_model" and is_main_process():
        extra.append(SampleLog(task, model, directory))  # a few samples per epoch
    trainer = Trainer(
        model,
        train,
        callbacks=[*callbacks, *extra],
        model_config={"kind": model.kind, **to_dict(model.config)},
        extras={"task": task.state(), "run": config.to_dict(), **task.state_files()},
        metric_options=task.metric_facts(),
    )
    val = task.loader("val") if task.splits.val else None
    last = None if directory is None else directory / "last"
    history = trainer.fit(
        task.loader("train", shuffle=True), val, resume_from=last if resume else None
    )
    run = Run(config, task, model, directory, history)
    if keep_best is not None:  # what a user gets back is the best epoch's model
        keep_best.restore(model)
    if directory is not None:
        best = directory / "best"
        if best.exists():  # what a user gets back is the best epoch's model
            load_checkpoint(best, model)
        metrics = {
            split: trainer.evaluate(task.loader(split))
            for split in ("val", "test")
            if task.splits.get(split)
        }
        summary = run_summary(config, model, trainer, metrics, time.perf_counter() - start)
        if is_main_process():
            if not plots_available():
                summary["plots"] = f"not drawn: {PLOTS_INSTALL}"
            _write_text(directory / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
            if plots_available():  # curves, lr, pre-clip grad norm, the task's own picture
                plot_run(directory, trainer.history, task, model, config.train.clip.norm)
    model.eval()
    return run


def load_run(path: str | os.PathLike, checkpoint: str | None = None) -> Run:
    """A saved run, ready to predict: ``path`` is a run directory (its ``best/``
    checkpoint, else ``last/``; or ``checkpoint=``) or a checkpoint directory."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        names = [checkpoint] if checkpoint else ["best", "last"]
        found = [path / n for n in names if (path / n).is_dir() or (path / f"{n}.old").is_dir()]
        if not found:
            raise ConfigError(f"{path}: no checkpoint in this run directory ({', '.join(names)})")
        ckpt_path, directory = found[0], path
    elif (path / "manifest.json").is_file() or Path(f"{path}.old").is_dir():
        ckpt_path, directory = path, None
    else:
        raise ConfigError(
            f"{path}: not a run directory or a checkpoint (neither {CONFIG_FILE} nor "
            "manifest.json is there)"
        )
    ckpt = load_checkpoint(ckpt_path)
    if "run" not in ckpt.extras or "task" not in ckpt.extras:
        raise ConfigError(
            f"{ckpt.path}: this checkpoint has no run config (it was not written by "
            "train_run); rebuild its model with seqlab.models.build_model"
        )
    config = run_config(ckpt.extras["run"], check_files=False)
    task = config.task_class.restore_saved(config.data, ckpt.extras["task"], ckpt.extras)
    saved = dict(ckpt.config.get("model", {}))
    kind = saved.pop("kind", config.task_class.model_kind)
    model = build_model(kind, saved)
    ckpt.load_weights(model)  # the checkpoint read and verified once, above
    return Run(config, task, model.eval(), directory)
