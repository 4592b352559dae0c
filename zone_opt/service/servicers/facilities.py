"""FacilitiesService (and its deprecated name PlanningService): shared-facility planning
as a long-running operation."""

from __future__ import annotations

import grpc

from zone_opt.api.v1 import facilities_pb2, facilities_pb2_grpc, planning_pb2_grpc
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import facilities, job_to_operation
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["FacilitiesServicer"]


class FacilitiesServicer(
    facilities_pb2_grpc.FacilitiesServiceServicer, planning_pb2_grpc.PlanningServiceServicer
):
    """Serves FacilitiesService and, until v2, PlanFacilities under the old PlanningService."""

    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def PlanFacilities(
        self, request: facilities_pb2.PlanFacilitiesRequest, context: grpc.ServicerContext
    ) -> facilities_pb2.PlanFacilitiesResponse:
        tenant = self.auth.tenant(context)
        params = facilities.PlanParams.from_request(request)
        job = self.pool.submit(tenant, facilities.OPERATION, params, request.request_id)
        return facilities_pb2.PlanFacilitiesResponse(operation=job_to_operation(job))
