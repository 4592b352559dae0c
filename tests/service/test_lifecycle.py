"""Graceful shutdown (NOT_SERVING, drain in-flight calls) and Prometheus metrics."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from grpc_health.v1 import health_pb2

from zone_opt.api.v1 import common_pb2, datasets_pb2, datasets_pb2_grpc
from zone_opt.client import Client
from zone_opt.errors import ServiceError, UnauthenticatedError, ZoneOptError
from zone_opt.service.server import Server
from zone_opt.service.storage.jobstore import Database, JobState, JobStore

MD = (("authorization", "Bearer token-alice"),)


def test_shutdown_reports_not_serving_refuses_new_calls_and_drains_in_flight(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
) -> None:
    server, port = start(tmp_path / "d")
    parks = sample("parks")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, parks.schema) as writer:
        writer.write_table(parks)
    data = sink.getvalue().to_pybytes()
    release = threading.Event()

    def upload() -> Iterator[datasets_pb2.UploadDatasetRequest]:
        header = datasets_pb2.UploadHeader(name="p", kind=common_pb2.TABLE_KIND_PARKS)
        yield datasets_pb2.UploadDatasetRequest(header=header)
        release.wait(10)
        yield datasets_pb2.UploadDatasetRequest(
            chunk=common_pb2.ArrowChunk(ipc=data, seq=0, last=True)
        )

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = datasets_pb2_grpc.DatasetServiceStub(channel)
        in_flight = stub.UploadDataset.future(upload(), metadata=MD, timeout=20)
        time.sleep(0.3)
        stopper = threading.Thread(target=server.stop, args=(5.0,))
        stopper.start()
        time.sleep(0.3)
        status = server.health._server_status  # the servicer's own table
        assert status[""] == health_pb2.HealthCheckResponse.NOT_SERVING
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=2) as late:
            with pytest.raises(ServiceError) as err:
                late.list()
            assert err.value.status_code == "UNAVAILABLE"
        release.set()
        assert in_flight.result().dataset.num_rows == parks.num_rows  # drained, not cut
        stopper.join(10)
        assert not stopper.is_alive()


def test_metrics_endpoint_has_latency_codes_and_queue_depth(
    tmp_path: Path, start: Callable[..., tuple[Server, int]]
) -> None:
    server, port = start(tmp_path / "d", metrics_port=0)
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice") as client:
            client.list()
        with (
            Client(f"127.0.0.1:{port}", token="wrong") as client,
            pytest.raises(UnauthenticatedError),
        ):
            client.delete("x")
        assert server.metrics_port is not None
        url = f"http://127.0.0.1:{server.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.stop(0.5)
    method = "/zone_opt.api.v1.DatasetService/ListDatasets"
    assert f'zone_opt_grpc_handling_seconds_count{{method="{method}"}} 1.0' in text
    assert f'zone_opt_grpc_handled_total{{code="OK",method="{method}"}} 1.0' in text
    assert 'code="UNAUTHENTICATED",method="/zone_opt.api.v1.DatasetService/DeleteDataset"' in text
    assert "zone_opt_job_queue_depth 0.0" in text


def test_shutdown_checkpoints_a_running_job_and_the_next_start_finishes_it(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    meters: Callable[[int], pa.Table],
) -> None:
    server, port = start(tmp_path / "d")
    with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=20) as client:
        dataset_id = client.upload(meters(8), "meters", kind="meters")
        op = client.submit_statistics(dataset_id)
        for state in client.watch(op):
            if state.state == "RUNNING" and state.progress > 0:
                break
    server.stop(5.0)  # the job stops at its next checkpoint and goes back to the queue
    db = Database(tmp_path / "d" / "zone-opt.db")
    checkpointed = JobStore(db).get("alice", op.removeprefix("operations/"))
    db.close()
    assert (checkpointed.state, checkpointed.stage) == (
        JobState.QUEUED,
        "requeued: server shut down",
    )
    server, port = start(tmp_path / "d")
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=20) as client:
            requeued = client.get_operation(op)
            done = client.wait(op, 30)
    finally:
        server.stop(0.5)
    assert requeued.state in ("QUEUED", "RUNNING", "SUCCEEDED")  # picked up on start
    assert done.state == "SUCCEEDED"
    assert done.attempts == 1  # a checkpointed job is requeued, not counted as a failed attempt


def test_a_data_dir_is_held_by_one_server_and_given_back_when_a_start_fails(
    tmp_path: Path, start: Callable[..., tuple[Server, int]]
) -> None:
    first, port = start(tmp_path / "a")
    try:
        with pytest.raises(ZoneOptError, match="used by another server"):
            start(tmp_path / "a")
        # Another data dir on the first server's port: the bind fails ...
        with pytest.raises(RuntimeError, match="bind"):
            start(tmp_path / "b", port=port)
    finally:
        first.stop(0.5)
    # ... and leaves the data dir free: a server starts on it.
    again, _ = start(tmp_path / "b")
    again.stop(0.5)
