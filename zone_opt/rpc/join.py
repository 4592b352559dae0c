"""Private joins on the wire: policies and audit entries as protos, protocol messages in
chunks, and the receiving party's run against a sender's server (used by the client, and
by the server's ``RunJoin`` against a registered peer).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import grpc
import pyarrow as pa
from google.protobuf import timestamp_pb2

from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.errors import InvalidInputError, ResourceExhaustedError
from zone_opt.join import (
    JoinQuery,
    JoinReceiver,
    JoinResult,
    setup_key_kind,
    setup_protocol,
)
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.rpc.enums import (
    join_mode_from_proto,
    join_mode_to_proto,
    join_protocol_from_proto,
    join_protocol_to_proto,
)
from zone_opt.rpc.ipc import MAX_CHUNK_BYTES
from zone_opt.rpc.status import from_rpc_error

__all__ = [
    "SenderCalls",
    "audit_to_proto",
    "gather_message",
    "join_policy_from_proto",
    "join_policy_to_proto",
    "message_chunks",
    "open_session_request",
    "receive_join",
    "receive_join_following_setup",
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
        protocols=tuple(
            join_protocol_from_proto(v, f"policy.protocols[{i}]") for i, v in enumerate(p.protocols)
        )
        or ("dh",),
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
        protocols=[join_protocol_to_proto(v) for v in p.protocols],
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
        protocol=join_protocol_to_proto(e.protocol),
    )
    if e.evaluated_s is not None:
        entry.evaluated.CopyFrom(_timestamp(e.evaluated_s))
    return entry


def audit_from_proto(e: join_pb2.JoinAuditEntry) -> AuditEntry:
    """The :class:`AuditEntry` of a received entry (a mode or protocol this release does
    not know is kept as its number)."""
    known = e.mode in join_pb2.JoinMode.values()
    protocol = (
        join_protocol_from_proto(e.protocol, "protocol")
        if e.protocol in join_pb2.JoinProtocol.values()
        else str(e.protocol)
    )
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
        protocol=protocol,
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


@dataclass(frozen=True)
class SenderCalls:
    """The sender's server behind ``stub``, as this receiver calls it (errors it sends are
    raised as their :mod:`zone_opt.errors` classes)."""

    stub: join_pb2_grpc.JoinServiceStub
    metadata: tuple[tuple[str, str | bytes], ...]
    timeout_s: float

    def open(self, request: join_pb2.OpenJoinSessionRequest) -> tuple[str, bytes]:
        """``(session_id, setup)``."""
        try:
            return gather_message(
                self.stub.OpenJoinSession(request, timeout=self.timeout_s, metadata=self.metadata)
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def evaluate(self, session_id: str, message: bytes) -> bytes:
        """The sender's answer to one message of the session."""
        try:
            _, answer = gather_message(
                self.stub.EvaluateJoin(
                    message_chunks(session_id, message),
                    timeout=self.timeout_s,
                    metadata=self.metadata,
                )
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return answer

    def setup_part(self, session_id: str, bucket: int) -> bytes:
        """One bucket's setup part of a bucketed session."""
        request = join_pb2.GetJoinSetupPartRequest(session_id=session_id, bucket=bucket)
        try:
            _, part = gather_message(
                self.stub.GetJoinSetupPart(request, timeout=self.timeout_s, metadata=self.metadata)
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return part


def open_session_request(
    dataset_id: str, query: JoinQuery, key_kind: str, buckets: int = 0
) -> join_pb2.OpenJoinSessionRequest:
    return join_pb2.OpenJoinSessionRequest(
        buckets=buckets,
        dataset_id=dataset_id,
        mode=join_mode_to_proto(query.mode),  # type: ignore[arg-type]
        columns=list(query.columns),
        verifiable=query.verifiable,
        protocol=join_protocol_to_proto(query.protocol),
        key_kind=key_kind,
    )


def _check_protocol(setup: bytes, query: JoinQuery) -> None:
    """The session the server opened runs the protocol asked for (a server from before
    ``OpenJoinSessionRequest.protocol`` ignores it)."""
    protocol = setup_protocol(setup)
    if protocol != query.protocol:
        raise InvalidInputError.single(
            "protocol",
            None,
            f"the server opened a {protocol!r} session for a {query.protocol!r} query: it "
            "predates JoinQuery.protocol (upgrade it, or ask with protocol='dh')",
        )


def _check_setup(setup: bytes, query: JoinQuery) -> None:
    """The session the server opened is the one asked for: protocol and key kind."""
    _check_protocol(setup, query)
    key_kind = setup_key_kind(setup)
    if key_kind != query.key_kind:
        raise InvalidInputError.single(
            "key_kind",
            None,
            f"the dataset's keys are {key_kind!r}, the query says {query.key_kind!r} (the "
            "server predates JoinQuery.key_kind and did not check it); ask again with "
            f"key_kind={key_kind!r}",
        )


def _run(sender: SenderCalls, session_id: str, setup: bytes, receiver: JoinReceiver) -> JoinResult:
    """The receiver's side of an opened session: DH one evaluation, VOLE two."""
    if receiver.protocol == "vole":
        vole = sender.evaluate(session_id, receiver.request(setup))
        response = sender.evaluate(session_id, receiver.correction(vole))
    else:
        response = sender.evaluate(session_id, receiver.request(setup))
    return receiver.finish(setup, response)


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

    The keys are canonicalised and checked as ``query.key_kind`` (and the values of sum
    mode) before anything is sent: bad keys are an :class:`InvalidInputError` naming
    ``keys`` and the row, and the sender opens no session and counts no quota. The sender
    refuses a query whose key kind or protocol its policy does not allow. Messages travel
    in chunks of about 4 MiB; the keys never leave this process. ``protocol="vole"``
    evaluates the session twice (request, then correction). Errors the sender sends are
    raised as their :mod:`zone_opt.errors` classes.
    """
    receiver = JoinReceiver(keys, options=query.options(), join=query.join, values=values)
    sender = SenderCalls(stub, metadata, timeout_s)
    session_id, setup = sender.open(open_session_request(dataset_id, query, query.key_kind))
    _check_setup(setup, query)
    return _run(sender, session_id, setup, receiver)


def receive_join_following_setup(
    stub: join_pb2_grpc.JoinServiceStub,
    metadata: tuple[tuple[str, str | bytes], ...],
    keys: pa.Array | pa.ChunkedArray,
    dataset_id: str,
    query: JoinQuery,
    *,
    values: pa.Array | pa.ChunkedArray | None = None,
    timeout_s: float = 600.0,
) -> JoinResult:
    """:func:`receive_join` for a ``RunJoin`` from a client that predates
    ``RunJoinRequest.key_kind``: the keys are canonicalised as the sender's setup names
    (``query.key_kind`` is not used), so they are checked only after the session is
    opened, as those releases did. Until zone-opt 0.2."""
    sender = SenderCalls(stub, metadata, timeout_s)
    session_id, setup = sender.open(open_session_request(dataset_id, query, ""))
    _check_protocol(setup, query)
    options = dataclasses.replace(query.options(), key_kind=setup_key_kind(setup))
    receiver = JoinReceiver(keys, options=options, join=query.join, values=values)
    return _run(sender, session_id, setup, receiver)
