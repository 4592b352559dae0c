"""The client's retries: against a real server where it can produce the condition (late
start, restart, admission limit, full queue), through a failing interceptor where it
cannot (a lost response, a chosen status on a chosen call)."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from zone_opt.api.v1 import common_pb2, datasets_pb2, datasets_pb2_grpc
from zone_opt.client import Client, RetryPolicy
from zone_opt.client.retry import Retrier, Safety
from zone_opt.errors import InvalidInputError, ResourceExhaustedError, ServiceError
from zone_opt.service.server import Server

MD = (("authorization", "Bearer token-alice"),)
#: Retries quick enough for tests, many enough for a server a second or two away.
QUICK = RetryPolicy(max_attempts=30, initial_backoff_s=0.05, max_backoff_s=0.5)


def _retries(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    """The ``event=retry`` log lines of the client, as key/value dicts."""
    return [
        dict(re.findall(r"(\w+)=(\S+)", r.getMessage()))
        for r in caplog.records
        if r.name == "zone_opt.client" and "event=retry" in r.getMessage()
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# The policy and its arithmetic.


def test_the_policy_is_checked_when_made() -> None:
    for field, kwargs in (
        ("max_attempts", {"max_attempts": 0}),
        ("initial_backoff_s", {"initial_backoff_s": 0.0}),
        ("max_backoff_s", {"initial_backoff_s": 2.0, "max_backoff_s": 1.0}),
        ("multiplier", {"multiplier": 0.5}),
        ("codes", {"codes": frozenset({"DEADLINE_EXCEEDED"})}),
        ("codes", {"codes": frozenset({"INVALID_ARGUMENT"})}),
    ):
        with pytest.raises(InvalidInputError) as err:
            RetryPolicy(**kwargs)
        assert err.value.violations[0].field == field
    assert RetryPolicy.none().max_attempts == 1
    assert not RetryPolicy.none().retries
    assert RetryPolicy().retries
    with pytest.raises(InvalidInputError):
        Client("127.0.0.1:1", retry="no")  # type: ignore[arg-type]


class _Error(grpc.RpcError):
    """A received error with ``code`` and, optionally, RetryInfo of ``delay_s``."""

    def __init__(self, code: grpc.StatusCode, delay_s: float | None = None) -> None:
        super().__init__(code.name)
        self._code = code
        details = []
        if delay_s is not None:
            delay = duration_pb2.Duration()
            delay.FromTimedelta(timedelta(seconds=delay_s))
            packed = any_pb2.Any()
            packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
            details.append(packed)
        status = status_pb2.Status(code=code.value[0], message=code.name, details=details)
        self._trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._code.name

    def trailing_metadata(self) -> Any:
        return self._trailers


def test_backoff_grows_exponentially_to_its_cap_with_full_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff_s=0.1, max_backoff_s=1.0)
    highest = Retrier(policy, uniform=lambda low, high: high)
    lowest = Retrier(policy, uniform=lambda low, high: low)
    unavailable = _Error(grpc.StatusCode.UNAVAILABLE)
    caps = [highest.wait_s(unavailable, n, Safety.IDEMPOTENT) for n in range(1, 10)]
    assert caps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert lowest.wait_s(unavailable, 3, Safety.IDEMPOTENT) == 0.0  # full jitter: from 0
    assert highest.wait_s(unavailable, 10, Safety.IDEMPOTENT) is None  # attempts spent


def test_which_errors_are_retried_for_which_calls() -> None:
    retrier = Retrier(RetryPolicy(), uniform=lambda low, high: high)
    unavailable = _Error(grpc.StatusCode.UNAVAILABLE)
    refused = _Error(grpc.StatusCode.RESOURCE_EXHAUSTED, delay_s=1.5)
    too_large = _Error(grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert retrier.wait_s(unavailable, 1, Safety.IDEMPOTENT) == pytest.approx(0.1)
    assert retrier.wait_s(refused, 1, Safety.IDEMPOTENT) == pytest.approx(1.6)  # 1.5 + jitter
    assert retrier.wait_s(too_large, 1, Safety.IDEMPOTENT) is None  # no RetryInfo
    assert retrier.wait_s(refused, 1, Safety.REFUSED_ONLY) == pytest.approx(1.6)
    assert retrier.wait_s(unavailable, 1, Safety.REFUSED_ONLY) is None  # may have happened
    for never in (unavailable, refused):
        assert retrier.wait_s(never, 1, Safety.NEVER) is None
    for code in (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    ):
        assert retrier.wait_s(_Error(code), 1, Safety.IDEMPOTENT) is None, code
    only_unavailable = Retrier(RetryPolicy(codes=frozenset({"UNAVAILABLE"})))
    assert only_unavailable.wait_s(refused, 1, Safety.IDEMPOTENT) is None


def test_the_deadline_bounds_every_wait() -> None:
    """A fake clock: the retrier stops before a wait that would end past the deadline."""
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    def failing(left: float) -> None:
        now[0] += 0.01  # each attempt takes 10 ms
        raise _Error(grpc.StatusCode.UNAVAILABLE)

    retrier = Retrier(
        RetryPolicy(max_attempts=100, max_backoff_s=1.0),
        sleep=sleep,
        uniform=lambda low, high: high,
        clock=lambda: now[0],
    )
    with pytest.raises(grpc.RpcError):
        retrier.run(failing, rpc="X", timeout_s=3.0, safety=Safety.IDEMPOTENT)
    assert now[0] <= 3.0
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])  # the next 1.0 would end at 3.56
    with pytest.raises(grpc.RpcError):  # an advertised delay past the deadline: no wait
        retrier.run(
            lambda left: (_ for _ in ()).throw(_Error(grpc.StatusCode.RESOURCE_EXHAUSTED, 5.0)),
            rpc="X",
            timeout_s=3.0,
            safety=Safety.IDEMPOTENT,
        )
    assert len(waits) == 5


# Against a real server.


def test_a_server_that_starts_after_the_client_is_reached_by_retries(
    tmp_path: Path, start: Callable[..., tuple[Server, int]], caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()
    started: list[Server] = []
    timer = threading.Timer(1.0, lambda: started.append(start(tmp_path / "d", port=port)[0]))
    caplog.set_level(logging.INFO, logger="zone_opt.client")
    with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=15, retry=QUICK) as client:
        began = time.monotonic()
        timer.start()
        try:
            assert client.list() == []
            elapsed = time.monotonic() - began
        finally:
            timer.join()
            for server in started:
                server.stop(0.5)
    retries = _retries(caplog)
    assert retries, "the first attempts found no server"
    assert {r["code"] for r in retries} == {"UNAVAILABLE"}
    assert {r["rpc"] for r in retries} == {"ListDatasets"}
    assert len({r["request_id"] for r in retries}) == 1  # one call, retried
    assert 1.0 <= elapsed < 4.0, elapsed
    print(f"late start: answered {elapsed:.2f} s after the first attempt, {len(retries)} retries")


def test_a_server_restarted_on_the_same_port_is_reached_again(
    tmp_path: Path, start: Callable[..., tuple[Server, int]], caplog: pytest.LogCaptureFixture
) -> None:
    server, port = start(tmp_path / "d")
    caplog.set_level(logging.INFO, logger="zone_opt.client")
    with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=15, retry=QUICK) as client:
        assert client.list() == []
        server.stop(0.5)
        restarted: list[Server] = []
        timer = threading.Timer(0.8, lambda: restarted.append(start(tmp_path / "d", port=port)[0]))
        began = time.monotonic()
        timer.start()
        try:
            assert client.list() == []
            elapsed = time.monotonic() - began
        finally:
            timer.join()
            for again in restarted:
                again.stop(0.5)
    retries = _retries(caplog)
    assert retries
    assert {r["code"] for r in retries} == {"UNAVAILABLE"}
    assert 0.8 <= elapsed < 4.0, elapsed
    print(f"restart: answered {elapsed:.2f} s after the first attempt, {len(retries)} retries")


def _hold_admission(port: int, calls: int, release: threading.Event) -> list[Any]:
    """``calls`` uploads that stay in flight (holding admission slots) until ``release``."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = datasets_pb2_grpc.DatasetServiceStub(channel)

    def blocked() -> Iterator[datasets_pb2.UploadDatasetRequest]:
        yield datasets_pb2.UploadDatasetRequest(
            header=datasets_pb2.UploadHeader(name="held", kind=common_pb2.TABLE_KIND_PARKS)
        )
        release.wait(10)

    return [
        channel,
        *(stub.UploadDataset.future(blocked(), metadata=MD, timeout=15) for _ in range(calls)),
    ]


def test_resource_exhausted_with_retry_info_waits_the_advertised_delay(
    tmp_path: Path, start: Callable[..., tuple[Server, int]], caplog: pytest.LogCaptureFixture
) -> None:
    """The admission limit refuses with RetryInfo 1 s; the client waits that, then is
    admitted (the slot was freed 0.3 s after the refusal)."""
    server, port = start(tmp_path / "d", max_concurrent_calls=1)
    release = threading.Event()
    caplog.set_level(logging.INFO, logger="zone_opt.client")
    try:
        channel, *holders = _hold_admission(port, 1, release)
        time.sleep(0.3)
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=10) as client:
            threading.Timer(0.3, release.set).start()
            began = time.monotonic()
            assert client.list() == []
            elapsed = time.monotonic() - began
        for held in holders:
            with pytest.raises(grpc.RpcError):
                held.result()
        channel.close()
    finally:
        release.set()
        server.stop(0.5)
    retries = _retries(caplog)
    assert [r["code"] for r in retries] == ["RESOURCE_EXHAUSTED"]
    waited = float(retries[0]["wait_s"])
    assert 1.0 <= waited <= 1.1  # the advertised 1 s plus at most the first backoff cap
    assert waited <= elapsed < waited + 0.5
    print(
        f"RESOURCE_EXHAUSTED, RetryInfo 1.0 s: waited {waited:.3f} s, answered in {elapsed:.3f} s"
    )


def test_an_advertised_delay_past_the_deadline_is_not_waited(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A full job queue asks for 5 s; a call with 2 s left raises at once, with the delay."""
    server, port = start(tmp_path / "d", max_queue=0)
    caplog.set_level(logging.INFO, logger="zone_opt.client")
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=2) as client:
            parks = client.upload(sample("parks"), "parks", kind="parks")
            began = time.monotonic()
            with pytest.raises(ResourceExhaustedError) as err:
                client.submit_statistics(parks)
            elapsed = time.monotonic() - began
    finally:
        server.stop(0.5)
    assert err.value.retry_after_s == 5.0
    assert elapsed < 1.0
    assert _retries(caplog) == []


def test_retries_never_outlast_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    """No server at all, a policy of 100 attempts: the call ends at its deadline."""
    caplog.set_level(logging.INFO, logger="zone_opt.client")
    policy = RetryPolicy(max_attempts=100, initial_backoff_s=0.05, max_backoff_s=0.4)
    with Client(f"127.0.0.1:{_free_port()}", timeout_s=1.5, retry=policy) as client:
        began = time.monotonic()
        with pytest.raises(ServiceError) as err:
            client.list()
        elapsed = time.monotonic() - began
    assert err.value.status_code == "UNAVAILABLE"
    assert len(_retries(caplog)) >= 3
    assert elapsed <= 1.5 + 0.05, elapsed
    print(
        f"no server, deadline 1.5 s: gave up after {elapsed:.3f} s, {len(_retries(caplog))} retries"
    )


# Through an interceptor that fails chosen calls.


class _Failing(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
):
    """Fails the first ``times`` attempts of the RPC named ``rpc`` with ``error``; with
    ``after_server``, each failed attempt first reaches the server (its response is lost).
    Records every attempt's request and metadata."""

    def __init__(self, rpc: str, error: grpc.RpcError, times: int, after_server: bool = False):
        self.rpc, self.error, self.times, self.after_server = rpc, error, times, after_server
        self.attempts: list[tuple[Any, dict[str, str]]] = []

    def _intercept(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        if method.rsplit("/", 1)[-1] != self.rpc:
            return continuation(details, request)
        self.attempts.append((request, dict(details.metadata or ())))
        if len(self.attempts) > self.times:
            return continuation(details, request)
        if self.after_server:
            continuation(details, request).result()  # the server did it; the answer is lost
        raise self.error

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._intercept(continuation, details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._intercept(continuation, details, request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return self._intercept(continuation, details, requests)


def _client(port: int, failing: _Failing, retry: RetryPolicy = QUICK) -> Client:
    return Client(
        f"127.0.0.1:{port}", token="token-alice", timeout_s=20, retry=retry, interceptors=[failing]
    )


UNAVAILABLE = _Error(grpc.StatusCode.UNAVAILABLE)


def test_a_submission_whose_response_was_lost_runs_once(
    server: tuple[Server, int], alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    parks = alice.upload(sample("parks"), "parks", kind="parks")
    failing = _Failing("ComputeStatistics", UNAVAILABLE, times=2, after_server=True)
    with _client(server[1], failing) as client:
        name = client.submit_statistics(parks)
        assert client.wait(name, 60).state == "SUCCEEDED"
        assert [op.name for op in client.list_operations()] == [name]  # one operation
    assert len(failing.attempts) == 3
    assert len({request.request_id for request, _ in failing.attempts}) == 1  # one id
    assert len({md["x-request-id"] for _, md in failing.attempts}) == 1


def test_reads_are_retried_and_streams_start_again(
    server: tuple[Server, int], alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    parks = alice.upload(sample("parks"), "parks", kind="parks")
    for rpc in ("GetDataset", "ListDatasets", "DownloadDataset", "GetOperation", "WatchOperation"):
        failing = _Failing(rpc, UNAVAILABLE, times=2)
        with _client(server[1], failing) as client:
            if rpc == "GetDataset":
                assert client.describe(parks).dataset_id == parks
            elif rpc == "ListDatasets":
                assert [d.dataset_id for d in client.list()] == [parks]
            elif rpc == "DownloadDataset":
                assert client.download(parks).equals(sample("parks"))
            elif rpc == "GetOperation":
                op = client.submit_statistics(parks)
                assert client.get_operation(op).name == op
            else:
                op = client.submit_statistics(parks)
                assert list(client.watch(op))[-1].done
        assert len(failing.attempts) == 3, rpc


def test_calls_that_are_not_idempotent_are_not_retried(
    server: tuple[Server, int], alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    parks = alice.upload(sample("parks"), "parks", kind="parks")
    delete = _Failing("DeleteDataset", UNAVAILABLE, times=1)
    with _client(server[1], delete) as client, pytest.raises(ServiceError) as err:
        client.delete(parks)
    assert err.value.status_code == "UNAVAILABLE"
    assert len(delete.attempts) == 1
    # An upload that may have reached the server is not sent again: a second dataset.
    upload = _Failing("UploadDataset", UNAVAILABLE, times=1)
    with _client(server[1], upload) as client, pytest.raises(ServiceError):
        client.upload(sample("parks"), "again", kind="parks")
    assert len(upload.attempts) == 1
    assert [d.dataset_id for d in alice.list()] == [parks]


def test_an_upload_refused_with_retry_info_is_sent_again(
    server: tuple[Server, int], alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    refused = _Error(grpc.StatusCode.RESOURCE_EXHAUSTED, delay_s=0.2)
    upload = _Failing("UploadDataset", refused, times=1)
    with _client(server[1], upload) as client:
        began = time.monotonic()
        stored = client.upload(sample("parks"), "parks", kind="parks")
        assert time.monotonic() - began >= 0.2
    assert len(upload.attempts) == 2
    assert [d.dataset_id for d in alice.list()] == [stored]
    assert alice.download(stored).equals(sample("parks"))


def test_no_retry_without_retry_info_nor_with_retries_off(
    server: tuple[Server, int], alice: Client
) -> None:
    too_large = _Failing("ListDatasets", _Error(grpc.StatusCode.RESOURCE_EXHAUSTED), times=1)
    with _client(server[1], too_large) as client, pytest.raises(ResourceExhaustedError):
        client.list()
    assert len(too_large.attempts) == 1
    off = _Failing("ListDatasets", UNAVAILABLE, times=1)
    with _client(server[1], off, RetryPolicy.none()) as client, pytest.raises(ServiceError):
        client.list()
    assert len(off.attempts) == 1


def test_an_upload_waits_for_a_server_that_starts_late(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not idempotent, so never resent after UNAVAILABLE: sent once the channel connects."""
    port = _free_port()
    started: list[Server] = []
    timer = threading.Timer(1.0, lambda: started.append(start(tmp_path / "d", port=port)[0]))
    caplog.set_level(logging.INFO, logger="zone_opt.client")
    with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=15, retry=QUICK) as client:
        timer.start()
        try:
            stored = client.upload(sample("parks"), "parks", kind="parks")
            assert [d.dataset_id for d in client.list()] == [stored]
        finally:
            timer.join()
            for server in started:
                server.stop(0.5)
    assert [r for r in _retries(caplog) if r["rpc"] == "UploadDataset"] == []
