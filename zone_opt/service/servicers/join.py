"""JoinService (and its deprecated name PrivateJoinService): the sender's policy, sessions
and audit; the receiver's RunJoin.

Sender side: the owner publishes a policy (SetJoinPolicy); a peer opens a session
(OpenJoinSession streams the setup message) and has it evaluated (EvaluateJoin: once for
DH, twice for VOLE, request then correction; a bucketed session per bucket, its setup
parts through GetJoinSetupPart); the sessions and RunJoin are
:mod:`zone_opt.service.operations.join`. The
receiver side (RunJoin) reads the caller's dataset, runs the receiving party of the
protocol against a peer server the operator registered (:mod:`zone_opt.service.transport.peers`;
never an address a request wrote) with :func:`zone_opt.rpc.join.receive_join`, and
stores the joined rows as a dataset of the caller. RunJoin runs inline (a peer token it
is given is never written to disk), bounded by the call's deadline.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from zone_opt.api.v1 import join_pb2, join_pb2_grpc, privacy_pb2_grpc
from zone_opt.rpc import join
from zone_opt.service.operations.join import JoinSessions, SessionParams, run_join
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.policies import PolicyStore
from zone_opt.service.transport.auth import TokenAuth
from zone_opt.service.transport.peers import PeerRegistry

__all__ = ["JoinServicer"]


class JoinServicer(join_pb2_grpc.JoinServiceServicer, privacy_pb2_grpc.PrivateJoinServiceServicer):
    """Serves JoinService and, until v2, the same RPCs under the old PrivateJoinService."""

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
        self, request: join_pb2.SetJoinPolicyRequest, context: grpc.ServicerContext
    ) -> join_pb2.SetJoinPolicyResponse:
        tenant = self.auth.tenant(context)
        policy = join.join_policy_from_proto(request.policy)
        stored = self.policies.put(tenant, policy, self.datasets)
        return join_pb2.SetJoinPolicyResponse(policy=join.join_policy_to_proto(stored))

    def GetJoinPolicy(
        self, request: join_pb2.GetJoinPolicyRequest, context: grpc.ServicerContext
    ) -> join_pb2.GetJoinPolicyResponse:
        policy = self.policies.owned(self.auth.tenant(context), request.dataset_id)
        return join_pb2.GetJoinPolicyResponse(policy=join.join_policy_to_proto(policy))

    def ListJoinAudit(
        self, request: join_pb2.ListJoinAuditRequest, context: grpc.ServicerContext
    ) -> join_pb2.ListJoinAuditResponse:
        limit = 100 if request.limit <= 0 else min(request.limit, 1000)
        entries = self.policies.audit(self.auth.tenant(context), request.dataset_id, limit)
        return join_pb2.ListJoinAuditResponse(entries=[join.audit_to_proto(e) for e in entries])

    def OpenJoinSession(
        self, request: join_pb2.OpenJoinSessionRequest, context: grpc.ServicerContext
    ) -> Iterator[join_pb2.JoinMessageChunk]:
        peer = self.auth.tenant(context)
        params = SessionParams.from_request(request)
        session_id, setup = self.sessions.open(peer, params)
        yield from join.message_chunks(session_id, setup)

    def EvaluateJoin(
        self,
        request_iterator: Iterator[join_pb2.JoinMessageChunk],
        context: grpc.ServicerContext,
    ) -> Iterator[join_pb2.JoinMessageChunk]:
        peer = self.auth.tenant(context)
        session_id, request = join.gather_message(request_iterator)
        response = self.sessions.evaluate(peer, session_id, request)
        yield from join.message_chunks(session_id, response)

    def GetJoinSetupPart(
        self, request: join_pb2.GetJoinSetupPartRequest, context: grpc.ServicerContext
    ) -> Iterator[join_pb2.JoinMessageChunk]:
        peer = self.auth.tenant(context)
        part = self.sessions.setup_part(peer, request.session_id, request.bucket)
        yield from join.message_chunks(request.session_id, part)

    def RunJoin(
        self, request: join_pb2.RunJoinRequest, context: grpc.ServicerContext
    ) -> join_pb2.RunJoinResponse:
        tenant = self.auth.tenant(context)
        remaining = context.time_remaining()
        return run_join(
            request,
            tenant,
            self.datasets,
            self.peers,
            remaining if remaining else 600.0,
            self.sessions,
        )
