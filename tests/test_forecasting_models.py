"""RevIN, differencing and the TCN depth of the Forecaster; smape and coverage."""

import warnings

import pytest
import torch

from devices import device_of
from seqlab.data import Batch
from seqlab.models import EncoderConfig, Forecaster, ForecasterConfig
from seqlab.nn.revin import RevIN
from seqlab.nn.tcn import receptive_field
from seqlab.train import Trainer, TrainerConfig
from seqlab.train.metrics import coverage, make_metric, smape


def _forecaster(kind="gru", window=12, **options):
    torch.manual_seed(0)
    enc = EncoderConfig(kind=kind, hidden_size=8)
    cfg = ForecasterConfig(input_size=2, horizon=3, window=window, encoder=enc, **options)
    return Forecaster(cfg).eval()


@pytest.mark.parametrize("mode", ["mean", "last"])
def test_revin_is_the_equation_and_reverses(mode):
    torch.manual_seed(0)
    revin = RevIN(3, mode)
    with torch.no_grad():
        revin.weight.uniform_(0.5, 2.0)
        revin.bias.normal_()
    x = torch.randn(4, 10, 3, dtype=torch.float64) * 7 + 50
    z, stats = revin.normalize(x)
    loc = x.mean(1, keepdim=True) if mode == "mean" else x[:, -1:]
    scale = (x.var(1, keepdim=True, unbiased=False) + 1e-5).sqrt()
    expected = (x - loc) / scale * revin.weight.double() + revin.bias.double()
    torch.testing.assert_close(z, expected)
    torch.testing.assert_close(revin.denormalize(z, stats), x)
    # a quantile axis after the channels shares each channel's statistics
    q = torch.stack([z[:, :2, :2], z[:, :2, :2] + 1], dim=-1)  # (B, 2, O=2, Q=2)
    back = revin.denormalize(q, stats, channels=2)
    torch.testing.assert_close(back[..., 0], x[:, :2, :2])


def test_revin_leaves_padding_out_of_the_statistics():
    revin = RevIN(1, "last", affine=False)
    x = torch.tensor([[1.0, 2.0, 3.0, 99.0]]).unsqueeze(-1)
    mask = torch.tensor([[True, True, True, False]])
    z, (loc, scale) = revin.normalize(x, mask)
    assert loc.item() == 3.0 and scale.item() == pytest.approx((2 / 3 + 1e-5) ** 0.5)
    assert z[0, 3, 0] == 0


@pytest.mark.parametrize("kind", ["gru", "tcn", "mlp"])
def test_a_normalized_forecaster_follows_the_level_and_scale_of_its_window(kind):
    # RevIN: forecast(a x + c) = a forecast(x) + c, per channel (the point of Kim et al. 2022);
    # by default the level only: forecast(x + c) = forecast(x) + c
    x = torch.randn(5, 12, 2)
    a, c = torch.tensor([3.0, 0.5]), torch.tensor([100.0, -4.0])
    model = _forecaster(kind)
    with torch.no_grad():
        base = model(Batch(x)).prediction
        torch.testing.assert_close(model(Batch(x + c)).prediction, base + c[0], atol=1e-3, rtol=0)
        assert not torch.allclose(model(Batch(x * a)).prediction, base * a[0], atol=1e-2)
    model = _forecaster(kind, normalize_scale=True)
    with torch.no_grad():
        base = model(Batch(x)).prediction
        moved = model(Batch(x * a + c)).prediction
    torch.testing.assert_close(moved, base * a[0] + c[0], rtol=1e-4, atol=1e-3)
    plain = _forecaster(kind, normalize=None)
    with torch.no_grad():
        assert not torch.allclose(
            plain(Batch(x + 100)).prediction, plain(Batch(x)).prediction + 100
        )


@pytest.mark.parametrize("normalize", ["mean", None])
def test_differencing_sums_the_forecast_onto_the_last_value(normalize):
    model = _forecaster("gru", normalize=normalize, difference=True)
    with torch.no_grad():
        for layer in (model.head, model.linear):  # forecasts no change
            layer.weight.zero_()
            layer.bias.zero_()
        x = torch.randn(4, 12, 2) + 10
        pred = model(Batch(x)).prediction  # (4, 3, 1)
        torch.testing.assert_close(pred, x[:, -1:, :1].expand(-1, 3, -1), rtol=1e-5, atol=1e-4)
        model.head.bias.fill_(1.0)  # one more each step, in the (normalized) frame
        steps = model(Batch(x)).prediction.diff(dim=1)
    assert bool((steps > 0).all())


def test_a_tcn_left_to_seqlab_covers_its_window_and_a_short_one_warns():
    for window in (3, 24, 96):
        model = _forecaster("tcn", window=window)
        k = model.config.encoder.kernel_size
        levels = len(model.encoder.net.blocks)
        field = receptive_field(k, [2**i for i in range(levels)])
        seen = model.config.steps_read  # the window, or its last 48 steps (encoder_steps)
        assert seen == min(window, 48)
        assert field >= seen > (receptive_field(k, [2**i for i in range(levels - 1)])
                                if levels > 1 else 0)  # fmt: skip
    enc = EncoderConfig(kind="tcn", hidden_size=8, num_layers=2)
    with pytest.warns(UserWarning, match=r"receptive field is 7 steps, shorter than the 24 "
                      r"steps it reads: it ignores the first 17"):  # fmt: skip
        Forecaster(ForecasterConfig(input_size=1, horizon=2, window=24, encoder=enc))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Forecaster(ForecasterConfig(input_size=1, horizon=2, window=7, encoder=enc))


def test_smape_and_coverage():
    p, t = torch.tensor([110.0, 90.0, 0.0]), torch.tensor([100.0, 100.0, 0.0])
    assert smape(p, t) == pytest.approx((200 * 10 / 210 + 200 * 10 / 190) / 3)
    m = make_metric("smape")
    m.update(p[:2], Batch(torch.zeros(2, 1, 1), targets=t[:2]))
    m.update(p[2:], Batch(torch.zeros(1, 1, 1), targets=t[2:]))
    assert m.value() == pytest.approx(smape(p, t))
    lo, hi = torch.tensor([0.0, 0.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 1.0, 1.0])
    assert coverage(lo, hi, torch.tensor([0.0, 0.5, 1.0, 1.5])) == 0.75
    with pytest.raises(ValueError, match="coverage needs a quantile forecast"):
        make_metric("coverage").update(p, Batch(torch.zeros(3, 1, 1), targets=t))


def test_coverage_scores_the_outer_levels_through_the_trainer():
    model = _forecaster("gru", quantiles=[0.9, 0.1, 0.5])
    assert "coverage" in model.supported_metrics()
    assert "coverage" not in _forecaster("gru").supported_metrics()
    x, y = torch.randn(16, 12, 2), torch.randn(16, 3, 1)
    trainer = Trainer(model, TrainerConfig(progress=False, metrics=["coverage", "mae"]))
    got = trainer.evaluate([Batch(x, targets=y)])
    with torch.no_grad():
        q = model(Batch(x).to(device_of(model))).prediction.cpu()  # (16, 3, 1, 3): 0.9, 0.1, 0.5
    assert got["coverage"] == pytest.approx(coverage(q[..., 1], q[..., 0], y))
    assert got["mae"] == pytest.approx((q[..., 2] - y).abs().mean().item(), rel=1e-5)
