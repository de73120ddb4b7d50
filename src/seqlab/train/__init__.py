"""Training: the loop, truncated BPTT, callbacks, checkpoints, metrics."""

__all__: list[str] = []
