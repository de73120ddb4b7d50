"""Typed configs: a dataclass per component, nested into a run config.

``from_dict(Cls, mapping)`` builds a config from YAML/JSON data: unknown keys and
wrong types are errors that name the dotted key and what was expected; strings from
the command line (``"3"``, ``"true"``, ``"[64, 64]"``) are coerced to the field's type.
Never ``exec`` a config.

>>> from dataclasses import dataclass, field
>>> @dataclass
... class Enc:
...     kind: Literal["lstm", "gru"] = "lstm"
...     hidden: int = 32
...     channels: list[int] = field(default_factory=list)
>>> from_dict(Enc, {"hidden": "64", "channels": "[8, 16]"})
Enc(kind='lstm', hidden=64, channels=[8, 16])
>>> from_dict(Enc, {"hiden": 3})
Traceback (most recent call last):
...
seqlab.config.ConfigError: hiden: unknown key; expected one of: kind, hidden, channels
>>> apply_overrides({"model": {"hidden": 8}}, ["model.hidden=16"])
{'model': {'hidden': 16}}
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, Union

import yaml

__all__ = [
    "ConfigError",
    "apply_overrides",
    "field_type",
    "from_dict",
    "load_yaml",
    "to_dict",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value or key is wrong; the message names the dotted key."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own message says what is wrong
            return _coerce(value, options[0], key)
        for arg in options:
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
    if isinstance(tp, type) and hasattr(tp, "variant") and not dataclasses.is_dataclass(tp):
        return _coerce_tagged(value, tp, key)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if isinstance(value, str):
            value = _parse_scalar(value)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{key}: expected {len(args)} items, got {len(value)}")
            items = [
                _coerce(v, a, f"{key}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an int, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")


def _coerce_tagged(value: Any, base: Any, key: str) -> Any:
    """A config whose class the ``kind`` key picks (``base.variant(kind)``, e.g. the
    encoder configs); a key of another kind is an error naming it."""
    if isinstance(value, base):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping for {base.__name__}, got {value!r}")
    kind = value.get("kind", getattr(base, "default_kind", None))
    try:
        cls = base.variant(kind)
    except ValueError as e:
        raise ConfigError(f"{key}.kind: {e}") from None
    bad = cls.bad_key(kind, value)
    if bad is not None:
        raise ConfigError(f"{key}.{bad[0]}: {bad[1]}")
    return from_dict(cls, value, prefix=f"{key}.")


def _parse_scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return yaml.safe_load(text)


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and coercing types."""
    if not isinstance(data, Mapping):
        where = prefix.rstrip(".") or "config"
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in data:
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown key; expected one of: {', '.join(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.init
            and f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ConfigError(f"{prefix}{missing[0]}: required key is missing") from e
        raise
    except ValueError as e:  # the class's own validation (__post_init__)
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {e}") from e


def to_dict(config: Any) -> dict[str, Any]:
    """The plain-data form of a config (JSON/YAML safe)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def field_type(schema: Any, path: Sequence[str], data: Mapping[str, Any] | None = None) -> Any:
    """The type of the field at ``path`` (``["train", "lr"]``) in dataclass ``schema``, or
    ``None`` where the schema does not say (an unknown key, a free-form mapping). ``data``
    picks the class of a kind-tagged section from its ``kind`` key."""
    tp = schema
    node = data
    for part in path:
        tp = _unwrap_optional(tp)
        if isinstance(tp, type) and hasattr(tp, "variant") and not dataclasses.is_dataclass(tp):
            kind = (node or {}).get("kind", getattr(tp, "default_kind", None))
            try:
                tp = tp.variant(kind)
            except ValueError:
                return None
        if not dataclasses.is_dataclass(tp):
            return None
        hints = typing.get_type_hints(tp)
        if part not in hints:
            return None
        tp = hints[part]
        node = node.get(part) if isinstance(node, Mapping) else None
    return tp


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[str], schema: Any = None
) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to nested ``data``.

    With ``schema`` (the dataclass ``data`` is for) each value is coerced against the
    type of the field it sets, so ``name=2024`` stays the string ``"2024"`` for a string
    field and becomes ``2024`` for an int; without one (or where the schema does not say)
    the value is parsed as a YAML scalar.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. model.hidden=64")
        dotted, raw = item.split("=", 1)
        dotted = dotted.strip()
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {dotted}: {part} is not a section")
            node = child
        tp = field_type(schema, parts, data) if schema is not None else None
        if tp is None or tp is Any:
            value = _parse_scalar(raw)
        elif tp is str:
            value = raw
        else:
            try:
                value = _coerce(raw, tp, dotted)
            except ConfigError:  # a section or a mapping written inline: parse it first
                value = _coerce(_parse_scalar(raw), tp, dotted)
        node[parts[-1]] = value
    return data


def load_yaml(path: str) -> dict[str, Any]:
    """Read a YAML config file; errors name the file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a directory, not a config file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason}); a config is a YAML file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data
