"""Fast paths: native code for what eager PyTorch runs slowly (see DESIGN.md).

- :mod:`~seqlab.nn.fused.build`: compiles this package's C sources once per machine.
- :mod:`~seqlab.nn.fused.conv_steps`: the TCN and WaveNet streaming steps in C.
- :mod:`~seqlab.nn.fused.dispatch`: how a recurrent layer finds the fast path for its cell.
- :mod:`~seqlab.nn.fused.torch_kernels`: torch's fused kernels for the plain cells.
"""

from . import torch_kernels  # noqa: F401  (registers its hook: first in line)
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
