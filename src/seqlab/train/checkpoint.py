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

**Atomic, and the previous checkpoint survives a second crash.** All files are written
into ``run/last.tmp-<pid>/``, each flushed to disk (fsync), hashed into the manifest, and
the directory flushed; only then does it take the place of ``run/last``::

    1  remove stale temporaries   (last.tmp-* / last.del-* of dead processes)
    2  write last.tmp-<pid>/       (every file fsynced, then the manifest, then the dir)
    3  last -> last.old            (only when last exists; a last.old already there is
                                    discarded first, or instead of last when last fails
                                    verification)
    4  last.tmp-<pid> -> last      (the new checkpoint appears whole, under its name)
    5  fsync run/, discard last.old

At every instant ``run/last`` or ``run/last.old`` is a whole checkpoint (a directory is
discarded by renaming it to ``last.del-<pid>`` first, so a half-deleted one never carries
a checkpoint's name), and :func:`load_checkpoint` takes ``last``, or ``last.old`` when
``last`` is missing or fails verification: a run resumed from ``last.old`` that dies in
its first save still leaves ``last.old``. The save's file operations go through the
module's ``_rename`` / ``_remove_tree`` / ``_fsync`` so that a test can kill it at each.

**Checked**: the manifest must list every file in the directory (and the four that every
checkpoint has) with a SHA-256 each; a missing, unlisted or changed file, weights whose
names or shapes differ from the model, or optimizer state for other parameters raise
:class:`CheckpointError`, naming the file and what differs.

>>> import tempfile, torch
>>> model = torch.nn.Linear(3, 2)
>>> with tempfile.TemporaryDirectory() as d:
...     path = save_checkpoint(f"{d}/last", model, config={"model": {"hidden": 2}})
...     ckpt = load_checkpoint(path, torch.nn.Linear(3, 2))
>>> ckpt.config
{'model': {'hidden': 2}}
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import warnings
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
REQUIRED_FILES = ("weights.safetensors", "config.json", "metrics.json", "state.pt")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match the model it is loaded into."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read (the weights are already in the model, if one
    was given; :meth:`load_weights` puts them into a model built from ``config`` later)."""

    path: str
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def load_weights(self, model: nn.Module) -> None:
        """Load this (verified) checkpoint's weights into ``model``."""
        _load_weights(model, os.path.join(self.path, "weights.safetensors"))


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


def _rename(src: str, dst: str) -> None:
    os.replace(src, dst)


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _discard(path: str) -> None:
    """Remove a checkpoint directory; renamed out of its name first, so that a crash
    mid-removal leaves a half-deleted ``*.del-<pid>`` (cleaned later), never a
    half-deleted directory under a checkpoint's name."""
    if not os.path.lexists(path):
        return
    trash = f"{path.rsplit('.old', 1)[0] if path.endswith('.old') else path}.del-{os.getpid()}"
    _remove_tree(trash)
    _rename(path, trash)
    _remove_tree(trash)


def _check_replaceable(path: str) -> None:
    """``path`` is replaced by a save: it must be absent, empty, or a checkpoint (never a
    file or a folder of something else, which a save would otherwise delete)."""
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        raise CheckpointError(f"{path}: exists and is not a checkpoint directory; not replacing it")
    if os.listdir(path) and not os.path.exists(os.path.join(path, "manifest.json")):
        raise CheckpointError(
            f"{path}: a folder that is not a seqlab checkpoint (no manifest.json); a save "
            "would replace it, so pick another path"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # a process we may not signal (or a pid out of range: not ours)
    return True


def _remove_stale_temporaries(path: str) -> None:
    """``<path>.tmp-<pid>`` / ``<path>.del-<pid>`` left by a killed save: removed when that
    process is gone (or is this one); a live other process's are left alone."""
    for leftover in glob.glob(glob.escape(path) + ".tmp-*") + glob.glob(
        glob.escape(path) + ".del-*"
    ):
        suffix = leftover.rsplit("-", 1)[-1]
        pid = int(suffix) if suffix.isdigit() else None
        if pid is None or pid == os.getpid() or not _pid_alive(pid):
            _remove_tree(leftover)


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
    if not path:
        raise ValueError("path must name the checkpoint directory, got ''")
    for target in (path, f"{path}.old"):
        _check_replaceable(target)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = f"{path}.tmp-{os.getpid()}"
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
            digests[name] = _sha256(target)  # read back from disk, after the flush
        manifest = {"format_version": FORMAT_VERSION, "files": digests}
        _write_json(os.path.join(tmp, "manifest.json"), manifest)
        _fsync(os.path.join(tmp, "manifest.json"))
        _fsync(tmp)
    except BaseException:
        _remove_tree(tmp)
        raise
    old = f"{path}.old"
    if os.path.isdir(path):
        # One of last / last.old must stay whole until the new one is in place: keep last
        # (the newer) unless last.old is there too and last fails verification.
        if os.path.isdir(old) and not _verifies(path):
            _discard(path)
        else:
            _discard(old)
            _rename(path, old)
    _rename(tmp, path)  # the new checkpoint appears whole, under its name
    _fsync(parent)
    _discard(old)
    return path


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing from the checkpoint") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except (UnicodeDecodeError, OSError) as e:
        raise CheckpointError(f"{path}: cannot be read as UTF-8 JSON ({e})") from None


def _verify(path: str) -> dict[str, str]:
    """The manifest's ``{file: sha256}``, once every file in ``path`` is listed in it, every
    listed file is there, and each one's hash matches."""
    manifest_path = os.path.join(path, "manifest.json")
    if not os.path.exists(manifest_path):
        raise CheckpointError(f"{path}: not a seqlab checkpoint (no manifest.json)")
    manifest = _read_json(manifest_path)
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{manifest_path}: format_version {version!r}, this seqlab reads {FORMAT_VERSION}"
        )
    files = manifest.get("files")
    shape = "'files' must map each file name of the checkpoint to its SHA-256 (64 hex digits)"
    if not isinstance(files, dict):
        raise CheckpointError(f"{manifest_path}: {shape}, got {type(files).__name__}")
    for name, digest in files.items():
        plain = name not in ("", ".", "..", "manifest.json") and os.path.basename(name) == name
        if not plain or "/" in name or "\\" in name:
            raise CheckpointError(f"{manifest_path}: {name!r} is not a file name of the checkpoint")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise CheckpointError(f"{manifest_path}: {shape}; {name!r} has {digest!r}")
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise CheckpointError(
            f"{manifest_path}: does not list {missing}; it covers {sorted(files)}"
        )
    unlisted = sorted(set(os.listdir(path)) - set(files) - {"manifest.json"})
    if unlisted:
        raise CheckpointError(
            f"{path}: {unlisted} not covered by manifest.json (a checkpoint holds only the "
            "files its manifest lists and hashes)"
        )
    for name, digest in files.items():
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            raise CheckpointError(f"{file}: missing from the checkpoint")
        if _sha256(file) != digest:
            raise CheckpointError(f"{file}: corrupt (its SHA-256 differs from manifest.json)")
    return files


def _verifies(path: str) -> bool:
    try:
        _verify(path)
    except (CheckpointError, OSError):
        return False
    return True


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
    old = f"{path}.old"
    if not os.path.isdir(path):
        if not os.path.isdir(old):
            raise CheckpointError(f"{path}: no checkpoint directory there")
        path = old  # a crash came between the renames of save_checkpoint
        files = _verify(path)
    else:
        try:
            files = _verify(path)
        except CheckpointError as e:
            if not (os.path.isdir(old) and _verifies(old)):
                raise
            warnings.warn(f"{e}; loading the previous checkpoint {old} instead", stacklevel=2)
            path, files = old, _verify(old)
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
