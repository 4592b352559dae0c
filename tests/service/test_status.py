"""The one exception -> status table, through the real interceptor (unary and streaming)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from zone_opt import errors
from zone_opt.rpc.status import from_rpc_error
from zone_opt.service.transport.auth import TokenAuth
from zone_opt.service.transport.interceptors import ServiceInterceptor
from zone_opt.service.transport.metrics import Metrics

RAISED: dict[str, BaseException] = {
    "invalid": errors.InvalidInputError(None, [("spaces.area_m2", 7, "must be positive")]),
    "not_found": errors.NotFoundError("dataset 'x' not found"),
    "precondition": errors.FailedPreconditionError(
        "meters_dataset_id: dataset 'x' holds a parks table; expected meters",
        subject="meters_dataset_id",
        kind="DATASET_KIND",
    ),
    "exists": errors.AlreadyExistsError("request id reused"),
    "join_policy": errors.JoinPolicyError("peer not allowed"),
    "verification": errors.VerificationError("proof rejected"),
    "cancelled": errors.CancelledError("operation cancelled"),
    "deadline": errors.DeadlineExceededError("time limit"),
    "timeout": TimeoutError("builtin timeout"),
    "exhausted": errors.ResourceExhaustedError("queue full", retry_after_s=2.5),
    "solver": errors.SolverError("HiGHS crashed"),
    "unknown": KeyError("secret internals /etc/passwd"),
}
EXPECTED = {
    "invalid": (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidInputError),
    "not_found": (grpc.StatusCode.NOT_FOUND, errors.NotFoundError),
    "precondition": (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPreconditionError),
    "exists": (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExistsError),
    "join_policy": (grpc.StatusCode.PERMISSION_DENIED, errors.JoinPolicyError),
    "verification": (grpc.StatusCode.DATA_LOSS, errors.VerificationError),
    "cancelled": (grpc.StatusCode.CANCELLED, errors.CancelledError),
    "deadline": (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceededError),
    "timeout": (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceededError),
    "exhausted": (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhaustedError),
    "solver": (grpc.StatusCode.INTERNAL, errors.ServiceError),
    "unknown": (grpc.StatusCode.INTERNAL, errors.ServiceError),
}


def _unary(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise RAISED[request.decode()]


def _stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"first"
    raise RAISED[request.decode()]


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[ServiceInterceptor(TokenAuth({"t": "tenant"}), Metrics(), 4)],
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Raise",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(_unary),
                    "Stream": grpc.unary_stream_rpc_method_handler(_stream),
                },
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(0)


MD = (("authorization", "Bearer t"), ("x-request-id", "rid-7"))


@pytest.mark.parametrize("name", sorted(RAISED))
@pytest.mark.parametrize("streaming", [False, True])
def test_each_error_class_maps_to_its_status(
    channel: grpc.Channel, name: str, streaming: bool
) -> None:
    code, cls = EXPECTED[name]
    unary: Any = channel.unary_unary("/test.Raise/Unary")
    if streaming:
        stream: Any = channel.unary_stream("/test.Raise/Stream")
        call = stream(name.encode(), metadata=MD, timeout=5)
        assert next(call) == b"first"
        with pytest.raises(grpc.RpcError) as err:
            next(call)
    else:
        with pytest.raises(grpc.RpcError) as err:
            unary(name.encode(), metadata=MD, timeout=5)
    assert err.value.code() is code
    assert _request_id(err.value.trailing_metadata()) == "rid-7"
    status = rpc_status.from_call(err.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.domain, info.metadata["request_id"]) == ("zone-opt.api.v1", "rid-7")
    received = from_rpc_error(err.value)
    assert type(received) is cls
    assert received.status_code == code.name
    if name == "unknown":
        assert "secret" not in (err.value.details() or "")
        assert "rid-7" in (err.value.details() or "")
    if name == "invalid":
        assert isinstance(received, errors.InvalidInputError)
        assert received.violations == (errors.Violation("spaces.area_m2", 7, "must be positive"),)
    if name == "precondition":
        assert isinstance(received, errors.FailedPreconditionError)
        assert (received.subject, received.kind) == ("meters_dataset_id", "DATASET_KIND")
    if name == "exhausted":
        assert isinstance(received, errors.ResourceExhaustedError)
        assert received.retry_after_s == 2.5


def _request_id(metadata: Any) -> object:
    """The ``x-request-id`` value in (trailing) metadata."""
    return next((value for key, value in metadata or () if key == "x-request-id"), None)


def test_interceptor_requires_a_token(channel: grpc.Channel) -> None:
    unary: Any = channel.unary_unary("/test.Raise/Unary")
    with pytest.raises(grpc.RpcError) as err:
        unary(b"unknown", timeout=5)
    assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
