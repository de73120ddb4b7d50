"""Fast paths: native code for what eager PyTorch runs slowly (see DESIGN.md).

- :mod:`~seqlab.nn.fused.build`: compiles this package's C sources once per machine.
- :mod:`~seqlab.nn.fused.conv_steps`: the TCN and WaveNet streaming steps in C.
- :mod:`~seqlab.nn.fused.dispatch`: how a recurrent layer finds the fast path for its cell.
- :mod:`~seqlab.nn.fused.torch_kernels`: torch's fused kernels for the plain cells.
- :mod:`~seqlab.nn.fused.bptt`: explicit backward through time for the custom cells
  (peephole / layer-norm LSTM, layer-norm GRU, recurrent dropout), steps in C.
"""

# Importing the paths registers their hooks, in this order of preference.
from . import torch_kernels  # noqa: I001, F401  (torch's kernels first)
from . import bptt  # noqa: F401
from .build import NativeUnavailable
from .conv_steps import NativeTCNStep, NativeWaveNetStep, native_library
from .dispatch import FusedPath, fused_paths, register_fused_path

__all__ = [
    "FusedPath",
    "NativeTCNStep",
    "NativeUnavailable",
    "NativeWaveNetStep",
    "fused_paths",
    "native_library",
    "register_fused_path",
]
