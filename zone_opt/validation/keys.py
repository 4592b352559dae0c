"""Primary keys: per-column integer codes (dictionary or integer), combined across the
key's columns, then a bitmap or hash pass for duplicates; batch by batch for uploads."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import _core
from zone_opt.errors import InvalidInputError, Violation
from zone_opt.schemas import TableSpec
from zone_opt.validation.report import MAX_ROWS_PER_RULE, report


class KeyCodes:
    """Codes of one key column gathered batch by batch (see :func:`_codes`, :func:`offset_codes`).

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
            shifted, span = offset_codes(codes)
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


def validate_in_full(column: pa.Array, where: str) -> None:
    """Arrow's full validation of ``column`` (offsets, lengths, UTF-8, dictionary indices);
    :class:`InvalidInputError` on ``where`` when it fails. O(bytes)."""
    try:
        column.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise InvalidInputError.single(
            where, None, f"invalid Arrow data: {str(exc)[:200]}"
        ) from None


def dictionary_encode(
    column: pa.Array, *, validate: bool = False, where: str = "", first_row: int = 0
) -> pa.DictionaryArray:
    """``pc.dictionary_encode(column)`` (dictionary in order of first appearance); a string
    column without nulls is encoded by the Rust core (:func:`_core.dictionary_codes`:
    a grouped column costs one comparison per row), anything else by Arrow. O(bytes).

    With ``validate``, ``column`` may have passed only Arrow's structural checks: it is
    validated in full first (the Rust pass checks offsets and UTF-8 as it encodes, at no
    extra pass; Arrow's path calls Arrow's full validation). A column that is not valid
    Arrow data raises :class:`InvalidInputError` on ``where``, rows numbered from
    ``first_row``.
    """
    rust = not column.null_count and (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    )
    if not rust:
        if validate:
            validate_in_full(column, where)
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
    try:
        codes, firsts = _core.dictionary_codes(offsets, data)
    except InvalidInputError as exc:  # offsets or UTF-8: the row of the column it names
        row = exc.violations[0].row if exc.violations else None
        raise InvalidInputError.single(
            where,
            None if row is None else first_row + row,
            f"invalid Arrow data: {exc.violations[0].reason if exc.violations else exc}",
        ) from None
    return pa.DictionaryArray.from_arrays(pa.array(codes), column.take(pa.array(firsts)))


def integer_codes(t: pa.DataType) -> bool:
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


def batch_codes(column: pa.Array) -> npt.NDArray[np.int64]:
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


def offset_codes(codes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
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


def check_key(
    table: pa.Table,
    spec: TableSpec,
    offsets: list[tuple[npt.NDArray[np.int64], int]] | None = None,
) -> list[Violation]:
    """Duplicate-key violations; ``offsets`` are the key columns' :func:`offset_codes` codes
    and spans when the caller has them already (:class:`BatchValidator`). The codes are
    consumed: the key's columns are combined in place into the first one's array."""
    if table.num_rows < 2:
        return []
    if offsets is None:
        offsets = [offset_codes(_codes(table.column(name))) for name in spec.key]
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
    return report(
        f"{spec.name}.{spec.key[0]}",
        dup,
        (f"duplicate key ({key}) of row {int(first_of_row[r])}" for r in dup[:MAX_ROWS_PER_RULE]),
        f"duplicate key ({key})",
    )
