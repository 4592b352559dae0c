"""OperationsService (AIP-151 style) over the durable job store."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc

from zone_opt.api.v1 import operations_pb2, operations_pb2_grpc
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import job_id_of, job_to_operation
from zone_opt.service.servicers.datasets import page
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["OperationsServicer"]

#: WaitOperation's longest wait when neither a timeout nor a deadline is given.
MAX_WAIT_S = 60.0


class OperationsServicer(operations_pb2_grpc.OperationsServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def _get(self, name: str, context: grpc.ServicerContext) -> operations_pb2.Operation:
        job = self.pool.store.get(self.auth.tenant(context), job_id_of(name))
        return job_to_operation(job)

    def GetOperation(
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.GetOperationResponse:
        return operations_pb2.GetOperationResponse(operation=self._get(request.name, context))

    def ListOperations(
        self, request: operations_pb2.ListOperationsRequest, context: grpc.ServicerContext
    ) -> operations_pb2.ListOperationsResponse:
        limit, offset = page(request.page_size, request.page_token)
        jobs = self.pool.store.list(self.auth.tenant(context), limit + 1, offset)
        return operations_pb2.ListOperationsResponse(
            operations=[job_to_operation(j) for j in jobs[:limit]],
            next_page_token=str(offset + limit) if len(jobs) > limit else "",
        )

    def WaitOperation(
        self, request: operations_pb2.WaitOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.WaitOperationResponse:
        wait_s = (
            request.timeout.ToTimedelta().total_seconds()
            if request.HasField("timeout")
            else MAX_WAIT_S
        )
        remaining = context.time_remaining()
        if remaining is not None:
            wait_s = min(wait_s, remaining - 0.05)  # answer before the caller's deadline
        deadline = time.monotonic() + wait_s
        op = self._get(request.name, context)
        while not op.done and context.is_active() and time.monotonic() < deadline:
            self.pool.wait_changed(min(0.5, max(0.0, deadline - time.monotonic())))
            op = self._get(request.name, context)
        return operations_pb2.WaitOperationResponse(operation=op)

    def CancelOperation(
        self, request: operations_pb2.CancelOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.CancelOperationResponse:
        job = self.pool.cancel(self.auth.tenant(context), job_id_of(request.name))
        return operations_pb2.CancelOperationResponse(operation=job_to_operation(job))

    def WatchOperation(
        self, request: operations_pb2.WatchOperationRequest, context: grpc.ServicerContext
    ) -> Iterator[operations_pb2.WatchOperationResponse]:
        op = self._get(request.name, context)
        yield operations_pb2.WatchOperationResponse(operation=op)
        last = op.metadata
        while not op.done and context.is_active() and not self.pool.stopping.is_set():
            self.pool.wait_changed(0.5)
            op = self._get(request.name, context)
            if op.metadata.state != last.state or op.metadata.progress != last.progress or op.done:
                yield operations_pb2.WatchOperationResponse(operation=op)
                last = op.metadata
