"""The server interceptor: request id, authentication, admission, metrics, logs, errors.

One interceptor wraps every handler (unary and streaming alike) so that each call:

1. gets a request id (``x-request-id`` metadata, or a new one), returned in trailing
   metadata and written in every log line of the call;
2. is admitted only while fewer than ``max_concurrent_calls`` are in flight (else
   RESOURCE_EXHAUSTED with RetryInfo; health and reflection are never refused);
3. carries a valid bearer token unless its service is public (else UNAUTHENTICATED);
4. has its request checked by :func:`zone_opt.service.transport.edge.check_request` (undecodable
   bytes, unknown enum values, out-of-range timestamps and durations, non-finite numbers,
   over-long ids: INVALID_ARGUMENT with field violations, after authentication);
5. has any exception turned into its status by the one table of
   :mod:`zone_opt.service.status` (unknown ones into INTERNAL, logged with the request id);
6. is counted and timed in :class:`~zone_opt.service.transport.metrics.Metrics` and logged as one
   ``key=value`` line.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc

from zone_opt.errors import ResourceExhaustedError
from zone_opt.rpc.status import status_of, to_status
from zone_opt.service.transport.auth import PUBLIC_SERVICES, TokenAuth
from zone_opt.service.transport.edge import check_request, lenient
from zone_opt.service.transport.metrics import Metrics

__all__ = ["ServiceInterceptor"]

log = logging.getLogger("zone_opt.service.rpc")

Behavior = Callable[[Any, grpc.ServicerContext], Any]


def _request_id(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == "x-request-id" and isinstance(value, str) and 0 < len(value) <= 64:
            return value
    return uuid.uuid4().hex


class _Call:
    """The bookkeeping of one call."""

    def __init__(self, owner: ServiceInterceptor, method: str, context: grpc.ServicerContext):
        self.owner = owner
        self.method = method
        self.context = context
        self.metadata = context.invocation_metadata()
        self.request_id = _request_id(self.metadata)
        self.public = method.split("/")[1] in PUBLIC_SERVICES
        self.admitted = False
        self.counted = False
        self.start = time.perf_counter()
        self.code = "OK"

    def enter(self) -> None:
        if not self.public:
            if not self.owner.admission.acquire(blocking=False):
                raise ResourceExhaustedError(
                    f"server busy: {self.owner.max_concurrent_calls} calls in flight",
                    retry_after_s=1.0,
                )
            self.admitted = True
            self.owner.auth.tenant_of_metadata(self.metadata)
        self.owner.metrics.in_flight.inc()
        self.counted = True
        self.context.set_trailing_metadata((("x-request-id", self.request_id),))

    def fail(self, exc: BaseException) -> None:
        already = getattr(self.context, "code", lambda: None)()  # set if the handler aborted
        if already is not None and already is not grpc.StatusCode.OK:
            self.code = already.name  # the handler aborted with its own status
            return
        status = to_status(exc, self.request_id)
        self.code = status.code.name
        if status_of(exc) is None:
            log.error(
                "event=rpc_error method=%s request_id=%s",
                self.method,
                self.request_id,
                exc_info=exc,
            )
        self.context.abort_with_status(status)

    def exit(self) -> None:
        if self.admitted:
            self.owner.admission.release()
        if self.code == "OK" and not self.context.is_active():
            self.code = "CANCELLED"
        seconds = time.perf_counter() - self.start
        if self.counted:
            self.owner.metrics.in_flight.dec()
        self.owner.metrics.observe(self.method, self.code, seconds)
        log.info(
            "event=rpc method=%s code=%s duration_ms=%.2f request_id=%s",
            self.method,
            self.code,
            seconds * 1e3,
            self.request_id,
        )


def _checked(behavior: Behavior) -> Behavior:
    """``behavior`` after the shared request checks (called once the call was admitted)."""

    def call(request: Any, context: grpc.ServicerContext) -> Any:
        check_request(request)
        return behavior(request, context)

    return call


def _checked_stream(behavior: Behavior) -> Behavior:
    """``behavior`` with each message of its request stream checked as it is read."""

    def each(requests: Iterable[Any]) -> Iterator[Any]:
        for request in requests:
            check_request(request)
            yield request

    def call(requests: Iterable[Any], context: grpc.ServicerContext) -> Any:
        return behavior(each(requests), context)

    return call


class ServiceInterceptor(grpc.ServerInterceptor):
    """See the module docstring."""

    def __init__(self, auth: TokenAuth, metrics: Metrics, max_concurrent_calls: int) -> None:
        self.auth = auth
        self.metrics = metrics
        self.max_concurrent_calls = max_concurrent_calls
        self.admission = threading.BoundedSemaphore(max_concurrent_calls)

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method: str = details.method
        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(handler.request_streaming, handler.response_streaming)]
        behavior = (
            handler.unary_unary
            or handler.unary_stream
            or handler.stream_unary
            or handler.stream_stream
        )
        wrap = self._streaming if handler.response_streaming else self._unary
        checked = _checked_stream if handler.request_streaming else _checked
        deserialize = handler.request_deserializer
        if deserialize is not None:
            deserialize = lenient(deserialize, method.rsplit("/", 1)[-1] + " request")
        return make(
            wrap(method, checked(behavior)),
            request_deserializer=deserialize,
            response_serializer=handler.response_serializer,
        )

    def _unary(self, method: str, behavior: Behavior) -> Behavior:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            state = _Call(self, method, context)
            try:
                state.enter()
                return behavior(request, context)
            except Exception as exc:
                state.fail(exc)
                raise  # unreachable: abort raises
            finally:
                state.exit()

        return call

    def _streaming(self, method: str, behavior: Behavior) -> Behavior:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            state = _Call(self, method, context)
            try:
                state.enter()
                yield from behavior(request, context)
            except Exception as exc:
                state.fail(exc)
                raise
            finally:
                state.exit()

        return call
