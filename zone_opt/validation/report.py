"""Violations as users read them: the rows a rule fails on, the first of them listed,
the rest counted."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.errors import Violation

#: Rows listed per (column, rule); the remainder is counted in one summary violation.
MAX_ROWS_PER_RULE = 20


def rows_of(mask: pa.Array | pa.ChunkedArray | npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    if isinstance(mask, np.ndarray):
        return np.flatnonzero(mask).astype(np.int64)
    filled = pc.fill_null(mask, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.flatnonzero(filled.to_numpy(zero_copy_only=False)).astype(np.int64)


def report(
    where: str,
    rows: npt.NDArray[np.int64],
    reason: str | Iterable[str],
    summary: str,
) -> list[Violation]:
    """Violations for the first rows of one rule, plus a count when rows were left out."""
    if rows.size == 0:
        return []
    shown = rows[:MAX_ROWS_PER_RULE]
    reasons = [reason] * shown.size if isinstance(reason, str) else list(reason)
    out = [Violation(where, int(r), why) for r, why in zip(shown, reasons, strict=False)]
    if rows.size > shown.size:
        out.append(Violation(where, None, f"{summary}: {rows.size} rows in all"))
    return out


def values_at(column: pa.ChunkedArray, rows: npt.NDArray[np.int64]) -> list[object]:
    """The values at the first ``rows``, as Python objects where Python can hold them (a
    date past year 9999 cannot: those are shown as Arrow writes them)."""
    if not rows.size:
        return []
    taken = column.take(pa.array(rows[:MAX_ROWS_PER_RULE]))
    try:
        return list(taken.to_pylist())
    except (ValueError, OverflowError):
        if pa.types.is_date32(taken.type):
            raw = pc.cast(taken, pa.int32()).to_pylist()
            return [f"day {v} after 1970-01-01" for v in raw]
        if pa.types.is_timestamp(taken.type):
            raw = pc.cast(taken, pa.int64()).to_pylist()
            return [f"{v} {taken.type.unit} after 1970-01-01" for v in raw]
        return [str(v) for v in pc.cast(taken, pa.string(), safe=False).to_pylist()]
