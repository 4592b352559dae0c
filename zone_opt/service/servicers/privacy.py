"""PrivateJoinService: the sender's policy, sessions and audit; the receiver's RunJoin.

Sender side: the owner publishes a policy (SetJoinPolicy); a peer opens a session
(OpenJoinSession streams the setup message) and has it evaluated once (EvaluateJoin). The
receiver side (RunJoin) reads the caller's dataset, runs the receiving party of the
protocol against a peer server the operator registered (:mod:`zone_opt.service.peers`;
never an address a request wrote) with :func:`zone_opt.rpc.join.receive_join`, and
stores the joined rows as a dataset of the caller. RunJoin runs inline (a peer token it
is given is never written to disk), bounded by the call's deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc

from zone_opt.api.v1 import privacy_pb2, privacy_pb2_grpc
from zone_opt.errors import InvalidInputError
from zone_opt.privacy import joined
from zone_opt.rpc import enums, join
from zone_opt.rpc.channel import TlsConfig, open_channel
from zone_opt.rpc.join import receive_join
from zone_opt.service.auth import TokenAuth
from zone_opt.service.datasets import DatasetStore
from zone_opt.service.peers import PeerRegistry
from zone_opt.service.privacy import JoinSessions, PolicyStore

__all__ = ["PrivateJoinServicer"]


class PrivateJoinServicer(privacy_pb2_grpc.PrivateJoinServiceServicer):
    def __init__(
        self,
        auth: TokenAuth,
        datasets: DatasetStore,
        policies: PolicyStore,
        sessions: JoinSessions,
        peers: PeerRegistry | None = None,
    ) -> None:
        self.auth = auth
        self.peers = peers or PeerRegistry()
        self.datasets = datasets
        self.policies = policies
        self.sessions = sessions

    def SetJoinPolicy(
        self, request: privacy_pb2.SetJoinPolicyRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.SetJoinPolicyResponse:
        tenant = self.auth.tenant(context)
        policy = join.join_policy_from_proto(request.policy)
        stored = self.policies.put(tenant, policy, self.datasets)
        return privacy_pb2.SetJoinPolicyResponse(policy=join.join_policy_to_proto(stored))

    def GetJoinPolicy(
        self, request: privacy_pb2.GetJoinPolicyRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.GetJoinPolicyResponse:
        policy = self.policies.owned(self.auth.tenant(context), request.dataset_id)
        return privacy_pb2.GetJoinPolicyResponse(policy=join.join_policy_to_proto(policy))

    def ListJoinAudit(
        self, request: privacy_pb2.ListJoinAuditRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ListJoinAuditResponse:
        limit = 100 if request.limit <= 0 else min(request.limit, 1000)
        entries = self.policies.audit(self.auth.tenant(context), request.dataset_id, limit)
        return privacy_pb2.ListJoinAuditResponse(entries=[join.audit_to_proto(e) for e in entries])

    def OpenJoinSession(
        self, request: privacy_pb2.OpenJoinSessionRequest, context: grpc.ServicerContext
    ) -> Iterator[privacy_pb2.JoinMessageChunk]:
        peer = self.auth.tenant(context)
        mode = enums.join_mode_from_proto(request.mode, "mode")
        session_id, setup = self.sessions.open(
            peer, request.dataset_id, mode, tuple(request.columns), request.verifiable
        )
        yield from join.message_chunks(session_id, setup)

    def EvaluateJoin(
        self,
        request_iterator: Iterator[privacy_pb2.JoinMessageChunk],
        context: grpc.ServicerContext,
    ) -> Iterator[privacy_pb2.JoinMessageChunk]:
        peer = self.auth.tenant(context)
        session_id, request = join.gather_message(request_iterator)
        response = self.sessions.evaluate(peer, session_id, request)
        yield from join.message_chunks(session_id, response)

    def RunJoin(
        self, request: privacy_pb2.RunJoinRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.RunJoinResponse:
        tenant = self.auth.tenant(context)
        if request.peer_address:  # checked first: nothing is looked up, nothing dialled
            raise InvalidInputError.single(
                "peer_address",
                None,
                "not accepted: this server dials only join peers its operator registered;"
                " name one in 'peer'",
            )
        mode = enums.join_mode_from_proto(request.mode, "mode")
        for name in ("left_dataset_id", "on", "peer", "peer_dataset_id"):
            if not getattr(request, name):
                raise InvalidInputError.single(name, None, "required")
        peer = self.peers.get(tenant, request.peer)
        left = self.datasets.read(tenant, request.left_dataset_id, field="left_dataset_id")
        if request.on not in left.column_names:
            raise InvalidInputError.single("on", None, f"no column {request.on!r}")
        values = None
        if mode == "sum":
            if request.value_column not in left.column_names:
                raise InvalidInputError.single(
                    "value_column", None, f"no column {request.value_column!r}"
                )
            values = left.column(request.value_column)
        remaining = context.time_remaining()
        tls = TlsConfig(ca_cert=peer.ca_file, server_name=peer.server_name) if peer.tls else None
        token = peer.token or request.peer_token
        metadata: tuple[tuple[str, str | bytes], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        with open_channel(peer.address, tls) as channel:
            result = receive_join(
                privacy_pb2_grpc.PrivateJoinServiceStub(channel),
                metadata,
                left.column(request.on),
                request.peer_dataset_id,
                mode=mode,  # type: ignore[arg-type]
                columns=tuple(request.columns),
                join=request.join or "inner",  # type: ignore[arg-type]
                verifiable=request.verifiable,
                values=values,
                timeout_s=remaining if remaining else 600.0,
            )
        response = privacy_pb2.RunJoinResponse()
        if mode in ("intersection", "labelled"):
            table = joined(left, result)
            result_id = uuid.uuid4().hex
            self.datasets.put_result(
                tenant, result_id, f"private join of {request.left_dataset_id}", table
            )
            response.result_dataset_id = result_id
            response.rows = table.num_rows
        if result.count is not None:
            response.count = result.count
        if result.sum is not None:
            response.sum = result.sum
        return response
