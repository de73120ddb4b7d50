"""Reversible instance normalization (RevIN; Kim et al. 2022, "Reversible Instance
Normalization for Accurate Time-Series Forecasting against Distribution Shift", ICLR).

Each window is normalized by its own statistics before the model sees it, and the
model's forecast is put back with the same statistics, so a model trained on one level
of a series forecasts another (a trend, a shift between train and test) in the same
frame. Per window ``b`` and channel ``c`` (eq. 1-2 of the paper)::

    loc    = mean_t x[b, t, c]            (mode "mean"; mode "last": x[b, T-1, c],
                                           the last value, as NLinear does)
    scale  = sqrt(var_t x[b, t, c] + eps)
    x_hat  = gamma_c * (x - loc) / scale + beta_c          the model's input
    y      = (y_hat - beta_c) / gamma_c * scale + loc      its output, undone (eq. 3)

``gamma`` and ``beta`` are learnt (``affine=True``, initialized to 1 and 0). Padding
steps (``mask`` False) are left out of the statistics. ``scale=False``: ``scale = 1``,
the level only (a series already on a log scale needs no division).

>>> import torch
>>> revin = RevIN(2)
>>> x = torch.randn(4, 10, 2) * 5 + 100
>>> z, stats = revin.normalize(x)
>>> bool(z.mean(1).abs().max() < 1e-4), bool(torch.allclose(revin.denormalize(z, stats), x))
(True, True)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_bool, check_choice, check_int

__all__ = ["REVIN_MODES", "RevIN"]

REVIN_MODES = ("mean", "last")


class RevIN(nn.Module):
    """Normalize each window by its own location and scale; undo it on the forecast.

    ``normalize(x (B, T, C), mask (B, T) or None) -> (x_hat, stats)``;
    ``denormalize(y (B, H, O, ...), stats, channels=O)``: ``y``'s channels are the first
    ``O`` of ``x``'s (the targets come first); trailing dims (quantiles) share them.
    """

    def __init__(self, num_features: int, mode: str = "mean", affine: bool = True,
                 eps: float = 1e-5, scale: bool = True):  # fmt: skip
        super().__init__()
        self.num_features = check_int("num_features", num_features, min=1)
        self.mode = check_choice("mode", mode, REVIN_MODES)
        self.affine = check_bool("affine", affine)
        self.eps = eps
        self.scale = check_bool("scale", scale)
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def normalize(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, tuple]:
        if mask is None:
            mean = x.mean(1, keepdim=True)  # (B, 1, C)
            var = x.var(1, keepdim=True, unbiased=False)
            last = x[:, -1:]
        else:
            m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
            n = m.sum(1, keepdim=True).clamp_min(1)
            mean = (x * m).sum(1, keepdim=True) / n
            var = ((x - mean).pow(2) * m).sum(1, keepdim=True) / n
            idx = (mask.sum(1) - 1).view(-1, 1, 1).expand(-1, 1, x.size(2))  # (B, 1, C)
            last = x.gather(1, idx)
        loc = mean if self.mode == "mean" else last
        # the statistics are data, not parameters: no gradient flows through them (the
        # paper's implementation detaches them too)
        loc = loc.detach()
        scale = (var + self.eps).sqrt().detach() if self.scale else torch.ones_like(loc)
        z = (x - loc) / scale
        if self.affine:
            z = z * self.weight + self.bias
        if mask is not None:
            z = z * mask.unsqueeze(-1).to(z.dtype)  # padding stays 0
        return z, (loc, scale)

    def denormalize(self, y: Tensor, stats: tuple, channels: int | None = None) -> Tensor:
        loc, scale = stats  # (B, 1, C)
        O = self.num_features if channels is None else channels
        loc, scale = loc[..., :O], scale[..., :O]  # (B, 1, O)
        extra = y.dim() - 3  # e.g. a quantile axis after O
        view = lambda t: t.view(t.shape + (1,) * extra)  # noqa: E731
        if self.affine:
            w, b = self.weight[:O], self.bias[:O]
            y = (y - view(b)) / view(w + self.eps * self.eps)
        return y * view(scale) + view(loc)
