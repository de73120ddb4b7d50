"""``TaskModel``: what the five task models share, so one trainer and one checkpoint
format serve them all.

Each model has a ``kind`` (its name in :func:`seqlab.models.build_model`), a typed
``config`` dataclass (``model.config``; ``seqlab.config.to_dict(model.config)`` is the
JSON a checkpoint stores next to the safetensors weights) and
``Model.from_config(config_or_dict)`` to rebuild it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor, nn

from ..config import from_dict
from ..data.batch import Batch

__all__ = ["TaskModel"]


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

    @staticmethod
    def _check_batch(batch: Any) -> Batch:
        if not isinstance(batch, Batch):
            raise ValueError(f"batch must be a seqlab.data.Batch, got {type(batch).__name__}")
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
