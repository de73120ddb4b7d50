"""Encoder configs, one dataclass per kind, so a key that does not apply is an error.

``EncoderConfig(kind=..., **keys)`` gives the config class of that kind:

================================ ======================= ===================================
class                            kind                    keys besides ``kind``
================================ ======================= ===================================
:class:`RecurrentEncoderConfig`  ``rnn`` ``lstm`` ``gru`` hidden_size, num_layers,
                                                         bidirectional, dropout,
                                                         recurrent_dropout, peephole (lstm),
                                                         layer_norm (lstm, gru),
                                                         chrono (lstm, gru),
                                                         nonlinearity (rnn)
:class:`TCNEncoderConfig`        ``tcn``                 hidden_size, num_layers, channels,
                                                         kernel_size, dropout, weight_norm
:class:`WaveNetEncoderConfig`    ``wavenet``             hidden_size, num_layers,
                                                         skip_channels, kernel_size,
                                                         dilation_cycles, dropout
:class:`MLPEncoderConfig`        ``mlp``                 hidden_size, num_layers, dropout
================================ ======================= ===================================

``hidden_size``: recurrent hidden size, TCN channels per block (unless ``channels``),
WaveNet residual channels, MLP units. ``num_layers``: recurrent layers, TCN blocks,
WaveNet layers per dilation cycle, MLP hidden layers. In YAML the ``kind`` key picks the
class (``lstm`` when absent), and :func:`seqlab.config.from_dict` refuses keys of
another kind the same way.

>>> EncoderConfig(kind="gru", hidden_size=8)
RecurrentEncoderConfig(kind='gru', hidden_size=8, num_layers=1, bidirectional=False, \
dropout=0.0, recurrent_dropout=0.0, peephole=False, layer_norm=False, chrono=0, \
nonlinearity='tanh')
>>> EncoderConfig(kind="tcn", peephole=True)
Traceback (most recent call last):
...
ValueError: peephole needs kind 'lstm', got kind='tcn' (keys for tcn: hidden_size, \
num_layers, channels, kernel_size, dropout, weight_norm)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..checks import check_bool, check_dropout, check_int

__all__ = [
    "EncoderConfig",
    "MLPEncoderConfig",
    "RecurrentEncoderConfig",
    "TCNEncoderConfig",
    "WaveNetEncoderConfig",
]

RECURRENT = ("rnn", "lstm", "gru")
DEFAULT_KIND = "lstm"


class EncoderConfig:
    """The base of the encoder configs; calling it builds the class of ``kind``.

    Each subclass is a dataclass that lists its ``kinds``; :meth:`variant` finds one by
    kind, and :meth:`check_keys` names a key that belongs to another kind.
    """

    kinds: ClassVar[tuple[str, ...]] = ()
    default_kind: ClassVar[str] = DEFAULT_KIND

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is EncoderConfig:
            if args:
                raise TypeError("EncoderConfig takes keyword arguments only (kind=..., ...)")
            kind = kwargs.get("kind", DEFAULT_KIND)
            cls = EncoderConfig.variant(kind)
            cls.check_keys(kind, kwargs)
        return object.__new__(cls)

    @staticmethod
    def variants() -> dict[str, type[EncoderConfig]]:
        """Every kind and the config class that holds it."""
        return {k: c for c in EncoderConfig.__subclasses__() for k in c.kinds}

    @staticmethod
    def variant(kind: Any) -> type[EncoderConfig]:
        table = EncoderConfig.variants()
        if kind not in table:
            raise ValueError(f"encoder kind must be one of {list(table)}, got {kind!r}")
        return table[kind]

    @classmethod
    def keys(cls, kind: str | None = None) -> list[str]:
        """The keys of this class (that apply to ``kind``), ``kind`` itself left out."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "kind"]  # type: ignore[arg-type]
        only = getattr(cls, "only_for", {})
        return [n for n in names if kind is None or kind in only.get(n, (kind,))]

    @classmethod
    def bad_key(cls, kind: str, keys: Any) -> tuple[str, str] | None:
        """The first of ``keys`` this kind does not take, and what is wrong with it."""
        own = set(cls.keys()) | {"kind"}
        for key in keys:
            if key in own:
                continue
            owners = [k for k, c in EncoderConfig.variants().items() if key in c.keys(k)]
            expected = ", ".join(cls.keys(kind))
            if not owners:
                return key, f"unknown key; expected one of: kind, {expected}"
            if owners == list(RECURRENT):
                needs = f"needs a recurrent kind {RECURRENT}"
            else:
                needs = "needs kind " + " or ".join(repr(k) for k in owners)
            return key, f"{needs}, got kind={kind!r} (keys for {kind}: {expected})"
        return None

    @classmethod
    def check_keys(cls, kind: str, keys: Any) -> None:
        """Raise a ``ValueError`` naming the first key this kind does not take."""
        bad = cls.bad_key(kind, keys)
        if bad is not None:
            key, problem = bad
            raise ValueError(
                f"{key}: {problem}" if problem.startswith("unknown") else f"{key} {problem}"
            )

    @property
    def recurrent(self) -> bool:
        return self.kind in RECURRENT  # type: ignore[attr-defined]

    @property
    def bidirectional(self) -> bool:  # overridden by the recurrent config's field
        return False

    def _check_sizes(self) -> None:
        check_int("hidden_size", self.hidden_size, min=1)  # type: ignore[attr-defined]
        tcn = self.kind == "tcn"  # type: ignore[attr-defined]
        check_int("num_layers", self.num_layers, min=1, none=tcn)  # type: ignore[attr-defined]
        check_dropout("dropout", self.dropout)  # type: ignore[attr-defined]


@dataclass
class RecurrentEncoderConfig(EncoderConfig):
    kinds: ClassVar[tuple[str, ...]] = RECURRENT
    only_for: ClassVar[dict[str, tuple[str, ...]]] = {
        "peephole": ("lstm",),
        "layer_norm": ("lstm", "gru"),
        "chrono": ("lstm", "gru"),
        "nonlinearity": ("rnn",),
    }
    kind: Literal["rnn", "lstm", "gru"] = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False  # type: ignore[assignment]
    dropout: float = 0.0  # between layers
    recurrent_dropout: float = 0.0  # on h_{t-1} where it enters W_hh (one mask a sequence)
    peephole: bool = False  # lstm only
    layer_norm: bool = False  # lstm and gru
    # lstm and gru: T_max of the chrono gate-bias init (Tallec & Ollivier 2018) for
    # dependencies up to that many steps (e.g. the sequence length); 0: off
    chrono: int = 0
    nonlinearity: Literal["tanh", "relu"] = "tanh"  # rnn only

    def __post_init__(self) -> None:
        self._check_sizes()
        check_dropout("recurrent_dropout", self.recurrent_dropout)
        if self.chrono != 0:
            check_int("chrono", self.chrono, min=3)
        for name in ("bidirectional", "peephole", "layer_norm"):
            check_bool(name, getattr(self, name))
        # a key of another recurrent kind may keep its default (a saved config lists every
        # field), but setting it is an error, not a silent no-op
        for name, kinds in self.only_for.items():
            default = type(self).__dataclass_fields__[name].default
            if self.kind not in kinds and getattr(self, name) != default:
                needs = " or ".join(repr(k) for k in kinds)
                raise ValueError(f"{name} needs kind {needs}, got kind={self.kind!r}")

    @property
    def num_states(self) -> int:
        """Tensors in the state: 2 for an LSTM's ``(h, c)``, else 1."""
        return 2 if self.kind == "lstm" else 1


@dataclass
class TCNEncoderConfig(EncoderConfig):
    kinds: ClassVar[tuple[str, ...]] = ("tcn",)
    kind: Literal["tcn"] = "tcn"
    hidden_size: int = 64
    # None: 1 block, or (in a Forecaster) the fewest that cover the window (TCN.for_history)
    num_layers: int | None = None
    channels: list[int] = field(default_factory=list)  # per block; overrides the two above
    kernel_size: int = 2
    dropout: float = 0.0
    weight_norm: bool = True

    def __post_init__(self) -> None:
        self._check_sizes()
        check_int("kernel_size", self.kernel_size, min=1)
        for i, c in enumerate(self.channels):
            check_int(f"channels[{i}]", c, min=1)
        check_bool("weight_norm", self.weight_norm)


@dataclass
class WaveNetEncoderConfig(EncoderConfig):
    kinds: ClassVar[tuple[str, ...]] = ("wavenet",)
    kind: Literal["wavenet"] = "wavenet"
    hidden_size: int = 64  # residual channels
    num_layers: int = 1  # layers per dilation cycle (dilations 1, 2, 4, ...)
    skip_channels: int = 0  # 0: the same as hidden_size
    kernel_size: int = 2
    dilation_cycles: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self._check_sizes()
        check_int("kernel_size", self.kernel_size, min=1)
        check_int("skip_channels", self.skip_channels, min=0)
        check_int("dilation_cycles", self.dilation_cycles, min=1)


@dataclass
class MLPEncoderConfig(EncoderConfig):
    """The flattened-window baseline of :class:`~seqlab.models.Forecaster` (fixed windows)."""

    kinds: ClassVar[tuple[str, ...]] = ("mlp",)
    kind: Literal["mlp"] = "mlp"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self._check_sizes()
