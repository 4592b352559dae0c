"""Conversion between protobuf messages and domain types: the only module knowing both.

Request fields are checked here, once, at the edge: a missing or malformed field raises
:class:`~zone_opt.errors.InvalidInputError` naming the field, which the interceptor sends
as INVALID_ARGUMENT with ``BadRequest`` field violations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from google.protobuf import any_pb2, duration_pb2, json_format, timestamp_pb2
from google.protobuf.message import DecodeError
from google.rpc import status_pb2

from zone_opt.api.v1 import (
    carbon_pb2,
    common_pb2,
    datasets_pb2,
    dispatch_pb2,
    matching_pb2,
    operations_pb2,
    planning_pb2,
    privacy_pb2,
)
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.service.datasets import CHECKSUMS, RESULT_KIND, DatasetInfo, UploadChunk
from zone_opt.service.ipc_stream import read_ipc_table
from zone_opt.service.privacy import AuditEntry, JoinPolicy
from zone_opt.service.store import Job

__all__ = [
    "MAX_CHUNK_BYTES",
    "UploadPart",
    "carbon_params",
    "dataset_to_proto",
    "dispatch_params",
    "encode_upload_chunk",
    "ipc_chunks",
    "ipc_messages",
    "job_id_of",
    "job_to_operation",
    "kind_from_proto",
    "kind_to_proto",
    "match_params",
    "pack_pieces",
    "parse_upload_request",
    "table_from_ipc",
    "table_to_ipc",
    "upload_stream",
]

#: Largest chunk of an IPC stream on the wire (the gRPC receive limit is 4 MiB a message).
MAX_CHUNK_BYTES = 4 * 1024 * 1024 - 64 * 1024
DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024
MIN_CHUNK_BYTES = 64 * 1024

_KINDS: dict[int, str] = {
    common_pb2.TABLE_KIND_PARKS: "parks",
    common_pb2.TABLE_KIND_SPACES: "spaces",
    common_pb2.TABLE_KIND_ENTERPRISES: "enterprises",
    common_pb2.TABLE_KIND_TENANCIES: "tenancies",
    common_pb2.TABLE_KIND_METERS: "meters",
    common_pb2.TABLE_KIND_PARK_ASSETS: "park_assets",
    common_pb2.TABLE_KIND_GRID_FACTORS: "grid_factors",
    common_pb2.TABLE_KIND_RESULT: RESULT_KIND,
}
_KIND_VALUES = {name: value for value, name in _KINDS.items()}
_MODES = {
    matching_pb2.MATCH_MODE_UNSPECIFIED: "optimal",
    matching_pb2.MATCH_MODE_OPTIMAL: "optimal",
    matching_pb2.MATCH_MODE_STABLE: "stable",
}


def kind_from_proto(value: int, field: str, *, allow_result: bool = False) -> str:
    """The table name of a ``TableKind``; INVALID_ARGUMENT for unspecified or unknown."""
    name = _KINDS.get(value)
    if name is None or (name == RESULT_KIND and not allow_result):
        raise InvalidInputError.single(field, None, "a table kind such as TABLE_KIND_SPACES")
    return name


def kind_to_proto(name: str) -> int:
    return _KIND_VALUES[name]


_CHECKSUMS: dict[int, str] = {
    common_pb2.CHECKSUM_UNSPECIFIED: "sha256",
    common_pb2.CHECKSUM_SHA256: "sha256",
    common_pb2.CHECKSUM_BLAKE3: "blake3",
    common_pb2.CHECKSUM_XXH3_128: "xxh3_128",
}


def checksum_from_proto(value: int, field: str) -> str:
    """The checksum name (a key of ``datasets.CHECKSUMS``) of a ``Checksum``; unspecified
    is SHA-256, what clients sent before the field existed."""
    name = _CHECKSUMS.get(value)
    if name is None:
        raise InvalidInputError.single(field, None, f"unknown checksum {value}")
    return name


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def dataset_to_proto(info: DatasetInfo) -> datasets_pb2.Dataset:
    return datasets_pb2.Dataset(
        dataset_id=info.dataset_id,
        name=info.name,
        kind=kind_to_proto(info.kind),  # type: ignore[arg-type]
        num_rows=info.num_rows,
        num_bytes=info.num_bytes,
        sha256=info.sha256,
        create_time=_timestamp(info.created_s),
        columns=info.columns,
        blake3=info.blake3,
        xxh3_128=info.xxh3_128,
    )


def job_id_of(name: str, field: str = "name") -> str:
    """The job id of an operation name ``operations/<id>``."""
    prefix, _, job_id = name.partition("/")
    if prefix != "operations" or not job_id:
        raise InvalidInputError.single(field, None, "an operation name 'operations/<id>'")
    return job_id


_CODES = {
    "CANCELLED": 1,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


def job_to_operation(job: Job) -> operations_pb2.Operation:
    """The AIP-151 view of a job."""
    op = operations_pb2.Operation(
        name=f"operations/{job.job_id}",
        done=job.state.done,
        metadata=operations_pb2.OperationMetadata(
            kind=job.kind,
            state=int(job.state),  # type: ignore[arg-type]
            progress=job.progress,
            stage=job.stage,
            attempts=job.attempts,
            create_time=_timestamp(job.created_s),
            update_time=_timestamp(job.updated_s),
            request_id=job.request_id,
        ),
    )
    if job.error_code:
        op.error.CopyFrom(
            status_pb2.Status(code=_CODES.get(job.error_code, 13), message=job.error_message)
        )
    elif job.result is not None:
        packed = any_pb2.Any()
        packed.Pack(_result_message(job.kind, job.result))
        op.response.CopyFrom(packed)
    return op


def _result_message(kind: str, result: dict[str, Any]) -> Any:
    if kind == "dispatch":
        return dispatch_pb2.DispatchResult(
            status=_DISPATCH_STATUS.get(result["status"], 7),  # type: ignore[arg-type]
            objective_cny=float(result["objective_cny"]),
            mip_gap=float(result["mip_gap"]),
            build_s=float(result["build_s"]),
            solve_s=float(result["solve_s"]),
            windows=int(result["windows"]),
            timeseries_dataset_id=result["timeseries_dataset_id"],
            costs_cny=result.get("costs_cny", {}),
            emissions_t=result.get("emissions_t", {}),
            infeasibility=result.get("infeasibility", []),
        )
    if kind == "carbon_allocate":
        return carbon_pb2.AllocateCarbonResult(
            rows_dataset_id=result["rows_dataset_id"],
            annual_dataset_id=result["annual_dataset_id"],
            kpis_dataset_id=result["kpis_dataset_id"],
            reconciliation_dataset_id=result["reconciliation_dataset_id"],
            manifest_json=result["manifest_json"],
            audit_root=bytes.fromhex(result["audit_root"]),
            audit_head=bytes.fromhex(result["audit_head"]),
            balanced=result["balanced"],
        )
    if kind == "plan_facilities":
        return json_format.ParseDict(result, planning_pb2.PlanFacilitiesResult())
    if kind == "match":
        return matching_pb2.MatchResult(
            assignments_dataset_id=result["assignments_dataset_id"],
            unmatched_dataset_id=result["unmatched_dataset_id"],
            summary=result.get("summary", {}),
        )
    return datasets_pb2.ComputeStatisticsResult(
        statistics_dataset_id=result["statistics_dataset_id"]
    )


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidInputError.single(field, None, "required")
    return value


_DISPATCH_STATUS = {
    "optimal": 1,
    "feasible": 2,
    "infeasible": 3,
    "unbounded": 4,
    "time_limit": 5,
    "cancelled": 6,
    "error": 7,
}


def dispatch_params(request: dispatch_pb2.DispatchRequest) -> dict[str, Any]:
    """The job parameters of a Dispatch request (the profiles are stored by the servicer)."""
    if not request.scenario_yaml.strip():
        raise InvalidInputError.single("scenario_yaml", None, "required")
    if not request.profiles_ipc:
        raise InvalidInputError.single("profiles_ipc", None, "required")
    if not request.HasField("start"):
        raise InvalidInputError.single("start", None, "required")
    if not request.HasField("horizon"):
        raise InvalidInputError.single("horizon", None, "required")
    options = request.options
    if not 0 <= options.mip_rel_gap < 1:  # NaN fails too
        raise InvalidInputError.single(
            "options.mip_rel_gap", None, f"must be in [0, 1), got {options.mip_rel_gap}"
        )
    if options.workers not in (0, 1, 2):
        raise InvalidInputError.single("options.workers", None, "must be 1 or 2")
    params: dict[str, Any] = {
        "scenario_yaml": request.scenario_yaml,
        "start": request.start.ToDatetime().isoformat(),
        "hours": time_limit_s(request.horizon, "horizon") / 3600.0,
        "rolling_h": None,
        "mip_rel_gap": options.mip_rel_gap or 1e-4,
        "workers": options.workers or 1,
        "window_time_limit_s": None,
    }
    if options.HasField("rolling"):
        params["rolling_h"] = time_limit_s(options.rolling, "options.rolling") / 3600.0
    if options.HasField("window_time_limit"):
        params["window_time_limit_s"] = time_limit_s(
            options.window_time_limit, "options.window_time_limit"
        )
    if options.HasField("time_limit"):
        params["time_limit_s"] = time_limit_s(options.time_limit, "options.time_limit")
    return params


def match_params(request: matching_pb2.MatchRequest) -> dict[str, Any]:
    """The job parameters of a Match request (dataset ids and options)."""
    options = request.options
    if options.k < 0:
        raise InvalidInputError.single("options.k", None, "must be positive")
    if options.mode not in _MODES:
        raise InvalidInputError.single("options.mode", None, f"unknown mode {options.mode}")
    params: dict[str, Any] = {
        "spaces": _required(request.spaces_dataset_id, "spaces_dataset_id"),
        "enterprises": _required(request.enterprises_dataset_id, "enterprises_dataset_id"),
        "parks": _required(request.parks_dataset_id, "parks_dataset_id"),
        "tenancies": request.tenancies_dataset_id,
        "mode": _MODES[options.mode],
        "k": options.k,
        "weights": dict(sorted(options.weights.items())),
    }
    if options.HasField("now"):
        params["now"] = options.now.ToDatetime().isoformat()
    if options.HasField("time_limit"):
        params["time_limit_s"] = time_limit_s(options.time_limit, "options.time_limit")
    return params


def carbon_params(request: carbon_pb2.AllocateCarbonRequest) -> dict[str, Any]:
    """The job parameters of an AllocateCarbon request (dataset ids, park YAML, head)."""
    if not request.park_yaml.strip():
        raise InvalidInputError.single("park_yaml", None, "is required")
    if request.previous_head and len(request.previous_head) != 32:
        raise InvalidInputError.single("previous_head", None, "a SHA-256 head has 32 bytes")
    return {
        "meters": _required(request.meters_dataset_id, "meters_dataset_id"),
        "park_yaml": request.park_yaml,
        "tenancies": request.tenancies_dataset_id,
        "spaces": request.spaces_dataset_id,
        "park_assets": request.park_assets_dataset_id,
        "grid_factors": request.grid_factors_dataset_id,
        "previous_head": request.previous_head.hex(),
    }


def plan_facilities_params(request: planning_pb2.PlanFacilitiesRequest) -> dict[str, Any]:
    """Job params of a PlanFacilities request (validated here: size, gap, methods)."""
    text = _required(request.scenario_yaml, "scenario_yaml")
    if len(text.encode()) > 1 << 20:
        raise InvalidInputError.single("scenario_yaml", None, "larger than 1 MiB")
    opts = request.options
    if not 0 <= opts.mip_rel_gap < 1:  # NaN fails too
        raise InvalidInputError.single(
            "options.mip_rel_gap", None, f"must be in [0, 1), got {opts.mip_rel_gap}"
        )
    sharing = []
    known = planning_pb2.CostShareMethod.DESCRIPTOR.values_by_number
    for k, method in enumerate(opts.sharing):
        if method == planning_pb2.COST_SHARE_METHOD_UNSPECIFIED or method not in known:
            names = ", ".join(v.name for v in list(known.values())[1:])
            raise InvalidInputError.single(
                f"options.sharing[{k}]", None, f"unknown cost-share method {method}; one of {names}"
            )
        name = known[method].name
        sharing.append(name.removeprefix("COST_SHARE_METHOD_").lower())
    params: dict[str, Any] = {
        "scenario_yaml": text,
        "mip_rel_gap": opts.mip_rel_gap or None,
        "sharing": sharing,
    }
    if opts.HasField("time_limit"):
        params["time_limit_s"] = time_limit_s(opts.time_limit, "options.time_limit")
    return params


def time_limit_s(duration: duration_pb2.Duration, field: str) -> float:
    """A positive time limit in seconds."""
    seconds = duration.ToTimedelta().total_seconds()
    if seconds <= 0:
        raise InvalidInputError.single(field, None, "must be positive")
    return seconds


def datetime_of(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime()


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
    name = _required(first.header.name, "header.name")
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


# privacy
_JOIN_MODES = {1: "intersection", 2: "labelled", 3: "cardinality", 4: "sum"}


def join_mode_from_proto(value: int, field: str) -> str:
    """``JoinMode`` -> ``"intersection" | "labelled" | "cardinality" | "sum"``."""
    if value not in _JOIN_MODES:
        raise InvalidInputError.single(field, None, "a join mode is required")
    return _JOIN_MODES[value]


def join_mode_to_proto(mode: str) -> int:
    return {v: k for k, v in _JOIN_MODES.items()}[mode]


def join_policy_from_proto(p: privacy_pb2.JoinPolicy) -> JoinPolicy:
    return JoinPolicy(
        dataset_id=p.dataset_id,
        key_column=p.key_column,
        allowed_peers=tuple(p.allowed_peers),
        modes=tuple(join_mode_from_proto(m, f"policy.modes[{i}]") for i, m in enumerate(p.modes)),
        payload_columns=tuple(p.payload_columns),
        quota_per_epoch=p.quota_per_epoch,
        epoch_seconds=p.epoch_seconds or 86_400,
        min_intersection=p.min_intersection or 1,
        key_kind=p.key_kind or "uscc",
    )


def join_policy_to_proto(p: JoinPolicy) -> privacy_pb2.JoinPolicy:
    return privacy_pb2.JoinPolicy(
        dataset_id=p.dataset_id,
        key_column=p.key_column,
        allowed_peers=list(p.allowed_peers),
        modes=[join_mode_to_proto(m) for m in p.modes],  # type: ignore[misc]
        payload_columns=list(p.payload_columns),
        quota_per_epoch=p.quota_per_epoch,
        epoch_seconds=p.epoch_seconds,
        min_intersection=p.min_intersection,
        key_kind=p.key_kind,
    )


def audit_to_proto(e: AuditEntry) -> privacy_pb2.JoinAuditEntry:
    entry = privacy_pb2.JoinAuditEntry(
        session_id=e.session_id,
        peer=e.peer,
        dataset_id=e.dataset_id,
        mode=join_mode_to_proto(e.mode),  # type: ignore[arg-type]
        columns=list(e.columns),
        sender_keys=e.sender_keys,
        receiver_keys=e.receiver_keys,
        opened=_timestamp(e.opened_s),
        outcome=e.outcome,
    )
    if e.evaluated_s is not None:
        entry.evaluated.CopyFrom(_timestamp(e.evaluated_s))
    return entry


def message_chunks(session_id: str, data: bytes) -> Iterator[privacy_pb2.JoinMessageChunk]:
    """A protocol message in chunks of at most MAX_CHUNK_BYTES (the first names the session)."""
    view = memoryview(data)
    starts = range(0, max(len(data), 1), MAX_CHUNK_BYTES)
    for seq, start in enumerate(starts):
        yield privacy_pb2.JoinMessageChunk(
            session_id=session_id if seq == 0 else "",
            data=bytes(view[start : start + MAX_CHUNK_BYTES]),
            seq=seq,
            last=start + MAX_CHUNK_BYTES >= len(data),
        )


def gather_message(chunks: Iterable[privacy_pb2.JoinMessageChunk]) -> tuple[str, bytes]:
    """``(session_id, message)`` from chunks, checking their order."""
    parts: list[bytes] = []
    session_id = ""
    last = False
    for i, chunk in enumerate(chunks):
        if chunk.seq != i or last:
            raise InvalidInputError.single("chunk.seq", i, f"chunk {chunk.seq} arrived as {i}")
        if i == 0:
            session_id = chunk.session_id
        parts.append(chunk.data)
        last = chunk.last
    if not last:
        raise InvalidInputError.single(
            "chunk.last", None, "the message ended without its last chunk"
        )
    return session_id, b"".join(parts)
