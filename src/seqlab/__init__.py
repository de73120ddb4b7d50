"""seqlab: learning from sequences with RNNs, LSTMs, GRUs, TCNs and WaveNets on PyTorch.

The public API is listed here; submodules hold the rest.
"""

from . import data, models, nn, tasks, train
from .data import Batch
from .models import Output
from .run import Run, RunConfig, load_run, load_run_config, run_config, train_run

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "Output",
    "Run",
    "RunConfig",
    "__version__",
    "data",
    "load_run",
    "load_run_config",
    "models",
    "nn",
    "run_config",
    "tasks",
    "train",
    "train_run",
]
