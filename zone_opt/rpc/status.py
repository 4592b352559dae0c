"""The one table from zone-opt exceptions to gRPC status codes, both directions.

The server side (:func:`to_status`) turns an exception raised by a handler into a
``google.rpc.Status`` with an ``ErrorInfo`` (reason, domain) and, where it helps the
caller, ``BadRequest`` field violations or ``RetryInfo``; unknown exceptions become
INTERNAL carrying only the request id. The client side (:func:`from_rpc_error`) turns a
received status back into the matching :mod:`zone_opt.errors` class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from zone_opt.errors import (
    AlreadyExistsError,
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidInputError,
    JoinPolicyError,
    NotFoundError,
    ResourceExhaustedError,
    ServiceError,
    SolverError,
    UnauthenticatedError,
    VerificationError,
    Violation,
    ZoneOptError,
)

__all__ = [
    "DOMAIN",
    "TABLE",
    "RpcStatus",
    "from_rpc_error",
    "retry_delay_s",
    "status_of",
    "to_status",
]

#: ``google.rpc.ErrorInfo.domain`` of every error this server sends.
DOMAIN = "zone-opt.api.v1"

#: Exception class -> (status code, ErrorInfo reason). First match wins, so subclasses
#: come before their bases. The reasons are part of the API (grpc/README.md).
TABLE: tuple[tuple[type[BaseException], grpc.StatusCode, str], ...] = (
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT"),
    (NotFoundError, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED"),
    (JoinPolicyError, grpc.StatusCode.PERMISSION_DENIED, "PRIVACY_POLICY"),
    (VerificationError, grpc.StatusCode.DATA_LOSS, "VERIFICATION_FAILED"),
    (CancelledError, grpc.StatusCode.CANCELLED, "CANCELLED"),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
    (ResourceExhaustedError, grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"),
    (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
    (SolverError, grpc.StatusCode.INTERNAL, "SOLVER_FAILED"),
)

#: Status code -> the class a client raises (the inverse of TABLE, one class per code).
_CLIENT_CLASS: dict[grpc.StatusCode, type[ZoneOptError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: JoinPolicyError,
    grpc.StatusCode.DATA_LOSS: VerificationError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


@dataclass(frozen=True)
class RpcStatus(grpc.Status):
    """A ``grpc.Status`` for ``context.abort_with_status`` that also carries the request id."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """The (code, reason) of ``exc`` by the table, or ``None`` for an unknown exception."""
    for cls, code, reason in TABLE:
        if isinstance(exc, cls):
            return code, reason
    return None


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(exc: BaseException, request_id: str) -> RpcStatus:
    """The status to send for ``exc``; unknown exceptions become INTERNAL, no internals."""
    found = status_of(exc)
    if found is None:
        code, reason = grpc.StatusCode.INTERNAL, "INTERNAL"
        message = f"internal error (request id {request_id})"
    else:
        code, reason = found
        message = str(exc) or reason.lower()
        if code is grpc.StatusCode.INTERNAL:
            message = f"{message} (request id {request_id})"
    message = _cut(message, MAX_MESSAGE_CHARS)
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain=DOMAIN, metadata={"request_id": request_id}
    )
    details = [_pack(info)]
    if isinstance(exc, InvalidInputError) and exc.violations:
        details.append(_pack(_bad_request(exc.violations)))
    if isinstance(exc, FailedPreconditionError) and exc.subject:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=exc.kind, subject=exc.subject, description=message
                )
            ]
        )
        details.append(_pack(failure))
    if isinstance(exc, ResourceExhaustedError) and exc.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(timedelta(seconds=exc.retry_after_s))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    proto = status_pb2.Status(code=code.value[0], message=message, details=details)
    converted = rpc_status.to_status(proto)
    return RpcStatus(
        code=code,
        details=message,
        trailing_metadata=(*converted.trailing_metadata, ("x-request-id", request_id)),
    )


#: Bounds of what an error sends, so that the status always fits in gRPC's trailing
#: metadata (8 KiB by default; the message travels percent-encoded, the details in
#: base64): the message's characters, each field violation's, and the field violations'
#: serialised bytes in all (one more says how many were left out).
MAX_MESSAGE_CHARS = 500
MAX_VIOLATION_CHARS = 200
MAX_VIOLATIONS_BYTES = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 24]}... ({len(text)} characters)"


def _bad_request(violations: tuple[Violation, ...]) -> error_details_pb2.BadRequest:
    """Field violations for ``violations``, as many as fit in MAX_VIOLATIONS_BYTES."""
    bad = error_details_pb2.BadRequest()
    for i, v in enumerate(violations):
        entry = error_details_pb2.BadRequest.FieldViolation(
            field=_cut(v.field if v.row is None else f"{v.field}[{v.row}]", MAX_VIOLATION_CHARS),
            description=_cut(v.reason, MAX_VIOLATION_CHARS),
        )
        if bad.ByteSize() + entry.ByteSize() > MAX_VIOLATIONS_BYTES:
            bad.field_violations.add(
                field="violations", description=f"{len(violations) - i} more not shown"
            )
            break
        bad.field_violations.append(entry)
    return bad


def _violation(field_path: str, description: str) -> Violation:
    name, _, rest = field_path.partition("[")
    row = int(rest.rstrip("]")) if rest.rstrip("]").isdigit() else None
    return Violation(name if row is not None else field_path, row, description)


def retry_delay_s(error: grpc.RpcError) -> float | None:
    """The delay a received error's ``google.rpc.RetryInfo`` asks for, in seconds, or
    ``None`` when it carries none (a status the server did not mark as worth retrying)."""
    try:
        status = rpc_status.from_call(error)
    except (ValueError, AttributeError):  # details that disagree with the code; no call
        return None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            return float(retry.retry_delay.ToTimedelta().total_seconds())
    return None


def from_rpc_error(error: grpc.RpcError) -> ZoneOptError:
    """The :mod:`zone_opt.errors` instance for a received error, with ``status_code`` set."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or code.name
    status = rpc_status.from_call(error)
    violations: list[Violation] = []
    retry_after_s: float | None = None
    precondition: tuple[str, str] = ("", "")
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [_violation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_after_s = retry.retry_delay.ToTimedelta().total_seconds()
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            if failure.violations:
                precondition = (failure.violations[0].subject, failure.violations[0].type)
    cls = _CLIENT_CLASS.get(code, ServiceError)
    exc: ZoneOptError
    if cls is InvalidInputError:
        exc = InvalidInputError(message, violations)
    elif cls is ResourceExhaustedError:
        exc = ResourceExhaustedError(message, retry_after_s)
    elif cls is FailedPreconditionError:
        exc = FailedPreconditionError(message, *precondition)
    else:
        exc = cls(message)
    exc.status_code = code.name
    return exc
