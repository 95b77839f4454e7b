"""Checks of the library's own arguments, so a wrong call fails at once with a message naming the argument
(not later, deep inside PyAV or torch). Wrong types raise ``TypeError``; values out of range raise
:class:`~vidcolor.errors.ArgumentError` (a ``ValueError``)."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from .errors import ArgumentError


def check_type(name: str, value: Any, expected: type | tuple[type, ...]) -> None:
    """``TypeError`` unless ``value`` is an instance of ``expected``."""
    if not isinstance(value, expected):
        names = " or ".join(kind.__name__ for kind in (expected if isinstance(expected, tuple) else (expected,)))
        raise TypeError(f"{name} must be {names}, not {type(value).__name__}: {value!r}")


def whole_number(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int: a whole number (not a bool, a float or a string) from ``minimum`` to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a whole number, not {type(value).__name__}: {value!r}")
    _check_range(name, value, minimum, maximum)
    return int(value)


def finite_number(name: str, value: Any, minimum: float | None = None, maximum: float | None = None,
                  *, above: float | None = None) -> float:
    """``value`` as a float: a real number (not a bool or a string), finite, from ``minimum`` to ``maximum``
    and greater than ``above``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}: {value!r}")
    if not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value}")
    if above is not None and not value > above:
        raise ArgumentError(f"{name} must be more than {above:g}, got {value:g}")
    _check_range(name, value, minimum, maximum)
    return float(value)


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ArgumentError(f"{name} must be from {minimum:g} to {maximum:g}, got {value:g}")
    if minimum is not None and value < minimum:
        raise ArgumentError(f"{name} must be at least {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ArgumentError(f"{name} must be at most {maximum:g}, got {value:g}")
