"""The client's connection: the channel, the stubs, and one call under the retry policy.

:class:`Connection` is the machinery under :class:`~zone_opt.client.Client` (which adds one
method per RPC): the channel and its reconnect backoff, the bearer token and request id of
every call, and ``_call``/``_attempts``, which run an attempt under the
:class:`~zone_opt.client.retry.Retrier` within one deadline and raise received errors as
:mod:`zone_opt.errors` classes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc

from zone_opt.api.v1 import (
    carbon_pb2_grpc,
    datasets_pb2,
    datasets_pb2_grpc,
    dispatch_pb2_grpc,
    facilities_pb2_grpc,
    join_pb2_grpc,
    matching_pb2_grpc,
    operations_pb2_grpc,
)
from zone_opt.client.retry import Retrier, RetryPolicy, Safety
from zone_opt.errors import InvalidInputError
from zone_opt.rpc.channel import TlsConfig, open_channel
from zone_opt.rpc.status import from_rpc_error

__all__ = ["DEFAULT_RETRY", "Connection", "Metadata"]

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]

#: What a client does when no policy is given: 5 attempts, backoff from 0.1 s to 5 s.
DEFAULT_RETRY = RetryPolicy()


class Connection:
    """The channel, stubs and call machinery of a :class:`~zone_opt.client.Client`."""

    def __init__(
        self,
        address: str,
        token: str | None = None,
        tls: TlsConfig | bool | None = None,
        timeout_s: float = 60.0,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        interceptors: Sequence[Any] = (),
    ) -> None:
        if not isinstance(retry, RetryPolicy):
            raise InvalidInputError.single("retry", None, "a zone_opt.client.RetryPolicy")
        self._channel = open_channel(
            address,
            tls,
            reconnect_backoff_s=(retry.initial_backoff_s, retry.max_backoff_s)
            if retry.retries and "UNAVAILABLE" in retry.codes
            else None,
            interceptors=interceptors,
        )
        self._token = token
        self.timeout_s = timeout_s
        self.retry = retry
        self._retrier = Retrier(retry)
        self._datasets = datasets_pb2_grpc.DatasetServiceStub(self._channel)
        # UploadDataset with requests serialised by convert.encode_upload_chunk (bytes).
        self._upload: Any = self._channel.stream_unary(
            "/zone_opt.api.v1.DatasetService/UploadDataset",
            request_serializer=None,
            response_deserializer=datasets_pb2.UploadDatasetResponse.FromString,
        )
        self._operations = operations_pb2_grpc.OperationsServiceStub(self._channel)
        self._matching = matching_pb2_grpc.MatchingServiceStub(self._channel)
        self._dispatch = dispatch_pb2_grpc.DispatchServiceStub(self._channel)
        self._join = join_pb2_grpc.JoinServiceStub(self._channel)
        self._carbon = carbon_pb2_grpc.CarbonServiceStub(self._channel)
        self._facilities = facilities_pb2_grpc.FacilitiesServiceStub(self._channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (calls in flight are cancelled)."""
        self._channel.close()

    def _metadata(self) -> Metadata:
        md: Metadata = (("x-request-id", uuid.uuid4().hex),)
        if self._token:
            md += (("authorization", f"Bearer {self._token}"),)
        return md

    def _attempts(
        self,
        rpc: str,
        attempt: Callable[[float, Metadata], T],
        timeout_s: float | None,
        safety: Safety,
    ) -> T:
        """``attempt(seconds_left, metadata)`` under the retry policy, within one deadline
        of ``timeout_s`` (default: the client's); every attempt sends the same metadata (so
        the same ``x-request-id``: the server's logs show one call retried). Errors are
        raised as :mod:`zone_opt.errors` classes."""
        metadata = self._metadata()
        try:
            return self._retrier.run(
                lambda left: attempt(left, metadata),
                rpc=rpc,
                timeout_s=timeout_s or self.timeout_s,
                safety=safety,
                request_id=metadata[0][1],
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def _call(
        self,
        method: Callable[..., T],
        request: Any,
        timeout_s: float | None = None,
        *,
        safety: Safety = Safety.NEVER,
    ) -> T:
        """One unary call of ``method`` with ``request`` (the same message on every attempt:
        a submission's request id is made once, before this)."""
        return self._attempts(
            type(request).__name__.removesuffix("Request"),
            lambda left, md: method(request, timeout=left, metadata=md),
            timeout_s,
            safety,
        )
