"""``TrainerConfig``: everything the trainer needs besides the model and the data, in
sections (the ``train:`` part of a run config).

.. code-block:: yaml

    train:
      epochs: 20
      metrics: [accuracy]
      monitor: val_accuracy        # early stopping, best/ and the plateau schedule
      mode: max
      optimizer: {name: adam, lr: 2.0e-3, weight_decay: 0.0}
      schedule: {name: cosine, warmup_steps: 100}
      clip: {norm: 1.0}
      early_stopping: {patience: 5}
      checkpoints: {dir: runs/sentiment, every: 500}
      tbptt: {stateful: false}

In Python a section is its dataclass or a plain dict:

>>> c = TrainerConfig(epochs=3, optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9})
>>> c.optimizer
OptimizerConfig(name='sgd', lr=0.1, momentum=0.9, nesterov=False, betas=(0.9, 0.999), \
weight_decay=0.0)
>>> TrainerConfig(epochs=2.5)
Traceback (most recent call last):
...
ValueError: epochs must be a positive int, got 2.5

Every value is checked when the config is built, from Python as from YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch

from ..checks import check_bool, check_choice, check_float, check_int
from ..config import from_dict

__all__ = [
    "CheckpointConfig",
    "ClipConfig",
    "EarlyStoppingConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TBPTTConfig",
    "TrainerConfig",
]


@dataclass
class OptimizerConfig:
    """``name``: sgd, adam, adamw, rmsprop; ``momentum`` for sgd and rmsprop, ``nesterov``
    for sgd, ``betas`` for adam and adamw (see :mod:`seqlab.train.optim`)."""

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"  # sgd, adam, adamw, rmsprop
    lr: float = 1e-3
    momentum: float = 0.0  # sgd and rmsprop
    nesterov: bool = False  # sgd with momentum > 0
    betas: tuple[float, float] = (0.9, 0.999)  # adam and adamw
    weight_decay: float = 0.0  # L2 (adam, sgd, rmsprop) or decoupled (adamw)

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("sgd", "adam", "adamw", "rmsprop"))
        check_float("lr", self.lr, min=0.0, min_open=True)
        check_float("momentum", self.momentum, min=0.0)
        check_float("weight_decay", self.weight_decay, min=0.0)
        check_bool("nesterov", self.nesterov)
        if len(self.betas) != 2:
            raise ValueError(f"betas must be two numbers, got {self.betas!r}")
        for i, b in enumerate(self.betas):
            check_float(f"betas[{i}]", b, min=0.0, max=1.0, max_open=True)
        if self.nesterov and (self.name != "sgd" or self.momentum <= 0):
            raise ValueError("nesterov=True needs name='sgd' and momentum > 0")


@dataclass
class ScheduleConfig:
    """``name``: constant, step (times ``gamma`` every ``step_size`` epochs), cosine (over
    all steps, down to ``min_lr``), plateau (times ``gamma`` when the monitored value has
    not improved for ``patience`` epochs); ``warmup_steps`` of linear warmup first."""

    name: Literal["constant", "step", "cosine", "plateau"] = (
        "constant"  # constant, step, cosine, plateau
    )
    warmup_steps: int = 0  # linear warmup over the first steps
    step_size: int = 10  # step: epochs between cuts
    gamma: float = 0.1  # step and plateau: the factor of each cut
    patience: int = 2  # plateau: epochs without improvement before a cut
    min_lr: float = 0.0  # the floor of every schedule

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("constant", "step", "cosine", "plateau"))
        check_int("warmup_steps", self.warmup_steps, min=0)
        check_int("step_size", self.step_size, min=1)
        check_float("gamma", self.gamma, min=0.0, max=1.0, min_open=True)
        check_int("patience", self.patience, min=0)
        check_float("min_lr", self.min_lr, min=0.0)


@dataclass
class ClipConfig:
    """Gradient clipping before each update: ``norm`` (the global L2 norm of all
    gradients), ``value`` (each element into ``[-value, value]``); ``None``: off."""

    norm: float | None = None  # clip the global L2 norm of all gradients to this
    value: float | None = None  # clip each gradient element into [-value, value]

    def __post_init__(self) -> None:
        check_float("norm", self.norm, min=0.0, min_open=True, none=True)
        check_float("value", self.value, min=0.0, min_open=True, none=True)


@dataclass
class EarlyStoppingConfig:
    """Stop when the monitored value has not improved by ``min_delta`` for ``patience``
    epochs (``None``: never stop early), and not before ``min_steps`` optimizer steps (a
    warm-up, as Lightning's ``min_steps`` and Keras' ``start_from_epoch``: the validation
    loss of a few series can rise while a model has not started to learn)."""

    patience: int | None = None  # epochs without improvement of monitor; null: never stop
    min_delta: float = 0.0  # the least change that counts as an improvement
    min_steps: int = 0  # optimizer steps before early stopping may stop the run

    def __post_init__(self) -> None:
        check_int("patience", self.patience, min=1, none=True)
        check_float("min_delta", self.min_delta, min=0.0)
        check_int("min_steps", self.min_steps, min=0)


@dataclass
class CheckpointConfig:
    """``dir`` gets ``last/`` (each epoch, if ``keep_last``; and every ``every`` optimizer
    steps when set) and ``best/`` (if ``keep_best``, by the monitored value)."""

    dir: str | None = None  # set by seqlab train to the run directory
    keep_best: bool = True  # best/ by the monitored value; false: a run gives back its last epoch
    keep_last: bool = True  # last/ after each epoch (what --resume reads)
    every: int | None = None  # also save last/ every this many optimizer steps

    def __post_init__(self) -> None:
        check_bool("keep_best", self.keep_best)
        check_bool("keep_last", self.keep_last)
        check_int("every", self.every, min=1, none=True)
        if self.every is not None and (self.dir is None or not self.keep_last):
            raise ValueError("every writes last/ inside dir: it needs dir set and keep_last=True")


@dataclass
class TBPTTConfig:
    """Truncated BPTT (:mod:`seqlab.train.tbptt`): ``stateful`` carries the model's state
    from chunk to chunk; ``backprop_chunks`` sets ``k2 = backprop_chunks * k1``;
    ``reset_every`` starts the streams again from the initial state every that many chunks
    (``None``: only at each epoch's start)."""

    stateful: bool = False  # carry the recurrent state from chunk to chunk
    backprop_chunks: int = 1  # the gradient reaches back this many chunks (k2 = m * k1)
    reset_every: int | None = None  # restart the streams from the initial state every r chunks

    def __post_init__(self) -> None:
        check_bool("stateful", self.stateful)
        check_int("backprop_chunks", self.backprop_chunks, min=1)
        check_int("reset_every", self.reset_every, min=1, none=True)


SECTIONS: dict[str, type] = {
    "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig,
    "clip": ClipConfig,
    "early_stopping": EarlyStoppingConfig,
    "checkpoints": CheckpointConfig,
    "tbptt": TBPTTConfig,
}


@dataclass
class TrainerConfig:
    """The trainer's settings; the sections are above.

    ``max_steps``: stop after that many optimizer steps, inside an epoch if need be (the
    epoch is logged and checkpointed as a shorter one). ``monitor`` (a logged value:
    ``val_loss``, ``train_loss`` or ``val_<metric>``) with ``mode`` drives early stopping,
    ``best/`` and the plateau schedule; ``metrics`` names metrics
    (:func:`seqlab.train.metrics.make_metric`) computed on validation data (a run,
    ``seqlab train``, scores the task model's ``default_metrics()`` where it is empty:
    accuracy and macro-F1 for a classifier, MAE, sMAPE and MASE for a forecaster);
    ``on_nonfinite``: ``stop`` or ``skip`` a step whose loss or gradient is not finite.
    ``seed``; ``deterministic`` (``torch.use_deterministic_algorithms``: slower on GPU);
    ``precision`` (``fp32``, or ``bf16`` autocast); ``device`` (``auto``: CUDA when
    present); ``flush_denormal`` (True: CPU arithmetic treats denormal floats as zero
    during fit, as TensorFlow does: a gradient vanishing through time otherwise runs
    ~10x slower, :func:`seqlab.train.runtime.denormals_flushed`); ``progress`` (False:
    quiet); ``log_dir`` for ``epochs.csv``/``steps.csv``
    (default: ``checkpoints.dir``); ``tensorboard`` (used when the package is installed).
    """

    epochs: int = 10
    max_steps: int | None = None  # stop after this many optimizer steps (a smoke run)
    max_time: float | None = None  # stop after the step that passes this many seconds of fit
    metrics: list[str] = field(default_factory=list)
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    checkpoints: CheckpointConfig = field(default_factory=CheckpointConfig)
    tbptt: TBPTTConfig = field(default_factory=TBPTTConfig)
    on_nonfinite: Literal["stop", "skip"] = "stop"
    seed: int = 0
    deterministic: bool = False
    precision: Literal["fp32", "bf16"] = "fp32"
    device: str = "auto"
    flush_denormal: bool = True  # fit: denormal floats as zero on the CPU (speed)
    progress: bool = True
    log_dir: str | None = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():  # a plain dict is the section's YAML form
            value = getattr(self, name)
            if isinstance(value, Mapping):
                setattr(self, name, from_dict(cls, value, prefix=f"{name}."))
            elif not isinstance(value, cls):
                raise ValueError(f"{name} must be a {cls.__name__} or a mapping, got {value!r}")
        check_int("epochs", self.epochs, min=1)
        check_int("max_steps", self.max_steps, min=1, none=True)
        check_float("max_time", self.max_time, min=0.0, min_open=True, none=True)
        if isinstance(self.metrics, str) or not all(isinstance(m, str) for m in self.metrics):
            raise ValueError(f"metrics must be a list of metric names, got {self.metrics!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"monitor must be the name of a logged value, got {self.monitor!r}")
        check_choice("mode", self.mode, ("min", "max"))
        check_choice("on_nonfinite", self.on_nonfinite, ("stop", "skip"))
        check_choice("precision", self.precision, ("fp32", "bf16"))
        check_int("seed", self.seed, min=0)
        for name in ("deterministic", "flush_denormal", "progress", "tensorboard"):
            check_bool(name, getattr(self, name))
        floor, lr = self.schedule.min_lr, self.optimizer.lr
        if floor > lr:
            raise ValueError(f"schedule.min_lr must be in [0, optimizer.lr={lr}], got {floor}")
        if self.device != "auto":
            try:
                if not isinstance(self.device, str):
                    raise RuntimeError
                torch.device(self.device)
            except RuntimeError:
                raise ValueError(
                    f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}"
                ) from None
