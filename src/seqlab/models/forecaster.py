"""``Forecaster``: from a window of past values (and covariates) to the next ``horizon`` values.

``batch.inputs`` (B, W, input_size): the last W steps of the target series and any
covariates, channels last; ``batch.targets`` (B, horizon, output_size): the next values
of the ``output_size`` series to forecast. All ``horizon`` steps come out at once from one
linear head (the direct multi-output strategy, "MIMO" in Taieb et al. 2012), so errors
are not fed back as they are in recursive one-step forecasting.

Encoders: any sequence encoder (its output at the last real step), or ``kind="mlp"``,
a plain MLP over the flattened window (``hidden_size`` units x ``num_layers``, ReLU) —
the "why not an MLP?" baseline, one config key away. An MLP needs the fixed
``window`` length.

``quantiles=[0.1, 0.5, 0.9]``: ``prediction`` (B, horizon, output_size, Q), one output per
quantile level, trained with the pinball loss ``max(q e, (q - 1) e)``, ``e = y - y_hat``
(Koenker & Bassett 1978); the outer levels give a prediction interval. The Q outputs are
rearranged (sorted) to rise with the level before the loss and the prediction, so a
higher level's forecast never falls below a lower one's and an interval never comes out
inverted; sorting an estimated quantile curve brings it no farther from the true one
(Chernozhukov, Fernández-Val & Galichon 2010, "Quantile and probability curves without
crossing"). Otherwise ``prediction`` (B, horizon, output_size) trained with MSE.

Per-window normalization, on by default (``normalize="mean"``): each input window has
its own mean subtracted and added back to the forecast (RevIN, Kim et al. 2022;
:mod:`seqlab.nn.revin`), so the model forecasts the shape of the next steps, not a level
it may never have seen in training (a trending series' test part lies above everything
in its training part). ``normalize_scale=True`` also divides by the window's standard
deviation (RevIN in full): off by default, since it makes the forecast's trend scale with
the window's swing, which cost a linear forecaster 2.4x its error on airline passengers
after a log (MASE 0.66 -> 1.57) and 1.2-1.4x on sunspots. ``"last"``: subtract the window's
last value instead (NLinear, Zeng et al. 2023); ``None``: off. The targets are the first
``output_size`` input channels (as the forecasting task lays them out).
``difference=True``: the networks read first differences of the (normalized) window and
forecast the next differences, summed back onto the last value (the "I" of ARIMA, Box &
Jenkins 1970). Both are undone inside the model, so ``prediction`` and the loss are in
the input's units.

The linear highway (``linear``, on whenever the window is fixed): a linear map of each
target's normalized window to its horizon is added to the network's output, the
autoregressive component of LSTNet (Lai et al. 2018), which keeps the forecast's scale
tied to the input where a network's output is not. :meth:`Forecaster.fit_linear` starts
it at the ridge least-squares solution of the training windows (penalty chosen by
generalized cross-validation on them, :func:`ridge_gcv`) with the network's head at
zero, so training starts from the linear forecast and the network learns what it
leaves, as in Zhang's (2003) linear + network hybrid; the highway stays at its
least-squares fit while the network trains (``train_linear: true`` lets training move
it too). The network reads at most the last
``encoder_steps`` steps (default: at most 48), the highway the whole window: two weeks
of half-hours cost the LSTM or TCN 48 steps, not 672.

Known-future inputs (``future_size=F``): ``batch.features`` (B, horizon, F), values known
over the horizon when the forecast is made (the calendar, a planned price), darts'
future covariates and neuralforecast's ``futr_exog``. They enter both linear parts: the
head reads ``[summary, f_1 .. f_H]`` and the highway ``[window, f_1 .. f_H]`` (so the
least-squares start already uses them); the network sees them only through the head
(TiDE, Das et al. 2023, also feeds them to its dense decoder). They are not normalized
per window (they are no level to forecast).

A TCN encoder whose ``num_layers`` is left out gets the fewest blocks whose receptive
field covers ``window`` (:meth:`seqlab.nn.TCN.for_history`); a configured TCN that sees
fewer steps than the window gets a warning, since the steps before its field are ignored.

The trivial baseline to beat on seasonal data is :func:`seasonal_naive` (repeat the last
season).

>>> import torch
>>> from seqlab.data import Batch
>>> cfg = ForecasterConfig(input_size=2, horizon=3, window=8, quantiles=[0.1, 0.5, 0.9],
...                        encoder=EncoderConfig(kind="mlp", hidden_size=16))
>>> out = Forecaster(cfg)(Batch(torch.randn(4, 8, 2), targets=torch.randn(4, 3, 1)))
>>> out.prediction.shape, out.loss.shape
(torch.Size([4, 3, 1, 3]), torch.Size([]))
>>> seasonal_naive(torch.arange(8.).view(1, 8, 1), horizon=3, period=4).flatten().tolist()
[4.0, 5.0, 6.0]
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_bool, check_int
from ..data.batch import Batch
from ..nn.revin import REVIN_MODES, RevIN
from ..nn.tcn import TCN, receptive_field
from .base import TaskModel, without_targets
from .classifier import pool
from .encoder_config import MLPEncoderConfig, TCNEncoderConfig
from .encoders import EncoderConfig, build_encoder
from .output import Output

__all__ = ["Forecaster", "ForecasterConfig", "pinball_loss", "ridge_gcv", "seasonal_naive"]

# the most steps the network reads by default: the highway sees the whole window (two
# weeks of half-hours), the network the recent past, at a bounded cost per step. 48 (a
# day of half-hours) scored as 96 did on electricity (LSTM MASE 0.189 both, 3 seeds) in
# half the time (8.5 s against 16.3 s, load 6), with the highway fixed at its fit
ENCODER_STEPS = 48
# ridge penalties tried by Forecaster.fit_linear (times the number of rows)
RIDGE_PENALTIES = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class ForecasterConfig:
    input_size: int
    horizon: int
    output_size: int = 1
    window: int = 0  # 0: any length (sequence encoders); required for kind="mlp"
    quantiles: list[float] = field(default_factory=list)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    dropout: float = 0.0
    normalize: str | None = "mean"  # per window (RevIN): mean, last, or None
    normalize_scale: bool = False  # also divide each window by its own std
    difference: bool = False  # forecast first differences, summed back
    linear: bool | None = None  # a linear map of the window added (None: when window >= 1)
    encoder_steps: int | None = None  # the network reads the last ones (None: 48; <= window)
    future_size: int = 0  # known-future channels over the horizon (batch.features)
    train_linear: bool = False  # True: training also moves the highway after fit_linear

    def __post_init__(self):
        for name in ("input_size", "horizon", "output_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.window < 0 or (self.mlp and self.window == 0):
            raise ValueError(f"window must be >= 1 for encoder kind 'mlp', got {self.window}")
        if any(not 0.0 < q < 1.0 for q in self.quantiles):
            raise ValueError(f"quantiles must be in (0, 1), got {self.quantiles}")
        if len(set(self.quantiles)) != len(self.quantiles):
            raise ValueError(f"quantiles must be distinct, got {self.quantiles}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.normalize is not None and self.normalize not in REVIN_MODES:
            raise ValueError(f"normalize must be 'mean', 'last' or None, got {self.normalize!r}")
        check_int("future_size", self.future_size, min=0)
        check_bool("difference", self.difference)
        check_bool("train_linear", self.train_linear)
        check_bool("normalize_scale", self.normalize_scale)
        if self.linear is not None:
            check_bool("linear", self.linear)
        if self.encoder_steps is not None:
            check_int("encoder_steps", self.encoder_steps, min=1)
        if self.linear and self.window == 0:
            raise ValueError("linear=True maps the window to the horizon: it needs window >= 1")
        if (self.normalize or self.difference) and self.output_size > self.input_size:
            raise ValueError(
                f"output_size={self.output_size} > input_size={self.input_size}: normalize "
                "and difference read the targets from the first output_size input channels"
            )

    @property
    def uses_linear(self) -> bool:
        """Whether the linear highway is built (``linear``, or by default a fixed window)."""
        return bool(self.window) if self.linear is None else self.linear

    @property
    def steps_read(self) -> int:
        """How many of the window's last steps the network reads (0: all, any length)."""
        if not self.window or self.mlp:
            return self.window
        return min(self.window, self.encoder_steps or ENCODER_STEPS)

    @property
    def mlp(self) -> bool:
        """Whether the encoder is the flattened-window MLP baseline."""
        return isinstance(self.encoder, MLPEncoderConfig)


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball (quantile) loss; ``pred`` (..., Q), ``target`` (...), ``quantiles`` (Q,)."""
    e = target.unsqueeze(-1) - pred  # (..., Q)
    return torch.maximum(quantiles * e, (quantiles - 1) * e).mean()


def seasonal_naive(window: Tensor, horizon: int, period: int) -> Tensor:
    """Repeat the last season: ``y_hat[t + h] = y[t + h - period * ceil(h / period)]``.

    ``window`` (B, W, C) with ``W >= period`` -> (B, horizon, C)."""
    if period < 1 or window.size(1) < period:
        raise ValueError(f"period must be in [1, W={window.size(1)}], got {period}")
    last = window[:, -period:]  # (B, period, C)
    reps = -(-horizon // period)
    return last.repeat(1, reps, 1)[:, :horizon]  # (B, horizon, C)


def ridge_gcv(X: Tensor, Y: Tensor, penalties: tuple[float, ...]) -> Tensor:
    """Generalized cross-validation error of the ridge fit of ``Y`` (N, H) on ``X``
    (N, P) with an unpenalized intercept, for each penalty ``lam`` (times N) of
    ``penalties``: ``GCV = mean((Y - H_lam Y)^2) / (1 - tr(H_lam) / N)^2``, ``H_lam`` the
    hat matrix (Golub, Heath & Wahba 1979), the leave-one-out error with every row's
    leverage replaced by the mean. The intercept is the centring: ``tr H = 1 + sum_i
    d_i / (d_i + lam N)`` over the eigenvalues ``d_i`` of the centred ``X^T X``, one
    eigendecomposition for all penalties. Returns (len(penalties),); ``inf`` where the
    fit leaves no degrees of freedom."""
    n = X.size(0)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    d, V = torch.linalg.eigh(Xc.T @ Xc)  # (P,), (P, P)
    keep = d > d.max().clamp_min(0) * X.size(1) * torch.finfo(X.dtype).eps  # its rank
    d, V = d[keep], V[:, keep]
    XV, Z = Xc @ V, V.T @ (Xc.T @ Yc)  # (N, r), (r, H)
    scores = []
    for lam in penalties:
        shrink = 1.0 / (d + lam * n)  # (r,)
        residual = Yc - XV @ (Z * shrink[:, None])  # (N, H)
        free = 1.0 - (1.0 + (d * shrink).sum()) / n
        rss = residual.pow(2).mean()
        scores.append(rss / free**2 if free > 0 else torch.tensor(math.inf, dtype=X.dtype))
    return torch.stack([torch.as_tensor(v, dtype=X.dtype) for v in scores])


class _MLP(nn.Module):
    """The flattened-window baseline: (B, W, C) -> (B, hidden)."""

    def __init__(self, window: int, input_size: int, config: MLPEncoderConfig):
        super().__init__()
        layers, size = [], window * input_size
        for _ in range(config.num_layers):
            layers += [nn.Linear(size, config.hidden_size), nn.ReLU(), nn.Dropout(config.dropout)]
            size = config.hidden_size
        self.net = nn.Sequential(*layers)
        self.output_size = size

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))  # (B, W*C) -> (B, hidden)


def _tcn_depth(config: ForecasterConfig):
    """The encoder config to build: a TCN left without ``num_layers`` gets the depth that
    covers the window; a TCN that sees less than the window, a warning."""
    enc = config.encoder
    if not isinstance(enc, TCNEncoderConfig) or not config.window:
        return enc
    if enc.num_layers is None and not enc.channels:
        # the least n with 1 + 2(k-1)(2^n - 1) >= window (Bai et al. 2018, Section 3.2)
        depth = len(TCN.for_history(1, config.steps_read, 1, enc.kernel_size).blocks)
        return dataclasses.replace(enc, num_layers=depth)
    blocks = len(enc.channels) or enc.num_layers or 1
    field_ = receptive_field(enc.kernel_size, [2**i for i in range(blocks)])
    seen = config.steps_read
    if field_ < seen:
        warnings.warn(
            f"model.encoder: this TCN's receptive field is {field_} steps, shorter than the "
            f"{seen} steps it reads: it ignores the first {seen - field_}; "
            "leave num_layers out to get the depth that covers the window",
            stacklevel=3,
        )
    return enc


def _fixed_flag_default(state_dict, prefix, *args) -> None:
    """Weights saved before ``linear_fixed`` existed load as a trained highway (0)."""
    state_dict.setdefault(prefix + "linear_fixed", torch.zeros((), dtype=torch.bool))


class Forecaster(TaskModel):
    kind = "forecaster"
    config_class = ForecasterConfig

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = config
        c = config
        if c.mlp:
            self.encoder = _MLP(c.window, c.input_size, c.encoder)
        else:
            self.encoder = build_encoder(_tcn_depth(c), c.input_size)
        self.revin = (
            RevIN(c.input_size, c.normalize, scale=c.normalize_scale) if c.normalize else None
        )
        self.num_outputs = max(len(c.quantiles), 1)
        self.dropout = nn.Dropout(c.dropout)
        future = c.horizon * c.future_size  # the horizon's known-future values, flattened
        self.head = nn.Linear(
            self.encoder.output_size + future, c.horizon * c.output_size * self.num_outputs
        )
        # y_hat += A [x[:, :, target], f]: one (W + H F -> horizon) map shared by the targets
        self.linear = nn.Linear(c.window + future, c.horizon) if c.uses_linear else None
        # 1 once fit_linear has set the highway and it stays fixed (saved with the weights)
        self.register_buffer("linear_fixed", torch.zeros((), dtype=torch.bool))
        self._register_load_state_dict_pre_hook(_fixed_flag_default)
        # from the config, so not saved with the weights
        q = torch.tensor(c.quantiles, dtype=torch.float32)
        self.register_buffer("quantiles", q, persistent=False)
        # output k of the sorted outputs belongs to the k-th lowest level (levels may be
        # listed in any order)
        self.register_buffer("_level_order", torch.argsort(q), persistent=False)

    def _check_inputs(self, batch: Batch) -> Tensor | None:
        c = self.config
        x = batch.inputs
        if x.dim() != 3 or x.size(2) != c.input_size or not x.dtype.is_floating_point:
            raise ValueError(
                f"inputs must be float (B, W, input_size={c.input_size}), got "
                f"{tuple(x.shape)} {x.dtype}"
            )
        if c.window and x.size(1) != c.window:
            raise ValueError(f"inputs must hold window={c.window} steps, got {x.size(1)}")
        f, want = batch.features, (x.size(0), c.horizon, c.future_size)
        if c.future_size and (f is None or tuple(f.shape) != want):
            got = "none" if f is None else tuple(f.shape)
            raise ValueError(f"batch.features must hold the known-future inputs {want}, got {got}")
        if not c.future_size and f is not None:
            raise ValueError("batch.features given, but this forecaster has future_size=0")
        lengths = self._lengths(batch)
        if lengths is not None and c.mlp and bool((lengths != x.size(1)).any()):
            raise ValueError("the mlp encoder needs full windows; got lengths < W")
        return lengths

    def _frame(self, x: Tensor, mask: Tensor | None, full_mask: Tensor):
        """The window in the frame the networks read: normalized (RevIN), then
        differenced; with what undoes it (the statistics and the last value)."""
        c, stats, last = self.config, None, None
        if self.revin is not None:
            x, stats = self.revin.normalize(x, mask)  # (B, W, C), stats (B, 1, C) each
        if c.difference:
            last = pool(x, full_mask, "last")[:, None, : c.output_size]  # (B, 1, O)
            x = torch.cat([torch.zeros_like(x[:, :1]), x.diff(dim=1)], dim=1)  # (B, W, C)
        return x, stats, last

    def _unframe(self, pred: Tensor, stats, last: Tensor | None) -> Tensor:
        """The head's output (B, horizon, O[, Q]) in the frame -> the input's units."""
        c = self.config
        if c.difference:  # y_t = y_last + sum of the forecast differences up to t
            level = last.unsqueeze(-1) if pred.dim() == 4 else last  # (B, 1, O[, 1])
            pred = level + pred.cumsum(dim=1)
        if self.revin is not None:
            pred = self.revin.denormalize(pred, stats, c.output_size)
        return pred

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        lengths = self._check_inputs(batch)
        c = self.config
        mask = None if lengths is None else batch.mask()
        x, stats, last = self._frame(batch.inputs, mask, batch.mask())
        if c.mlp:
            summary = self.encoder(x)  # (B, hidden)
        elif lengths is None and c.steps_read < x.size(1):  # the recent past only
            out, _ = self.encoder(x[:, -c.steps_read :])  # (B, steps_read, E)
            full = torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)
            summary = pool(out, full, "last", self.encoder.num_directions)  # (B, E)
        else:
            out, _ = self.encoder(x, lengths)  # (B, W, E)
            summary = pool(out, batch.mask(), "last", self.encoder.num_directions)  # (B, E)
        future = self._future(batch)  # (B, H F), empty without known-future inputs
        if future is not None:
            summary = torch.cat([summary, future.to(summary.dtype)], dim=1)
        pred = self.head(self.dropout(summary))  # (B, horizon * O * Q)
        shape = (batch.size, c.horizon, c.output_size) + (
            (self.num_outputs,) if c.quantiles else ()
        )
        pred = pred.view(shape)  # (B, horizon, O[, Q])
        if self.linear is not None:  # the highway: one (W [+ H F] -> horizon) map a target
            ar = self._highway(x, future)
            pred = pred + (ar.unsqueeze(-1) if c.quantiles else ar)  # (B, horizon, O[, Q])
        pred = self._unframe(pred, stats, last)
        if c.quantiles:
            pred = self.rearrange(pred)
        if batch.targets is None:
            return Output(pred)
        return Output(pred, self.loss(pred, batch.targets))

    def _future(self, batch: Batch) -> Tensor | None:
        """The horizon's known-future inputs flattened (B, H F), or None."""
        if not self.config.future_size:
            return None
        return batch.features.flatten(1)

    def _rows(self, x: Tensor, future: Tensor | None) -> Tensor:
        """The highway's inputs (B, O, W [+ H F]): each target's framed window, then the
        known-future inputs (the same for every target)."""
        O = self.config.output_size
        rows = x[..., :O].transpose(1, 2)  # (B, O, W)
        if future is None:
            return rows
        return torch.cat([rows, future.to(rows.dtype)[:, None].expand(-1, O, -1)], dim=2)

    def _highway(self, x: Tensor, future: Tensor | None) -> Tensor:
        """The linear highway's forecast (B, horizon, O) in the frame; a fixed highway
        (fitted, ``train_linear`` off) gets no gradient."""
        weight, bias = self.linear.weight, self.linear.bias
        if bool(self.linear_fixed):
            weight, bias = weight.detach(), bias.detach()
        return F.linear(self._rows(x, future), weight, bias).transpose(1, 2)

    @torch.no_grad()
    def fit_linear(
        self,
        train: Batch,
        val: Batch | None = None,
        penalties: tuple[float, ...] = RIDGE_PENALTIES,
    ) -> float:
        """Start from the least-squares linear forecaster: the highway gets the ridge
        solution on the ``train`` windows (in the frame the model forecasts in, the
        intercept unpenalized), its penalty the one of ``penalties`` (times the number of
        rows) with the least generalized cross-validation error on those windows
        (:func:`ridge_gcv`), or, with ``val`` windows given, the least squared error on
        them; and the network's head starts at zero, so training begins at that
        forecast and the network learns what it leaves (Zhang 2003's hybrid: the
        network models the linear fit's residual). GCV reads every training window; the
        forecasting task gives ``val`` only when its tail holds several forecasts (one
        forecast's error chose the penalty 10x too large on sunspots: 1.0, MASE 0.903;
        GCV's 0.1: 0.588). The highway then stays
        fixed unless ``train_linear``: it already minimizes the penalized training error,
        so gradient steps can only move it towards the unpenalized fit, and Adam's
        per-weight steps of about ``lr`` each shook a 672-weight highway off it (the
        electricity LSTM: 0.188 MASE at the start, 0.206 trained; 0.189 fixed, 3 seeds).
        Returns the penalty chosen."""
        c = self.config
        if self.linear is None:
            raise ValueError("fit_linear needs the linear highway (linear=True and a window)")
        if train.lengths is not None:
            raise ValueError("fit_linear needs full windows (no lengths)")

        def rows(batch: Batch):  # (B*O, W) inputs and (B*O, H) targets in the frame
            x, stats, last = self._frame(batch.inputs.double(), None, batch.mask())
            y = batch.targets.double()
            y = y.unsqueeze(-1) if y.dim() == 2 else y  # (B, H, O)
            if self.revin is not None:  # the inverse of denormalize
                loc, scale = (t[..., : c.output_size].double() for t in stats)
                y = (y - loc) / scale
                if self.revin.affine:
                    y = y * self.revin.weight[: c.output_size].double()
                    y = y + self.revin.bias[: c.output_size].double()
            if c.difference:
                y = torch.cat([last.double(), y], dim=1).diff(dim=1)
            future = self._future(batch)
            X = self._rows(x, None if future is None else future.double())
            X = X.reshape(-1, X.size(2))  # (B*O, W [+ H F])
            return X, y.transpose(1, 2).reshape(-1, y.size(1)), (x, stats, last)

        X, Y, _ = rows(train)
        Xb = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)  # (N, W + 1)
        gram, cross = Xb.T @ Xb, Xb.T @ Y
        eye = torch.eye(Xb.size(1), dtype=X.dtype)
        eye[-1, -1] = 0  # the intercept is not shrunk
        if val is None:
            scores = ridge_gcv(X, Y, penalties)
            tried = (penalties[int(torch.argmin(scores))],)
        else:
            tried = tuple(penalties)
        best = (math.inf, None, tried[0])
        for lam in tried:
            coef = torch.linalg.lstsq(gram + lam * len(X) * eye, cross).solution  # (W+1, H)
            error = 0.0
            if val is not None:
                self.linear.weight.copy_(coef[:-1].T.float())
                self.linear.bias.copy_(coef[-1].float())
                error = self._linear_error(val)
            if error < best[0] or best[1] is None:
                best = (error, coef, lam)
        coef = best[1]
        self.linear.weight.copy_(coef[:-1].T)
        self.linear.bias.copy_(coef[-1])
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.linear_fixed.fill_(not c.train_linear)
        return best[2]

    def _linear_error(self, batch: Batch) -> float:
        """Mean squared error of the highway alone on ``batch``, in the input's units."""
        x, stats, last = self._frame(batch.inputs, None, batch.mask())
        ar = self._highway(x, self._future(batch))
        y = batch.targets
        y = y.unsqueeze(-1) if y.dim() == 2 else y
        return float(F.mse_loss(self._unframe(ar, stats, last), y.to(ar.dtype)))

    def supported_metrics(self) -> tuple[str, ...]:
        interval = ("coverage",) if len(self.config.quantiles) >= 2 else ()
        return ("mae", "rmse", "mape", "smape", "mase", *interval)

    def default_metrics(self) -> tuple[str, ...]:
        # MASE (Hyndman & Koehler 2006) compares with the seasonal naive forecast, the
        # baseline a forecast has to beat; MAPE is left out (it explodes near zero), and
        # RMSE, which says little beside MAE and MASE
        return tuple(m for m in self.supported_metrics() if m not in ("rmse", "mape"))

    def evaluate_batch(self, batch: Batch, state=None) -> Output:
        """The loss as in training; the point metrics score the point forecast (the
        median, or the middle level, of a quantile forecast); with quantiles the
        prediction is ``{"forecast", "lower", "upper"}``, the interval of the lowest and
        highest levels, for ``coverage``."""
        out = self(batch)
        squeeze = batch.targets is not None and batch.targets.dim() == 2  # (B, horizon)
        fit = lambda t: t.squeeze(-1) if squeeze else t  # noqa: E731
        point = fit(self.point(out.prediction))  # (B, horizon, O)
        if len(self.config.quantiles) < 2:
            return out._replace(prediction=point)
        lo, hi = int(self.quantiles.argmin()), int(self.quantiles.argmax())
        interval = {"lower": fit(out.prediction[..., lo]), "upper": fit(out.prediction[..., hi])}
        return out._replace(prediction={"forecast": point, **interval})

    def point(self, pred: Tensor) -> Tensor:
        """(B, horizon, O) point forecast: the prediction itself, or with quantiles the
        output of the level nearest 0.5."""
        if not self.config.quantiles:
            return pred
        middle = int((self.quantiles - 0.5).abs().argmin())
        return pred[..., middle]

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """``forecast`` (B, horizon, O) point forecasts; with quantiles also
        ``quantiles`` (B, horizon, O, Q), rising with the levels, and ``levels`` (Q,)."""
        pred = self(without_targets(batch)).prediction
        result = {"forecast": self.point(pred)}
        if self.config.quantiles:
            result.update(quantiles=pred, levels=self.quantiles)
        return result

    def rearrange(self, pred: Tensor) -> Tensor:
        """Quantile outputs (..., Q) sorted to rise with their levels (no crossing)."""
        ordered = torch.empty_like(pred)
        ordered[..., self._level_order] = pred.sort(dim=-1).values
        return ordered

    def loss(self, pred: Tensor, targets: Tensor) -> Tensor:
        c = self.config
        B = pred.size(0)
        if c.output_size == 1 and targets.shape == (B, c.horizon):
            targets = targets.unsqueeze(-1)  # (B, horizon, 1)
        if targets.shape != (B, c.horizon, c.output_size):
            raise ValueError(
                f"targets must be (B={B}, horizon={c.horizon}, output_size={c.output_size}), "
                f"got {tuple(targets.shape)}"
            )
        targets = targets.to(pred.dtype)
        if c.quantiles:
            return pinball_loss(pred, targets, self.quantiles.to(pred.dtype))
        return F.mse_loss(pred, targets)
