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

Each session is one quota unit whatever its protocol. A message the engine refuses (out of
order, another session's, malformed) closes the session. Receiver side (:func:`run_join`):
the caller's dataset is joined with a peer server's through
:func:`zone_opt.rpc.join.receive_join`, on a peer the operator registered
(:mod:`zone_opt.service.transport.peers`), never an address a request wrote; the joined
rows are stored as a dataset of the caller.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.errors import (
    FailedPreconditionError,
    InvalidInputError,
    JoinPolicyError,
    NotFoundError,
    ResourceExhaustedError,
)
from zone_opt.join import JoinOptions, JoinQuery, JoinSender, joined
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.rpc.channel import TlsConfig, open_channel
from zone_opt.rpc.enums import join_mode_from_proto, join_protocol_from_proto
from zone_opt.rpc.join import receive_join, receive_join_following_setup
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.policies import PolicyStore
from zone_opt.service.transport.peers import PeerRegistry

__all__ = ["JoinSessions", "SessionParams", "run_join"]


@dataclass(frozen=True)
class SessionParams:
    """An ``OpenJoinSession`` request, checked: the dataset, what the peer asks (mode,
    columns, verifiable, protocol, key kind) and whether it stated its key kind (clients
    from before ``OpenJoinSessionRequest.key_kind`` do not; theirs is not checked)."""

    dataset_id: str
    query: JoinQuery
    key_kind_stated: bool

    @classmethod
    def from_request(cls, request: join_pb2.OpenJoinSessionRequest) -> SessionParams:
        """INVALID_ARGUMENT naming the field: an unknown mode, protocol or key kind, or
        ``protocol="vole"`` with another mode than intersection or with ``verifiable``."""
        query = JoinQuery(
            mode=join_mode_from_proto(request.mode, "mode"),  # type: ignore[arg-type]
            columns=tuple(request.columns),
            verifiable=request.verifiable,
            protocol=join_protocol_from_proto(request.protocol, "protocol"),  # type: ignore[arg-type]
            key_kind=request.key_kind or "uscc",  # type: ignore[arg-type]
        )
        return cls(request.dataset_id, query, bool(request.key_kind))


@dataclass
class _Session:
    server: JoinSender
    peer: str
    created_s: float
    #: Messages it answers after the setup: DH 1 (request), VOLE 2 (request, correction).
    steps: int
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


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
    """Open sessions of the sending side, in memory; each message of a session is answered
    once, in order (DH: the request; VOLE: the request, then the correction)."""

    def __init__(self, policies: PolicyStore, datasets: DatasetStore, ttl_s: float = 600.0):
        self.policies = policies
        self.datasets = datasets
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._open: dict[str, _Session] = {}

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
        session_id = uuid.uuid4().hex
        try:
            opened = AuditEntry(
                session_id=session_id,
                peer=peer,
                dataset_id=dataset_id,
                mode=query.mode,
                columns=query.columns,
                sender_keys=server.distinct_count,
                receiver_keys=0,
                opened_s=now,
                evaluated_s=None,
                outcome="opened",
                protocol=query.protocol,
            )
            self.policies.open_session(opened, owner=owner, policy=policy)
        except ResourceExhaustedError:
            self.policies.refuse(owner, peer, dataset_id, query.mode, "quota", query.protocol)
            raise
        setup = server.setup_message()
        steps = 2 if query.protocol == "vole" else 1
        with self._lock:
            self._expire(now)
            self._open[session_id] = _Session(server, peer, now, steps)
        return session_id, setup

    def evaluate(self, peer: str, session_id: str, message: bytes) -> bytes:
        """Answer a session's next message (DH: its request; VOLE: its request, then its
        correction); the session is closed after its last answer, or at once when the
        engine refuses a message."""
        with self._lock:
            self._expire(time.time())
            session = self._open.get(session_id)
        if session is None or session.peer != peer:
            raise NotFoundError(f"join session {session_id} not found (expired or used)")
        with session.lock:
            with self._lock:
                if self._open.get(session_id) is not session:  # closed while we waited
                    raise NotFoundError(f"join session {session_id} not found (expired or used)")
            try:
                answer = session.server.respond(message)
            except BaseException:
                self._close(session_id)
                raise
            session.answered += 1
            receiver_keys = session.server.receiver_count
            if session.answered < session.steps:
                self.policies.requested(session_id, receiver_keys)
                return answer
            self._close(session_id)
        self.policies.evaluated(session_id, receiver_keys)
        return answer

    def _close(self, session_id: str) -> None:
        with self._lock:
            self._open.pop(session_id, None)

    def _expire(self, now: float) -> None:
        for sid in [s for s, v in self._open.items() if now - v.created_s > self.ttl_s]:
            del self._open[sid]


def run_join(
    request: join_pb2.RunJoinRequest,
    tenant: str,
    datasets: DatasetStore,
    peers: PeerRegistry,
    timeout_s: float,
) -> join_pb2.RunJoinResponse:
    """Join ``tenant``'s dataset with a registered peer's; see the module docstring.

    A request naming a raw address (``peer_address``) is refused before anything is
    looked up or dialled.
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
        result = receive(
            join_pb2_grpc.JoinServiceStub(channel),
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
