"""Optimizers and learning-rate schedules, built from a :class:`TrainerConfig`.

Optimizers: ``sgd`` (with ``momentum``, optionally Nesterov), ``adam``, ``adamw``
(decoupled weight decay, Loshchilov & Hutter 2019) and ``rmsprop``; ``weight_decay``
applies to all of them (L2 added to the gradient, except AdamW's decoupled form).

The learning rate at optimizer step ``s`` of epoch ``e`` is ::

    lr = base_lr * warmup(s) * main(e, s)
    warmup(s) = min(1, (s + 1) / warmup_steps)           linear warmup (Goyal et al. 2017)
    main      = 1                                        "constant"
              = gamma ** (e // step_size)                "step" (per epoch)
              = min_lr/base + (1 - min_lr/base) *        "cosine" over all steps, no
                (1 + cos(pi * s / total_steps)) / 2        restarts (Loshchilov & Hutter 2017)
              = gamma ** (number of plateaus so far)     "plateau": times gamma when the
                                                         monitored metric has not improved
                                                         for ``schedule.patience`` epochs

and never below ``min_lr``. :class:`LRSchedule` computes it from counters it keeps in
``state_dict`` (plain numbers), so a resumed run continues the schedule exactly.

>>> import torch
>>> from seqlab.train import TrainerConfig
>>> w = torch.nn.Parameter(torch.zeros(2))
>>> cfg = TrainerConfig(epochs=1, optimizer={"name": "sgd", "lr": 0.1},
...                     schedule={"name": "cosine", "warmup_steps": 2})
>>> opt = build_optimizer([w], cfg)
>>> sched = LRSchedule(opt, cfg, steps_per_epoch=4)
>>> lrs = []
>>> for _ in range(4):
...     lrs.append(round(opt.param_groups[0]["lr"], 4)); sched.step()
>>> lrs
[0.05, 0.0854, 0.05, 0.0146]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .config import TrainerConfig

__all__ = ["LRSchedule", "build_optimizer"]


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: TrainerConfig
) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names, over ``params``."""
    c = config.optimizer
    if c.name == "sgd":
        return torch.optim.SGD(
            params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay
        )
    if c.name == "adam":
        return torch.optim.Adam(params, lr=c.lr, betas=tuple(c.betas), weight_decay=c.weight_decay)
    if c.name == "adamw":
        return torch.optim.AdamW(params, lr=c.lr, betas=tuple(c.betas), weight_decay=c.weight_decay)
    if c.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
        )
    raise ValueError(f"optimizer must be one of sgd, adam, adamw, rmsprop, got {c.name!r}")


class LRSchedule:
    """Sets the optimizer's learning rate each step: warmup times the main schedule.

    Call :meth:`step` after every optimizer step and :meth:`epoch_end` with the monitored
    metric after every epoch (``plateau`` uses it; the others ignore it).
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, config: TrainerConfig, steps_per_epoch: int
    ):
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.optimizer = optimizer
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.step_count = 0
        self.epoch = 0
        self.plateau_best: float | None = None
        self.plateau_bad = 0
        self.plateau_cuts = 0
        self._apply()

    def factor(self) -> float:
        c = self.config.schedule
        warm = min(1.0, (self.step_count + 1) / c.warmup_steps) if c.warmup_steps > 0 else 1.0
        if c.name == "constant":
            main = 1.0
        elif c.name == "step":
            main = c.gamma ** (self.epoch // c.step_size)
        elif c.name == "cosine":
            total = self.config.epochs * self.steps_per_epoch
            if self.config.max_steps is not None:
                total = min(total, self.config.max_steps)
            total = max(1, total)
            progress = min(1.0, self.step_count / total)
            floor = c.min_lr / self.config.optimizer.lr
            main = floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        else:  # plateau
            main = c.gamma**self.plateau_cuts
        return warm * main

    def _apply(self) -> None:
        f = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = max(base * f, self.config.schedule.min_lr)

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def epoch_end(self, metric: float | None = None) -> None:
        self.epoch += 1
        c = self.config.schedule
        if c.name == "plateau" and metric is not None and math.isfinite(metric):
            mode, delta = self.config.mode, self.config.early_stopping.min_delta
            better = (
                self.plateau_best is None
                or (mode == "min" and metric < self.plateau_best - delta)
                or (mode == "max" and metric > self.plateau_best + delta)
            )
            if better:
                self.plateau_best, self.plateau_bad = metric, 0
            else:
                self.plateau_bad += 1
                if self.plateau_bad > c.patience:
                    self.plateau_cuts += 1
                    self.plateau_bad = 0
        self._apply()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        return {
            "base_lrs": list(self.base_lrs),
            "step_count": self.step_count,
            "epoch": self.epoch,
            "plateau_best": self.plateau_best,
            "plateau_bad": self.plateau_bad,
            "plateau_cuts": self.plateau_cuts,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = list(state["base_lrs"])
        self.step_count = int(state["step_count"])
        self.epoch = int(state["epoch"])
        self.plateau_best = state["plateau_best"]
        self.plateau_bad = int(state["plateau_bad"])
        self.plateau_cuts = int(state["plateau_cuts"])
        self._apply()
