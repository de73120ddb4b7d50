"""Argument checks shared by every config and public entry point.

Each check returns the value (ints as ``int``, numbers as ``float``) or raises a
``ValueError`` that names the argument, says what was expected and echoes what came
(Keras' style: ``"kernel_size must be an int >= 2, got 1"``). Types are strict: a bool
is not an int, ``2.5`` is not an int, the string ``"1e-3"`` is not a number (strings
from a YAML file or the command line are coerced by :mod:`seqlab.config` before they
get here), and NaN is in no range.

>>> check_int("epochs", 3, min=1)
3
>>> check_int("epochs", 2.5, min=1)
Traceback (most recent call last):
...
ValueError: epochs must be a positive int, got 2.5
>>> check_int("warmup_steps", -1, min=0)
Traceback (most recent call last):
...
ValueError: warmup_steps must be an int >= 0, got -1
>>> check_float("dropout", 0.1, min=0.0, max=1.0, max_open=True)
0.1
>>> check_float("lr", "1e-3", min=0.0, min_open=True)
Traceback (most recent call last):
...
ValueError: lr must be a number > 0.0, got '1e-3'
>>> check_choice("mode", "max", ("min", "max"))
'max'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

__all__ = [
    "check_bool",
    "check_choice",
    "check_dropout",
    "check_float",
    "check_int",
]


def _range_text(min: Any, max: Any, min_open: bool = False, max_open: bool = False) -> str:
    if min is not None and max is not None:
        left, right = "(" if min_open else "[", ")" if max_open else "]"
        return f" in {left}{min}, {max}{right}"
    if min is not None:
        return f" {'>' if min_open else '>='} {min}"
    if max is not None:
        return f" {'<' if max_open else '<='} {max}"
    return ""


def check_int(
    name: str,
    value: Any,
    *,
    min: int | None = None,
    max: int | None = None,
    none: bool = False,
) -> int | None:
    """``value`` as an int in ``[min, max]`` (``None`` passes when ``none``)."""
    if value is None and none:
        return None
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and min is not None and value < min:
        ok = False
    if ok and max is not None and value > max:
        ok = False
    if not ok:
        what = "a positive int" if (min, max) == (1, None) else f"an int{_range_text(min, max)}"
        what += " or None" if none else ""
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    none: bool = False,
    finite: bool = True,
) -> float | None:
    """``value`` as a float in the range (open ends with ``min_open``/``max_open``)."""
    if value is None and none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        below = min is not None and (value < min or (min_open and value == min))
        above = max is not None and (value > max or (max_open and value == max))
        ok = not (math.isnan(value) or (finite and math.isinf(value)) or below or above)
    if not ok:
        what = f"a {'finite ' if finite and min is None and max is None else ''}number"
        what += _range_text(min, max, min_open, max_open) + (" or None" if none else "")
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_dropout(name: str, value: Any) -> float:
    """A dropout probability: a number in ``[0, 1)``."""
    return check_float(name, value, min=0.0, max=1.0, max_open=True)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
