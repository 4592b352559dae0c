"""DispatchService: a park dispatch run as a long-running operation (progress per window)."""

from __future__ import annotations

import hashlib

import grpc

from zone_opt.api.v1 import dispatch_pb2, dispatch_pb2_grpc
from zone_opt.optimise.dispatch.scenario import scenario_from_yaml
from zone_opt.rpc import ipc
from zone_opt.service import convert
from zone_opt.service.auth import TokenAuth
from zone_opt.service.dispatch_tasks import profiles_frame
from zone_opt.service.jobs import WorkerPool

__all__ = ["DispatchServicer"]


class DispatchServicer(dispatch_pb2_grpc.DispatchServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def Dispatch(
        self, request: dispatch_pb2.DispatchRequest, context: grpc.ServicerContext
    ) -> dispatch_pb2.DispatchResponse:
        tenant = self.auth.tenant(context)
        params = convert.dispatch_params(request)
        table = ipc.table_from_ipc(request.profiles_ipc, "profiles_ipc")
        # Validate the scenario and the horizon now: bad input is INVALID_ARGUMENT, not a
        # failed operation.
        scenario = scenario_from_yaml(params["scenario_yaml"], profiles_frame(table))
        scenario.horizon(params["start"], params["hours"])
        digest = hashlib.sha256(request.profiles_ipc).hexdigest()[:24]
        dataset_id = f"dispatch-profiles-{digest}"
        self.pool.datasets.put_result(tenant, dataset_id, "dispatch profiles", table)
        params["profiles_dataset_id"] = dataset_id
        job = self.pool.submit(tenant, "dispatch", params, request.request_id)
        return dispatch_pb2.DispatchResponse(operation=convert.job_to_operation(job))
