"""Everything between a user's files and a batch of tensors."""

from .batch import IGNORE_INDEX, Batch

__all__ = ["IGNORE_INDEX", "Batch"]
