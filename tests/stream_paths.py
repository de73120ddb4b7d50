"""The two paths of a conv stream, for tests to parametrize over."""

import os
import shutil

import pytest

needs_c_compiler = pytest.mark.skipif(
    shutil.which(os.environ.get("CC") or "cc") is None,
    reason="no C compiler: the native stream step cannot be built",
)

# Both paths of a conv stream (seqlab.nn.fused's compiled C loop and the PyTorch ops) are
# tested against the full-sequence forward; the C loop needs a C compiler on the machine.
STREAM_PATHS = [
    pytest.param(True, id="native", marks=needs_c_compiler),
    pytest.param(False, id="torch-ops"),
]
