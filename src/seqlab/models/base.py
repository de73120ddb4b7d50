"""``TaskModel``: what the five task models share, so one trainer, one checkpoint format
and one command line serve them all.

Each model has a ``kind`` (its name in :func:`seqlab.models.build_model`), a typed
``config`` dataclass (``model.config``; ``seqlab.config.to_dict(model.config)`` is the
JSON a checkpoint stores next to the safetensors weights) and
``Model.from_config(config_or_dict)`` to rebuild it.

Three methods carry what the trainer and the command line need to know of a task, so
that neither asks which model it has:

* ``supported_metrics()`` names the metrics (:func:`seqlab.train.metrics.make_metric`)
  that apply, ``default_metrics()`` those a run scores where ``train.metrics`` is
  silent, and ``metric_options()`` the facts some of them need that the model knows
  (``num_classes`` for macro-F1);
* ``evaluate_batch(batch)`` is the :class:`Output` validation uses: the loss as in
  training, and the prediction the metrics score. For most models that is ``forward``;
  a generator (``Seq2Seq``) scores its own decoding, never teacher-forced logits;
* ``predict(batch)`` gives what a user wants back (labels and probabilities, tags,
  decoded sequences, forecasts), as a dict of tensors, in eval mode without gradients.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import from_dict
from ..data.batch import IGNORE_INDEX, Batch
from .output import Output

__all__ = ["TaskModel", "count_targets", "without_targets"]


def without_targets(batch: Batch) -> Batch:
    """``batch`` with its targets left out (what a model predicts from)."""
    return dataclasses.replace(batch, targets=None, target_lengths=None)


def count_targets(targets: Tensor) -> Tensor:
    """How many targets a mean loss over ``targets`` averages: those not ``-100``."""
    return (targets != IGNORE_INDEX).sum()


class TaskModel(nn.Module):
    kind: ClassVar[str]
    config_class: ClassVar[type]

    @classmethod
    def from_config(cls, config: Any, **kwargs):
        """Build from a config dataclass or its plain-dict (JSON/YAML) form."""
        if isinstance(config, Mapping):
            config = from_dict(cls.config_class, config)
        elif not isinstance(config, cls.config_class):
            raise ValueError(
                f"{cls.__name__} needs a {cls.config_class.__name__} or a mapping, "
                f"got {type(config).__name__}"
            )
        return cls(config, **kwargs)

    # --- what the trainer and the command line ask of every task ------------------------
    def supported_metrics(self) -> tuple[str, ...]:
        """Names of the metrics that apply to this model's predictions."""
        return ()

    def default_metrics(self) -> tuple[str, ...]:
        """The metrics a run scores where ``train.metrics`` is silent (a subset of
        :meth:`supported_metrics`): none here, the loss alone."""
        return ()

    def metric_options(self) -> dict[str, dict[str, Any]]:
        """Options by metric name that the model knows, e.g. ``{"macro_f1":
        {"num_classes": 3}}``; facts of the data (tag names, a series' scale) come from
        the task pipeline."""
        return {}

    def evaluate_batch(self, batch: Batch, state: Any = None) -> Output:
        """The output validation scores: the training loss, and the prediction the
        metrics read."""
        return self(batch, state=state)

    @torch.no_grad()
    def predict(self, batch: Batch) -> dict[str, Tensor]:
        """What a user wants back for ``batch`` (see each model), in eval mode."""
        with self._eval_mode():
            return self._predict(self._check_batch(batch))

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        return {"prediction": self(without_targets(batch)).prediction}

    @contextlib.contextmanager
    def _eval_mode(self):
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    # --- input checks shared by the models ----------------------------------------------
    def _check_batch(self, batch: Any) -> Batch:
        """``batch`` checked at the model's door, once for every task: tensors where
        tensors go, at least one step, float inputs in the parameters' dtype, and
        ``lengths`` as a 1-D integer tensor (a list is taken too). Each message names the
        field and what was expected, instead of an error from deep inside torch."""
        if not isinstance(batch, Batch):
            raise ValueError(f"batch must be a seqlab.data.Batch, got {type(batch).__name__}")
        for name in ("inputs", "targets", "target_lengths", "features"):
            value = getattr(batch, name)
            if value is not None and not isinstance(value, Tensor):
                raise ValueError(
                    f"batch.{name} must be a torch.Tensor, got {type(value).__name__} "
                    "(torch.as_tensor(...) turns an array into one)"
                )
        x = batch.inputs
        if x.dim() < 2 or x.size(0) == 0 or x.size(1) == 0:
            raise ValueError(
                f"batch.inputs must be (B, T) ids or (B, T, C) values with B, T >= 1, got "
                f"shape {tuple(x.shape)}"
            )
        param = next(self.parameters(), None)
        autocast = torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")
        if x.is_floating_point() and param is not None and x.dtype != param.dtype and not autocast:
            raise ValueError(
                f"batch.inputs are {x.dtype} but the model's parameters are {param.dtype}: "
                f"cast the inputs (inputs.to({param.dtype})) or the model (model.to(...))"
            )
        lengths = batch.lengths
        if lengths is not None:
            if isinstance(lengths, list | tuple):
                if not all(isinstance(n, int) and not isinstance(n, bool) for n in lengths):
                    raise ValueError(f"batch.lengths must be whole numbers, got {lengths!r}")
                batch = dataclasses.replace(batch, lengths=torch.tensor(lengths))
            elif not isinstance(lengths, Tensor):
                raise ValueError(f"batch.lengths must be a tensor or a list, got {lengths!r}")
            elif lengths.is_floating_point() or lengths.dim() != 1:
                raise ValueError(
                    f"batch.lengths must be a 1-D integer tensor, got {lengths.dtype} of shape "
                    f"{tuple(lengths.shape)}"
                )
        return batch

    @staticmethod
    def _lengths(batch: Batch) -> Tensor | None:
        if batch.lengths is None:
            return None
        T = batch.inputs.size(1)
        lengths = batch.lengths
        if lengths.shape != (batch.size,) or bool(((lengths < 1) | (lengths > T)).any()):
            raise ValueError(
                f"batch.lengths must be (B={batch.size},) with values in [1, T={T}], "
                f"got {lengths.tolist()}"
            )
        return lengths
