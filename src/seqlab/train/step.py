"""One optimizer step, separate from the loop: forward, backward, check, clip, update.

The loop (:class:`seqlab.train.Trainer`) decides *what* the forward pass is (a whole
batch, or a chunk of a stream with carried state); this function does the rest, the same
way for every model::

    zero grads ─► forward (autocast) ─► loss.backward() ─► pre-clip global norm
        ─► finite? ── no ──► no update; the caller stops or skips
              └── yes ─► clip (norm and/or value) ─► optimizer.step()

The gradient norm is measured *before* clipping and returned, so that exploding
gradients show in the log even while clipping hides them from the update (Pascanu,
Mikolov & Bengio 2013, "On the difficulty of training recurrent neural networks", §3.2:
rescale ``g`` to ``threshold * g / ||g||`` when ``||g|| > threshold``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..models.output import Output

__all__ = ["NonFiniteError", "StepResult", "clip_gradients", "train_step"]


class NonFiniteError(FloatingPointError):
    """The loss or the gradient became NaN or infinite; the message names the step."""


@dataclass
class StepResult:
    """What one step did: ``loss`` and ``grad_norm`` (pre-clip, global L2) as floats,
    ``finite`` (False: no update was made), and the model's ``output``."""

    loss: float
    grad_norm: float
    finite: bool
    output: Output


def clip_gradients(
    parameters: Iterable[nn.Parameter],
    max_norm: float | None = None,
    max_value: float | None = None,
) -> Tensor:
    """Clip gradients in place; return their global L2 norm measured *before* clipping.

    ``max_value`` clamps each gradient element to ``[-max_value, max_value]`` (applied
    first); ``max_norm`` then rescales all gradients together so their global norm is at
    most ``max_norm``. Non-finite gradients are left as they are (the caller checks the
    returned norm and does not step).

    >>> w = nn.Parameter(torch.zeros(2)); w.grad = torch.tensor([3.0, 4.0])
    >>> clip_gradients([w], max_norm=1.0).item(), w.grad
    (5.0, tensor([0.6000, 0.8000]))
    """
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return torch.zeros(())
    grads = [p.grad for p in params]
    norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g.detach(), 2.0) for g in grads]), 2.0
    )
    if not torch.isfinite(norm):
        return norm
    if max_value is not None:
        for g in grads:
            g.clamp_(-max_value, max_value)
    if max_norm is not None:
        # the global norm after value clipping; rescaled only when it is above the bound
        total = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g.detach(), 2.0) for g in grads]), 2.0
        )
        scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.to(g.device))
    return norm


def _all_finite(loss: Tensor, norm: Tensor) -> bool:
    """Finite on every rank: one rank's NaN loss must stop (or skip) all of them alike."""
    ok = torch.tensor(
        [float(torch.isfinite(loss.detach()).all()) * float(torch.isfinite(norm).all())],
        device=loss.device,
    )
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() == 1.0)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    forward: Callable[[nn.Module], Output],
    *,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> StepResult:
    """One update of ``model`` with the loss ``forward(model).loss``.

    ``autocast_dtype`` (``torch.bfloat16``) runs the forward pass under autocast on the
    model's device; the backward pass and the update stay in the parameters' dtype.
    When the loss or the gradient norm is not finite, nothing is updated and
    ``finite=False`` comes back.
    """
    optimizer.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    ctx = (
        torch.autocast(device_type=device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    with ctx:
        output = forward(model)
    if output.loss is None:
        raise ValueError(
            f"{type(model).__name__}.forward returned Output.loss=None; training needs "
            "batches with targets"
        )
    loss = output.loss.float()
    loss.backward()
    norm = clip_gradients(model.parameters(), clip_norm, clip_value)
    finite = _all_finite(loss, norm)
    if finite:
        optimizer.step()
    else:
        optimizer.zero_grad(set_to_none=True)
    return StepResult(loss=loss.item(), grad_norm=norm.item(), finite=finite, output=output)
