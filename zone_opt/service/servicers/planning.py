"""PlanningService: shared-facility planning as a long-running operation."""

from __future__ import annotations

import grpc

from zone_opt.api.v1 import planning_pb2, planning_pb2_grpc
from zone_opt.optimise.facilities.scenario import parse_scenarios
from zone_opt.service import convert
from zone_opt.service.auth import TokenAuth
from zone_opt.service.jobs import WorkerPool

__all__ = ["PlanningServicer"]


class PlanningServicer(planning_pb2_grpc.PlanningServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def PlanFacilities(
        self, request: planning_pb2.PlanFacilitiesRequest, context: grpc.ServicerContext
    ) -> planning_pb2.PlanFacilitiesResponse:
        tenant = self.auth.tenant(context)
        params = convert.plan_facilities_params(request)
        parse_scenarios(params["scenario_yaml"])  # INVALID_ARGUMENT now, not in the job
        job = self.pool.submit(tenant, "plan_facilities", params, request.request_id)
        return planning_pb2.PlanFacilitiesResponse(operation=convert.job_to_operation(job))
