"""Callbacks: what happens around the loop without being the loop.

The trainer calls, on every callback in order::

    on_fit_start(trainer)
      on_epoch_start(trainer, epoch)
        on_step_end(trainer, logs)       logs: step, epoch, loss, grad_norm (pre-clip), lr,
                                         samples, finite
      on_epoch_end(trainer, epoch, logs) logs: train_loss, val_loss, val_<metric>, lr, ...
    on_fit_end(trainer)

Writers (progress bar, CSV, TensorBoard) act only on the main process (rank 0) of a
data-parallel run; :class:`EarlyStopping` runs on every rank, on metrics already reduced
over ranks, so all ranks stop at the same epoch.
"""

from __future__ import annotations

import csv
import math
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import TrainerConfig
    from .trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "ProgressBar",
    "TensorBoardLogger",
    "default_callbacks",
    "improved",
    "tensorboard_available",
]


def improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Is ``value`` better than ``best`` by more than ``min_delta`` (``mode`` min or max)?

    >>> improved(0.5, 0.6, "min"), improved(0.5, 0.6, "max"), improved(0.5, None, "min")
    (True, False, True)
    """
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        pass

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON data saved in checkpoints, so a resumed run continues the same."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs,
    once the trainer has taken ``min_steps`` optimizer steps (before that the count of
    epochs without improvement runs on, but nothing stops)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int = 5,
        min_delta: float = 0.0,
        min_steps: int = 0,
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if min_steps < 0:
            raise ValueError(f"min_steps must be >= 0, got {min_steps}")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.min_steps = min_steps
        self.best: float | None = None
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"early stopping monitors {self.monitor!r}, which is not among the epoch's "
                f"metrics: {', '.join(sorted(logs))} (is there validation data?)"
            )
        value = logs[self.monitor]
        if improved(value, self.best, self.mode, self.min_delta):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience and trainer.global_step >= self.min_steps:
                trainer.stop(
                    f"early stopping: {self.monitor} has not improved on {self.best:.6g} "
                    f"for {self.bad_epochs} epochs"
                )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], int(state["bad_epochs"])


class ProgressBar(Callback):
    """A tqdm bar per epoch showing the running loss and throughput (samples/s)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.bar = None
        if not trainer.is_main:
            return
        from tqdm.auto import tqdm

        total = trainer.steps_per_epoch or None
        self.bar = tqdm(
            total=total,
            desc=f"epoch {epoch + 1}/{trainer.config.epochs}",
            unit="step",
            leave=False,
            dynamic_ncols=True,
        )
        self.start, self.samples, self.loss_sum, self.n = time.perf_counter(), 0, 0.0, 0

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self.samples += logs["samples"]
        if logs["finite"]:
            self.loss_sum, self.n = self.loss_sum + logs["loss"], self.n + 1
        rate = self.samples / max(time.perf_counter() - self.start, 1e-9)
        loss = self.loss_sum / max(self.n, 1)
        self.bar.set_postfix(loss=f"{loss:.4g}", samples_per_s=f"{rate:.0f}", refresh=False)
        self.bar.update(1)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self.bar.close()
        shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, float))
        print(f"epoch {epoch + 1}/{trainer.config.epochs}  {shown}", flush=True)


class CSVLogger(Callback):
    """Writes every metric: ``epochs.csv`` (one row per epoch) and ``steps.csv`` (one row
    per optimizer step: loss, pre-clip gradient norm, learning rate) in ``directory``.

    A fresh run starts the files anew; a resumed run appends to them, after dropping the
    rows of steps and epochs its checkpoint does not hold (run after it was written and
    before the run stopped), so each step and epoch appears once."""

    STEP_FIELDS = ("epoch", "step", "loss", "grad_norm", "lr", "finite")

    def __init__(self, directory: str | os.PathLike):
        self.directory = os.fspath(directory)

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.is_main:
            return
        os.makedirs(self.directory, exist_ok=True)
        self.epochs_path = os.path.join(self.directory, "epochs.csv")
        self.steps_path = os.path.join(self.directory, "steps.csv")
        mode = "a" if trainer.global_step > 0 and os.path.exists(self.steps_path) else "w"
        if mode == "a":
            _keep_rows(self.steps_path, lambda row: int(row["step"]) <= trainer.global_step)
            if os.path.exists(self.epochs_path):
                _keep_rows(self.epochs_path, lambda row: int(row["epoch"]) <= trainer.epoch)
        self._steps_file = open(self.steps_path, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self._steps = csv.DictWriter(self._steps_file, self.STEP_FIELDS, extrasaction="ignore")
        if mode == "w":
            self._steps.writeheader()
            if os.path.exists(self.epochs_path):
                os.remove(self.epochs_path)

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if trainer.is_main:
            self._steps.writerow(logs)
            self._steps_file.flush()  # a mid-epoch checkpoint may follow: rows up to it stay

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if not trainer.is_main:
            return
        self._steps_file.flush()
        row = {"epoch": epoch + 1, **logs}
        rows: list[dict[str, Any]] = []
        if os.path.exists(self.epochs_path):
            with open(self.epochs_path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        rows.append(row)
        fields: list[str] = []
        for r in rows:  # a metric that appears later (e.g. validation) adds a column
            fields += [k for k in r if k not in fields]
        with open(self.epochs_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fields)
            writer.writeheader()
            writer.writerows(rows)

    def on_fit_end(self, trainer: Trainer) -> None:
        if trainer.is_main:
            self._steps_file.close()


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (needed by ``SummaryWriter``) is installed."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger(Callback):
    """Scalars for TensorBoard: ``train/loss``, ``train/grad_norm``, ``train/lr`` per step
    and every epoch metric per epoch. Needs ``pip install tensorboard``."""

    def __init__(self, log_dir: str | os.PathLike):
        if not tensorboard_available():
            raise ImportError(
                "TensorBoardLogger needs the tensorboard package: pip install tensorboard"
            )
        self.log_dir = os.fspath(log_dir)
        self.writer = None

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(self.log_dir)

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        if self.writer is not None:
            for key in ("loss", "grad_norm", "lr"):
                self.writer.add_scalar(f"train/{key}", logs[key], logs["step"])

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.writer is not None:
            for key, value in logs.items():
                if isinstance(value, int | float):
                    self.writer.add_scalar(f"epoch/{key}", value, epoch + 1)
            self.writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()


def _keep_rows(path: str, keep) -> None:
    """Rewrite the CSV file ``path`` with only the rows for which ``keep(row)`` is true
    (to a temporary file, then renamed over it)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], [row for row in reader if keep(row)]
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def default_callbacks(config: TrainerConfig) -> list[Callback]:
    """The callbacks a :class:`TrainerConfig` asks for: early stopping, a progress bar,
    CSV logs (and TensorBoard's, when installed) in ``log_dir`` or ``checkpoints.dir``."""
    c = config
    callbacks: list[Callback] = []
    stopping = c.early_stopping
    if stopping.patience is not None:
        callbacks.append(
            EarlyStopping(
                c.monitor, c.mode, stopping.patience, stopping.min_delta, stopping.min_steps
            )
        )
    if c.progress:
        callbacks.append(ProgressBar())
    log_dir = c.log_dir or c.checkpoints.dir
    if log_dir is not None:
        callbacks.append(CSVLogger(log_dir))
        if c.tensorboard and tensorboard_available():
            callbacks.append(TensorBoardLogger(os.path.join(log_dir, "tensorboard")))
    return callbacks
