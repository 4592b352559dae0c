"""MatchingService: Match as an operation on datasets; Recommend inline for small inputs."""

from __future__ import annotations

import grpc

from zone_opt import matching
from zone_opt.api.v1 import matching_pb2, matching_pb2_grpc
from zone_opt.errors import DeadlineExceededError
from zone_opt.rpc import ipc
from zone_opt.service import convert
from zone_opt.service.auth import TokenAuth
from zone_opt.service.jobs import WorkerPool
from zone_opt.service.slots import ComputeSlots
from zone_opt.service.tasks import matching_options

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
        params = convert.match_params(request)
        for key in ("spaces", "enterprises", "parks", "tenancies"):
            if params[key]:  # NOT_FOUND or FAILED_PRECONDITION (kind) before queueing
                self.pool.datasets.get(tenant, params[key], key, f"{key}_dataset_id")
        job = self.pool.submit(tenant, "match", params, request.request_id)
        return matching_pb2.MatchResponse(operation=convert.job_to_operation(job))

    def Recommend(
        self, request: matching_pb2.RecommendRequest, context: grpc.ServicerContext
    ) -> matching_pb2.RecommendResponse:
        self.auth.tenant(context)
        spaces = ipc.table_from_ipc(request.spaces_ipc, "spaces_ipc")
        enterprises = ipc.table_from_ipc(request.enterprises_ipc, "enterprises_ipc")
        parks = ipc.table_from_ipc(request.parks_ipc, "parks_ipc")
        tenancies = (
            ipc.table_from_ipc(request.tenancies_ipc, "tenancies_ipc")
            if request.tenancies_ipc
            else None
        )
        params: dict[str, object] = {"k": request.k}
        if request.HasField("now"):
            params["now"] = request.now.ToDatetime().isoformat()
        options = matching_options(params)
        with self.slots.hold(context.time_remaining()):
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError("deadline passed before the work started")
            table = matching.recommend(
                spaces, enterprises, parks=parks, tenancies=tenancies, **options
            )
        return matching_pb2.RecommendResponse(recommendations_ipc=ipc.table_to_ipc(table))
