"""Task models, one file per task shape; each ``forward(batch) -> Output(prediction, loss)``."""

from .output import Output

__all__ = ["Output"]
