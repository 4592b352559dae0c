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
message itself is decoded and checked by pyarrow.

Streams whose schema has dictionary-encoded fields (their dictionaries travel as separate
messages) are buffered and decoded at :meth:`IpcStreamDecoder.finish` instead.
"""

from __future__ import annotations

import struct
from collections import deque

import pyarrow as pa

from zone_opt.errors import InvalidInputError

__all__ = ["IpcStreamDecoder"]

_CONTINUATION = 0xFFFFFFFF
#: Larger flatbuffer metadata than this is refused (real schemas are a few KiB).
_MAX_METADATA_BYTES = 64 * 1024 * 1024
#: Alignment of the messages handed to pyarrow (IPC pads every buffer to 8 bytes).
_ALIGNMENT = 8
#: Index of ``bodyLength`` among the fields of the flatbuffer table ``Message``.
_BODY_LENGTH_FIELD = 3


def _invalid(reason: str) -> InvalidInputError:
    return InvalidInputError.single("chunk.ipc", None, f"not an Arrow IPC stream: {reason}")


def _body_length(meta: memoryview) -> int:
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
        (field,) = struct.unpack_from("<H", meta, vtable + slot)
        if field == 0:
            return 0
        (length,) = struct.unpack_from("<q", meta, table + field)
    except struct.error:
        raise _invalid("malformed message metadata") from None
    if length < 0:
        raise _invalid("negative message body length")
    return int(length)


class IpcStreamDecoder:
    """Feed pieces of one IPC stream; get record batches as soon as they are complete.

    ``feed`` returns the batches completed by a piece; ``finish`` checks that the stream
    ended on a message boundary and returns what was left (all batches, for streams with
    dictionaries). Errors are :class:`~zone_opt.errors.InvalidInputError` on ``chunk.ipc``.
    Complexity: O(bytes) overall; O(1) Python work per message and per piece.
    """

    def __init__(self) -> None:
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
                return list(reader)
            except (pa.ArrowInvalid, OSError) as exc:
                raise _invalid(str(exc)) from None
        if self._schema is None:
            raise _invalid("no schema message")
        if self._pending and not self._ended:
            raise _invalid(f"stream ends inside a message ({self._pending} bytes left over)")
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
                raise _invalid(f"bad metadata length {meta_len}")
            if self._pending < prefix + meta_len:
                return None
            meta = self._peek(prefix + meta_len)[prefix:]
            self._need = prefix + meta_len + _body_length(meta)
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
                    raise _invalid(f"the first message is a {message.type}, not a schema")
                self._schema = pa.ipc.read_schema(message)
                if any(pa.types.is_dictionary(f.type) for f in self._schema):
                    self._buffered = [data]
                return None
            if message.type != "record batch":
                raise _invalid(f"unexpected {message.type} message")
            return pa.ipc.read_record_batch(message, self._schema)
        except InvalidInputError:
            raise
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
            raise _invalid(str(exc)) from None
