"""The row-local rules of a table spec: nulls, ranges, choices, industry and credit codes,
ordered pairs, dates in range; then the key."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import _core
from zone_opt.errors import Violation
from zone_opt.industries import division_codes_array
from zone_opt.schemas import Range, TableSpec
from zone_opt.validation.keys import check_key
from zone_opt.validation.report import report, rows_of, values_at

#: Dates and hours outside these years are refused in every table (a typo such as 20260
#: for 2026, or bytes that were never a date); Python cannot even hold years past 9999.
MIN_YEAR, MAX_YEAR = 1900, 2200


_USCC_REASONS = {
    1: "not a unified social credit code: not 18 characters (GB 32100-2015)",
    2: "not a unified social credit code: character outside 0-9, A-Y without I O S V Z",
    3: "not a unified social credit code: check character does not match (GB 32100-2015)",
}


_EPOCH_DAYS_MIN = -25_567  # 1900-01-01


_EPOCH_DAYS_MAX = 84_006  # 2200-12-31


_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400 * 10**9}


def _check_temporal(where: str, column: pa.ChunkedArray) -> list[Violation]:
    """Dates (``date32``) and timestamps outside the years MIN_YEAR to MAX_YEAR. O(n): one
    min/max pass over the integers when every value is in range (the usual case)."""
    if not (pa.types.is_date32(column.type) or pa.types.is_timestamp(column.type)):
        return []
    if len(column) > column.null_count:
        per_day = 1 if pa.types.is_date32(column.type) else _PER_DAY[column.type.unit]
        raw = pc.min_max(column.cast(pa.int32() if per_day == 1 else pa.int64()))
        low, high = raw["min"].as_py(), raw["max"].as_py()
        if _EPOCH_DAYS_MIN * per_day <= low and high < (_EPOCH_DAYS_MAX + 1) * per_day:
            return []
    if pa.types.is_date32(column.type):
        days = pc.cast(column, pa.int32())
    else:
        days = pc.floor(
            pc.divide(
                pc.cast(pc.cast(column, pa.int64()), pa.float64(), safe=False),
                _PER_DAY[column.type.unit],
            )
        )
    bad = rows_of(pc.or_(pc.less(days, _EPOCH_DAYS_MIN), pc.greater(days, _EPOCH_DAYS_MAX)))
    return report(
        where,
        bad,
        (f"{v} is outside the years {MIN_YEAR} to {MAX_YEAR}" for v in values_at(column, bad)),
        f"outside the years {MIN_YEAR} to {MAX_YEAR}",
    )


def check_rows(
    table: pa.Table,
    spec: TableSpec,
    context: Mapping[str, pa.Table],
    skip: set[str],
    *,
    key: bool = True,
    uscc_skip: set[str] | None = None,
) -> list[Violation]:
    violations: list[Violation] = []
    for fld in spec.schema:
        if fld.name in skip:
            continue
        column = table.column(fld.name)
        where = f"{spec.name}.{fld.name}"
        if not fld.nullable and column.null_count:
            violations += report(where, rows_of(pc.is_null(column)), "null", "null")
        if fld.name in spec.ranges:
            violations += _check_range(where, column, spec.ranges[fld.name])
        violations += _check_temporal(where, column)
        if fld.name in spec.choices:
            allowed = pa.array(spec.choices[fld.name], type=pa.string())
            words = ", ".join(spec.choices[fld.name])
            violations += _check_membership(where, column, allowed, f"not one of {words}")
        if fld.name in spec.industry_columns:
            violations += _check_membership(
                where, column, division_codes_array(), "not a GB/T 4754-2017 division code"
            )
        if fld.name in spec.uscc_columns and fld.name not in (uscc_skip or ()):
            violations += _check_uscc(where, column)
        if fld.name in spec.references:
            ref_table, ref_column = spec.references[fld.name]
            if ref_table in context and ref_column in context[ref_table].column_names:
                allowed_ref = context[ref_table].column(ref_column)
                violations += _check_membership(
                    where, column, allowed_ref, f"no such {ref_table}.{ref_column}"
                )
    for low, high in spec.ordered:
        if low in skip or high in skip:
            continue
        bad = rows_of(pc.greater(table.column(low), table.column(high)))
        lows, highs = values_at(table.column(low), bad), values_at(table.column(high), bad)
        violations += report(
            f"{spec.name}.{low}",
            bad,
            (f"{low} {a} is above {high} {b}" for a, b in zip(lows, highs, strict=True)),
            f"{low} above {high}",
        )
    if key and not set(spec.key) & skip:
        violations += check_key(table, spec)
    return violations


def _inside(column: pa.ChunkedArray, rule: Range) -> bool:
    """Whether every value is a number within the rule's finite bounds, with no null and
    no NaN: numpy's min/max over the chunks without copying (NaN propagates through them,
    so a NaN answers False). False means "look row by row". O(n)."""
    numeric = pa.types.is_floating(column.type) or pa.types.is_integer(column.type)
    if not numeric or column.null_count or len(column) == 0:
        return False
    chunks = [c.to_numpy(zero_copy_only=True) for c in column.chunks if len(c)]
    has_low = rule.low is not None and not math.isinf(rule.low)
    has_high = rule.high is not None and not math.isinf(rule.high)
    if has_low or not has_high:  # the minimum also finds NaN when there is no high bound
        lo = min(float(np.min(c)) for c in chunks)
        if math.isnan(lo) or (has_low and not _within(rule.low or 0.0, lo, rule.low_open)):
            return False
    if has_high:
        hi = max(float(np.max(c)) for c in chunks)
        if math.isnan(hi) or not _within(hi, rule.high or 0.0, rule.high_open):
            return False
    return True


def _within(smaller: float, larger: float, strict: bool) -> bool:
    return smaller < larger if strict else smaller <= larger


def _check_range(where: str, column: pa.ChunkedArray, rule: Range) -> list[Violation]:
    if _inside(column, rule):
        return []
    out: list[Violation] = []
    if pa.types.is_floating(column.type):
        nan = rows_of(pc.is_nan(column))
        out += report(where, nan, "NaN", "NaN")
    checks: list[tuple[pa.ChunkedArray, str]] = []
    # One min/max pass first: a column wholly inside the range needs no per-row compare.
    stats = pc.min_max(column)
    lo, hi = stats["min"].as_py(), stats["max"].as_py()
    exact = isinstance(lo, int | float) and isinstance(hi, int | float)
    inside_low = exact and not math.isnan(lo) and (rule.low is None or lo > rule.low)
    inside_high = exact and not math.isnan(hi) and (rule.high is None or hi < rule.high)
    if rule.low is not None and not math.isinf(rule.low) and not inside_low:
        op = pc.less_equal if rule.low_open else pc.less
        word = "at or below" if rule.low_open else "below"
        checks.append((op(column, rule.low), f"{word} the minimum {rule.low:g}"))
    if rule.high is not None and not math.isinf(rule.high) and not inside_high:
        op = pc.greater_equal if rule.high_open else pc.greater
        word = "at or above" if rule.high_open else "above"
        checks.append((op(column, rule.high), f"{word} the maximum {rule.high:g}"))
    for mask, words in checks:
        bad = rows_of(mask)
        out += report(
            where, bad, (f"{v!r} is {words}" for v in values_at(column, bad)), f"value {words}"
        )
    return out


def _check_membership(
    where: str, column: pa.ChunkedArray, allowed: pa.Array | pa.ChunkedArray, reason: str
) -> list[Violation]:
    if isinstance(allowed, pa.ChunkedArray):
        allowed = allowed.combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        flat = pa.chunked_array(
            [pc.list_flatten(chunk) for chunk in column.chunks], type=column.type.value_type
        )
        found = pc.is_in(flat, value_set=allowed)
        if _all_true(found):  # the usual case: no row to number
            return []
        parent_parts, base = [], 0
        for chunk in column.chunks:
            parent_parts.append(
                pc.list_parent_indices(chunk).to_numpy(zero_copy_only=False).astype(np.int64) + base
            )
            base += len(chunk)
        parents = np.concatenate(parent_parts) if parent_parts else np.zeros(0, np.int64)
        bad_items = rows_of(pc.invert(found))
        # One violation per row, quoting the row's first offending item.
        rows, first = np.unique(parents[bad_items], return_index=True)
        values = values_at(flat, bad_items[first]) if rows.size else []
        return report(
            where,
            rows.astype(np.int64),
            (f"item {v!r} {reason}" for v in values),
            reason,
        )
    found = pc.is_in(column, value_set=allowed)
    if not column.null_count and _all_true(found):  # the usual case: no row to number
        return []
    bad = rows_of(pc.and_(pc.invert(found), pc.is_valid(column)))
    return report(where, bad, (f"{v!r} {reason}" for v in values_at(column, bad)), reason)


def _all_true(mask: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a boolean mask without nulls is true everywhere (an empty one is)."""
    return bool(pc.all(mask).as_py() is not False)


def _check_uscc(where: str, column: pa.ChunkedArray) -> list[Violation]:
    return _uscc_report(where, column, uscc_codes(column))


def _uscc_report(
    where: str, column: pa.ChunkedArray, codes: npt.NDArray[np.uint8]
) -> list[Violation]:
    bad = np.flatnonzero(codes).astype(np.int64)
    values = values_at(column, bad)
    return report(
        where,
        bad,
        (f"{v!r} is {_USCC_REASONS[int(c)]}" for v, c in zip(values, codes[bad], strict=False)),
        "not a valid unified social credit code",
    )


def uscc_codes(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.uint8]:
    """Per value: 0 for a valid code (or null), else the reason code of the Rust check."""
    if isinstance(column, pa.ChunkedArray):
        arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    else:
        arr = column
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.uint8)
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64, count=arr.offset + n + 1)[arr.offset :]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    codes: npt.NDArray[np.uint8] = _core.check_uscc_column(np.ascontiguousarray(offsets), data)
    if arr.null_count:
        codes[pc.is_null(arr).to_numpy(zero_copy_only=False)] = 0
    return codes
