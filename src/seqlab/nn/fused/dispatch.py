"""How a :class:`~seqlab.nn.Recurrent` layer finds a fast path for its cell.

A *fused path* computes the same function as the layer's reference loop (the cell's
``step`` in Python over time), faster. Each kind of path registers a hook, a function of
the cell that returns a path object when that path can run the cell's equation, else
None; the layer asks every hook once, at construction, and on each forward takes the
first of its paths that runs in the layer's current mode (``runs``). New fused cells plug
in here with :func:`register_fused_path`, without touching the loop.

Hooks are tried in registration order: torch's own kernels
(:mod:`~seqlab.nn.fused.torch_kernels`) first, then seqlab's explicit-BPTT cells
(:mod:`~seqlab.nn.fused.bptt`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from torch import Tensor

if TYPE_CHECKING:
    from ..cells import RecurrentCell, State
    from ..recurrent import Recurrent

__all__ = ["FusedPath", "fused_paths", "register_fused_path"]


class FusedPath(Protocol):
    """A fast path of a :class:`~seqlab.nn.Recurrent` layer (see the module docstring)."""

    name: str

    def runs(self, layer: Recurrent, x: Tensor) -> bool:
        """Whether this path computes ``layer``'s forward of ``x`` in its current mode."""
        ...

    def forward(
        self, layer: Recurrent, x: Tensor, state: State | None, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        """``(output (B, T, D*H or H), final state tuple)``, as the reference loop."""
        ...


Hook = Callable[["RecurrentCell"], FusedPath | None]
_HOOKS: list[Hook] = []


def register_fused_path(hook: Hook) -> Hook:
    """Add ``hook`` (cell -> path or None) after those registered before; returns it."""
    _HOOKS.append(hook)
    return hook


def fused_paths(cell: RecurrentCell) -> tuple[FusedPath, ...]:
    """Every registered path that can run ``cell``'s equation, in registration order."""
    return tuple(path for hook in _HOOKS if (path := hook(cell)) is not None)
