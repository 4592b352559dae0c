"""Private join: the sender's sessions (policy-checked, a fresh key each, audited) and the
receiver's ``RunJoin`` against a registered peer, both answered inline.

Sender side: the owner publishes a policy (:class:`~zone_opt.service.storage.policies.
PolicyStore`); a peer (another tenant of this server) opens a session, which checks the
policy (peer, mode, columns, protocol, then the key kind the peer states, then the quota
per epoch), builds a fresh :class:`zone_opt.join.JoinSender` and writes an audit row. A
refusal is audited as ``refused: ...`` and spends no quota. The session lives in memory
until its last message is answered or it expires:

- ``protocol="dh"``: ``opened`` -> EvaluateJoin(request) -> response, ``evaluated``;
- ``protocol="vole"``: ``opened`` -> EvaluateJoin(request) -> VOLE message (the audit row
  gets the receiver's size) -> EvaluateJoin(correction) -> tags, ``evaluated``.

A bucketed session (``OpenJoinSessionRequest.buckets > 0``, sets larger than memory) is
:mod:`zone_opt.service.operations.join_stream`: the sender's keys spilled by bucket under
the server's data directory (on its executor with ``--ray-address``), one message per
bucket, closed when every message is answered and every setup part served; at most
``max_bucketed`` run at once. Each session is one quota unit whatever its protocol or
buckets. A message the engine refuses (out of order, another session's, malformed) closes
the session; the last message of a bucketed session sent again gets the same answer.
Sessions idle for ``ttl_s`` expire. Receiver side (:func:`run_join`):
the caller's dataset is joined with a peer server's through
:func:`zone_opt.rpc.join.receive_join`, on a peer the operator registered
(:mod:`zone_opt.service.transport.peers`), never an address a request wrote; the joined
rows are stored as a dataset of the caller.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.distributed import Executor
from zone_opt.errors import (
    FailedPreconditionError,
    InvalidInputError,
    JoinPolicyError,
    NotFoundError,
    ResourceExhaustedError,
)
from zone_opt.join import JoinOptions, JoinQuery, JoinSender, StreamingJoinSender, joined
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.rpc.channel import TlsConfig, open_channel
from zone_opt.rpc.enums import join_mode_from_proto, join_protocol_from_proto
from zone_opt.rpc.join import receive_join, receive_join_following_setup
from zone_opt.rpc.join_stream import receive_bucketed_join
from zone_opt.service.operations.join_stream import BucketedSession, bucketed_request
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.policies import PolicyStore
from zone_opt.service.transport.peers import PeerRegistry

__all__ = ["JoinSessions", "SessionParams", "run_join"]


@dataclass(frozen=True)
class SessionParams:
    """An ``OpenJoinSession`` request, checked: the dataset, what the peer asks (mode,
    columns, verifiable, protocol, key kind) and whether it stated its key kind (clients
    from before ``OpenJoinSessionRequest.key_kind`` do not; theirs is not checked) and
    its buckets (0: in memory)."""

    dataset_id: str
    query: JoinQuery
    key_kind_stated: bool
    buckets: int = 0

    @classmethod
    def from_request(cls, request: join_pb2.OpenJoinSessionRequest) -> SessionParams:
        """INVALID_ARGUMENT naming the field: an unknown mode, protocol or key kind, or
        ``protocol="vole"`` with another mode than intersection or with ``verifiable``;
        ``buckets`` not 0 or a power of two up to 65536, or with another mode than
        intersection, with ``verifiable`` or without ``key_kind``."""
        query = JoinQuery(
            mode=join_mode_from_proto(request.mode, "mode"),  # type: ignore[arg-type]
            columns=tuple(request.columns),
            verifiable=request.verifiable,
            protocol=join_protocol_from_proto(request.protocol, "protocol"),  # type: ignore[arg-type]
            key_kind=request.key_kind or "uscc",  # type: ignore[arg-type]
        )
        stated = bool(request.key_kind)
        buckets = bucketed_request(request.buckets, query, stated)
        return cls(request.dataset_id, query, stated, buckets)


@dataclass
class _Session:
    """An in-memory session (its setup sent with OpenJoinSession)."""

    server: JoinSender
    peer: str
    touched_s: float
    #: Messages it answers after the setup: DH 1 (request), VOLE 2 (request, correction).
    steps: int
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def receiver_count(self) -> int:
        return self.server.receiver_count

    @property
    def evaluated(self) -> bool:
        return self.answered == self.steps

    @property
    def done(self) -> bool:
        return self.evaluated

    def respond(self, message: bytes) -> bytes:
        answer = self.server.respond(message)
        self.answered += 1
        return answer

    def close(self) -> None:
        """Nothing to remove: the session lives in memory."""


_Open = _Session | BucketedSession


def _refusal(peer: str, policy: JoinPolicy, query: JoinQuery) -> str | None:
    """Why the policy refuses the query, or None (the peer first: a peer the policy does
    not name learns nothing else about it)."""
    dataset_id, mode, columns = policy.dataset_id, query.mode, query.columns
    if peer not in policy.allowed_peers:
        return f"peer {peer!r} may not join dataset {dataset_id}"
    if mode not in policy.modes:
        return f"mode {mode} is not allowed on dataset {dataset_id}"
    if mode == "labelled" and not columns:
        return "a labelled join names the payload columns it wants"
    if mode != "labelled" and columns:
        return "payload columns are only returned by a labelled join"
    if hidden := [c for c in columns if c not in policy.payload_columns]:
        return f"columns {hidden} are not released"
    if query.protocol not in policy.protocols:
        return f"protocol {query.protocol} is not allowed on dataset {dataset_id}"
    return None


class JoinSessions:
    """Open sessions of the sending side; each message of a session is answered once, in
    order (DH: the request; VOLE: the request, then the correction; bucketed: per bucket).

    Args:
        policies, datasets: the server's stores.
        ttl_s: a session idle this long expires (a bucketed one's spill files removed).
        spill_dir: where bucketed sessions spill their keys (default: the system's
            temporary directory); emptied of earlier servers' leftovers at start.
        executor: the server's executor for bucketed DH sessions (None: in this process).
        max_bucketed: bucketed sessions open at once (RESOURCE_EXHAUSTED beyond).
    """

    def __init__(
        self,
        policies: PolicyStore,
        datasets: DatasetStore,
        ttl_s: float = 600.0,
        *,
        spill_dir: Path | None = None,
        executor: Executor | None = None,
        max_bucketed: int = 4,
    ):
        self.policies = policies
        self.datasets = datasets
        self.ttl_s = ttl_s
        self.spill_dir = spill_dir
        self.executor = executor
        self.max_bucketed = max_bucketed
        self._lock = threading.Lock()
        self._open: dict[str, _Open] = {}
        self._opening = 0
        if spill_dir is not None:
            spill_dir.mkdir(parents=True, exist_ok=True)
            for stale in spill_dir.glob("zone-opt-psi-*"):
                shutil.rmtree(stale, ignore_errors=True)

    def open(self, peer: str, params: SessionParams) -> tuple[str, bytes]:
        """Check the policy, start a session; ``(session_id, setup message)``.

        Raises:
            NotFoundError: no policy for the dataset.
            JoinPolicyError: the peer, mode, a column or the protocol is not allowed.
            FailedPreconditionError: the peer's keys are of another kind than the
                dataset's (``subject="key_kind"``).
            ResourceExhaustedError: the peer used its quota for this epoch.
        """
        query, dataset_id = params.query, params.dataset_id
        owner, policy = self.policies.get(dataset_id)
        why = _refusal(peer, policy, query)
        if why is not None:
            self.policies.refuse(owner, peer, dataset_id, query.mode, why, query.protocol)
            raise JoinPolicyError(why)
        if params.key_kind_stated and query.key_kind != policy.key_kind:
            self.policies.refuse(owner, peer, dataset_id, query.mode, "key_kind", query.protocol)
            raise FailedPreconditionError(
                f"dataset {dataset_id} has {policy.key_kind!r} keys; the query's key_kind is"
                f" {query.key_kind!r}",
                subject="key_kind",
                kind="JOIN_KEY_KIND",
            )
        table = self.datasets.read(owner, dataset_id)
        if params.buckets:
            return self._open_bucketed(peer, params, owner, policy, table)
        keys = table.column(policy.key_column)
        payload = table.select(list(query.columns)) if query.mode == "labelled" else None
        options = JoinOptions(
            mode=query.mode,
            verifiable=query.verifiable,
            key_kind=policy.key_kind,  # type: ignore[arg-type]
            protocol=query.protocol,
        )
        server = JoinSender(
            keys, payload, options=options, min_intersection=policy.min_intersection
        )
        now = time.time()
        session_id = self._audit_opened(peer, params, owner, policy, server.distinct_count, now)
        setup = server.setup_message()
        steps = 2 if query.protocol == "vole" else 1
        self._add(session_id, _Session(server, peer, now, steps), now)
        return session_id, setup

    def _audit_opened(
        self,
        peer: str,
        params: SessionParams,
        owner: str,
        policy: JoinPolicy,
        sender_keys: int,
        now: float,
    ) -> str:
        """A new session's id, its audit row written and its quota spent."""
        query = params.query
        session_id = uuid.uuid4().hex
        try:
            opened = AuditEntry(
                session_id=session_id,
                peer=peer,
                dataset_id=params.dataset_id,
                mode=query.mode,
                columns=query.columns,
                sender_keys=sender_keys,
                receiver_keys=0,
                opened_s=now,
                evaluated_s=None,
                outcome="opened",
                protocol=query.protocol,
            )
            self.policies.open_session(opened, owner=owner, policy=policy)
        except ResourceExhaustedError:
            self.policies.refuse(
                owner, peer, params.dataset_id, query.mode, "quota", query.protocol
            )
            raise
        return session_id

    def _open_bucketed(
        self, peer: str, params: SessionParams, owner: str, policy: JoinPolicy, table: pa.Table
    ) -> tuple[str, bytes]:
        """A bucketed session: a slot reserved (at most ``max_bucketed``), the quota spent,
        then the dataset read and spilled; the setup parts come with GetJoinSetupPart."""
        with self._lock:
            self._expire(time.time())
            running = sum(isinstance(v, BucketedSession) for v in self._open.values())
            if running + self._opening >= self.max_bucketed:
                raise ResourceExhaustedError(
                    f"{self.max_bucketed} bucketed join sessions are running on this server;"
                    " try again when one ends"
                )
            self._opening += 1
        try:
            now = time.time()
            session_id = self._audit_opened(peer, params, owner, policy, table.num_rows, now)
            sender = StreamingJoinSender(
                table,
                policy.key_column,
                buckets=params.buckets,
                key_kind=policy.key_kind,  # type: ignore[arg-type]
                protocol=params.query.protocol,
                spill_dir=self.spill_dir,
                executor=self.executor if params.query.protocol == "dh" else None,
            )
            # idle from now: reading a large dataset does not count against the TTL
            session = BucketedSession(sender, peer, time.time())
            self._add(session_id, session, time.time())
        finally:
            with self._lock:
                self._opening -= 1
        return session_id, b""

    def _add(self, session_id: str, session: _Open, now: float) -> None:
        with self._lock:
            self._expire(now)
            self._open[session_id] = session

    def _session(self, peer: str, session_id: str) -> _Open:
        with self._lock:
            self._expire(time.time())
            session = self._open.get(session_id)
        if session is None or session.peer != peer:
            raise NotFoundError(f"join session {session_id} not found (expired or used)")
        return session

    def _still_open(self, session_id: str, session: _Open) -> None:
        """Under the session's lock: it was not closed (or expired) while we waited."""
        with self._lock:
            if self._open.get(session_id) is not session:
                raise NotFoundError(f"join session {session_id} not found (expired or used)")
            session.touched_s = time.time()

    def evaluate(self, peer: str, session_id: str, message: bytes) -> bytes:
        """Answer a session's next message (DH: its request; VOLE: its request, then its
        correction; bucketed: each bucket's); the session is closed when it is done, or at
        once when the engine refuses a message."""
        session = self._session(peer, session_id)
        with session.lock:
            self._still_open(session_id, session)
            was_evaluated = session.evaluated
            try:
                answer = session.respond(message)
            except BaseException:
                self._close(session_id)
                raise
            receiver_keys = session.receiver_count
            if session.evaluated and not was_evaluated:
                self.policies.evaluated(session_id, receiver_keys)
            elif not session.evaluated and isinstance(session, _Session):
                self.policies.requested(session_id, receiver_keys)
            if session.done:
                self._close(session_id)
        return answer

    def setup_part(self, peer: str, session_id: str, bucket: int) -> bytes:
        """Bucket ``bucket``'s setup part of a bucketed session (in order; the last one
        again); the session is closed when it is done."""
        session = self._session(peer, session_id)
        if not isinstance(session, BucketedSession):
            raise FailedPreconditionError(
                f"join session {session_id} is not bucketed: its setup came with OpenJoinSession",
                subject="session_id",
                kind="JOIN_ORDER",
            )
        with session.lock:
            self._still_open(session_id, session)
            try:
                part = session.setup_part(bucket)
            except (InvalidInputError, FailedPreconditionError):
                raise
            except BaseException:
                self._close(session_id)
                raise
            if session.done:
                self._close(session_id)
        return part

    def close_all(self) -> None:
        """Close every session (the server stops): spill files removed."""
        with self._lock:
            sessions, self._open = list(self._open.values()), {}
        for session in sessions:
            session.close()

    def _close(self, session_id: str) -> None:
        with self._lock:
            session = self._open.pop(session_id, None)
        if session is not None:
            session.close()

    def _expire(self, now: float) -> None:
        """Under ``self._lock``: drop sessions idle past ``ttl_s``."""
        for sid in [s for s, v in self._open.items() if now - v.touched_s > self.ttl_s]:
            self._open.pop(sid).close()


def run_join(
    request: join_pb2.RunJoinRequest,
    tenant: str,
    datasets: DatasetStore,
    peers: PeerRegistry,
    timeout_s: float,
    sessions: JoinSessions | None = None,
) -> join_pb2.RunJoinResponse:
    """Join ``tenant``'s dataset with a registered peer's; see the module docstring.

    A request naming a raw address (``peer_address``) is refused before anything is
    looked up or dialled. With ``buckets`` the bucketed intersection runs, DH on the
    executor of ``sessions`` (this server's), spilling where its sessions do.
    """
    if request.peer_address:
        raise InvalidInputError.single(
            "peer_address",
            None,
            "not accepted: this server dials only join peers its operator registered;"
            " name one in 'peer'",
        )
    mode = join_mode_from_proto(request.mode, "mode")
    for name in ("left_dataset_id", "on", "peer", "peer_dataset_id"):
        if not getattr(request, name):
            raise InvalidInputError.single(name, None, "required")
    query = JoinQuery(
        mode=mode,  # type: ignore[arg-type]
        columns=tuple(request.columns),
        join=request.join or "inner",  # type: ignore[arg-type]
        verifiable=request.verifiable,
        protocol=join_protocol_from_proto(request.protocol, "protocol"),  # type: ignore[arg-type]
        key_kind=request.key_kind or "uscc",  # type: ignore[arg-type]
    )
    buckets = bucketed_request(request.buckets, query, bool(request.key_kind))
    peer = peers.get(tenant, request.peer)
    left = datasets.read(tenant, request.left_dataset_id, field="left_dataset_id")
    if request.on not in left.column_names:
        raise InvalidInputError.single("on", None, f"no column {request.on!r}")
    values = None
    if mode == "sum":
        if request.value_column not in left.column_names:
            raise InvalidInputError.single(
                "value_column", None, f"no column {request.value_column!r}"
            )
        values = left.column(request.value_column)
    tls = TlsConfig(ca_cert=peer.ca_file, server_name=peer.server_name) if peer.tls else None
    token = peer.token or request.peer_token
    metadata: tuple[tuple[str, str | bytes], ...] = (
        (("authorization", f"Bearer {token}"),) if token else ()
    )
    # A client from before RunJoinRequest.key_kind: keys checked as the peer's setup says.
    receive = receive_join if request.key_kind else receive_join_following_setup
    with open_channel(peer.address, tls) as channel:
        stub = join_pb2_grpc.JoinServiceStub(channel)
        if buckets:
            result = receive_bucketed_join(
                stub,
                metadata,
                left,
                request.on,
                request.peer_dataset_id,
                buckets=buckets,
                timeout_s=timeout_s,
                protocol=query.protocol,
                key_kind=query.key_kind,
                executor=sessions.executor if sessions and query.protocol == "dh" else None,
                spill_dir=sessions.spill_dir if sessions else None,
            )
        else:
            result = receive(
                stub,
                metadata,
                left.column(request.on),
                request.peer_dataset_id,
                query,
                values=values,
                timeout_s=timeout_s,
            )
    response = join_pb2.RunJoinResponse()
    if mode in ("intersection", "labelled"):
        table = joined(left, result)
        result_id = uuid.uuid4().hex
        datasets.put_result(tenant, result_id, f"private join of {request.left_dataset_id}", table)
        response.result_dataset_id = result_id
        response.rows = table.num_rows
    if result.count is not None:
        response.count = result.count
    if result.sum is not None:
        response.sum = result.sum
    return response
