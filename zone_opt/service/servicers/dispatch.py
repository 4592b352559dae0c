"""DispatchService: a park dispatch run as a long-running operation (progress per window)."""

from __future__ import annotations

import grpc

from zone_opt.api.v1 import dispatch_pb2, dispatch_pb2_grpc
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import dispatch, job_to_operation
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["DispatchServicer"]


class DispatchServicer(dispatch_pb2_grpc.DispatchServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def Dispatch(
        self, request: dispatch_pb2.DispatchRequest, context: grpc.ServicerContext
    ) -> dispatch_pb2.DispatchResponse:
        tenant = self.auth.tenant(context)
        params = dispatch.DispatchParams.from_request(request, self.pool.datasets, tenant)
        job = self.pool.submit(tenant, dispatch.OPERATION, params, request.request_id)
        return dispatch_pb2.DispatchResponse(operation=job_to_operation(job))
