"""``python -m seqlab ...``: the command line (see :mod:`seqlab.cli`)."""

import sys

from .cli import main

sys.exit(main())
