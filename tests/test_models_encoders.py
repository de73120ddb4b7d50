"""EncoderConfig / build_encoder and the model registry."""

import pytest
import torch

from models_common import ENCODERS, encoder, encoder_names
from seqlab.config import ConfigError, to_dict
from seqlab.models import MODELS, EncoderConfig, build_encoder, build_model


@pytest.mark.parametrize("name", encoder_names())
def test_shapes_and_zero_padding(name):
    torch.manual_seed(0)
    enc = build_encoder(encoder(name), 3)
    x = torch.randn(3, 6, 3)
    out, _ = enc(x, lengths=torch.tensor([6, 2, 4]))
    assert out.shape == (3, 6, enc.output_size)
    assert out[1, 2:].abs().sum() == 0 and out[2, 4:].abs().sum() == 0
    assert enc.causal == (not ENCODERS[name].get("bidirectional", False))


@pytest.mark.parametrize("name", encoder_names(causal=True))
def test_stream_equals_forward(name):
    torch.manual_seed(0)
    enc = build_encoder(encoder(name), 3).eval()
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        full, _ = enc(x)
        stream = enc.stream(2)
        steps = torch.stack([stream.step(x[:, t]) for t in range(7)], 1)
        stream.reset()
        again = stream.step(x[:, 0])
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(again, full[:, 0], atol=1e-5, rtol=1e-5)


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="bidirectional needs a recurrent kind"):
        EncoderConfig(kind="tcn", bidirectional=True)
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        EncoderConfig(hidden_size=0)
    with pytest.raises(ValueError, match="use it in a Forecaster"):
        build_encoder(EncoderConfig(kind="mlp"), 3)
    with pytest.raises(ValueError, match="cannot run step by step"):
        build_encoder(EncoderConfig(kind="gru", bidirectional=True), 3).stream(2)


@pytest.mark.parametrize("name", ["tcn", "wavenet"])
def test_convolutional_encoders_carry_no_state(name):
    enc = build_encoder(encoder(name), 3)
    with pytest.raises(ValueError, match="carries no state"):
        enc(torch.randn(1, 4, 3), state=torch.zeros(1))


def test_registry_rebuilds_every_model_from_its_json_config():
    configs = {
        "classifier": {"inputs": {"vocab_size": 10}},
        "tagger": {"inputs": {"input_size": 3}, "num_tags": 4},
        "language_model": {
            "inputs": {"vocab_size": 10},
            "encoder": {"kind": "gru", "hidden_size": 8},
        },
        "seq2seq": {"inputs": {"vocab_size": 10}, "tgt_vocab_size": 9},
        "forecaster": {"input_size": 2, "horizon": 3, "quantiles": [0.1, 0.9]},
        "music": {"encoder": {"kind": "tcn", "hidden_size": 8}, "dropout": 0.1},
        "ctc": {"inputs": {"input_size": 4}, "num_labels": 6},
        "attention_transcriber": {"inputs": {"input_size": 4}, "tgt_vocab_size": 7},
    }
    assert set(configs) == set(MODELS)
    for kind, cfg in configs.items():
        model = build_model(kind, cfg)
        assert model.kind == kind
        again = build_model(kind, to_dict(model.config))
        assert to_dict(again.config) == to_dict(model.config)
    with pytest.raises(ConfigError, match=r"encoder\.hiden: unknown key"):
        build_model("forecaster", {"input_size": 1, "horizon": 2, "encoder": {"hiden": 3}})
    with pytest.raises(ConfigError, match="num_tags: required key is missing"):
        build_model("tagger", {"inputs": {"input_size": 3}})
    with pytest.raises(ValueError, match="unknown model kind 'lm'"):
        build_model("lm", {})


def test_a_key_of_another_encoder_kind_is_an_error_that_names_it():
    # Before the kind-tagged configs these were accepted and silently ignored.
    bad = {"kind": "tcn", "peephole": True, "recurrent_dropout": 0.5}
    with pytest.raises(ConfigError, match=r"encoder\.peephole: needs kind 'lstm', got kind='tcn'"):
        build_model("classifier", {"inputs": {"vocab_size": 10}, "encoder": bad})
    with pytest.raises(ConfigError, match=r"encoder\.recurrent_dropout: needs a recurrent kind"):
        build_model(
            "classifier",
            {
                "inputs": {"vocab_size": 10},
                "encoder": {"kind": "wavenet", "recurrent_dropout": 0.1},
            },
        )
    with pytest.raises(ConfigError, match=r"encoder\.kernel_size: needs kind 'tcn' or 'wavenet'"):
        build_model(
            "classifier",
            {"inputs": {"vocab_size": 10}, "encoder": {"kind": "gru", "kernel_size": 3}},
        )
    with pytest.raises(ConfigError, match=r"encoder\.kind: encoder kind must be one of"):
        build_model(
            "classifier", {"inputs": {"vocab_size": 10}, "encoder": {"kind": "transformer"}}
        )
    # within the recurrent kinds: setting an option of another kind fails, in YAML and Python
    with pytest.raises(ConfigError, match="peephole needs kind 'lstm', got kind='gru'"):
        build_model(
            "classifier",
            {"inputs": {"vocab_size": 10}, "encoder": {"kind": "gru", "peephole": True}},
        )
    with pytest.raises(ValueError, match="layer_norm needs kind 'lstm' or 'gru', got kind='rnn'"):
        EncoderConfig(kind="rnn", layer_norm=True)
    with pytest.raises(ValueError, match="nonlinearity needs kind 'rnn'"):
        EncoderConfig(kind="lstm", nonlinearity="relu")
    with pytest.raises(ValueError, match="dilation_cycles needs kind 'wavenet', got kind='tcn'"):
        EncoderConfig(kind="tcn", dilation_cycles=2)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        EncoderConfig(kind="gru", dropout=-0.1)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "tcn", "wavenet", "mlp"])
def test_each_kind_has_its_own_config_class_that_round_trips(kind):
    from seqlab.config import from_dict
    from seqlab.models import (
        MLPEncoderConfig,
        RecurrentEncoderConfig,
        TCNEncoderConfig,
        WaveNetEncoderConfig,
    )

    cfg = EncoderConfig(kind=kind, hidden_size=7)
    expected = {"tcn": TCNEncoderConfig, "wavenet": WaveNetEncoderConfig, "mlp": MLPEncoderConfig}
    assert type(cfg) is expected.get(kind, RecurrentEncoderConfig)
    assert isinstance(cfg, EncoderConfig) and cfg.kind == kind
    assert from_dict(type(cfg), to_dict(cfg)) == cfg
    assert cfg.recurrent == (kind in ("rnn", "lstm", "gru"))
    assert EncoderConfig().kind == "lstm"  # the default kind


def test_relu_rnn_encoder():
    enc = build_encoder(EncoderConfig(kind="rnn", nonlinearity="relu", hidden_size=4), 3)
    assert enc.net.cell.nonlinearity == "relu"


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_chrono_reaches_the_recurrent_layer_from_the_run_config(kind):
    # encoder.chrono: T_max of the chrono init; 0 (the default) keeps the usual init
    torch.manual_seed(0)
    enc = build_encoder(EncoderConfig(kind=kind, hidden_size=50, chrono=200), input_size=3)
    cell = enc.net.cells[0]
    assert cell.chrono == 200
    H = 50
    keep = enc.net.bias_ih_l0.detach()[H : 2 * H]  # lstm's forget, gru's update gate
    assert keep.min() >= 0 and keep.max() <= torch.log(torch.tensor(199.0))
    assert keep.std() > 0.5  # spread over time scales, not one constant
    plain = build_encoder(EncoderConfig(kind=kind, hidden_size=50), input_size=3)
    assert plain.net.cells[0].chrono is None
    with pytest.raises(ConfigError, match=r"encoder: chrono must be an int >= 3, got 1"):
        build_model("classifier", {"inputs": {"vocab_size": 10},
                                   "encoder": {"kind": kind, "chrono": 1}})  # fmt: skip
    with pytest.raises(
        ConfigError, match=r"encoder: chrono needs kind 'lstm' or 'gru', got kind='rnn'"
    ):
        build_model("classifier", {"inputs": {"vocab_size": 10},
                                   "encoder": {"kind": "rnn", "chrono": 100}})  # fmt: skip
