"""``Trainer``: one loop for every task model (anything whose ``forward(batch)`` returns
``Output(prediction, loss)``), with full or truncated BPTT.

::

    config = TrainerConfig(epochs=20, optimizer={"lr": 1e-3}, clip={"norm": 1.0},
                           early_stopping={"patience": 3}, checkpoints={"dir": "runs/lm"})
    trainer = Trainer(model, config)
    history = trainer.fit(train_loader, val_loader)     # a list of per-epoch metrics
    trainer.evaluate(test_loader)                        # {"loss": ..., "accuracy": ...}

**Full BPTT** (``tbptt.stateful=False``, the default): every batch is a set of whole
sequences; ``loss.backward()`` goes through all their steps.

**Truncated BPTT** (``tbptt.stateful=True``): the loader yields the chunks of ``B`` parallel
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
deterministic). With ``checkpoints.every=N``, ``last/`` is also written every N optimizer
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
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..config import to_dict
from ..data.batch import Batch
from ..models.output import Output
from .callbacks import Callback, default_callbacks, improved
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainerConfig
from .distributed import all_reduce_sum, barrier, data_parallel, is_main_process, world_size
from .metrics import Metric, build_metrics, merge_options
from .optim import LRSchedule, build_optimizer
from .resume import restore_training_state, training_state
from .runtime import (
    denormals_flushed,
    make_deterministic,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
)
from .step import NonFiniteError, StepResult, train_step
from .tbptt import TruncatedBPTT

__all__ = ["Trainer", "TrainerConfig", "resolve_device", "seed_everything"]


def _weight(output: Output, batch: Batch) -> float:
    """How many targets the mean loss of ``output`` averages over (``Output.weight``;
    one per sequence when the model does not say), so epoch losses are exact means."""
    w = output.weight
    return float(batch.size if w is None else w)


class Trainer:
    """Trains ``model`` on batches of :class:`seqlab.data.Batch` (see the module docs).

    Args:
        model: ``forward(batch) -> Output``; with ``stateful=True``,
            ``forward(batch, state=None) -> Output(..., state=final_state)``.
        config: a :class:`TrainerConfig` (defaults if ``None``).
        metrics: accumulators (:mod:`seqlab.train.metrics`) computed on validation data,
            in addition to those named in ``config.metrics``.
        metric_options: options by metric name for those named in ``config.metrics``
            (``{"entity_f1": {"tags": [...]}}``), beside what the model gives.
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
    >>> config = TrainerConfig(epochs=3, optimizer={"lr": 1e-2}, clip={"norm": 1.0},
    ...                        metrics=["mae"], progress=False)
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
        metric_options: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        self.config = c = config or TrainerConfig()
        if not isinstance(c, TrainerConfig):
            raise ValueError(f"config must be a TrainerConfig, got {type(c).__name__}")
        if c.deterministic:
            make_deterministic()
        seed_everything(c.seed)
        self.device = resolve_device(c.device)
        self.module = model.to(self.device)
        self.model: nn.Module = self.module  # what the steps call: DDP-wrapped on N ranks
        if world_size() > 1:
            self.model = data_parallel(self.module, self.device, c)
        self.optimizer = build_optimizer(self.module.parameters(), c)
        self.schedule: LRSchedule | None = None
        self._schedule_state: dict[str, Any] | None = None
        options = merge_options(getattr(model, "metric_options", dict)(), metric_options or {})
        supported = getattr(model, "supported_metrics", None)
        self.metrics = build_metrics(
            c.metrics, options, supported() if supported else None, type(model).__name__
        )
        self.metrics += list(metrics)
        self._check_monitor()
        self.callbacks: list[Callback] = default_callbacks(c) + list(callbacks)
        self.model_config = dict(model_config or {})
        self.extras = dict(extras or {})
        self.tbptt = TruncatedBPTT(c.tbptt.backprop_chunks, c.tbptt.reset_every)
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
        """Ask the loop to stop: called from ``on_epoch_end`` (early stopping), after
        this epoch; from ``on_step_end`` (a time budget), after this step, the epoch
        then ends as usual (validation, checkpoint). Under DDP every rank must decide alike."""
        self.should_stop, self.stop_reason = True, reason

    def logged_names(self) -> list[str]:
        """The values each epoch logs, with validation data: what ``monitor`` may name."""
        return ["train_loss", "lr", "val_loss"] + [f"val_{m.name}" for m in self.metrics]

    def _check_monitor(self) -> None:
        """A misspelt ``monitor`` would never improve: ``best/`` would never be written
        and early stopping would never stop; say so now, not after the run."""
        if self.config.monitor not in self.logged_names():
            raise ValueError(
                f"monitor {self.config.monitor!r} is not a value the trainer logs; expected "
                f"one of: {', '.join(self.logged_names())} (val_<name> for each of metrics)"
            )

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _forward(self, model: nn.Module, batch: Batch, state: Any = None) -> Output:
        out = model(batch, state=state) if self.config.tbptt.stateful else model(batch)
        if not isinstance(out, Output):
            raise TypeError(
                f"{type(self.module).__name__}.forward must return seqlab.models.Output, "
                f"got {type(out).__name__}"
            )
        return out

    # --------------------------------------------------------------------- evaluation

    def evaluate(self, data: Iterable[Batch], prefix: str = "") -> dict[str, float]:
        """Mean loss and every metric over ``data`` (reduced over ranks), keys prefixed.

        Each batch goes through the model's ``evaluate_batch`` when it has one (a task
        model: the loss as in training, the prediction its metrics score, e.g. a
        generator's own decoding), else its ``forward``. With ``tbptt.stateful`` the state
        is carried from batch to batch, as in training.
        """
        self.module.eval()
        evaluate_batch = getattr(self.module, "evaluate_batch", None)
        for m in self.metrics:
            m.reset()
        totals = torch.zeros(2, dtype=torch.float64)  # loss * weight, weight
        state = None
        with torch.no_grad(), self._autocast():
            for batch in data:
                batch = batch.to(self.device)
                if evaluate_batch is not None:
                    out = evaluate_batch(batch, state=state)
                else:
                    out = self._forward(self.module, batch, state)
                state = out.state if self.config.tbptt.stateful else None  # whole sequences
                if out.loss is not None:
                    w = _weight(out, batch)
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
            results["loss"] = (totals[0] / totals[1]).item()
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
            if c.schedule.name == "cosine":
                raise ValueError(
                    "schedule name 'cosine' needs the number of steps: give a train loader "
                    "with len()"
                ) from None
            self.steps_per_epoch = 0
        self.schedule = LRSchedule(self.optimizer, c, max(1, self.steps_per_epoch))
        if resume_from is not None:
            self.resume(resume_from)
        if self._schedule_state is not None:
            self.schedule.load_state_dict(self._schedule_state)
            self._schedule_state = None
        self.should_stop = False
        self._fit_start = time.perf_counter()  # max_time counts from here
        for cb in self.callbacks:
            cb.on_fit_start(self)
        # denormals as zero (CPU): a gradient vanishing through time is ~10x slower without
        with denormals_flushed(c.flush_denormal):
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

    def _time_is_up(self, seconds: float) -> bool:
        """Whether this fit has run ``seconds``; under DDP any rank's clock stops them all
        (ranks that stopped at different steps would wait for each other forever)."""
        up = time.perf_counter() - self._fit_start >= seconds
        if world_size() > 1:
            up = bool(all_reduce_sum(torch.tensor([float(up)])).item() > 0)
        return up

    def _train_epoch(self, epoch: int, train: Iterable[Batch]) -> dict[str, Any]:
        c = self.config
        # the batch order is drawn from the RNG below: a mid-epoch resume draws it again
        resumed, self._resume_epoch = self._resume_epoch, None
        if resumed is None:
            if c.checkpoints.every:  # only mid-epoch checkpoints need it
                self._epoch_rng = rng_state()
        else:
            self._epoch_rng = resumed["rng"]
            set_rng_state(self._epoch_rng)
        skip = 0 if resumed is None else resumed["batches_done"]
        for name in ("sampler", "batch_sampler"):  # Distributed/BucketSampler: an epoch's order
            sampler = getattr(train, name, None)
            if hasattr(sampler, "set_epoch"):
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
                if c.tbptt.stateful:  # its chunk may still be in the k2 window
                    self.tbptt.replay(batch.to(self.device))
                if i + 1 == skip:  # where the checkpoint was taken
                    self.tbptt.load_state_dict(resumed["tbptt"])
                    set_rng_state(resumed["rng_now"])
                continue
            batch = batch.to(self.device)
            if c.tbptt.stateful:  # the chunk continues the streams of the previous one
                forward = functools.partial(self.tbptt.forward, chunk=batch)
            else:  # whole sequences: full BPTT
                forward = functools.partial(self._forward, batch=batch)
            result = train_step(
                self.model,
                self.optimizer,
                forward,
                clip_norm=c.clip.norm,
                clip_value=c.clip.value,
                autocast_dtype=self.autocast_dtype,
            )
            self.global_step += 1
            if result.finite:
                self.schedule.step()
                w = _weight(result.output, batch)
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
            if c.max_steps is not None and self.global_step >= c.max_steps:
                self.stop(f"max_steps={c.max_steps} reached")
            if c.max_time is not None and self._time_is_up(c.max_time):
                self.stop(f"max_time={c.max_time:g} s reached")
            if self.should_stop:  # max_steps, or a callback's stop() from on_step_end
                break
            every = c.checkpoints.every
            if every and self.global_step % every == 0 and not last_batch:
                self._save_mid_epoch(i + 1, totals)
        if skip > seen and not self.should_stop:
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
                f"the last checkpoint in {self.config.checkpoints.dir} is left untouched"
                if self.config.checkpoints.dir
                else "no checkpoint was written"
            )
            raise NonFiniteError(
                f"non-finite {what} at {where}; training stopped and {kept}. Lower lr, set "
                "clip.norm, or on_nonfinite='skip' to drop such steps"
            )
        self.skipped_steps += 1
        self.tbptt.reset()  # the carried state may hold the NaN
        if self.is_main:
            warnings.warn(f"skipped the update at {where}: non-finite {what}", stacklevel=3)

    # --------------------------------------------------------------------- checkpoints

    def _save_epoch(self, logs: Mapping[str, Any]) -> None:
        c = self.config
        value = logs.get(c.monitor)
        delta = c.early_stopping.min_delta
        is_best = value is not None and improved(value, self.best, c.mode, delta)
        if is_best:
            self.best = value
        ckpt = c.checkpoints
        if ckpt.dir is None:
            return
        if self.is_main:
            if ckpt.keep_last:
                self.save(os.path.join(ckpt.dir, "last"))
            if ckpt.keep_best and is_best:
                self.save(os.path.join(ckpt.dir, "best"))
        barrier()  # the other ranks wait until the checkpoint is on disk

    def _save_mid_epoch(self, batches_done: int, totals: torch.Tensor) -> None:
        progress = {
            "batches_done": batches_done,
            "totals": all_reduce_sum(totals.clone()).tolist(),  # every rank's, once
            "rng": self._epoch_rng,
            "tbptt": self.tbptt.state_dict(),
        }
        if self.is_main:
            self.save(os.path.join(self.config.checkpoints.dir, "last"), epoch_progress=progress)
        barrier()

    def save(
        self, path: str | os.PathLike, *, epoch_progress: Mapping[str, Any] | None = None
    ) -> str:
        """Write a checkpoint of the model and the whole training state to ``path``
        (``epoch_progress``: how far into the next epoch, for a mid-epoch checkpoint)."""
        metrics = {
            "epoch": self.epoch,
            "step": self.global_step,
            "monitor": self.config.monitor,
            "best": self.best,
            "history": self.history,
        }
        config = {"trainer": to_dict(self.config), "model": self.model_config}
        return save_checkpoint(
            path,
            self.module,
            config=config,
            metrics=metrics,
            extras=self.extras,
            state=training_state(self, epoch_progress),
        )

    def resume(self, path: str | os.PathLike) -> None:
        """Load a checkpoint written by :meth:`save`: weights, optimizer, schedule,
        callbacks, RNG states and counters; ``fit`` then goes on with the next epoch."""
        ckpt = load_checkpoint(path, self.module, map_location=self.device)
        restore_training_state(self, ckpt)
