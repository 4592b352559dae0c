"""The server's operations, one module per capability, and the one registry of them.

Each module holds its params type (``from_request`` validates the request), its handler
and its result proto, tied together by an
:class:`~zone_opt.service.jobs.spec.OperationSpec`: statistics, matching, carbon,
facilities, dispatch (long-running operations) and join (the private join's sessions and
``RunJoin``, answered inline). :func:`job_to_operation` is the AIP-151 view of a stored
job; it finds the result type through :data:`OPERATIONS`, the only place a kind string
leads anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import status_pb2

from zone_opt.api.v1 import operations_pb2
from zone_opt.errors import InvalidInputError
from zone_opt.rpc.enums import STATUS_CODES
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations import carbon, dispatch, facilities, matching, statistics
from zone_opt.service.storage.jobstore import Job

__all__ = ["OPERATIONS", "job_id_of", "job_to_operation"]

#: Every operation kind this server runs.
OPERATIONS: Mapping[str, OperationSpec[Any, Any]] = {
    spec.kind: spec
    for spec in (
        statistics.OPERATION,
        matching.OPERATION,
        carbon.OPERATION,
        facilities.OPERATION,
        dispatch.OPERATION,
    )
}


def job_id_of(name: str, field: str = "name") -> str:
    """The job id of an operation name ``operations/<id>``."""
    prefix, _, job_id = name.partition("/")
    if prefix != "operations" or not job_id:
        raise InvalidInputError.single(field, None, "an operation name 'operations/<id>'")
    return job_id


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def job_to_operation(job: Job) -> operations_pb2.Operation:
    """The AIP-151 view of a job: metadata, then the error or the typed result."""
    op = operations_pb2.Operation(
        name=f"operations/{job.job_id}",
        done=job.state.done,
        metadata=operations_pb2.OperationMetadata(
            kind=job.kind,
            state=int(job.state),  # type: ignore[arg-type]
            progress=job.progress,
            stage=job.stage,
            attempts=job.attempts,
            create_time=_timestamp(job.created_s),
            update_time=_timestamp(job.updated_s),
            request_id=job.request_id,
        ),
    )
    if job.error_code:
        op.error.CopyFrom(
            status_pb2.Status(code=STATUS_CODES.get(job.error_code, 13), message=job.error_message)
        )
    elif job.result is not None:
        packed = any_pb2.Any()
        packed.Pack(OPERATIONS[job.kind].decode_result(job.result))
        op.response.CopyFrom(packed)
    return op
