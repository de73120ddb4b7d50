"""Checkpoints: a directory of plain files, written atomically, checked when read.

::

    run/last/
      weights.safetensors   the model's parameters and buffers (never a pickled module)
      config.json           {"model": ..., "trainer": ...}: what rebuilds the model
      <name>.json           extras: vocab, scaler, tag set ... (one file per entry)
      metrics.json          epoch, step, the epoch metrics so far, the best value
      state.pt              optimizer, schedule, callback and RNG states (tensors and
                            plain data; read with torch.load(weights_only=True))
      manifest.json         format version, and the SHA-256 of every file above

**Atomic**: all files are written into ``run/last.tmp-<pid>/`` and flushed to disk; only
then does the directory take the place of ``run/last`` (the old one is renamed to
``run/last.old`` and removed after the swap). A crash or error mid-save leaves the
previous ``run/last`` whole; a crash between the two renames leaves ``run/last.old``,
which :func:`load_checkpoint` falls back to.

**Checked**: a missing or changed file (its hash differs from the manifest), weights
whose names or shapes differ from the model, or optimizer state for other parameters
raise :class:`CheckpointError`, naming the file and what differs.

>>> import tempfile, torch
>>> model = torch.nn.Linear(3, 2)
>>> with tempfile.TemporaryDirectory() as d:
...     path = save_checkpoint(f"{d}/last", model, config={"model": {"hidden": 2}})
...     ckpt = load_checkpoint(path, torch.nn.Linear(3, 2))
>>> ckpt.config
{'model': {'hidden': 2}}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

__all__ = ["FORMAT_VERSION", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT_VERSION = 1
RESERVED = ("weights", "config", "metrics", "state", "manifest")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match the model it is loaded into."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read (the weights are already in the model)."""

    path: str
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, allow_nan=True)
        f.write("\n")


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (its names carry no ``module.``)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    extras: Mapping[str, Any] | None = None,
    state: Mapping[str, Any] | None = None,
) -> str:
    """Write a checkpoint directory at ``path`` atomically; return the path.

    ``config``, ``metrics`` and each ``extras[name]`` must be JSON data; ``state`` holds
    tensors and plain data (optimizer ``state_dict``, RNG states, counters).
    """
    path = os.fspath(path).rstrip(os.sep)
    for name in extras or {}:
        if name in RESERVED or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(
                f"extras key {name!r} cannot be a checkpoint file name; use letters, digits, "
                f"'_' or '-', and none of {', '.join(RESERVED)}"
            )
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        files = {"weights.safetensors": lambda p: save_model(_unwrap(model), p)}
        files["config.json"] = lambda p: _write_json(p, dict(config or {}))
        files["metrics.json"] = lambda p: _write_json(p, dict(metrics or {}))
        for name, data in (extras or {}).items():
            files[f"{name}.json"] = lambda p, data=data: _write_json(p, data)
        files["state.pt"] = lambda p: torch.save(dict(state or {}), p)
        digests = {}
        for name, write in files.items():
            target = os.path.join(tmp, name)
            write(target)
            _fsync(target)
            digests[name] = _sha256(target)
        manifest = {"format_version": FORMAT_VERSION, "files": digests}
        _write_json(os.path.join(tmp, "manifest.json"), manifest)
        _fsync(os.path.join(tmp, "manifest.json"))
        _fsync(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = f"{path}.old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(path):
        os.replace(path, old)
    os.replace(tmp, path)  # the new checkpoint appears whole, under its name
    _fsync(parent)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None


def _verify(path: str) -> dict[str, str]:
    manifest_path = os.path.join(path, "manifest.json")
    if not os.path.exists(manifest_path):
        raise CheckpointError(f"{path}: not a seqlab checkpoint (no manifest.json)")
    manifest = _read_json(manifest_path)
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{manifest_path}: format_version {version!r}, this seqlab reads {FORMAT_VERSION}"
        )
    files = manifest.get("files", {})
    for name, digest in files.items():
        file = os.path.join(path, name)
        if not os.path.exists(file):
            raise CheckpointError(f"{file}: missing from the checkpoint")
        if _sha256(file) != digest:
            raise CheckpointError(f"{file}: corrupt (its SHA-256 differs from manifest.json)")
    return files


def _load_weights(model: nn.Module, file: str) -> None:
    target = _unwrap(model)
    try:
        missing, unexpected = load_model(target, file, strict=False)
    except SafetensorError as e:
        raise CheckpointError(f"{file}: cannot read the weights ({e})") from None
    except RuntimeError as e:  # load_state_dict: size mismatch
        raise CheckpointError(f"{file}: weights do not fit {type(target).__name__}: {e}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{file}: weights do not match {type(target).__name__}: "
            f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    *,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Verify and read the checkpoint at ``path``; load its weights into ``model``.

    Optimizer and schedule states are in ``Checkpoint.state`` for the caller (the
    trainer's ``resume``) to load into objects it has built.
    """
    path = os.fspath(path).rstrip(os.sep)
    if not os.path.isdir(path):
        old = f"{path}.old"
        if os.path.isdir(old):  # a crash came between the two renames of save_checkpoint
            path = old
        else:
            raise CheckpointError(f"{path}: no checkpoint directory there")
    files = _verify(path)
    if model is not None:
        _load_weights(model, os.path.join(path, "weights.safetensors"))
    state_file = os.path.join(path, "state.pt")
    try:
        state = torch.load(state_file, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{state_file}: cannot read the training state ({e})") from None
    extras = {
        name[: -len(".json")]: _read_json(os.path.join(path, name))
        for name in files
        if name.endswith(".json") and name[: -len(".json")] not in RESERVED
    }
    return Checkpoint(
        path=path,
        config=_read_json(os.path.join(path, "config.json")),
        metrics=_read_json(os.path.join(path, "metrics.json")),
        extras=extras,
        state=state,
    )
