"""Fast paths: native code for what eager PyTorch runs slowly (see DESIGN.md).

- :mod:`~seqlab.nn.fused.build`: compiles this package's C sources once per machine.
- :mod:`~seqlab.nn.fused.conv_steps`: the TCN and WaveNet streaming steps in C.
"""

from .build import NativeUnavailable
from .conv_steps import NativeTCNStep, NativeWaveNetStep, native_library

__all__ = ["NativeTCNStep", "NativeUnavailable", "NativeWaveNetStep", "native_library"]
