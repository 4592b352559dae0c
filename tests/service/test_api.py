"""Datasets, operations, tenancy, errors: through a real server and the typed client."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xxhash
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from zone_opt.api.v1 import (
    common_pb2,
    datasets_pb2,
    datasets_pb2_grpc,
    matching_pb2,
    matching_pb2_grpc,
)
from zone_opt.client import Client, RetryPolicy
from zone_opt.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    ResourceExhaustedError,
    UnauthenticatedError,
)
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations import OPERATIONS, statistics
from zone_opt.service.operations.statistics import StatisticsParams
from zone_opt.service.server import SERVICE_NAMES, Server
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.jobstore import Database, JobStore

SERVING = health_pb2.HealthCheckResponse.SERVING


def _request_id(metadata: Any) -> object:
    """The ``x-request-id`` value in (trailing) metadata."""
    return next((value for key, value in metadata or () if key == "x-request-id"), None)


def test_health_overall_and_per_service_without_token(server: tuple[Server, int]) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def check(name: str) -> health_pb2.HealthCheckResponse:
            return stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)

        assert check("").status == SERVING
        assert check(SERVICE_NAMES["datasets"]).status == SERVING
        assert check(SERVICE_NAMES["operations"]).status == SERVING
        with pytest.raises(grpc.RpcError) as err:
            check("no.such.Service")
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        server[0].stop(0.5)  # graceful shutdown: NOT_SERVING before the port closes
        assert server[0].health._server_status[""] == health_pb2.HealthCheckResponse.NOT_SERVING


def test_reflection_lists_every_service(server: tuple[Server, int]) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
        names = {s.name for s in response.list_services_response.service}
    assert set(SERVICE_NAMES.values()) <= names
    assert "grpc.health.v1.Health" in names


def test_missing_or_wrong_token_is_unauthenticated(server: tuple[Server, int]) -> None:
    for token in (None, "token-mallory"):
        with Client(f"127.0.0.1:{server[1]}", token=token) as client:
            with pytest.raises(UnauthenticatedError) as err:
                client.list()
            assert err.value.status_code == "UNAUTHENTICATED"


def test_request_id_is_returned_in_trailing_metadata(server: tuple[Server, int]) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        stub = datasets_pb2_grpc.DatasetServiceStub(channel)
        md = (("authorization", "Bearer token-alice"), ("x-request-id", "req-123"))
        _, call = stub.ListDatasets.with_call(datasets_pb2.ListDatasetsRequest(), metadata=md)
        assert _request_id(call.trailing_metadata()) == "req-123"
        with pytest.raises(grpc.RpcError) as err:
            stub.GetDataset(datasets_pb2.GetDatasetRequest(dataset_id="nope"), metadata=md)
        assert _request_id(err.value.trailing_metadata()) == "req-123"


def test_upload_describe_download_round_trip(
    alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    spaces = sample("spaces")
    dataset_id = alice.upload(spaces, "spaces", kind="spaces")
    info = alice.describe(dataset_id)
    assert (info.kind, info.num_rows, info.columns) == (
        "spaces",
        spaces.num_rows,
        tuple(spaces.column_names),
    )
    back = alice.download(dataset_id)
    assert back.equals(spaces)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, back.schema) as writer:
        writer.write_table(back)
    # The client uploads with XXH3-128: the record carries that digest of the stored stream.
    assert xxhash.xxh3_128(sink.getvalue().to_pybytes()).hexdigest() == info.xxh3_128
    assert (info.sha256, info.blake3) == ("", "")
    assert [d.dataset_id for d in alice.list()] == [dataset_id]
    alice.delete(dataset_id)
    with pytest.raises(NotFoundError):
        alice.describe(dataset_id)


def test_invalid_table_is_invalid_argument_with_field_violations(
    alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    spaces = sample("spaces")
    kept = alice.upload(spaces, "good", kind="spaces")
    area = spaces.column("area_m2").to_numpy().copy()
    area[3] = -5.0
    bad = spaces.set_column(spaces.schema.get_field_index("area_m2"), "area_m2", pa.array(area))
    with pytest.raises(InvalidInputError) as err:
        alice.upload(bad, "bad", kind="spaces")
    assert err.value.status_code == "INVALID_ARGUMENT"
    assert any(v.field == "spaces.area_m2" and v.row == 3 for v in err.value.violations)
    assert [d.dataset_id for d in alice.list()] == [kept]  # bad input never loses data
    assert alice.download(kept).equals(spaces)


def _upload_raw(
    channel: grpc.Channel,
    chunks: list[common_pb2.ArrowChunk],
    kind: common_pb2.TableKind.ValueType = common_pb2.TABLE_KIND_PARKS,
) -> datasets_pb2.UploadDatasetResponse:
    stub = datasets_pb2_grpc.DatasetServiceStub(channel)
    header = datasets_pb2.UploadHeader(name="x", kind=kind)
    messages = [datasets_pb2.UploadDatasetRequest(header=header)]
    messages += [datasets_pb2.UploadDatasetRequest(chunk=c) for c in chunks]
    return stub.UploadDataset(
        iter(messages), metadata=(("authorization", "Bearer token-alice"),), timeout=10
    )


def test_chunk_order_checksum_and_kind_are_checked(
    server: tuple[Server, int], sample: Callable[[str], pa.Table]
) -> None:
    parks = sample("parks")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, parks.schema) as writer:
        writer.write_table(parks)
    data = sink.getvalue().to_pybytes()
    half = len(data) // 2
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        out_of_order = [common_pb2.ArrowChunk(ipc=data[half:], seq=1, last=True)]
        with pytest.raises(grpc.RpcError) as err:
            _upload_raw(channel, out_of_order)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        wrong_sum = [
            common_pb2.ArrowChunk(ipc=data[:half], seq=0),
            common_pb2.ArrowChunk(ipc=data[half:], seq=1, last=True, sha256="0" * 64),
        ]
        with pytest.raises(grpc.RpcError) as err:
            _upload_raw(channel, wrong_sum)
        assert err.value.code() is grpc.StatusCode.DATA_LOSS
        good = [
            common_pb2.ArrowChunk(ipc=data[:half], seq=0),
            common_pb2.ArrowChunk(
                ipc=data[half:], seq=1, last=True, sha256=hashlib.sha256(data).hexdigest()
            ),
        ]
        assert _upload_raw(channel, good).dataset.num_rows == parks.num_rows
        with pytest.raises(grpc.RpcError) as err:
            _upload_raw(channel, good, kind=common_pb2.TABLE_KIND_UNSPECIFIED)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:
            _upload_raw(channel, [common_pb2.ArrowChunk(ipc=b"not arrow", seq=0, last=True)])
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_other_tenants_data_and_operations_are_not_found(
    alice: Client, bob: Client, sample: Callable[[str], pa.Table]
) -> None:
    dataset_id = alice.upload(sample("parks"), "parks", kind="parks")
    op = alice.submit_statistics(dataset_id)
    assert alice.wait(op, 20).state == "SUCCEEDED"
    assert bob.list() == []
    assert bob.list_operations() == []
    for attempt in (
        lambda: bob.describe(dataset_id),
        lambda: bob.download(dataset_id),
        lambda: bob.delete(dataset_id),
        lambda: bob.submit_statistics(dataset_id),
        lambda: bob.get_operation(op),
        lambda: bob.cancel(op),
        lambda: bob.wait(op, 1),
    ):
        with pytest.raises(NotFoundError) as err:
            attempt()
        assert err.value.status_code == "NOT_FOUND"
    assert alice.describe(dataset_id).num_rows == 6  # untouched


def test_statistics_operation_and_idempotent_request_id(
    alice: Client, sample: Callable[[str], pa.Table], meters: Callable[[int], pa.Table]
) -> None:
    table = meters(1)
    dataset_id = alice.upload(table, "meters", kind="meters")
    op = alice.submit_statistics(dataset_id, request_id="req-1")
    assert alice.submit_statistics(dataset_id, request_id="req-1") == op
    other = alice.upload(sample("parks"), "parks", kind="parks")
    with pytest.raises(AlreadyExistsError):
        alice.submit_statistics(other, request_id="req-1")
    done = alice.wait(op, 30)
    assert (done.state, done.progress) == ("SUCCEEDED", 1.0)
    stats = alice.download(
        done.result_as(datasets_pb2.ComputeStatisticsResult).statistics_dataset_id
    ).to_pylist()
    by_column = {row["column"]: row for row in stats}
    kwh = table.column("electricity_kwh")
    assert by_column["electricity_kwh"]["count"] == table.num_rows
    assert by_column["electricity_kwh"]["max"] == pc.max(kwh).as_py()
    assert by_column["electricity_kwh"]["mean"] == pytest.approx(pc.mean(kwh).as_py(), rel=1e-12)
    assert by_column["enterprise_id"]["mean"] is None
    states = [o.state for o in alice.watch(op)]
    assert states[-1] == "SUCCEEDED"


def test_cancellation_stops_a_running_job(
    tmp_path: object, alice: Client, meters: Callable[[int], pa.Table]
) -> None:
    dataset_id = alice.upload(meters(8), "meters", kind="meters")
    op = alice.submit_statistics(dataset_id)
    for state in alice.watch(op):
        if state.state == "RUNNING" and state.progress > 0:
            alice.cancel(op)
            break
    done = alice.wait(op, 30)
    assert done.state == "CANCELLED"
    assert done.progress < 1.0
    assert done.error_code == grpc.StatusCode.CANCELLED.value[0]
    assert all(d.kind != "result" for d in alice.list())  # no result written


def test_oversized_message_is_resource_exhausted(server: tuple[Server, int]) -> None:
    with grpc.insecure_channel(
        f"127.0.0.1:{server[1]}", options=[("grpc.max_send_message_length", -1)]
    ) as channel:
        stub = matching_pb2_grpc.MatchingServiceStub(channel)
        request = matching_pb2.RecommendRequest(spaces_ipc=b"\0" * (5 * 1024 * 1024))
        with pytest.raises(grpc.RpcError) as err:
            stub.Recommend(request, metadata=(("authorization", "Bearer token-alice"),), timeout=10)
        assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_flood_beyond_admission_limit_is_resource_exhausted_with_retry_info(
    tmp_path: object, start: Callable[..., tuple[Server, int]]
) -> None:

    server, port = start(Path(str(tmp_path)) / "d", max_concurrent_calls=2)
    release = threading.Event()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = datasets_pb2_grpc.DatasetServiceStub(channel)
            md = (("authorization", "Bearer token-alice"),)

            def blocked() -> Iterator[datasets_pb2.UploadDatasetRequest]:
                yield datasets_pb2.UploadDatasetRequest(
                    header=datasets_pb2.UploadHeader(name="x", kind=common_pb2.TABLE_KIND_PARKS)
                )
                release.wait(10)

            holders = [
                stub.UploadDataset.future(blocked(), metadata=md, timeout=15) for _ in range(2)
            ]
            time.sleep(0.5)
            # Without retries: the refusal itself is under test (test_retry.py waits it out).
            with Client(
                f"127.0.0.1:{port}", token="token-alice", retry=RetryPolicy.none()
            ) as client:
                with pytest.raises(ResourceExhaustedError) as err:
                    client.list()
                assert err.value.status_code == "RESOURCE_EXHAUSTED"
                assert err.value.retry_after_s == 1.0
                release.set()
                for h in holders:
                    with pytest.raises(grpc.RpcError):
                        h.result()
                assert client.list() == []  # admitted again once calls finished
    finally:
        release.set()
        server.stop(0.5)


def test_download_of_unknown_dataset_and_bad_operation_name(alice: Client) -> None:
    with pytest.raises(NotFoundError):
        alice.download("missing")
    with pytest.raises(InvalidInputError) as err:
        alice.get_operation("jobs/1")
    assert err.value.violations[0].field == "name"


def test_job_queue_is_bounded_with_retry_info(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite")
    store = JobStore(db)
    datasets = DatasetStore(tmp_path, db, max_upload_bytes=1 << 20)
    pool = WorkerPool(store, datasets, OPERATIONS, workers=1, max_queue=3)  # not started
    for i in range(3):
        pool.submit("t", statistics.OPERATION, StatisticsParams(f"d{i}"), request_id="")
    with pytest.raises(ResourceExhaustedError) as err:
        pool.submit("t", statistics.OPERATION, StatisticsParams("d3"), request_id="")
    assert err.value.retry_after_s is not None
    assert store.queue_depth() == 3  # the refused job was never stored
    db.close()


def test_time_limit_fails_the_job_with_deadline_exceeded(
    alice: Client, meters: Callable[[int], pa.Table]
) -> None:
    dataset_id = alice.upload(meters(4), "meters", kind="meters")
    op = alice.submit_statistics(dataset_id, time_limit_s=0.001)
    done = alice.wait(op, 30)
    assert (done.state, done.error_code) == ("FAILED", grpc.StatusCode.DEADLINE_EXCEEDED.value[0])
    assert "time limit" in done.error_message
    assert all(d.kind != "result" for d in alice.list())
