"""``UploadDataset`` on the wire: chunks encoded and parsed without copying the payload,
and the digests of a download's chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from zone_opt.api.v1 import common_pb2, datasets_pb2
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.rpc.checksums import CHECKSUMS
from zone_opt.rpc.enums import checksum_from_proto, kind_from_proto

__all__ = [
    "UploadChunk",
    "UploadPart",
    "encode_upload_chunk",
    "ipc_chunks",
    "parse_upload_request",
    "upload_stream",
]


@dataclass(frozen=True)
class UploadChunk:
    """One received piece of an IPC stream (see ``ArrowChunk`` in common.proto)."""

    seq: int
    ipc: bytes | memoryview
    last: bool
    sha256: str
    blake3: str = ""
    xxh3_128: str = ""


def ipc_chunks(
    blocks: Iterable[bytes], checksum: str = "sha256", recorded: tuple[str, str] | None = None
) -> Iterator[common_pb2.ArrowChunk]:
    """Number pieces of an IPC stream; the last carries ``last`` and the stream's digest
    with ``checksum`` (a key of ``datasets.CHECKSUMS``) in the field of that name.

    With ``recorded`` (the checksum and digest the stream was stored with), the bytes are
    also checked against it, hashed a second time only if that checksum differs from
    ``checksum``; a difference raises :class:`VerificationError` in place of the last
    chunk, so a file damaged at rest never arrives as a complete stream. O(bytes).
    """
    hashers = {checksum: CHECKSUMS[checksum]()}
    if recorded is not None and recorded[0] not in hashers:
        hashers[recorded[0]] = CHECKSUMS[recorded[0]]()
    seq = 0
    pending: bytes | None = None
    for block in blocks:
        if pending is not None:
            yield common_pb2.ArrowChunk(ipc=pending, seq=seq)
            seq += 1
        for hasher in hashers.values():
            hasher.update(block)
        pending = block
    if recorded is not None and hashers[recorded[0]].hexdigest() != recorded[1]:
        raise VerificationError(
            f"the stored stream no longer matches its recorded {recorded[0]} (damaged at rest)"
        )
    last = common_pb2.ArrowChunk(ipc=pending or b"", seq=seq, last=True)
    setattr(last, checksum, hashers[checksum].hexdigest())
    yield last


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode_upload_chunk(
    parts: list[memoryview],
    seq: int,
    last: bool,
    sha256: str = "",
    *,
    blake3: str = "",
    xxh3_128: str = "",
) -> bytes:
    """The serialised ``UploadDatasetRequest{chunk: ArrowChunk{pad, ipc, seq, last, sha256,
    blake3, xxh3_128}}`` with ``ipc`` the concatenation of ``parts``, copying the payload
    once (into the message) where ``SerializeToString`` copies it three times.

    ``pad`` comes first, sized so that ``ipc``'s bytes start at a multiple of 8 within the
    message: a receiver whose message buffer is 8-aligned (grpcio hands Python servers a
    ``bytes``, whose data is) then decodes the Arrow buffers in place. Field order is free
    on the wire, so protobuf parsers read the same message as ``SerializeToString``'s.
    """
    length = sum(len(p) for p in parts)
    head = b"\x0a" + _varint(length) if length else b""  # field 1, bytes (omitted if empty)
    tail = b""
    if seq:
        tail += b"\x10" + _varint(seq)  # field 2, varint
    if last:
        tail += b"\x18\x01"  # field 3, bool
    if sha256:
        encoded = sha256.encode()
        tail += b"\x22" + _varint(len(encoded)) + encoded  # field 4, string
    if blake3:
        encoded = blake3.encode()
        tail += b"\x2a" + _varint(len(encoded)) + encoded  # field 5, string
    if xxh3_128:
        encoded = xxh3_128.encode()
        tail += b"\x3a" + _varint(len(encoded)) + encoded  # field 7, string
    pad = b""
    for size in range(-1, 8 if length else -1):  # -1: no pad field; else its byte count
        pad = b"" if size < 0 else b"\x32" + _varint(size) + bytes(size)  # field 6, bytes
        inner = len(pad) + len(head) + length + len(tail)
        if (1 + len(_varint(inner)) + len(pad) + len(head)) % 8 == 0:
            break
    inner = len(pad) + len(head) + length + len(tail)
    return b"".join([b"\x12", _varint(inner), pad, head, *parts, tail])  # field 2 of the request


@dataclass(frozen=True)
class UploadPart:
    """One ``UploadDatasetRequest`` as :func:`parse_upload_request` read it: the header,
    or a chunk whose ``ipc`` is a view into the received message, or why it is malformed."""

    header: datasets_pb2.UploadHeader | None = None
    chunk: UploadChunk | None = None
    malformed: str = ""


class _MalformedError(ValueError):
    pass


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _MalformedError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """``(field number, wire type, value, end)`` of each field in ``data[start:end]``: the
    value of a varint, or the start of a length-delimited field's bytes (which end at
    ``end``); fixed-width fields are skipped over. Groups are refused."""
    pos = start
    while pos < end:
        tag, pos = _read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _MalformedError("field number 0")
        if wire == 0:
            value, pos = _read_varint(data, pos)
            yield number, wire, value, pos
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > end:
                raise _MalformedError("length-delimited field past the end of its message")
            yield number, wire, pos, pos + length
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise _MalformedError(f"unsupported wire type {wire}")
    if pos != end:
        raise _MalformedError("field past the end of its message")


def parse_upload_request(data: bytes) -> UploadPart:
    """Parse a serialised ``UploadDatasetRequest`` with the chunk's ``ipc`` bytes as a view
    into ``data`` (protobuf's parser would copy them twice: into the message, then into
    a new ``bytes`` on access). The gRPC server's request deserializer for UploadDataset.

    Proto3 semantics: unknown fields are skipped, the last value of a scalar wins, a
    repeated message field is merged, and for the ``part`` oneof the last member set
    wins. Never raises: malformed input comes back as ``UploadPart(malformed=reason)``,
    which :func:`upload_stream` reports as INVALID_ARGUMENT. O(1) per field, no copy of
    the payload.
    """
    view = memoryview(data)
    header: datasets_pb2.UploadHeader | None = None
    chunk: dict[str, Any] | None = None
    try:
        for number, wire, value, end in _fields(data, 0, len(data)):
            if number == 1 and wire == 2:  # header (small: parsed by protobuf)
                header = header or datasets_pb2.UploadHeader()
                header.MergeFromString(data[value:end])
                chunk = None
            elif number == 2 and wire == 2:  # chunk
                header, chunk = None, {} if chunk is None else chunk
                for inner, inner_wire, inner_value, inner_end in _fields(data, value, end):
                    if inner == 1 and inner_wire == 2:
                        chunk["ipc"] = view[inner_value:inner_end]
                    elif inner == 2 and inner_wire == 0:  # int64: two's complement
                        chunk["seq"] = inner_value - (1 << 64) if inner_value >> 63 else inner_value
                    elif inner == 3 and inner_wire == 0:
                        chunk["last"] = inner_value != 0
                    elif inner == 4 and inner_wire == 2:
                        chunk["sha256"] = str(view[inner_value:inner_end], "utf-8")
                    elif inner == 5 and inner_wire == 2:
                        chunk["blake3"] = str(view[inner_value:inner_end], "utf-8")
                    elif inner == 7 and inner_wire == 2:
                        chunk["xxh3_128"] = str(view[inner_value:inner_end], "utf-8")
    except (_MalformedError, UnicodeDecodeError, DecodeError) as exc:
        return UploadPart(malformed=str(exc))
    if chunk is not None:
        return UploadPart(
            chunk=UploadChunk(
                seq=chunk.get("seq", 0),
                ipc=chunk.get("ipc", b""),
                last=chunk.get("last", False),
                sha256=chunk.get("sha256", ""),
                blake3=chunk.get("blake3", ""),
                xxh3_128=chunk.get("xxh3_128", ""),
            )
        )
    return UploadPart(header=header)


def upload_stream(
    requests: Iterator[UploadPart],
) -> tuple[str, str, str, Iterator[UploadChunk]]:
    """``(name, kind, checksum, chunks)`` of an upload (parsed by
    :func:`parse_upload_request`): the header first, then chunks."""
    first = next(requests, None)
    if first is not None and first.malformed:
        raise InvalidInputError.single("header", None, f"malformed message: {first.malformed}")
    if first is None or first.header is None:
        raise InvalidInputError.single("header", None, "the first message must be the header")
    name = first.header.name
    if not name:
        raise InvalidInputError.single("header.name", None, "required")
    kind = kind_from_proto(first.header.kind, "header.kind")
    checksum = checksum_from_proto(first.header.checksum, "header.checksum")

    def chunks() -> Iterator[UploadChunk]:
        for seq, part in enumerate(requests):
            if part.malformed:
                raise InvalidInputError.single("chunk", seq, f"malformed message: {part.malformed}")
            if part.chunk is None:
                raise InvalidInputError.single("chunk", None, "only chunks after the header")
            yield part.chunk

    return name, kind, checksum, chunks()
