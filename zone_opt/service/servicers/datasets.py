"""DatasetService."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from zone_opt.api.v1 import datasets_pb2, datasets_pb2_grpc
from zone_opt.rpc import enums, ipc, upload
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import job_to_operation, statistics
from zone_opt.service.storage.datasets import DatasetInfo, DatasetStore
from zone_opt.service.transport.auth import TokenAuth

__all__ = ["DatasetServicer", "add_dataset_service"]


def page(size: int, token: str) -> tuple[int, int]:
    """``(limit, offset)`` of a page request (AIP-158 style, opaque offset tokens)."""
    limit = 100 if size <= 0 else min(size, 1000)
    offset = int(token) if token.isdigit() else 0
    return limit, offset


def dataset_to_proto(info: DatasetInfo) -> datasets_pb2.Dataset:
    """The proto of a stored dataset's record."""
    created = timestamp_pb2.Timestamp()
    created.FromNanoseconds(int(info.created_s * 1e9))
    return datasets_pb2.Dataset(
        dataset_id=info.dataset_id,
        name=info.name,
        kind=enums.kind_to_proto(info.kind),  # type: ignore[arg-type]
        num_rows=info.num_rows,
        num_bytes=info.num_bytes,
        sha256=info.sha256,
        columns=list(info.columns),
        create_time=created,
        blake3=info.blake3,
        xxh3_128=info.xxh3_128,
    )


class DatasetServicer(datasets_pb2_grpc.DatasetServiceServicer):
    def __init__(self, auth: TokenAuth, datasets: DatasetStore, pool: WorkerPool) -> None:
        self.auth = auth
        self.datasets = datasets
        self.pool = pool

    def UploadDataset(  # type: ignore[override]  # requests parsed by add_dataset_service
        self,
        request_iterator: Iterator[upload.UploadPart],
        context: grpc.ServicerContext,
    ) -> datasets_pb2.UploadDatasetResponse:
        tenant = self.auth.tenant(context)
        name, kind, checksum, chunks = upload.upload_stream(request_iterator)
        info = self.datasets.ingest(tenant, name, kind, chunks, checksum)
        return datasets_pb2.UploadDatasetResponse(dataset=dataset_to_proto(info))

    def GetDataset(
        self, request: datasets_pb2.GetDatasetRequest, context: grpc.ServicerContext
    ) -> datasets_pb2.GetDatasetResponse:
        info = self.datasets.get(self.auth.tenant(context), request.dataset_id)
        return datasets_pb2.GetDatasetResponse(dataset=dataset_to_proto(info))

    def DownloadDataset(
        self, request: datasets_pb2.DownloadDatasetRequest, context: grpc.ServicerContext
    ) -> Iterator[datasets_pb2.DownloadDatasetResponse]:
        checksum = enums.checksum_from_proto(request.checksum, "checksum")
        tenant = self.auth.tenant(context)
        info = self.datasets.get(tenant, request.dataset_id)
        blocks = self.datasets.stream_bytes(
            tenant, request.dataset_id, ipc.clamp_chunk_bytes(request.chunk_bytes)
        )
        for chunk in upload.ipc_chunks(blocks, checksum, recorded=info.recorded):
            yield datasets_pb2.DownloadDatasetResponse(chunk=chunk)

    def ListDatasets(
        self, request: datasets_pb2.ListDatasetsRequest, context: grpc.ServicerContext
    ) -> datasets_pb2.ListDatasetsResponse:
        limit, offset = page(request.page_size, request.page_token)
        kind = (
            enums.kind_from_proto(request.kind, "kind", allow_result=True) if request.kind else None
        )
        found = self.datasets.list(self.auth.tenant(context), kind, limit + 1, offset)
        return datasets_pb2.ListDatasetsResponse(
            datasets=[dataset_to_proto(d) for d in found[:limit]],
            next_page_token=str(offset + limit) if len(found) > limit else "",
        )

    def DeleteDataset(
        self, request: datasets_pb2.DeleteDatasetRequest, context: grpc.ServicerContext
    ) -> datasets_pb2.DeleteDatasetResponse:
        self.datasets.delete(self.auth.tenant(context), request.dataset_id)
        return datasets_pb2.DeleteDatasetResponse()

    def ComputeStatistics(
        self, request: datasets_pb2.ComputeStatisticsRequest, context: grpc.ServicerContext
    ) -> datasets_pb2.ComputeStatisticsResponse:
        tenant = self.auth.tenant(context)
        params = statistics.StatisticsParams.from_request(request)
        self.datasets.get(tenant, params.dataset_id)  # NOT_FOUND before queueing
        job = self.pool.submit(tenant, statistics.OPERATION, params, request.request_id)
        return datasets_pb2.ComputeStatisticsResponse(operation=job_to_operation(job))


class _Registrar:
    """Stands in for the server while the generated code registers DatasetService, and
    registers the same handlers with UploadDataset's deserializer replaced."""

    def __init__(self, server: grpc.Server, servicer: DatasetServicer) -> None:
        self.server = server
        self.servicer = servicer

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: the generic handler is built from the adjusted table below."""

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        adjusted = dict(handlers)
        adjusted["UploadDataset"] = grpc.stream_unary_rpc_method_handler(
            self.servicer.UploadDataset,
            request_deserializer=upload.parse_upload_request,
            response_serializer=datasets_pb2.UploadDatasetResponse.SerializeToString,
        )
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, adjusted),)
        )
        self.server.add_registered_method_handlers(service, adjusted)


def add_dataset_service(servicer: DatasetServicer, server: grpc.Server) -> None:
    """``add_DatasetServiceServicer_to_server``, except that UploadDataset's requests are
    parsed by :func:`upload.parse_upload_request`: each chunk's Arrow bytes stay a view
    into the received message instead of being copied twice by protobuf."""
    registrar: Any = _Registrar(server, servicer)
    datasets_pb2_grpc.add_DatasetServiceServicer_to_server(servicer, registrar)
