"""Numbers formatted for people: thousands separators, no "-0", no "8e+06", a dash for none.

Every report and table goes through these, so the same value reads the same everywhere.
"""

from __future__ import annotations

import math

__all__ = ["MISSING", "number", "percent", "signed"]

#: Printed for a value that does not exist (no plan, no bound, NaN).
MISSING = "–"


def _finite(value: float | int | None) -> float | None:
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def number(value: float | int | None, digits: int = 0) -> str:
    """``1234567.8`` -> ``"1,234,568"``; ``-0.0004`` -> ``"0"``; never scientific notation."""
    x = _finite(value)
    if x is None:
        return MISSING
    text = f"{x:,.{digits}f}"
    if text.lstrip("-").strip("0.,") == "":  # "-0", "-0.00": the sign of nothing
        text = text.lstrip("-")
    return text


def signed(value: float | int | None, digits: int = 0) -> str:
    """Like :func:`number` with an explicit ``+`` on positive values (savings, deltas)."""
    text = number(value, digits)
    if text not in (MISSING,) and not text.startswith("-") and text.strip("0.,") != "":
        return f"+{text}"
    return text


def percent(fraction: float | int | None, digits: int = 1) -> str:
    """``0.4567`` -> ``"45.7 %"``."""
    x = _finite(fraction)
    return MISSING if x is None else f"{number(100.0 * x, digits)} %"
