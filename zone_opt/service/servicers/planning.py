"""PlanningService: shared-facility planning as a long-running operation."""

from __future__ import annotations

import grpc

from zone_opt.api.v1 import planning_pb2, planning_pb2_grpc
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import facilities, job_to_operation
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["PlanningServicer"]


class PlanningServicer(planning_pb2_grpc.PlanningServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def PlanFacilities(
        self, request: planning_pb2.PlanFacilitiesRequest, context: grpc.ServicerContext
    ) -> planning_pb2.PlanFacilitiesResponse:
        tenant = self.auth.tenant(context)
        params = facilities.PlanParams.from_request(request)
        job = self.pool.submit(tenant, facilities.OPERATION, params, request.request_id)
        return planning_pb2.PlanFacilitiesResponse(operation=job_to_operation(job))
