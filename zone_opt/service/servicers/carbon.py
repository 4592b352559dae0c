"""CarbonService: AllocateCarbon as an operation on datasets; VerifyAuditProof stateless."""

from __future__ import annotations

import grpc

from zone_opt.api.v1 import carbon_pb2, carbon_pb2_grpc
from zone_opt.carbon.audit import MerkleProof, verify
from zone_opt.errors import InvalidInputError
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import carbon, job_to_operation
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["CarbonServicer"]


class CarbonServicer(carbon_pb2_grpc.CarbonServiceServicer):
    def __init__(self, auth: TokenAuth, pool: WorkerPool) -> None:
        self.auth = auth
        self.pool = pool

    def AllocateCarbon(
        self, request: carbon_pb2.AllocateCarbonRequest, context: grpc.ServicerContext
    ) -> carbon_pb2.AllocateCarbonResponse:
        tenant = self.auth.tenant(context)
        params = carbon.CarbonParams.from_request(request)
        params.check_datasets(self.pool.datasets, tenant)  # before queueing
        job = self.pool.submit(tenant, carbon.OPERATION, params, request.request_id)
        return carbon_pb2.AllocateCarbonResponse(operation=job_to_operation(job))

    def VerifyAuditProof(
        self, request: carbon_pb2.VerifyAuditProofRequest, context: grpc.ServicerContext
    ) -> carbon_pb2.VerifyAuditProofResponse:
        self.auth.tenant(context)
        if len(request.root) != 32:
            raise InvalidInputError.single("root", None, "a SHA-256 root has 32 bytes")
        proof = MerkleProof(
            index=request.index, tree_size=request.tree_size, path=tuple(request.path)
        )
        return carbon_pb2.VerifyAuditProofResponse(valid=verify(request.row, proof, request.root))
