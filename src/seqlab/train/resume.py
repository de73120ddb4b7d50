"""What a checkpoint holds of a run in progress, and how a trainer takes it back.

:func:`training_state` is everything besides the weights that an unbroken run would
still have in memory: the optimizer's and the schedule's states, each callback's
(early stopping's best and patience), every RNG, the counters, and for a checkpoint
taken inside an epoch how far into it (see :class:`~seqlab.train.Trainer`).
:func:`restore_training_state` puts it back, refusing a checkpoint of another model or
another set of callbacks with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .checkpoint import Checkpoint, CheckpointError
from .runtime import rng_state, set_rng_state

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["restore_training_state", "training_state"]


def training_state(
    trainer: Trainer, epoch_progress: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "optimizer": trainer.optimizer.state_dict(),
        "schedule": trainer.schedule.state_dict() if trainer.schedule else None,
        "callbacks": [cb.state_dict() for cb in trainer.callbacks],
        "rng": rng_state(),
        "trainer": {
            "epoch": trainer.epoch,
            "global_step": trainer.global_step,
            "skipped_steps": trainer.skipped_steps,
            "best": trainer.best,
        },
        "epoch_progress": dict(epoch_progress) if epoch_progress else None,
    }


def _check_model_config(trainer: Trainer, ckpt: Checkpoint) -> None:
    saved, here = ckpt.config.get("model", {}), trainer.model_config
    if here and saved != here:
        keys = sorted(k for k in {*saved, *here} if saved.get(k) != here.get(k))
        raise CheckpointError(
            f"{ckpt.path}: the model config differs from this run's in "
            + ", ".join(f"{k} ({saved.get(k)!r} there, {here.get(k)!r} here)" for k in keys)
        )


def restore_training_state(trainer: Trainer, ckpt: Checkpoint) -> None:
    """Load ``ckpt``'s training state (its weights are already in the model)."""
    _check_model_config(trainer, ckpt)
    state = ckpt.state
    try:
        trainer.optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"{ckpt.path}/state.pt: optimizer state does not fit: {e}") from None
    if len(state["callbacks"]) != len(trainer.callbacks):
        raise CheckpointError(
            f"{ckpt.path}/state.pt: saved with {len(state['callbacks'])} callbacks, this "
            f"trainer has {len(trainer.callbacks)} (the same config and callbacks are needed)"
        )
    for cb, cb_state in zip(trainer.callbacks, state["callbacks"], strict=True):
        cb.load_state_dict(cb_state)
    trainer._schedule_state = state["schedule"]
    counters = state["trainer"]
    trainer.epoch = trainer.start_epoch = int(counters["epoch"])
    trainer.global_step = int(counters["global_step"])
    trainer.skipped_steps = int(counters["skipped_steps"])
    trainer.best = counters["best"]
    trainer.history = list(ckpt.metrics.get("history", []))
    set_rng_state(state["rng"])
    progress = state.get("epoch_progress")  # absent in checkpoints of older versions
    if progress:  # taken inside epoch `epoch`: fit replays its start (see _train_epoch)
        trainer._resume_epoch = {**progress, "rng_now": state["rng"]}
