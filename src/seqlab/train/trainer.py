"""``Trainer``: one loop for every task model (anything whose ``forward(batch)`` returns
``Output(prediction, loss)``), with full or truncated BPTT.

::

    trainer = Trainer(model, TrainerConfig(epochs=20, lr=1e-3, clip_norm=1.0,
                                           patience=3, checkpoint_dir="runs/lm"))
    history = trainer.fit(train_loader, val_loader)     # a list of per-epoch metrics
    trainer.evaluate(test_loader)                        # {"loss": ..., "accuracy": ...}

**Full BPTT** (``stateful=False``, the default): every batch is a set of whole
sequences; ``loss.backward()`` goes through all their steps.

**Truncated BPTT** (``stateful=True``): the loader yields the chunks of ``B`` parallel
streams in stream order (``seqlab.data``'s stream batcher); the model's final state is
carried, detached, into the next chunk (:mod:`seqlab.train.tbptt`), and
``backprop_chunks`` sets ``k2`` in Williams & Peng's BPTT(k2; k1). The state starts
fresh at every epoch. Validation runs the same way, carrying the state.

Each optimizer step is :func:`seqlab.train.step.train_step` (forward, backward,
pre-clip gradient norm, clipping, update); this module is the loop around it: epochs,
schedules, validation, callbacks, checkpoints and resume, data parallelism.

**Resume** continues exactly: checkpoints are written at the end of an epoch with the
optimizer, schedule, early-stopping and RNG states, so ``fit(..., resume_from=path)``
ends with the same weights as a run that was never interrupted (on CPU; the data loader
must draw its order from torch's global generator, as ``shuffle=True`` does, or be
deterministic). With ``checkpoint_every=N``, ``last/`` is also written every N optimizer
steps inside an epoch (one long pass over a big stream need not start over): it adds the
RNG state of the epoch's start, the epoch's running loss sums and, with truncated BPTT,
the carried state. Resuming from it draws the same batch order again, skips (loads but
does not train on) the batches already done, and goes on from the next.

**Non-finite loss or gradient**: ``on_nonfinite="stop"`` raises :class:`NonFiniteError`
naming the step, before anything is written, so the last checkpoint on disk stays the
last good one; ``"skip"`` drops that update (no optimizer step, the carried state is
reset), counts it in ``skipped_steps`` and goes on.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..config import to_dict
from ..data.batch import IGNORE_INDEX, Batch
from ..models.output import Output
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ProgressBar,
    TensorBoardLogger,
    improved,
    tensorboard_available,
)
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .distributed import all_reduce_sum, barrier, is_main_process, world_size
from .metrics import Metric, bits_per_char, make_metric, perplexity
from .optim import LRSchedule, build_optimizer
from .step import NonFiniteError, StepResult, train_step
from .tbptt import TruncatedBPTT

__all__ = ["Trainer", "TrainerConfig", "resolve_device", "seed_everything"]

DERIVED_METRICS = ("perplexity", "bits_per_char")  # from the mean loss (NLL in nats)


@dataclass
class TrainerConfig:
    """Everything the trainer needs besides the model and the data (YAML: ``train:``).

    Optimization: ``optimizer`` (sgd, adam, adamw, rmsprop), ``lr``, ``momentum`` (sgd,
    rmsprop), ``nesterov``, ``betas`` (adam, adamw), ``weight_decay``; ``schedule``
    (constant, step, cosine, plateau) with ``warmup_steps``, ``step_size`` (epochs) and
    ``gamma`` (step, plateau), ``plateau_patience``, ``min_lr``
    (see :mod:`seqlab.train.optim`). Clipping: ``clip_norm`` (global L2 norm),
    ``clip_value`` (each element); ``None`` turns either off.

    Recurrence: ``stateful`` (truncated BPTT over stream chunks), ``backprop_chunks``
    (``k2 = backprop_chunks * k1``).

    Stopping and saving: ``monitor`` with ``mode`` drive early stopping (``patience``
    epochs, ``None`` = off, ``min_delta``) and the best checkpoint; ``checkpoint_dir``
    gets ``last/`` (every epoch, if ``keep_last``, and every ``checkpoint_every``
    optimizer steps when set) and ``best/`` (if ``keep_best``); ``on_nonfinite`` is
    ``stop`` or ``skip``.

    Run: ``seed``; ``deterministic`` (``torch.use_deterministic_algorithms``: slower on
    GPU, and it errors on ops without a deterministic kernel); ``precision`` (``fp32`` or
    ``bf16`` autocast); ``device`` (``auto``: CUDA when present); ``metrics`` (names for
    :func:`seqlab.train.metrics.make_metric`, plus ``perplexity`` and ``bits_per_char``);
    ``progress`` (False: quiet, for CI); ``log_dir`` for ``epochs.csv``/``steps.csv``
    (default: ``checkpoint_dir``); ``tensorboard`` (used when the package is installed).
    """

    epochs: int = 10
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: Literal["constant", "step", "cosine", "plateau"] = "constant"
    warmup_steps: int = 0
    step_size: int = 10
    gamma: float = 0.1
    plateau_patience: int = 2
    min_lr: float = 0.0
    clip_norm: float | None = None
    clip_value: float | None = None
    stateful: bool = False
    backprop_chunks: int = 1
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int | None = None
    min_delta: float = 0.0
    checkpoint_dir: str | None = None
    keep_best: bool = True
    keep_last: bool = True
    checkpoint_every: int | None = None
    on_nonfinite: Literal["stop", "skip"] = "stop"
    seed: int = 0
    deterministic: bool = False
    precision: Literal["fp32", "bf16"] = "fp32"
    device: str = "auto"
    metrics: list[str] = field(default_factory=list)
    progress: bool = True
    log_dir: str | None = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        positive_int = {
            "epochs": self.epochs,
            "step_size": self.step_size,
            "backprop_chunks": self.backprop_chunks,
        }
        for name, value in positive_int.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr={self.lr}], got {self.min_lr}")
        for name in ("momentum", "weight_decay", "min_delta"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if self.warmup_steps < 0 or self.plateau_patience < 0:
            raise ValueError(
                f"warmup_steps and plateau_patience must be >= 0, got {self.warmup_steps} "
                f"and {self.plateau_patience}"
            )
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")
        if (every := self.checkpoint_every) is not None:
            if every < 1:
                raise ValueError(f"checkpoint_every must be >= 1 or None, got {every}")
            if self.checkpoint_dir is None or not self.keep_last:
                raise ValueError(
                    "checkpoint_every writes last/ inside checkpoint_dir: it needs "
                    "checkpoint_dir set and keep_last=True"
                )
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ValueError("nesterov=True needs optimizer='sgd' and momentum > 0")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ValueError(
                    f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}"
                ) from None


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and every GPU) generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """``auto`` is this process's GPU when CUDA is present (``cuda:LOCAL_RANK`` under
    torchrun), else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available")
    return device


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": list(random.getstate()),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available() and state["cuda"]:
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _target_weight(batch: Batch) -> int:
    """How many targets a batch's mean loss averages over: the non-padding tokens for
    integer targets, else the batch size (so epoch losses are exact per-token means)."""
    t = batch.targets
    if t is not None and not t.is_floating_point() and t.dim() >= 2:
        return int((t != IGNORE_INDEX).sum())
    return batch.size


class Trainer:
    """Trains ``model`` on batches of :class:`seqlab.data.Batch` (see the module docs).

    Args:
        model: ``forward(batch) -> Output``; with ``stateful=True``,
            ``forward(batch, state=None) -> Output(..., state=final_state)``.
        config: a :class:`TrainerConfig` (defaults if ``None``).
        metrics: accumulators (:mod:`seqlab.train.metrics`) computed on validation data,
            in addition to those named in ``config.metrics``.
        callbacks: extra :class:`Callback` objects, called after the built-in ones.
        model_config: JSON data that rebuilds the model; saved in ``config.json``, and a
            resumed checkpoint must have the same.
        extras: JSON data saved next to the weights, one file each (``{"vocab": ...}``).

    >>> import torch.nn.functional as F
    >>> from seqlab.nn import GRU
    >>> class Regressor(nn.Module):  # many-to-one: (B, T, 2) -> (B,)
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.rnn, self.head = GRU(2, 8), nn.Linear(8, 1)
    ...     def forward(self, batch):
    ...         out, _ = self.rnn(batch.inputs)                 # (B, T, 8)
    ...         y = self.head(out[:, -1]).squeeze(-1)           # (B,)
    ...         return Output(y, F.mse_loss(y, batch.targets))
    >>> x = torch.randn(4, 16, 5, 2)                            # 4 batches of (16, 5, 2)
    >>> data = [Batch(xb, xb[:, :, 0].sum(1)) for xb in x]
    >>> config = TrainerConfig(epochs=3, lr=1e-2, clip_norm=1.0, metrics=["mae"],
    ...                        progress=False)
    >>> history = Trainer(Regressor(), config).fit(data, val=data)
    >>> len(history), sorted(history[-1])
    (3, ['lr', 'train_loss', 'val_loss', 'val_mae'])
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainerConfig | None = None,
        *,
        metrics: Sequence[Metric] = (),
        callbacks: Sequence[Callback] = (),
        model_config: Mapping[str, Any] | None = None,
        extras: Mapping[str, Any] | None = None,
    ):
        self.config = c = config or TrainerConfig()
        if c.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        seed_everything(c.seed)
        self.device = resolve_device(c.device)
        self.module = model.to(self.device)
        self.model: nn.Module = self.module  # what the steps call: DDP-wrapped on N ranks
        if world_size() > 1:
            if c.backprop_chunks > 1:  # DDP reduces gradients once per forward pass
                raise ValueError(
                    f"backprop_chunks={c.backprop_chunks} runs several forward passes per "
                    "update, which DistributedDataParallel does not support; use 1 with torchrun"
                )
            if c.stateful and c.checkpoint_every is not None:  # each rank carries its own
                raise ValueError(
                    "checkpoint_every with stateful=True would have to save every rank's "
                    "carried state; under torchrun checkpoint at epoch ends (leave it None)"
                )
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.module, device_ids=ids)
        self.optimizer = build_optimizer(self.module.parameters(), c)
        self.schedule: LRSchedule | None = None
        self._schedule_state: dict[str, Any] | None = None
        options = {"perplexity", "bits_per_char"}
        self.metrics = [make_metric(n) for n in c.metrics if n not in options] + list(metrics)
        self.callbacks: list[Callback] = []
        if c.patience is not None:
            self.callbacks.append(EarlyStopping(c.monitor, c.mode, c.patience, c.min_delta))
        if c.progress:
            self.callbacks.append(ProgressBar())
        log_dir = c.log_dir or c.checkpoint_dir
        if log_dir is not None:
            self.callbacks.append(CSVLogger(log_dir))
            if c.tensorboard and tensorboard_available():
                self.callbacks.append(TensorBoardLogger(os.path.join(log_dir, "tensorboard")))
        self.callbacks += list(callbacks)
        self.model_config = dict(model_config or {})
        self.extras = dict(extras or {})
        self.tbptt = TruncatedBPTT(c.backprop_chunks)
        self.autocast_dtype = torch.bfloat16 if c.precision == "bf16" else None
        self.start_epoch = 0  # the first epoch fit runs (after resume: the next one)
        self.epoch = 0  # epochs completed
        self.global_step = 0  # optimizer steps taken (skipped non-finite steps included)
        self.skipped_steps = 0
        self.history: list[dict[str, Any]] = []
        self.best: float | None = None
        self.steps_per_epoch = 0
        self._resume_epoch: dict[str, Any] | None = None  # a mid-epoch checkpoint's progress
        self.should_stop = False
        self.stop_reason: str | None = None

    # --------------------------------------------------------------------- helpers

    @property
    def is_main(self) -> bool:
        return is_main_process()

    def stop(self, reason: str) -> None:
        """Ask the loop to stop after this epoch (what early stopping calls)."""
        self.should_stop, self.stop_reason = True, reason

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _forward(self, model: nn.Module, batch: Batch, state: Any = None) -> Output:
        out = model(batch, state=state) if self.config.stateful else model(batch)
        if not isinstance(out, Output):
            raise TypeError(
                f"{type(self.module).__name__}.forward must return seqlab.models.Output, "
                f"got {type(out).__name__}"
            )
        return out

    # --------------------------------------------------------------------- evaluation

    def evaluate(self, data: Iterable[Batch], prefix: str = "") -> dict[str, float]:
        """Mean loss and every metric over ``data`` (reduced over ranks), keys prefixed.

        With ``stateful=True`` the state is carried from batch to batch, as in training.
        """
        self.module.eval()
        for m in self.metrics:
            m.reset()
        totals = torch.zeros(2, dtype=torch.float64)  # loss * weight, weight
        state = None
        with torch.no_grad(), self._autocast():
            for batch in data:
                batch = batch.to(self.device)
                out = self._forward(self.module, batch, state)
                state = out.state
                if out.loss is not None:
                    w = _target_weight(batch)
                    totals += torch.tensor([out.loss.float().item() * w, w], dtype=torch.float64)
                prediction = out.prediction
                if isinstance(prediction, torch.Tensor) and prediction.is_floating_point():
                    prediction = prediction.float()
                for m in self.metrics:
                    m.update(prediction, batch)
        self.module.train()
        totals = all_reduce_sum(totals)
        results: dict[str, float] = {}
        if totals[1] > 0:
            loss = (totals[0] / totals[1]).item()
            results["loss"] = loss
            if "perplexity" in self.config.metrics:
                results["perplexity"] = perplexity(loss) if loss < 700 else math.inf
            if "bits_per_char" in self.config.metrics:
                results["bits_per_char"] = bits_per_char(loss)
        for m in self.metrics:
            results[m.name] = m.compute(all_reduce_sum(m.stats))
        return {f"{prefix}{k}": v for k, v in results.items()}

    # --------------------------------------------------------------------- training

    def fit(
        self,
        train: Iterable[Batch],
        val: Iterable[Batch] | None = None,
        *,
        resume_from: str | os.PathLike | None = None,
    ) -> list[dict[str, Any]]:
        """Train for ``config.epochs`` epochs (from where ``resume_from`` left off);
        return the per-epoch metrics (also in ``self.history``)."""
        c = self.config
        try:
            self.steps_per_epoch = len(train)  # type: ignore[arg-type]
        except TypeError:
            if c.schedule == "cosine":
                raise ValueError(
                    "schedule='cosine' needs the number of steps: give a train loader with len()"
                ) from None
            self.steps_per_epoch = 0
        self.schedule = LRSchedule(self.optimizer, c, max(1, self.steps_per_epoch))
        if resume_from is not None:
            self.resume(resume_from)
        if self._schedule_state is not None:
            self.schedule.load_state_dict(self._schedule_state)
            self._schedule_state = None
        self.should_stop = False
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            for epoch in range(self.start_epoch, c.epochs):
                logs = self._train_epoch(epoch, train)
                if val is not None:
                    logs.update(self.evaluate(val, prefix="val_"))
                logs["lr"] = self.schedule.lr
                self.schedule.epoch_end(logs.get(c.monitor))
                self.epoch = epoch + 1
                self.history.append(logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, epoch, logs)
                self._save_epoch(logs)
                if self.should_stop:
                    break
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        self.start_epoch = self.epoch
        return self.history

    def _train_epoch(self, epoch: int, train: Iterable[Batch]) -> dict[str, Any]:
        c = self.config
        # the batch order is drawn from the RNG below: a mid-epoch resume draws it again
        resumed, self._resume_epoch = self._resume_epoch, None
        if resumed is None:
            if c.checkpoint_every:  # only mid-epoch checkpoints need it
                self._epoch_rng = _rng_state()
        else:
            self._epoch_rng = resumed["rng"]
            _set_rng_state(self._epoch_rng)
        skip = 0 if resumed is None else resumed["batches_done"]
        sampler = getattr(train, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new order every epoch
            sampler.set_epoch(epoch)
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        self.model.train()
        self.tbptt.reset()  # every epoch starts the streams anew
        totals = torch.zeros(3, dtype=torch.float64)  # loss * weight, weight, steps skipped
        if resumed is not None and self.is_main:  # the sums were reduced over ranks when saved
            totals += torch.tensor(resumed["totals"], dtype=torch.float64)
        seen = 0
        for i, batch in enumerate(train):
            seen = i + 1
            if i < skip:  # trained on before the mid-epoch checkpoint
                if c.stateful:  # its chunk may still be in the k2 window
                    self.tbptt.replay(batch.to(self.device))
                if i + 1 == skip:  # where the checkpoint was taken
                    self.tbptt.load_state_dict(resumed["tbptt"])
                    _set_rng_state(resumed["rng_now"])
                continue
            batch = batch.to(self.device)
            if c.stateful:  # the chunk continues the streams of the previous one
                forward = functools.partial(self.tbptt.forward, chunk=batch)
            else:  # whole sequences: full BPTT
                forward = functools.partial(self._forward, batch=batch)
            result = train_step(
                self.model,
                self.optimizer,
                forward,
                clip_norm=c.clip_norm,
                clip_value=c.clip_value,
                autocast_dtype=self.autocast_dtype,
            )
            self.global_step += 1
            if result.finite:
                self.schedule.step()
                w = _target_weight(batch)
                totals += torch.tensor([result.loss * w, w, 0], dtype=torch.float64)
            else:
                self._nonfinite(result, epoch, i)
                totals[2] += 1
            logs = {
                "epoch": epoch + 1,
                "step": self.global_step,
                "loss": result.loss,
                "grad_norm": result.grad_norm,
                "lr": self.schedule.lr,
                "samples": batch.size,
                "finite": result.finite,
            }
            for cb in self.callbacks:
                cb.on_step_end(self, logs)
            last_batch = self.steps_per_epoch and i + 1 == self.steps_per_epoch
            if c.checkpoint_every and self.global_step % c.checkpoint_every == 0 and not last_batch:
                self._save_mid_epoch(i + 1, totals)
        if skip > seen:
            raise ValueError(
                f"the checkpoint was taken after batch {skip} of epoch {epoch + 1}, but the "
                f"training data yields {seen} batches: resume with the same training data"
            )
        totals = all_reduce_sum(totals)
        if totals[1] == 0 and totals[2] == 0:
            raise ValueError(f"epoch {epoch + 1}: the training data yielded no batch")
        logs = {"train_loss": (totals[0] / totals[1]).item() if totals[1] > 0 else math.nan}
        if totals[2] > 0:
            logs["skipped_steps"] = int(totals[2])
        return logs

    def _nonfinite(self, result: StepResult, epoch: int, index: int) -> None:
        where = f"step {self.global_step} (epoch {epoch + 1}, batch {index + 1})"
        what = f"loss {result.loss}, gradient norm {result.grad_norm}"
        if self.config.on_nonfinite == "stop":
            kept = (
                f"the last checkpoint in {self.config.checkpoint_dir} is left untouched"
                if self.config.checkpoint_dir
                else "no checkpoint was written"
            )
            raise NonFiniteError(
                f"non-finite {what} at {where}; training stopped and {kept}. Lower lr, set "
                "clip_norm, or on_nonfinite='skip' to drop such steps"
            )
        self.skipped_steps += 1
        self.tbptt.reset()  # the carried state may hold the NaN
        if self.is_main:
            warnings.warn(f"skipped the update at {where}: non-finite {what}", stacklevel=3)

    # --------------------------------------------------------------------- checkpoints

    def _save_epoch(self, logs: Mapping[str, Any]) -> None:
        c = self.config
        value = logs.get(c.monitor)
        is_best = value is not None and improved(value, self.best, c.mode, c.min_delta)
        if is_best:
            self.best = value
        if c.checkpoint_dir is None:
            return
        if self.is_main:
            if c.keep_last:
                self.save(os.path.join(c.checkpoint_dir, "last"))
            if c.keep_best and is_best:
                self.save(os.path.join(c.checkpoint_dir, "best"))
        barrier()  # the other ranks wait until the checkpoint is on disk

    def _save_mid_epoch(self, batches_done: int, totals: torch.Tensor) -> None:
        progress = {
            "batches_done": batches_done,
            "totals": all_reduce_sum(totals.clone()).tolist(),  # every rank's, once
            "rng": self._epoch_rng,
            "tbptt": self.tbptt.state_dict(),
        }
        if self.is_main:
            self.save(os.path.join(self.config.checkpoint_dir, "last"), epoch_progress=progress)
        barrier()

    def save(
        self, path: str | os.PathLike, *, epoch_progress: Mapping[str, Any] | None = None
    ) -> str:
        """Write a checkpoint of the model and the whole training state to ``path``
        (``epoch_progress``: how far into the next epoch, for a mid-epoch checkpoint)."""
        state = {
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict() if self.schedule else None,
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "rng": _rng_state(),
            "trainer": {
                "epoch": self.epoch,
                "global_step": self.global_step,
                "skipped_steps": self.skipped_steps,
                "best": self.best,
            },
            "epoch_progress": dict(epoch_progress) if epoch_progress else None,
        }
        metrics = {
            "epoch": self.epoch,
            "step": self.global_step,
            "monitor": self.config.monitor,
            "best": self.best,
            "history": self.history,
        }
        config = {"trainer": to_dict(self.config), "model": self.model_config}
        return save_checkpoint(
            path, self.module, config=config, metrics=metrics, extras=self.extras, state=state
        )

    def resume(self, path: str | os.PathLike) -> None:
        """Load a checkpoint written by :meth:`save`: weights, optimizer, schedule,
        callbacks, RNG states and counters; ``fit`` then goes on with the next epoch."""
        ckpt = load_checkpoint(path, self.module, map_location=self.device)
        saved_model = ckpt.config.get("model", {})
        if self.model_config and saved_model != self.model_config:
            keys = sorted(
                k
                for k in {*saved_model, *self.model_config}
                if saved_model.get(k) != self.model_config.get(k)
            )
            raise CheckpointError(
                f"{ckpt.path}: the model config differs from this run's in "
                + ", ".join(
                    f"{k} ({saved_model.get(k)!r} there, {self.model_config.get(k)!r} here)"
                    for k in keys
                )
            )
        state = ckpt.state
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(
                f"{ckpt.path}/state.pt: optimizer state does not fit: {e}"
            ) from None
        if len(state["callbacks"]) != len(self.callbacks):
            raise CheckpointError(
                f"{ckpt.path}/state.pt: saved with {len(state['callbacks'])} callbacks, this "
                f"trainer has {len(self.callbacks)} (the same config and callbacks are needed)"
            )
        for cb, cb_state in zip(self.callbacks, state["callbacks"], strict=True):
            cb.load_state_dict(cb_state)
        self._schedule_state = state["schedule"]
        counters = state["trainer"]
        self.epoch = self.start_epoch = int(counters["epoch"])
        self.global_step = int(counters["global_step"])
        self.skipped_steps = int(counters["skipped_steps"])
        self.best = counters["best"]
        self.history = list(ckpt.metrics.get("history", []))
        _set_rng_state(state["rng"])
        progress = state.get("epoch_progress")  # absent in checkpoints of older versions
        if progress:  # taken inside epoch `epoch`: fit replays its start (see _train_epoch)
            self._resume_epoch = {**progress, "rng_now": state["rng"]}
