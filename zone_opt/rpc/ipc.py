"""Incremental decoding of an Arrow IPC stream that arrives in pieces cut anywhere.

An IPC stream is a sequence of encapsulated messages (the Arrow columnar format,
"Encapsulated message format"): ``0xFFFFFFFF``, an int32 metadata length, a flatbuffer
``Message`` (whose ``bodyLength`` gives the size of the body that follows), then the body;
a zero metadata length ends the stream. :class:`IpcStreamDecoder` cuts messages out of the
pieces as soon as each is complete and decodes them with pyarrow, so a receiver can
validate record batches while the rest of the stream is still on the wire. A message
inside one piece is sliced without copying; only a message that straddles pieces is
joined (each byte at most once), and one that does not start on an 8-byte boundary is
copied to one that does. The decoder reads only the message framing; every
message itself is decoded by pyarrow, and every record batch is then validated in full
(:func:`check_batch`: buffer sizes, offsets, list and string lengths, dictionary indices,
UTF-8) before anything else touches it, so a crafted stream is INVALID_ARGUMENT and never
reaches a compute kernel.

Streams whose schema has dictionary-encoded fields (their dictionaries travel as separate
messages) are buffered and decoded at :meth:`IpcStreamDecoder.finish` instead.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Collection, Iterable, Iterator

import pyarrow as pa

from zone_opt.errors import InvalidInputError

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "MAX_CHUNK_BYTES",
    "IpcStreamDecoder",
    "check_batch",
    "check_schema",
    "clamp_chunk_bytes",
    "ipc_messages",
    "pack_pieces",
    "read_ipc_table",
    "table_from_ipc",
    "table_to_ipc",
]

_CONTINUATION = 0xFFFFFFFF
#: Larger flatbuffer metadata than this is refused (real schemas are a few KiB).
_MAX_METADATA_BYTES = 64 * 1024 * 1024
#: Alignment of the messages handed to pyarrow (IPC pads every buffer to 8 bytes).
_ALIGNMENT = 8
#: Index of ``bodyLength`` among the fields of the flatbuffer table ``Message``.
_BODY_LENGTH_FIELD = 3


def _invalid(reason: str, field: str = "chunk.ipc") -> InvalidInputError:
    return InvalidInputError.single(field, None, f"not an Arrow IPC stream: {_bounded(reason)}")


def check_batch(
    batch: pa.RecordBatch, field: str, index: int, *, deferred: Collection[str] = ()
) -> pa.RecordBatch:
    """``batch`` when it is structurally valid Arrow data; INVALID_ARGUMENT otherwise.

    Arrow's full validation: every buffer large enough for its array, offsets in bounds
    and non-decreasing, list and string lengths within their children, dictionary
    indices within their dictionary, UTF-8 in string columns, nested types recursively.
    Columns named in ``deferred`` get Arrow's structural checks only (buffer sizes): the
    caller promises to validate them in full before anything else reads them (an upload's
    key columns are, by the pass that encodes them). The error names ``field``, the
    record batch (``index``, zero-based) and the column. O(bytes of the batch).
    """
    skip = {name for name in deferred if batch.schema.get_field_index(name) >= 0}
    try:
        if skip:
            batch.validate()
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                if name not in skip:
                    column.validate(full=True)
        else:
            batch.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        where = ""
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            try:
                column.validate(full=name not in skip)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                where = f", column {_bounded(name)!r}"
                break
        raise InvalidInputError.single(
            field, None, f"record batch {index}{where}: invalid Arrow data: {_bounded(str(exc))}"
        ) from None
    return batch


def check_schema(schema: pa.Schema, field: str) -> pa.Schema:
    """``schema`` when every field name, nested ones included, is UTF-8 text (Arrow does not
    check the names it reads); INVALID_ARGUMENT naming ``field`` otherwise. O(fields)."""

    def names(fields: list[pa.Field], depth: int) -> None:
        for f in fields:
            f.name  # noqa: B018 (decoding the name is the check)
            t = f.type
            if depth < _MAX_DEPTH and t.num_fields:
                names([t.field(i) for i in range(t.num_fields)], depth + 1)

    try:
        names(list(schema), 0)
    except UnicodeDecodeError:
        raise InvalidInputError.single(field, None, "a column name is not UTF-8 text") from None
    return schema


#: Nesting depth of types checked (Arrow's IPC reader refuses deeper schemas).
_MAX_DEPTH = 64


def read_ipc_table(data: bytes | memoryview, field: str) -> pa.Table:
    """A table from one whole Arrow IPC stream, every batch validated (:func:`check_batch`).

    Errors are :class:`~zone_opt.errors.InvalidInputError` on ``field``. O(bytes).
    """
    # The whole stream is at hand: pyarrow's reader frames and decodes it (the same
    # message decoders the incremental path calls), then the same checks run on the result.
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(data))
        schema = check_schema(reader.schema, field)
        batches = list(reader)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
        raise _invalid(str(exc), field) from None
    _check_rows(sum(b.num_rows for b in batches), len(data), field, None)
    return pa.Table.from_batches(
        [check_batch(b, field, i) for i, b in enumerate(batches)], schema=schema
    )


def _check_rows(rows: int, size: int, field: str, index: int | None) -> None:
    """Refuse a batch claiming more rows than its bytes can hold: every column of a real
    table spends at least a bit per row, but a column of Arrow's null type spends nothing,
    and conforming it to a typed column would allocate memory for every claimed row."""
    if rows > _ROWS_PER_BYTE * size + _ROWS_SLACK:
        which = "the stream" if index is None else f"record batch {index}"
        raise InvalidInputError.single(
            field, None, f"{which} claims {rows} rows in {size} bytes: not a table of this model"
        )


#: Rows a byte of IPC can carry at most in a table with one non-null-type column (a bit
#: each), and the allowance for tiny batches.
_ROWS_PER_BYTE = 8
_ROWS_SLACK = 1024

#: Longest piece of outside text (column names, Arrow's messages) repeated in an error.
_MAX_ECHO = 200


def _bounded(text: str) -> str:
    return text if len(text) <= _MAX_ECHO else f"{text[:_MAX_ECHO]}... ({len(text)} characters)"


def _body_length(meta: memoryview, field: str) -> int:
    """``Message.bodyLength`` of a flatbuffer ``Message`` (0 when absent). O(1).

    Flatbuffer layout: a uint32 offset to the root table; the table starts with an int32
    (table - vtable); the vtable holds uint16 sizes, then one uint16 offset per field.
    """
    try:
        (table,) = struct.unpack_from("<I", meta, 0)
        (to_vtable,) = struct.unpack_from("<i", meta, table)
        vtable = table - to_vtable
        (vtable_size,) = struct.unpack_from("<H", meta, vtable)
        slot = 4 + 2 * _BODY_LENGTH_FIELD
        if vtable < 0 or vtable_size < slot + 2:
            return 0
        (offset,) = struct.unpack_from("<H", meta, vtable + slot)
        if offset == 0:
            return 0
        (length,) = struct.unpack_from("<q", meta, table + offset)
    except struct.error:
        raise _invalid("malformed message metadata", field) from None
    if length < 0:
        raise _invalid("negative message body length", field)
    return int(length)


class IpcStreamDecoder:
    """Feed pieces of one IPC stream; get record batches as soon as they are complete.

    ``feed`` returns the batches completed by a piece; ``finish`` checks that the stream
    ended on a message boundary and returns what was left (all batches, for streams with
    dictionaries). Every record batch is validated in full (:func:`check_batch`) before it
    is returned, except the columns named in ``deferred``, which the consumer validates in
    full itself before any other use. Errors are
    :class:`~zone_opt.errors.InvalidInputError` on ``field``.
    Complexity: O(bytes) overall; O(1) Python work per message and per piece.
    """

    def __init__(self, field: str = "chunk.ipc", *, deferred: Collection[str] = ()) -> None:
        self.field = field
        self.deferred = frozenset(deferred)  # see check_batch: the consumer validates these
        self._batch_count = 0  # record batches decoded so far (for error messages)
        self._pieces: deque[memoryview] = deque()
        self._pending = 0  # bytes in _pieces
        self._need = 0  # bytes of the next whole message, once its framing is known
        self._schema: pa.Schema | None = None
        self._ended = False  # end-of-stream marker seen
        self._buffered: list[memoryview] | None = None  # dictionary streams: decoded at finish

    @property
    def schema(self) -> pa.Schema | None:
        """The stream's schema, once its first message has arrived."""
        return self._schema

    def feed(self, piece: bytes | memoryview) -> list[pa.RecordBatch]:
        """Add the next piece of the stream; the record batches it completes."""
        view = memoryview(piece).cast("B")
        if self._ended or not len(view):
            return []  # bytes after the end-of-stream marker are ignored, as pyarrow does
        if self._buffered is not None:
            self._buffered.append(view)
            return []
        self._pieces.append(view)
        self._pending += len(view)
        batches: list[pa.RecordBatch] = []
        while not self._ended and self._buffered is None:
            message = self._next_message()
            if message is None:
                break
            batch = self._decode(message)
            if batch is not None:
                batches.append(batch)
        buffered = self._buffered_pieces()
        if buffered is not None:  # switched to buffering in _decode: keep what is left
            buffered.extend(self._pieces)
            self._pieces.clear()
            self._pending = 0
        return batches

    def _buffered_pieces(self) -> list[memoryview] | None:
        return self._buffered

    def finish(self) -> list[pa.RecordBatch]:
        """Check the stream is complete; the batches not yet returned (dictionary streams)."""
        if self._buffered is not None:
            try:
                reader = pa.ipc.open_stream(pa.py_buffer(b"".join(self._buffered)))
                check_schema(reader.schema, self.field)
                batches = list(reader)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
                raise _invalid(str(exc), self.field) from None
            size = sum(len(piece) for piece in self._buffered)
            _check_rows(sum(b.num_rows for b in batches), size, self.field, None)
            return [check_batch(b, self.field, i) for i, b in enumerate(batches)]
        if self._schema is None:
            raise _invalid("no schema message", self.field)
        if self._pending and not self._ended:
            raise _invalid(
                f"stream ends inside a message ({self._pending} bytes left over)", self.field
            )
        return []

    # ---------------------------------------------------------------- framing

    def _peek(self, n: int) -> memoryview:
        """The first ``n`` pending bytes (``n <= _pending``), contiguous."""
        first = self._pieces[0]
        if len(first) >= n:
            return first[:n]
        parts, got = [], 0
        for piece in self._pieces:
            parts.append(piece[: n - got])
            got += len(parts[-1])
            if got == n:
                break
        return memoryview(b"".join(parts))

    def _take(self, n: int) -> memoryview:
        """Remove and return the first ``n`` pending bytes, contiguous (joined only when
        they straddle pieces)."""
        out = self._peek(n)
        left = n
        while left:
            first = self._pieces[0]
            if len(first) > left:
                self._pieces[0] = first[left:]
                left = 0
            else:
                self._pieces.popleft()
                left -= len(first)
        self._pending -= n
        return out

    def _next_message(self) -> memoryview | None:
        """The next whole message (prefix, metadata, body), or None until it has arrived."""
        if not self._need:
            if self._pending < 4:
                return None
            (marker,) = struct.unpack("<I", self._peek(4))
            prefix = 4  # pre-1.0 streams: no continuation marker, the length comes first
            if marker == _CONTINUATION:
                if self._pending < 8:
                    return None
                prefix = 8
            (meta_len,) = struct.unpack_from("<i", self._peek(prefix), prefix - 4)
            if meta_len == 0:  # end-of-stream marker
                self._take(prefix)
                self._ended = True
                return None
            if meta_len < 0 or meta_len > _MAX_METADATA_BYTES:
                raise _invalid(f"bad metadata length {meta_len}", self.field)
            if self._pending < prefix + meta_len:
                return None
            meta = self._peek(prefix + meta_len)[prefix:]
            self._need = prefix + meta_len + _body_length(meta, self.field)
        if self._pending < self._need:
            return None
        need, self._need = self._need, 0
        return self._take(need)

    def _decode(self, data: memoryview) -> pa.RecordBatch | None:
        buffer = pa.py_buffer(data)
        if buffer.address % _ALIGNMENT:
            # A message inside a received chunk starts wherever the chunk's protobuf framing
            # put it; Arrow's arrays (and numpy, and the Rust core, reading their buffers)
            # need them aligned, so an unaligned message is copied once into Arrow memory.
            aligned = pa.allocate_buffer(len(data))
            memoryview(aligned).cast("B")[:] = data
            buffer = aligned
        try:
            message = pa.ipc.read_message(buffer)
            if self._schema is None:
                if message.type != "schema":
                    raise _invalid(
                        f"the first message is a {message.type}, not a schema", self.field
                    )
                self._schema = check_schema(pa.ipc.read_schema(message), self.field)
                if any(pa.types.is_dictionary(f.type) for f in self._schema):
                    self._buffered = [data]
                return None
            if message.type != "record batch":
                raise _invalid(f"unexpected {message.type} message", self.field)
            batch = pa.ipc.read_record_batch(message, self._schema)
        except InvalidInputError:
            raise
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
            raise _invalid(str(exc), self.field) from None
        index, self._batch_count = self._batch_count, self._batch_count + 1
        _check_rows(batch.num_rows, len(data), self.field, index)
        return check_batch(batch, self.field, index, deferred=self.deferred)


#: Largest chunk of an IPC stream on the wire (the gRPC receive limit is 4 MiB a message).
MAX_CHUNK_BYTES = 4 * 1024 * 1024 - 64 * 1024


DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024


MIN_CHUNK_BYTES = 64 * 1024


def table_from_ipc(data: bytes, field: str) -> pa.Table:
    """A table from Arrow IPC stream bytes, every batch validated in full before use
    (:func:`~zone_opt.service.ipc_stream.read_ipc_table`); INVALID_ARGUMENT naming
    ``field`` otherwise."""
    return read_ipc_table(data, field)


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def clamp_chunk_bytes(requested: int) -> int:
    if requested <= 0:
        return DEFAULT_CHUNK_BYTES
    return max(MIN_CHUNK_BYTES, min(MAX_CHUNK_BYTES, requested))


#: The end-of-stream marker of an Arrow IPC stream.
IPC_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


class _Parts:
    """A write-only file for ``pa.PythonFile`` that keeps what pyarrow writes into it: the
    small framing and metadata as ``bytes``, the record batches' buffers as zero-copy
    ``pa.Buffer`` views of the table's memory."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[pa.Buffer | bytes] = []

    def write(self, data: pa.Buffer | bytes) -> int:
        self._parts.append(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[pa.Buffer | bytes]:
        """The parts written since the last call."""
        parts, self._parts = self._parts, []
        return parts


def ipc_messages(table: pa.Table, batch_bytes: int) -> Iterator[list[pa.Buffer | bytes]]:
    """``table`` as the messages of one Arrow IPC stream, each as the parts pyarrow's stream
    writer writes: schema (with the first batch when pyarrow writes it lazily), record
    batches of about ``batch_bytes`` each, end-of-stream.
    Byte for byte what ``pa.ipc.new_stream`` writes for the same batches; the batches'
    buffers are views of the table's memory, not copies (only sliced offsets and bitmaps
    are rewritten), so a chunk costs one copy: its join into the message sent.
    O(bytes) of that copy, O(columns) parts a batch.
    """
    parts = _Parts()
    rows = max(1, batch_bytes * table.num_rows // max(table.nbytes, 1))
    with pa.ipc.new_stream(pa.PythonFile(parts, mode="w"), table.schema) as writer:
        if schema := parts.take():
            yield schema
        for batch in table.to_batches(max_chunksize=rows):
            writer.write_batch(batch)
            yield parts.take()
    yield parts.take()  # the end-of-stream marker


def pack_pieces(
    messages: Iterable[pa.Buffer | bytes | list[pa.Buffer | bytes]], max_bytes: int
) -> Iterator[list[memoryview]]:
    """Group consecutive messages (each a buffer, or a list of its parts) into pieces of at
    most ``max_bytes``, cutting a message only when it does not fit in a piece of its own;
    each piece is a list of views, joined by the caller."""
    piece: list[memoryview] = []
    size = 0
    for message in messages:
        views = [
            memoryview(p).cast("B") for p in (message if isinstance(message, list) else [message])
        ]
        if size and size + sum(len(v) for v in views) > max_bytes:
            yield piece
            piece, size = [], 0
        for part in views:
            rest = part
            while len(rest) > max_bytes - size:
                if size < max_bytes:
                    piece.append(rest[: max_bytes - size])
                    rest = rest[max_bytes - size :]
                yield piece
                piece, size = [], 0
            if len(rest):
                piece.append(rest)
                size += len(rest)
    if piece or size == 0:
        yield piece
