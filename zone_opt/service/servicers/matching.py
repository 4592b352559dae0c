"""MatchingService: Match as an operation on datasets; Recommend inline for small inputs."""

from __future__ import annotations

import grpc

from zone_opt.api.v1 import matching_pb2, matching_pb2_grpc
from zone_opt.errors import DeadlineExceededError
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import job_to_operation, matching
from zone_opt.service.transport.admission import ComputeSlots
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["MatchingServicer"]


class MatchingServicer(matching_pb2_grpc.MatchingServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool, slots: ComputeSlots) -> None:
        self.auth = auth
        self.pool = pool
        self.slots = slots

    def Match(
        self, request: matching_pb2.MatchRequest, context: grpc.ServicerContext
    ) -> matching_pb2.MatchResponse:
        tenant = self.auth.tenant(context)
        params = matching.MatchParams.from_request(request)
        params.check_datasets(self.pool.datasets, tenant)  # before queueing
        job = self.pool.submit(tenant, matching.OPERATION, params, request.request_id)
        return matching_pb2.MatchResponse(operation=job_to_operation(job))

    def Recommend(
        self, request: matching_pb2.RecommendRequest, context: grpc.ServicerContext
    ) -> matching_pb2.RecommendResponse:
        self.auth.tenant(context)
        work = matching.Recommendation.from_request(request)  # decoded outside the slot
        with self.slots.hold(context.time_remaining()):
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError("deadline passed before the work started")
            return work.run()
