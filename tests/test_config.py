"""seqlab.config: typed configs from YAML data, kind-tagged sections, overrides."""

from dataclasses import dataclass, field

import pytest

from seqlab.config import ConfigError, apply_overrides, field_type, from_dict
from seqlab.models import ClassifierConfig, EncoderConfig


@dataclass
class Section:
    name: str = "run"
    seed: int = 0
    lr: float | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Top:
    section: Section = field(default_factory=Section)
    model: ClassifierConfig | None = None


def test_override_values_are_coerced_against_the_target_field():
    # "2024" set on a string field stays a string: it used to be parsed to an int first
    data = apply_overrides({}, ["section.name=2024", "section.seed=7", "section.lr=1e-3"], Top)
    assert data == {"section": {"name": "2024", "seed": 7, "lr": 1e-3}}
    assert from_dict(Top, data).section.name == "2024"
    data = apply_overrides({}, ["section.lr=none", "section.tags=[a, b]"], Top)
    assert data["section"] == {"lr": None, "tags": ["a", "b"]}
    with pytest.raises(ConfigError, match=r"section\.seed: expected an int, got 'x'"):
        apply_overrides({}, ["section.seed=x"], Top)


def test_overrides_reach_into_kind_tagged_sections():
    base = {"model": {"inputs": {"vocab_size": 5}, "encoder": {"kind": "tcn"}}}
    data = apply_overrides(
        base, ["model.encoder.kernel_size=3", "model.encoder.channels=[4, 4]"], Top
    )
    top = from_dict(Top, data)
    assert top.model.encoder.kernel_size == 3 and top.model.encoder.channels == [4, 4]
    assert field_type(Top, ["model", "encoder", "kernel_size"], data) is int
    assert field_type(Top, ["model", "encoder", "nope"], data) is None
    with pytest.raises(ConfigError, match=r"encoder\.peephole: needs kind 'lstm'"):
        from_dict(Top, apply_overrides(data, ["model.encoder.peephole=true"], Top))


def test_without_a_schema_overrides_parse_yaml_scalars():
    assert apply_overrides({}, ["a.b=16", "a.c=text"]) == {"a": {"b": 16, "c": "text"}}
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["a.b"])


def test_an_encoder_config_instance_passes_through():
    cfg = from_dict(
        ClassifierConfig, {"inputs": {"vocab_size": 5}, "encoder": EncoderConfig(kind="gru")}
    )
    assert cfg.encoder.kind == "gru"
