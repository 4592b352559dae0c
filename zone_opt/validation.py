"""Validation of data-model tables against their :class:`~zone_opt.schemas.TableSpec`.

Every check is vectorised with Arrow compute and numpy (credit codes in the Rust core), so
a table of 10^6 rows validates in about a second. Problems are collected, not raised one
by one: :func:`validate_table` and :func:`validate_tables` raise a single
:class:`~zone_opt.errors.InvalidInputError` with one :class:`~zone_opt.errors.Violation`
per problem, each naming ``table.column``, the zero-based row and the reason. A rule that
fails on many rows lists the first :data:`MAX_ROWS_PER_RULE` of them and adds one
row-less violation giving the total count.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import _core
from zone_opt.errors import InvalidInputError, Violation
from zone_opt.industries import division_codes_array
from zone_opt.schemas import TABLES, Range, TableSpec

__all__ = ["MAX_ROWS_PER_RULE", "BatchValidator", "validate_table", "validate_tables"]

#: Rows listed per (column, rule); the remainder is counted in one summary violation.
MAX_ROWS_PER_RULE = 20

_USCC_REASONS = {
    1: "not a unified social credit code: not 18 characters (GB 32100-2015)",
    2: "not a unified social credit code: character outside 0-9, A-Y without I O S V Z",
    3: "not a unified social credit code: check character does not match (GB 32100-2015)",
}


def validate_table(
    table: pa.Table,
    spec: TableSpec,
    *,
    context: Mapping[str, pa.Table] | None = None,
) -> pa.Table:
    """Check ``table`` against ``spec`` and return it conformed to ``spec.schema``.

    Columns come back in schema order with the schema's types; lossless casts are applied
    (``large_string`` to ``string``, integers or float32 to float64, int64 to int16 when in
    range, other timestamp units or zones to ``timestamp[s, Asia/Shanghai]`` when exact).
    References are checked only against tables present in ``context`` (by table name).

    Raises:
        InvalidInputError: one violation per problem (see the module docstring).

    Complexity: O(n) hash and compare passes, plus O(n log n) for composite keys.
    """
    conformed, violations = _check(table, spec, context or {})
    error = InvalidInputError.collect(violations)
    if error is not None:
        raise error
    return conformed


def validate_tables(tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """Validate several tables of the data model together, including cross-table references.

    ``tables`` maps table names (``"parks"``, ``"spaces"``, ...) to tables; a reference to a
    table that is not given is a violation. Returns the conformed tables.

    Raises:
        InvalidInputError: every violation of every table, in one error.
    """
    violations: list[Violation] = []
    conformed: dict[str, pa.Table] = {}
    unusable: dict[str, set[str]] = {}
    for name, table in tables.items():
        if name not in TABLES:
            violations.append(Violation(name, None, f"unknown table; known: {sorted(TABLES)}"))
            continue
        spec = TABLES[name]
        fixed, found, skip = _conform(table, spec)
        violations += found
        conformed[name] = fixed
        unusable[name] = skip
    usable = {name: table.drop_columns(sorted(unusable[name])) for name, table in conformed.items()}
    for name, table in conformed.items():
        spec = TABLES[name]
        for column, (ref_table, _) in spec.references.items():
            if ref_table not in conformed:
                violations.append(
                    Violation(f"{name}.{column}", None, f"references {ref_table}, not given")
                )
        violations += _check_rows(table, spec, usable, unusable[name])
    error = InvalidInputError.collect(violations)
    if error is not None:
        raise error
    return conformed


class BatchValidator:
    """:func:`validate_table` for a table that arrives as record batches (an upload).

    When the batches already have the spec's schema (the usual case), each batch is checked
    against the row-local rules (nulls, ranges, choices, codes, ordered pairs) as it is
    added, so validation overlaps the transfer; :meth:`finish` then only runs the rules
    that span rows (the key). Otherwise, or when a batch breaks a rule, :meth:`finish`
    validates the whole table with :func:`validate_table`, so the result and every
    violation (rows numbered across the whole table) are exactly those of
    :func:`validate_table` on the concatenated batches.

    Complexity: O(rows) over all batches, as :func:`validate_table`.
    """

    def __init__(self, spec: TableSpec, schema: pa.Schema) -> None:
        self.spec = spec
        self.schema = schema
        self._batches: list[pa.RecordBatch] = []
        self._per_batch = schema.equals(spec.schema)  # names, order, types, nullability
        self._clean = True
        self._keys = {name: _KeyCodes() for name in spec.key}

    def add(self, batch: pa.RecordBatch) -> None:
        """Keep ``batch`` (of ``schema``) and check its row-local rules. O(batch rows)."""
        self._batches.append(batch)
        if not (self._per_batch and self._clean):
            return
        encoded: set[str] = set()
        for name, key in self._keys.items():
            column = batch.column(name)
            if _integer_codes(column.type):
                key.add_integers(_batch_codes(column))
            else:
                key.add_encoded(_dictionary_encode(column))
                encoded.add(name)
        table = pa.Table.from_batches([batch], schema=self.schema)
        # Credit codes of those encoded key columns are checked once, at finish(), on the
        # distinct values of the whole table.
        if _check_rows(table, self.spec, {}, set(), key=False, uscc_skip=encoded):
            self._clean = False  # finish() reports every violation, numbered globally

    def finish(self) -> pa.Table:
        """The table conformed to the spec's schema.

        Raises:
            InvalidInputError: as :func:`validate_table`.
        """
        table = pa.Table.from_batches(self._batches, schema=self.schema)
        if not (self._per_batch and self._clean):
            return validate_table(table, self.spec)
        offsets = []
        for name, key in self._keys.items():
            shifted, span, distinct = key.finish()
            uscc = name in self.spec.uscc_columns and distinct is not None
            if uscc and _uscc_codes(distinct).any():
                return validate_table(table, self.spec)  # every violation, by row
            offsets.append((shifted, span))
        error = InvalidInputError.collect(_check_key(table, self.spec, offsets))
        if error is not None:
            raise error
        return table.cast(self.spec.schema)  # same types: only the schema's metadata


class _KeyCodes:
    """Codes of one key column gathered batch by batch (see :func:`_codes`, :func:`_offset`).

    Integer columns: each batch's codes, with the running minimum, maximum and common step
    (the gcd of differences to the first value equals the gcd of differences to the
    minimum). String columns: each batch's dictionary encoding; while every batch has few
    distinct values the batch's dictionary is mapped to table-wide codes at once (a dict
    over the distinct values only), else the dictionaries are merged in :meth:`finish`.
    """

    #: Batches with more distinct values than this are merged vectorised at the end.
    SMALL_DICTIONARY = 4096

    def __init__(self) -> None:
        # Codes written as batches arrive into one buffer grown by doubling (so finish()
        # neither concatenates nor touches fresh memory), as values with codes = origin +
        # values * scale: origin is the first code of an integer column (0 for strings),
        # integer codes are divided by the step known so far, and finish() only rescales
        # the segments (start, end, scale) added before the step shrank (scale 0: all
        # equal to the origin).
        self._buffer = np.zeros(0, np.int64)
        self._size = 0
        self._segments: list[tuple[int, int, int]] = []
        self._encodings: list[pa.DictionaryArray] = []
        self._values: dict[object, int] | None = {}
        self._value_type: pa.DataType | None = None
        self._first: int | None = None
        self._low: int | None = None
        self._high: int | None = None
        self._step = 0

    def add_integers(self, codes: npt.NDArray[np.int64], step: bool = True) -> None:
        if not codes.size:
            return
        low, high = int(codes.min()), int(codes.max())
        self._low = low if self._low is None else min(self._low, low)
        self._high = high if self._high is None else max(self._high, high)
        start, end = self._size, self._size + codes.size
        if end > self._buffer.size:
            # Reserved generously (untouched pages cost no memory): grown rarely, copied
            # rarely, and every page written once.
            grown = np.empty(max(2 * end, 64 * codes.size), np.int64)
            grown[:start] = self._buffer[:start]
            self._buffer = grown
        out = self._buffer[start:end]
        self._size = end
        if not step:
            out[:] = codes
            self._segments.append((start, end, 1))
            return
        if self._first is None:
            self._first = int(codes[0])
        np.subtract(codes, self._first, out=out)
        self._step = int(np.gcd(self._step, np.gcd.reduce(out)))
        if self._step > 1:
            np.floor_divide(out, self._step, out=out)
        self._segments.append((start, end, self._step))

    def add_encoded(self, encoded: pa.DictionaryArray) -> None:
        self._encodings.append(encoded)
        self._value_type = encoded.dictionary.type
        if self._values is None:
            return
        if len(encoded.dictionary) > self.SMALL_DICTIONARY:
            self._values = None
            return
        values = self._values
        lut = np.array(
            [values.setdefault(v, len(values)) for v in encoded.dictionary.to_pylist()],
            dtype=np.int64,
        )
        if encoded.indices.null_count == 0:  # one gather, no masking passes
            codes = lut[encoded.indices.to_numpy()]
        else:
            local = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
            codes = np.where(local >= 0, lut[np.maximum(local, 0)] if lut.size else -1, -1)
        self.add_integers(codes.astype(np.int64, copy=False), step=False)

    def finish(self) -> tuple[npt.NDArray[np.int64], int, pa.Array | None]:
        """Codes shifted to start at 0 and divided by the step, their span, and the
        distinct values of a string column (None for integers)."""
        if self._encodings and self._values is None:
            codes, distinct = _joined_codes(self._encodings)
            shifted, span = _offset(codes)
            return shifted, span, distinct
        distinct = None
        if self._encodings:
            distinct = pa.array(list(self._values or {}), type=self._value_type)
        if self._low is None or self._high is None:
            return np.zeros(0, np.int64), 1, distinct
        step = max(self._step, 1)
        shifted = self._buffer[: self._size]
        for start, end, scale in self._segments:
            if scale and scale != step:
                shifted[start:end] *= scale // step
        lowest = (self._low - (self._first or 0)) // step  # exact: step divides both
        if lowest:
            shifted -= lowest
        return shifted, (self._high - self._low) // step + 1, distinct


def _dictionary_encode(column: pa.Array) -> pa.DictionaryArray:
    """``pc.dictionary_encode(column)`` (dictionary in order of first appearance); a string
    column without nulls is encoded by the Rust core (:func:`_core.dictionary_codes`:
    a grouped column costs one comparison per row), anything else by Arrow. O(bytes)."""
    if column.null_count or not (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        return pc.dictionary_encode(column)
    n = len(column)
    _, off_buf, data_buf = column.buffers()
    count = column.offset + n + 1
    offsets: npt.NDArray[np.int32] | npt.NDArray[np.int64] = (
        np.frombuffer(off_buf, dtype=np.int64, count=count)[column.offset :]
        if pa.types.is_large_string(column.type)
        else np.frombuffer(off_buf, dtype=np.int32, count=count)[column.offset :]
    )
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    codes, firsts = _core.dictionary_codes(offsets, data)
    return pa.DictionaryArray.from_arrays(pa.array(codes), column.take(pa.array(firsts)))


def _integer_codes(t: pa.DataType) -> bool:
    """Whether :func:`_codes` takes a column of type ``t`` as integers (no dictionary)."""
    return bool(pa.types.is_date32(t) or pa.types.is_temporal(t) or pa.types.is_integer(t))


def _joined_codes(
    parts: list[npt.NDArray[np.int64] | pa.DictionaryArray],
) -> tuple[npt.NDArray[np.int64], pa.Array | None]:
    """Codes over all batches from per-batch parts, and the distinct values (None for
    integer codes). Integer codes are concatenated; the batches' dictionaries are encoded
    together (small: one entry per distinct value of each batch) and each batch's indices
    mapped through. Equal values, equal codes."""
    ints = [p for p in parts if isinstance(p, np.ndarray)]
    if len(ints) == len(parts):
        return (np.concatenate(ints) if ints else np.zeros(0, np.int64)), None
    encodings = [p for p in parts if isinstance(p, pa.DictionaryArray)]
    merged = pc.dictionary_encode(pa.concat_arrays([e.dictionary for e in encodings]))
    to_merged = merged.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    out, start = [], 0
    for e in encodings:
        local = pc.fill_null(e.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        out.append(np.where(local >= 0, to_merged[start + np.maximum(local, 0)], -1))
        start += len(e.dictionary)
    return np.concatenate(out), merged.dictionary


# --------------------------------------------------------------------------- helpers


def _check(
    table: pa.Table, spec: TableSpec, context: Mapping[str, pa.Table]
) -> tuple[pa.Table, list[Violation]]:
    conformed, violations, skip = _conform(table, spec)
    violations += _check_rows(conformed, spec, context, skip)
    return conformed, violations


def _conform(table: pa.Table, spec: TableSpec) -> tuple[pa.Table, list[Violation], set[str]]:
    """Select and cast the schema's columns.

    Returns the conformed table, the violations and the names of columns that could not be
    used (missing or of a wrong type; they are all-null in the table and skipped later).
    """
    violations: list[Violation] = []
    names = set(table.column_names)
    for extra in table.column_names:
        if extra not in spec.schema.names:
            violations.append(Violation(f"{spec.name}.{extra}", None, "unexpected column"))
    if len(names) != len(table.column_names):
        violations.append(Violation(spec.name, None, "duplicate column names"))
    columns: list[pa.ChunkedArray] = []
    for fld in spec.schema:
        where = f"{spec.name}.{fld.name}"
        if fld.name not in names:
            violations.append(Violation(where, None, f"missing column ({fld.type})"))
            columns.append(pa.nulls(table.num_rows, fld.type))
            continue
        column = table.column(table.column_names.index(fld.name))
        if column.type != fld.type:
            cast = _lossless_cast(column, fld.type)
            if cast is None:
                violations.append(
                    Violation(where, None, f"has type {column.type}, expected {fld.type}")
                )
                column = pa.chunked_array([pa.nulls(table.num_rows, fld.type)])
            else:
                column = cast
        columns.append(column)
    skip = {
        v.field.split(".", 1)[1]
        for v in violations
        if v.row is None and "." in v.field and v.reason != "unexpected column"
    }
    # ``from_arrays`` with the spec's schema would refuse nulls in non-nullable fields,
    # which are reported as violations instead: build with names, then set the schema.
    conformed = pa.Table.from_arrays(columns, names=spec.schema.names)
    with contextlib.suppress(pa.ArrowInvalid, ValueError):
        conformed = conformed.cast(spec.schema)
    return conformed, violations, skip


_FAMILIES: dict[str, tuple[str, ...]] = {
    "string": ("string", "large_string", "string_view"),
    "double": ("double", "float", "halffloat", "int8", "int16", "int32", "uint8", "uint16"),
    "int16": ("int8", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "date32[day]": ("date64[ms]",),
}


def _type_key(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{_type_key(t.value_type)}>"
    return str(t)


def _lossless_cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray | None:
    src, dst = _type_key(column.type), _type_key(target)
    if src in ("null", "list<null>"):
        allowed = True  # all-null values (or empty lists) have every type
    elif dst.startswith("list<") and src.startswith("list<"):
        inner_ok = src[5:-1] == dst[5:-1] or src[5:-1] in _FAMILIES.get(dst[5:-1], ())
        allowed = inner_ok
    elif dst == "timestamp":
        allowed = src == "timestamp" and column.type.tz is not None
    elif dst == "double" and src in ("int64", "uint32", "uint64"):
        # Integers convert exactly up to 2^53; check the values.
        allowed = True
    else:
        allowed = src in _FAMILIES.get(dst, ())
    if not allowed:
        return None
    try:
        cast: pa.ChunkedArray = pc.cast(column, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if dst == "double" and src in ("int64", "uint32", "uint64"):
        back = pc.cast(cast, column.type, safe=False)
        if not pc.all(pc.equal(back, column)).as_py() and column.null_count < len(column):
            return None
    return cast


def _rows(mask: pa.Array | pa.ChunkedArray | npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    if isinstance(mask, np.ndarray):
        return np.flatnonzero(mask).astype(np.int64)
    filled = pc.fill_null(mask, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.flatnonzero(filled.to_numpy(zero_copy_only=False)).astype(np.int64)


def _report(
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


def _values(column: pa.ChunkedArray, rows: npt.NDArray[np.int64]) -> list[object]:
    """The values at the first ``rows``, as Python objects where Python can hold them (a
    date past year 9999 cannot: those are shown as Arrow writes them)."""
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


#: Dates and hours outside these years are refused in every table (a typo such as 20260
#: for 2026, or bytes that were never a date); Python cannot even hold years past 9999.
MIN_YEAR, MAX_YEAR = 1900, 2200
_EPOCH_DAYS_MIN = -25_567  # 1900-01-01
_EPOCH_DAYS_MAX = 84_006  # 2200-12-31


def _check_temporal(where: str, column: pa.ChunkedArray) -> list[Violation]:
    """Dates (``date32``) and timestamps outside the years MIN_YEAR to MAX_YEAR. O(n)."""
    if pa.types.is_date32(column.type):
        days = pc.cast(column, pa.int32())
    elif pa.types.is_timestamp(column.type):
        per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400 * 10**9}
        days = pc.floor(
            pc.divide(
                pc.cast(pc.cast(column, pa.int64()), pa.float64(), safe=False),
                per_day[column.type.unit],
            )
        )
    else:
        return []
    bad = _rows(pc.or_(pc.less(days, _EPOCH_DAYS_MIN), pc.greater(days, _EPOCH_DAYS_MAX)))
    return _report(
        where,
        bad,
        (f"{v} is outside the years {MIN_YEAR} to {MAX_YEAR}" for v in _values(column, bad)),
        f"outside the years {MIN_YEAR} to {MAX_YEAR}",
    )


def _check_rows(
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
            violations += _report(where, _rows(pc.is_null(column)), "null", "null")
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
        bad = _rows(pc.greater(table.column(low), table.column(high)))
        lows, highs = _values(table.column(low), bad), _values(table.column(high), bad)
        violations += _report(
            f"{spec.name}.{low}",
            bad,
            (f"{low} {a} is above {high} {b}" for a, b in zip(lows, highs, strict=True)),
            f"{low} above {high}",
        )
    if key and not set(spec.key) & skip:
        violations += _check_key(table, spec)
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
        nan = _rows(pc.is_nan(column))
        out += _report(where, nan, "NaN", "NaN")
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
        bad = _rows(mask)
        out += _report(
            where, bad, (f"{v!r} is {words}" for v in _values(column, bad)), f"value {words}"
        )
    return out


def _check_membership(
    where: str, column: pa.ChunkedArray, allowed: pa.Array | pa.ChunkedArray, reason: str
) -> list[Violation]:
    if isinstance(allowed, pa.ChunkedArray):
        allowed = allowed.combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        flat_parts, parent_parts = [], []
        base = 0
        for chunk in column.chunks:
            flat_parts.append(pc.list_flatten(chunk))
            parent_parts.append(
                pc.list_parent_indices(chunk).to_numpy(zero_copy_only=False).astype(np.int64) + base
            )
            base += len(chunk)
        flat = pa.chunked_array(flat_parts, type=column.type.value_type)
        parents = np.concatenate(parent_parts) if parent_parts else np.zeros(0, np.int64)
        bad_items = _rows(pc.invert(pc.is_in(flat, value_set=allowed)))
        # One violation per row, quoting the row's first offending item.
        rows, first = np.unique(parents[bad_items], return_index=True)
        values = _values(flat, bad_items[first]) if rows.size else []
        return _report(
            where,
            rows.astype(np.int64),
            (f"item {v!r} {reason}" for v in values),
            reason,
        )
    bad = _rows(pc.and_(pc.invert(pc.is_in(column, value_set=allowed)), pc.is_valid(column)))
    return _report(where, bad, (f"{v!r} {reason}" for v in _values(column, bad)), reason)


def _check_uscc(where: str, column: pa.ChunkedArray) -> list[Violation]:
    return _uscc_report(where, column, _uscc_codes(column))


def _uscc_report(
    where: str, column: pa.ChunkedArray, codes: npt.NDArray[np.uint8]
) -> list[Violation]:
    bad = np.flatnonzero(codes).astype(np.int64)
    values = _values(column, bad)
    return _report(
        where,
        bad,
        (f"{v!r} is {_USCC_REASONS[int(c)]}" for v, c in zip(values, codes[bad], strict=False)),
        "not a valid unified social credit code",
    )


def _uscc_codes(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.uint8]:
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


def _batch_codes(column: pa.Array) -> npt.NDArray[np.int64]:
    """:func:`_codes` of one batch's integer-coded column; a 64-bit column without nulls
    (timestamps, int64) is read in place, without a cast or a copy."""
    width = getattr(column.type, "bit_width", 0)
    if column.null_count or width != 64 or pa.types.is_unsigned_integer(column.type):
        return _codes(pa.chunked_array([column]))
    values: npt.NDArray[np.int64] = np.frombuffer(
        column.buffers()[1], dtype=np.int64, count=column.offset + len(column)
    )[column.offset :]
    return values


def _codes(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Dense integer codes of a column's values (equal values, equal codes)."""
    if pa.types.is_date32(column.type):
        column = pc.cast(column, pa.int32())
    if pa.types.is_temporal(column.type) or pa.types.is_integer(column.type):
        ints: npt.NDArray[np.int64] = (
            pc.fill_null(pc.cast(column, pa.int64()), -(2**62)).to_numpy().astype(np.int64)
        )
        return ints
    enc = pc.dictionary_encode(column).combine_chunks()
    codes: npt.NDArray[np.int64] = (
        pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    )
    return codes


def _dense(codes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Codes renumbered 0..k-1 (hash-based), and k."""
    enc = pc.dictionary_encode(pa.array(codes, type=pa.int64()))
    dense: npt.NDArray[np.int64] = enc.indices.to_numpy().astype(np.int64)
    return dense, len(enc.dictionary)


def _offset(codes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Codes shifted to start at 0 and divided by their common step, and their span
    (number of steps from min to max, plus one). Hours stored in seconds become hour
    numbers, so a key of (enterprise, hour) spans enterprises x hours. O(n)."""
    low, high = int(codes.min()), int(codes.max())
    shifted = codes - low
    step = int(np.gcd.reduce(shifted)) if high > low else 1
    if step > 1:
        shifted //= step
    return shifted, (high - low) // step + 1


#: Key spans up to this many codes (or 8 per row) are checked with a bitmap, not a hash.
_BITMAP_MAX_CODES = 1 << 26


def _all_distinct(combined: npt.NDArray[np.int64], cardinality: int) -> bool:
    """Whether the combined key codes (each in ``[0, cardinality)``) are all distinct.

    A byte per possible code when the span is small (one scatter and one count: O(n +
    cardinality), no hashing), else an Arrow hash pass. O(n) either way.
    """
    if cardinality <= max(_BITMAP_MAX_CODES, 8 * combined.size):
        seen = np.zeros(cardinality, dtype=np.uint8)
        seen[combined] = 1
        return int(np.count_nonzero(seen)) == combined.size
    return len(pc.unique(pa.array(combined, type=pa.int64()))) == combined.size


def _check_key(
    table: pa.Table,
    spec: TableSpec,
    offsets: list[tuple[npt.NDArray[np.int64], int]] | None = None,
) -> list[Violation]:
    """Duplicate-key violations; ``offsets`` are the key columns' :func:`_offset` codes
    and spans when the caller has them already (:class:`BatchValidator`). The codes are
    consumed: the key's columns are combined in place into the first one's array."""
    if table.num_rows < 2:
        return []
    if offsets is None:
        offsets = [_offset(_codes(table.column(name))) for name in spec.key]
    combined, cardinality = offsets[0]
    if len(spec.key) > 1:
        # Mixed-radix combination of per-column codes: one int64 per row, so the duplicate
        # search is 1-D. Codes are offset by their minimum and used as they are when the
        # product of the spans fits (hours of a few enterprises do), else renumbered densely.
        for column_codes, span in offsets[1:]:
            codes_k, k = column_codes, span
            if cardinality * k >= 2**62:
                codes_k, k = _dense(codes_k)
                if cardinality * k >= 2**62:
                    combined, cardinality = _dense(combined)
            np.multiply(combined, k, out=combined)  # in place: the codes are this check's
            np.add(combined, codes_k, out=combined)
            cardinality *= k
    # A bitmap or hash pass first: all keys distinct (the usual case) needs no sort.
    if _all_distinct(combined, cardinality):
        return []
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    first_of_row = first[inverse.ravel()]
    dup = np.flatnonzero(first_of_row != np.arange(table.num_rows)).astype(np.int64)
    key = ", ".join(spec.key)
    return _report(
        f"{spec.name}.{spec.key[0]}",
        dup,
        (f"duplicate key ({key}) of row {int(first_of_row[r])}" for r in dup[:MAX_ROWS_PER_RULE]),
        f"duplicate key ({key})",
    )
