"""Private join: the sender's sessions (policy-checked, a fresh key each, audited) and the
receiver's ``RunJoin`` against a registered peer, both answered inline.

Sender side: the owner publishes a policy (:class:`~zone_opt.service.storage.policies.
PolicyStore`); a peer (another tenant of this server) opens a session, which checks the
policy (peer, mode, columns, quota per epoch), builds a fresh
:class:`zone_opt.join.JoinSender` and writes an audit row; the session lives in memory
until evaluated once or expired. Receiver side (:func:`run_join`): the caller's dataset is
joined with a peer server's through :func:`zone_opt.rpc.join.receive_join`, on a peer the
operator registered (:mod:`zone_opt.service.transport.peers`), never an address a request
wrote; the joined rows are stored as a dataset of the caller.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.errors import (
    InvalidInputError,
    JoinPolicyError,
    NotFoundError,
    ResourceExhaustedError,
)
from zone_opt.join import JoinOptions, JoinQuery, JoinSender, joined
from zone_opt.join.policy import AuditEntry
from zone_opt.rpc.channel import TlsConfig, open_channel
from zone_opt.rpc.enums import join_mode_from_proto
from zone_opt.rpc.join import receive_join
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.policies import PolicyStore
from zone_opt.service.transport.peers import PeerRegistry

__all__ = ["JoinSessions", "run_join"]


@dataclass
class _Session:
    server: JoinSender
    peer: str
    created_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class JoinSessions:
    """Open sessions of the sending side, in memory, each evaluated at most once."""

    def __init__(self, policies: PolicyStore, datasets: DatasetStore, ttl_s: float = 600.0):
        self.policies = policies
        self.datasets = datasets
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._open: dict[str, _Session] = {}

    def open(
        self, peer: str, dataset_id: str, mode: str, columns: tuple[str, ...], verifiable: bool
    ) -> tuple[str, bytes]:
        """Check the policy, start a session; ``(session_id, setup message)``.

        Raises:
            NotFoundError: no policy for the dataset.
            JoinPolicyError: the peer, mode or a column is not allowed.
            ResourceExhaustedError: the peer used its quota for this epoch.
        """
        owner, policy = self.policies.get(dataset_id)
        why = None
        if peer not in policy.allowed_peers:
            why = f"peer {peer!r} may not join dataset {dataset_id}"
        elif mode not in policy.modes:
            why = f"mode {mode} is not allowed on dataset {dataset_id}"
        elif mode == "labelled" and not columns:
            why = "a labelled join names the payload columns it wants"
        elif mode != "labelled" and columns:
            why = "payload columns are only returned by a labelled join"
        elif hidden := [c for c in columns if c not in policy.payload_columns]:
            why = f"columns {hidden} are not released"
        if why is not None:
            self.policies.refuse(owner, peer, dataset_id, mode, why)
            raise JoinPolicyError(why)
        table = self.datasets.read(owner, dataset_id)
        keys = table.column(policy.key_column)
        payload = table.select(list(columns)) if mode == "labelled" else None
        options = JoinOptions(
            mode=mode,  # type: ignore[arg-type]
            verifiable=verifiable,
            key_kind=policy.key_kind,  # type: ignore[arg-type]
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
                mode=mode,
                columns=columns,
                sender_keys=server.distinct_count,
                receiver_keys=0,
                opened_s=now,
                evaluated_s=None,
                outcome="opened",
            )
            self.policies.open_session(opened, owner=owner, policy=policy)
        except ResourceExhaustedError:
            self.policies.refuse(owner, peer, dataset_id, mode, "quota")
            raise
        setup = server.setup_message()
        with self._lock:
            self._expire(now)
            self._open[session_id] = _Session(server, peer, now)
        return session_id, setup

    def evaluate(self, peer: str, session_id: str, request: bytes) -> bytes:
        """Answer a session's request, once; the session is closed afterwards."""
        with self._lock:
            self._expire(time.time())
            session = self._open.pop(session_id, None)
        if session is None or session.peer != peer:
            raise NotFoundError(f"join session {session_id} not found (expired or used)")
        response = session.server.respond(request)
        self.policies.evaluated(session_id, session.server.receiver_count)
        return response

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
    with open_channel(peer.address, tls) as channel:
        result = receive_join(
            join_pb2_grpc.JoinServiceStub(channel),
            metadata,
            left.column(request.on),
            request.peer_dataset_id,
            JoinQuery(
                mode=mode,  # type: ignore[arg-type]
                columns=tuple(request.columns),
                join=request.join or "inner",  # type: ignore[arg-type]
                verifiable=request.verifiable,
            ),
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
