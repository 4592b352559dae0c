"""Crash recovery: kill -9 the server mid-job, restart it on the same data dir.

Every acknowledged job must end SUCCEEDED, or FAILED with a reason; none may be lost,
and none may leave a second visible result (results are keyed by job id).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.api.v1 import datasets_pb2
from zone_opt.client import Client, Operation

TOKENS = {"token-alice": "alice"}
STATS = datasets_pb2.ComputeStatisticsResult


#: One job worker and short leases: a killed server's jobs are taken over quickly.
SERVE_ARGS = ("--job-workers", "1", "--lease-s", "3")


def test_kill_9_mid_job_loses_nothing_and_runs_nothing_twice(
    tmp_path: Path,
    meters: Callable[[int], pa.Table],
    serve_process: Callable[..., tuple[subprocess.Popen[bytes], int]],
) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    table = meters(6)
    proc, port = serve_process(data_dir, tokens, *SERVE_ARGS)
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=30) as client:
            dataset_id = client.upload(table, "meters", kind="meters")
            acknowledged = [
                client.submit_statistics(dataset_id, request_id=f"r{i}") for i in range(4)
            ]
            for state in client.watch(acknowledged[0]):
                if state.state == "RUNNING" and state.progress > 0:
                    break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        killed_mid_job = state
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    proc, port = serve_process(data_dir, tokens, *SERVE_ARGS)
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=30) as client:
            final: list[Operation] = [client.wait(name, 60) for name in acknowledged]
            listed = {op.name for op in client.list_operations()}
            # idempotency survives the restart: the same request id is the same operation
            assert client.submit_statistics(dataset_id, request_id="r0") == acknowledged[0]
            results = [d for d in client.list() if d.kind == "result"]
            stats = {
                name: client.download(op.result_as(STATS).statistics_dataset_id)
                for name, op in zip(acknowledged, final, strict=True)
                if op.state == "SUCCEEDED"
            }
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0

    assert killed_mid_job.state == "RUNNING"
    assert set(acknowledged) <= listed  # none lost
    for op in final:
        assert op.done
        assert op.state == "SUCCEEDED" or (op.state == "FAILED" and op.error_message)
    assert final[0].attempts == 2  # the job that was running was run again after the crash
    succeeded = [op for op in final if op.state == "SUCCEEDED"]
    assert len(results) == len(succeeded)  # exactly one visible result per job
    assert {r.dataset_id for r in results} == {
        op.result_as(STATS).statistics_dataset_id for op in succeeded
    }
    assert len(list((data_dir / "tables").iterdir())) == 1 + len(succeeded)
    kwh_max = pc.max(table.column("electricity_kwh")).as_py()
    for result in stats.values():
        row = next(r for r in result.to_pylist() if r["column"] == "electricity_kwh")
        assert (row["count"], row["max"]) == (table.num_rows, kwh_max)
