"""Where CUDA is present, ``device: auto`` trains on the GPU and the model stays there,
while ``load_run`` rebuilds a run on the CPU and tests build their batches there. A test
that compares a trained run with its reloaded copy moves the trained model to the CPU
first (the GPU's kernels round differently, ~1e-5, and the round trip is then exact); one
that recomputes what the trainer did moves its batches to the model's device."""

import torch


def on_cpu(run):
    """``run`` with its model moved to the CPU, where a reloaded copy predicts."""
    run.model.cpu()
    return run


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
