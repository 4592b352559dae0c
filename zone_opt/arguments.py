"""Checks of the scalar arguments of the public API.

Every public function checks its scalars here before any work: a wrong type, NaN, an
infinity, a negative count or a value out of its documented range is an
:class:`~zone_opt.errors.InvalidInputError` whose one violation names the parameter (never
a bare ``TypeError``/``OverflowError`` from deep inside, and never silently accepted).
Each check returns the value converted to the plain Python type the caller goes on with
(numpy scalars are accepted wherever the Python type is).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import operator
from collections.abc import Collection
from typing import TypeVar

import numpy as np

from zone_opt.errors import InvalidInputError

__all__ = [
    "check_bytes",
    "check_choice",
    "check_date",
    "check_datetime",
    "check_flag",
    "check_int",
    "check_real",
]

_T = TypeVar("_T")


def _refuse(name: str, reason: str) -> InvalidInputError:
    return InvalidInputError.single(name, None, reason)


def _shown(value: object) -> str:
    """A bounded rendering of an offending value (errors never echo unbounded input)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (``int`` or numpy integer, not ``bool``) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _refuse(name, f"must be an integer, got {type(value).__name__}")
    v = operator.index(value)
    if low is not None and v < low:
        raise _refuse(name, f"{_shown(v)} is below the minimum {low}")
    if high is not None and v > high:
        raise _refuse(name, f"{_shown(v)} is above the maximum {high}")
    return v


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """A finite real number (an ``int`` or a float, not ``bool``) in ``[low, high]``,
    or ``(low, high]`` with ``low_open``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refuse(name, f"must be a number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:
        raise _refuse(name, "must be finite") from None
    if not math.isfinite(v):
        raise _refuse(name, f"must be finite, got {v}")
    if low is not None and (v <= low if low_open else v < low):
        raise _refuse(name, f"{v} must be {'>' if low_open else '>='} {low}")
    if high is not None and v > high:
        raise _refuse(name, f"{v} must be <= {high}")
    return v


def check_flag(name: str, value: object) -> bool:
    """A ``bool`` (or numpy bool): not a truthy string or number."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise _refuse(name, f"must be True or False, got {type(value).__name__}")


def check_choice(name: str, value: object, choices: Collection[_T]) -> _T:
    """One of ``choices`` (compared by equality)."""
    for c in choices:
        if type(value) is type(c) and value == c:
            return c
    shown = ", ".join(repr(c) for c in choices)
    raise _refuse(name, f"must be one of {shown}, got {_shown(value)}")


def check_date(name: str, value: object) -> dt.date:
    """A calendar date (a ``datetime`` gives its date)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise _refuse(name, f"must be a date, got {type(value).__name__}")


def check_datetime(name: str, value: object) -> dt.datetime:
    """A timestamp: a ``datetime``, a ``date`` (its midnight) or an ISO 8601 string."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise _refuse(name, f"{_shown(value)} is not an ISO 8601 date or time") from None
    raise _refuse(name, f"must be a datetime or an ISO 8601 string, got {type(value).__name__}")


def check_bytes(name: str, value: object) -> bytes:
    """A message as ``bytes`` (``bytearray`` and ``memoryview`` are copied to ``bytes``)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _refuse(name, f"must be bytes, got {type(value).__name__}")
