"""Private joins on the wire: policies and audit entries as protos, protocol messages in
chunks, and the receiving party's run against a sender's server (used by the client, and
by the server's ``RunJoin`` against a registered peer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import grpc
import pyarrow as pa
from google.protobuf import timestamp_pb2

from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.errors import InvalidInputError, ResourceExhaustedError
from zone_opt.join import JoinOptions, JoinQuery, JoinReceiver, JoinResult, setup_key_kind
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.rpc.enums import join_mode_from_proto, join_mode_to_proto
from zone_opt.rpc.ipc import MAX_CHUNK_BYTES
from zone_opt.rpc.status import from_rpc_error

__all__ = [
    "audit_to_proto",
    "gather_message",
    "join_policy_from_proto",
    "join_policy_to_proto",
    "message_chunks",
    "receive_join",
]


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """Epoch seconds as a Timestamp, whole seconds and nanoseconds apart (a float of
    ~1.7e18 nanoseconds would lose its fraction); :func:`_seconds` reads it back."""
    whole = math.floor(seconds)
    nanos = round((seconds - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return timestamp_pb2.Timestamp(seconds=whole, nanos=nanos)


def _seconds(ts: timestamp_pb2.Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def join_policy_from_proto(p: join_pb2.JoinPolicy) -> JoinPolicy:
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


def join_policy_to_proto(p: JoinPolicy) -> join_pb2.JoinPolicy:
    return join_pb2.JoinPolicy(
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


def audit_to_proto(e: AuditEntry) -> join_pb2.JoinAuditEntry:
    entry = join_pb2.JoinAuditEntry(
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


def audit_from_proto(e: join_pb2.JoinAuditEntry) -> AuditEntry:
    """The :class:`AuditEntry` of a received entry (a mode this release does not know is
    kept as its number)."""
    known = e.mode in join_pb2.JoinMode.values()
    return AuditEntry(
        session_id=e.session_id,
        peer=e.peer,
        dataset_id=e.dataset_id,
        mode=join_pb2.JoinMode.Name(e.mode).removeprefix("JOIN_MODE_").lower()
        if known
        else str(e.mode),
        columns=tuple(e.columns),
        sender_keys=e.sender_keys,
        receiver_keys=e.receiver_keys,
        opened_s=_seconds(e.opened),
        evaluated_s=_seconds(e.evaluated) if e.HasField("evaluated") else None,
        outcome=e.outcome,
    )


def message_chunks(session_id: str, data: bytes) -> Iterator[join_pb2.JoinMessageChunk]:
    """A protocol message in chunks of at most MAX_CHUNK_BYTES (the first names the session)."""
    view = memoryview(data)
    starts = range(0, max(len(data), 1), MAX_CHUNK_BYTES)
    for seq, start in enumerate(starts):
        yield join_pb2.JoinMessageChunk(
            session_id=session_id if seq == 0 else "",
            data=bytes(view[start : start + MAX_CHUNK_BYTES]),
            seq=seq,
            last=start + MAX_CHUNK_BYTES >= len(data),
        )


#: Largest protocol message gathered from chunks (a DH request for 2^24 keys is 512 MiB;
#: larger sets use the streaming protocol, one bucket per message).
MAX_MESSAGE_BYTES = 1 << 30


def gather_message(
    chunks: Iterable[join_pb2.JoinMessageChunk], max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[str, bytes]:
    """``(session_id, message)`` from chunks, checking their order and total size
    (RESOURCE_EXHAUSTED past ``max_bytes``, before it is held in memory)."""
    parts: list[bytes] = []
    session_id = ""
    last = False
    size = 0
    for i, chunk in enumerate(chunks):
        if chunk.seq != i or last:
            raise InvalidInputError.single("chunk.seq", i, f"chunk {chunk.seq} arrived as {i}")
        if i == 0:
            session_id = chunk.session_id
        size += len(chunk.data)
        if size > max_bytes:
            raise ResourceExhaustedError(f"join message larger than the limit of {max_bytes} bytes")
        parts.append(chunk.data)
        last = chunk.last
    if not last:
        raise InvalidInputError.single(
            "chunk.last", None, "the message ended without its last chunk"
        )
    return session_id, b"".join(parts)


def receive_join(
    stub: join_pb2_grpc.JoinServiceStub,
    metadata: tuple[tuple[str, str | bytes], ...],
    keys: pa.Array | pa.ChunkedArray,
    dataset_id: str,
    query: JoinQuery,
    *,
    values: pa.Array | pa.ChunkedArray | None = None,
    timeout_s: float = 600.0,
) -> JoinResult:
    """Run the receiving party of a private join asking ``query`` of ``dataset_id`` on the
    sender's server behind ``stub`` (``metadata`` carries the token the sender knows us by).

    Keys are canonicalised as the sender's policy says (read from the setup message's
    header); messages travel in chunks of about 4 MiB; the keys never leave this process.
    Errors the sender sends are raised as their :mod:`zone_opt.errors` classes.
    """
    open_request = join_pb2.OpenJoinSessionRequest(
        dataset_id=dataset_id,
        mode=join_mode_to_proto(query.mode),  # type: ignore[arg-type]
        columns=list(query.columns),
        verifiable=query.verifiable,
    )
    try:
        session_id, setup = gather_message(
            stub.OpenJoinSession(open_request, timeout=timeout_s, metadata=metadata)
        )
        options = JoinOptions(
            mode=query.mode, verifiable=query.verifiable, key_kind=setup_key_kind(setup)
        )
        receiver = JoinReceiver(keys, options=options, join=query.join, values=values)
        request = receiver.request(setup)
        _, response = gather_message(
            stub.EvaluateJoin(
                message_chunks(session_id, request), timeout=timeout_s, metadata=metadata
            )
        )
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None
    return receiver.finish(setup, response)
