"""Forecaster: shapes, padding, quantiles, the MLP baseline, errors, learning."""

import pytest
import torch

from models_common import encoder, encoder_names, pad, roundtrip, train, train_on
from seqlab.data import Batch
from seqlab.models import EncoderConfig, Forecaster, ForecasterConfig, pinball_loss, seasonal_naive

ENCODERS = ["mlp", *encoder_names()]


def _model(enc="gru", horizon=3, quantiles=(), window=0, hidden=8, **options):
    torch.manual_seed(0)
    enc_cfg = (
        EncoderConfig(kind="mlp", hidden_size=hidden) if enc == "mlp" else encoder(enc, hidden)
    )
    cfg = ForecasterConfig(
        input_size=2,
        horizon=horizon,
        window=window or (6 if enc == "mlp" else 0),
        quantiles=list(quantiles),
        encoder=enc_cfg,
        **options,
    )
    return Forecaster(cfg).eval()


@pytest.mark.parametrize("enc", ENCODERS)
@pytest.mark.parametrize("quantiles", [(), (0.1, 0.5, 0.9)])
def test_shapes(enc, quantiles):
    model = _model(enc, quantiles=quantiles)
    out = model(Batch(torch.randn(4, 6, 2), targets=torch.randn(4, 3, 1)))
    assert out.prediction.shape == (4, 3, 1) + ((3,) if quantiles else ())
    assert out.loss.dim() == 0


@pytest.mark.parametrize("enc", encoder_names())
def test_padding_never_changes_a_prediction(enc):
    model = _model(enc)
    windows = [torch.randn(L, 2) for L in [6, 3, 5]]
    x, lengths = pad(windows)
    with torch.no_grad():
        batched = model(Batch(x, lengths=lengths)).prediction
        for i, w in enumerate(windows):
            alone = model(Batch(w.unsqueeze(0))).prediction
            torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=1e-5)


def test_pinball_loss_is_the_quantile_check_function():
    q = torch.tensor([0.1, 0.9])
    # y - y_hat = 2: under-forecast costs q * 2; y - y_hat = -2: over-forecast costs (1 - q) * 2
    assert torch.allclose(pinball_loss(torch.zeros(1, 2), torch.tensor([2.0]), q), q.mean() * 2)
    got = pinball_loss(torch.full((1, 2), 2.0), torch.tensor([0.0]), q)
    assert torch.allclose(got, (1 - q).mean() * 2)


def test_quantile_outputs_learn_an_interval():
    # y ~ N(0, 1) whatever the input: the 0.1 / 0.9 outputs should land near -1.28 / +1.28
    model = _model("mlp", horizon=1, quantiles=(0.1, 0.5, 0.9))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2000, 6, 2, generator=g), torch.randn(2000, 1, 1, generator=g)
    train(model, Batch(x, targets=y), steps=300, lr=3e-2)
    with torch.no_grad():
        pred = model(Batch(x)).prediction  # (N, 1, 1, 3)
    coverage = [(y[..., 0] <= pred[..., 0, k]).float().mean().item() for k in range(3)]
    assert abs(coverage[0] - 0.1) < 0.04 and abs(coverage[1] - 0.5) < 0.05
    assert abs(coverage[2] - 0.9) < 0.04


@pytest.mark.parametrize("levels", [(0.1, 0.5, 0.9), (0.9, 0.1, 0.5)])
def test_quantile_outputs_never_cross(levels):
    model = _model("mlp", horizon=2, quantiles=levels, normalize=None, linear=False)
    with torch.no_grad():  # a head whose raw outputs cross: level order reversed, and noisy
        model.head.weight.mul_(50)
        model.head.bias.copy_(torch.tensor([-3.0 * q for q in levels] * 2))
    x, y = torch.randn(64, 6, 2), torch.randn(64, 2, 1)
    out = model(Batch(x, targets=y))
    order = sorted(range(len(levels)), key=lambda k: levels[k])
    by_level = out.prediction[..., order]  # (64, 2, 1, Q) from lowest to highest level
    assert bool((by_level[..., 1:] >= by_level[..., :-1]).all())
    # the rearranged outputs are the raw ones, each row sorted; the loss is taken on them
    with torch.no_grad():
        raw = model.head(model.encoder(x)).view(64, 2, 1, len(levels))
    assert not bool((raw[..., order][..., 1:] >= raw[..., order][..., :-1]).all())  # they crossed
    torch.testing.assert_close(by_level, raw.sort(dim=-1).values)
    torch.testing.assert_close(out.loss, pinball_loss(out.prediction, y, model.quantiles))
    out.loss.backward()  # gradients pass through the sort
    assert model.head.weight.grad.abs().sum() > 0


def test_seasonal_naive_repeats_the_last_season():
    x = torch.tensor([1.0, 2, 3, 4, 5, 6]).view(1, 6, 1)
    assert seasonal_naive(x, horizon=5, period=3).flatten().tolist() == [4, 5, 6, 4, 5]
    with pytest.raises(ValueError, match="period must be in"):
        seasonal_naive(x, horizon=2, period=7)


def test_mismatched_inputs_are_rejected():
    model = _model("mlp")
    with pytest.raises(ValueError, match=r"input_size=2\), got \(4, 6, 3\)"):
        model(Batch(torch.randn(4, 6, 3)))
    with pytest.raises(ValueError, match="window=6 steps, got 5"):
        model(Batch(torch.randn(4, 5, 2)))
    with pytest.raises(ValueError, match=r"horizon=3, output_size=1\), got \(4, 2, 1\)"):
        model(Batch(torch.randn(4, 6, 2), targets=torch.randn(4, 2, 1)))
    with pytest.raises(ValueError, match="window must be >= 1 for encoder kind 'mlp'"):
        ForecasterConfig(input_size=1, horizon=2, encoder=EncoderConfig(kind="mlp"))
    with pytest.raises(ValueError, match=r"quantiles must be in \(0, 1\)"):
        ForecasterConfig(input_size=1, horizon=2, quantiles=[0.5, 1.0])


@pytest.mark.parametrize("enc", ["mlp", "lstm-peephole-ln", "bigru", "tcn", "wavenet"])
@pytest.mark.parametrize("quantiles", [(), (0.2, 0.8)])
def test_checkpoint_roundtrip(enc, quantiles):
    model = _model(enc, quantiles=quantiles)
    batch = Batch(torch.randn(3, 6, 2))
    with torch.no_grad():
        torch.testing.assert_close(roundtrip(model)(batch).prediction, model(batch).prediction)


@pytest.mark.parametrize("enc", ["mlp", "gru"])
def test_overfits_a_small_batch(enc):
    model = _model(enc, hidden=32)
    g = torch.Generator().manual_seed(0)
    batch = Batch(torch.randn(8, 6, 2, generator=g), targets=torch.randn(8, 3, 1, generator=g))
    assert train(model, batch, steps=150, lr=2e-2) < 0.01


PERIOD, WINDOW, HORIZON, NOISE = 12, 24, 6, 0.3


def _series(n: int, seed: int) -> torch.Tensor:
    """Two harmonics of period 12, a slow trend and Gaussian noise (sd 0.3)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float32)
    season = torch.sin(2 * torch.pi * t / PERIOD) + 0.5 * torch.cos(4 * torch.pi * t / PERIOD)
    return season + 0.002 * t + NOISE * torch.randn(n, generator=g)


def _windows(series: torch.Tensor) -> Batch:
    idx = torch.arange(len(series) - WINDOW - HORIZON + 1)
    x = torch.stack([series[i : i + WINDOW] for i in idx]).unsqueeze(-1)  # (N, W, 1)
    y = torch.stack([series[i + WINDOW : i + WINDOW + HORIZON] for i in idx]).unsqueeze(-1)
    return Batch(x, targets=y)


CONV_SLOW = [pytest.param(n, marks=pytest.mark.slow) for n in ("tcn", "wavenet")]


@pytest.mark.parametrize("enc", ["mlp", "gru", *CONV_SLOW])
def test_beats_seasonal_naive_on_a_noisy_seasonal_series(enc):
    # Seasonal naive carries the noise of one past point: MSE ≈ 2 * 0.3² = 0.18;
    # a model that averages the noise away approaches 0.09.
    train_set, test = _windows(_series(1200, seed=0)), _windows(_series(400, seed=1))
    torch.manual_seed(0)
    enc_cfg = EncoderConfig(kind="mlp", hidden_size=64) if enc == "mlp" else encoder(enc, hidden=32)
    if enc_cfg.kind in ("tcn", "wavenet"):
        enc_cfg.num_layers = 5  # receptive field >= one period
    cfg = ForecasterConfig(input_size=1, horizon=HORIZON, window=WINDOW, encoder=enc_cfg)
    model = Forecaster(cfg)
    N = train_set.size

    def batch(step):
        idx = torch.randint(0, N, (64,), generator=torch.Generator().manual_seed(step))
        return Batch(train_set.inputs[idx], targets=train_set.targets[idx])

    train_on(model, batch, steps=300, lr=5e-3)
    with torch.no_grad():
        mse = torch.mean((model(test).prediction - test.targets) ** 2).item()
    naive = torch.mean((seasonal_naive(test.inputs, HORIZON, PERIOD) - test.targets) ** 2).item()
    assert mse < 0.8 * naive, (mse, naive)
