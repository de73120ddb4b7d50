"""seqlab: learning from sequences with RNNs, LSTMs, GRUs, TCNs and WaveNets on PyTorch.

The public API is listed here; submodules hold the rest.
"""

from . import data, models, nn, train
from .data import Batch
from .models import Output

__version__ = "0.1.0"

__all__ = ["Batch", "Output", "__version__", "data", "models", "nn", "train"]
