"""Tables against their specs: conform (select, losslessly cast), check every rule, raise
one error with every violation; the same for a table arriving batch by batch."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.errors import InvalidInputError, Violation
from zone_opt.schemas import TABLES, TableSpec
from zone_opt.validation.keys import (
    KeyCodes,
    batch_codes,
    check_key,
    dictionary_encode,
    integer_codes,
    validate_in_full,
)
from zone_opt.validation.rules import check_rows, uscc_codes


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
        violations += check_rows(table, spec, usable, unusable[name])
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

    def __init__(
        self, spec: TableSpec, schema: pa.Schema, *, deferred: Collection[str] = ()
    ) -> None:
        self.spec = spec
        self.schema = schema
        self._batches: list[pa.RecordBatch] = []
        self._per_batch = schema.equals(spec.schema)  # names, order, types, nullability
        self._clean = True
        self._keys = {name: KeyCodes() for name in spec.key}
        # By position, and only names the schema holds once (a duplicated name is not
        # deferred by the decoder: it cannot be looked up by name).
        wanted = set(deferred)
        self._deferred = [
            (i, name)
            for i, name in enumerate(schema.names)
            if name in wanted and schema.get_field_index(name) >= 0
        ]
        self._rows = 0

    @staticmethod
    def encoded_columns(spec: TableSpec) -> frozenset[str]:
        """The key columns whose bytes :meth:`add` reads anyway (string keys, dictionary
        encoded): a receiver may defer their full validation to it (``deferred``)."""
        return frozenset(
            f.name for f in spec.schema if f.name in spec.key and pa.types.is_string(f.type)
        )

    def add(self, batch: pa.RecordBatch) -> None:
        """Keep ``batch`` (of ``schema``) and check its row-local rules. O(batch rows).

        Columns named in ``deferred`` may arrive having passed only Arrow's structural
        checks; they are validated in full here before anything else reads them (by the
        pass that encodes a key column, else by Arrow). Raises :class:`InvalidInputError`
        naming the column and row when they are not valid Arrow data.
        """
        first_row, self._rows = self._rows, self._rows + batch.num_rows
        per_batch = self._per_batch and self._clean
        encoded: dict[str, pa.DictionaryArray] = {}
        for index, name in self._deferred:
            column = batch.column(index)
            where = f"{self.spec.name}.{name}"
            if per_batch and name in self._keys and not integer_codes(column.type):
                encoded[name] = dictionary_encode(
                    column, validate=True, where=where, first_row=first_row
                )
            else:
                validate_in_full(column, where)
        self._batches.append(batch)
        if not per_batch:
            return
        for name, key in self._keys.items():
            column = batch.column(name)
            if integer_codes(column.type):
                key.add_integers(batch_codes(column))
            else:
                key.add_encoded(encoded[name] if name in encoded else dictionary_encode(column))
        table = pa.Table.from_batches([batch], schema=self.schema)
        # Credit codes of the encoded key columns are checked once, at finish(), on the
        # distinct values of the whole table.
        uscc_skip = {name for name in self._keys if not integer_codes(batch.column(name).type)}
        if check_rows(table, self.spec, {}, set(), key=False, uscc_skip=uscc_skip):
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
            if uscc and uscc_codes(distinct).any():
                return validate_table(table, self.spec)  # every violation, by row
            offsets.append((shifted, span))
        error = InvalidInputError.collect(check_key(table, self.spec, offsets))
        if error is not None:
            raise error
        return table.cast(self.spec.schema)  # same types: only the schema's metadata


def _check(
    table: pa.Table, spec: TableSpec, context: Mapping[str, pa.Table]
) -> tuple[pa.Table, list[Violation]]:
    conformed, violations, skip = _conform(table, spec)
    violations += check_rows(conformed, spec, context, skip)
    return conformed, violations


def _conform(table: pa.Table, spec: TableSpec) -> tuple[pa.Table, list[Violation], set[str]]:
    """Select and cast the schema's columns.

    Returns the conformed table, the violations and the names of columns that could not be
    used (missing or of a wrong type; they are all-null in the table and skipped later).
    """
    if table.schema.equals(spec.schema, check_metadata=True):
        return table, [], set()  # already conformed (a table this package wrote): O(columns)
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
