"""Sharded jobs with their shards on Ray (the simulated 2-node cluster, one CPU per node):
a task's worker SIGKILLed by the pid it reports, and a node removed mid-job. Ray runs the
lost task again; each job ends with the serial run's result and one commit per shard."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from shard_cases import PausingExecutor, manifest_checks, open_store, run_to_end, submit_example

from zone_opt.distributed import Executor, LocalExecutor
from zone_opt.service.jobs.sharded import shard_keys
from zone_opt.service.storage.jobstore import Job, JobState

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The result of the job run uninterrupted, scenarios in turn on one thread."""
    store = open_store(tmp_path_factory.mktemp("serial"))
    done = run_to_end(store, submit_example(store).job_id, LocalExecutor(1))
    assert done.state == JobState.SUCCEEDED, done.error_message
    assert done.result is not None
    return done.result


def _check(done: Job, reference: dict[str, Any], data_dir: Path) -> None:
    assert done.state == JobState.SUCCEEDED, done.error_message
    assert done.attempts == 1  # the driver survived: Ray, not the job store, retried
    assert done.result == reference
    records = manifest_checks(open_store(data_dir), done.job_id)
    assert [r.shard_key for r in records] == shard_keys(4, "scenario")
    assert {r.generation for r in records} == {1}


def _run_hurting(
    data_dir: Path, ex: PausingExecutor, hurt: Any, timeout_s: float = 120
) -> tuple[Job, list[tuple[int, str]]]:
    """Run the job; when its first round's two tasks wait, ``hurt(paused)``, then go."""
    store = open_store(data_dir)
    job_id = submit_example(store).job_id
    outcome: list[Job] = []
    runner = threading.Thread(
        target=lambda: outcome.append(run_to_end(store, job_id, ex, timeout_s)), daemon=True
    )
    runner.start()
    try:
        paused = ex.paused(2)
        hurt(paused)
    finally:
        ex.go()
    runner.join(timeout_s)
    assert outcome, "the job did not finish"
    return outcome[0], paused


def test_a_killed_task_worker_is_retried(
    tmp_path: Path, ray_executor: Executor, reference: dict[str, Any]
) -> None:
    ex = PausingExecutor(ray_executor, tmp_path / "tasks")
    ex.directory.mkdir()
    done, paused = _run_hurting(
        tmp_path / "data", ex, lambda paused: os.kill(paused[0][0], signal.SIGKILL)
    )
    assert len({node for _, node in paused}) == 2  # one task on each node
    assert ex.retried() == 1
    _check(done, reference, tmp_path / "data")


def test_a_removed_node_is_survived(
    tmp_path: Path, ray_executor: Executor, ray_nodes: Any, reference: dict[str, Any]
) -> None:
    (worker,) = ray_nodes.worker_nodes
    ex = PausingExecutor(ray_executor, tmp_path / "tasks")
    ex.directory.mkdir()

    def remove(paused: list[tuple[int, str]]) -> None:
        assert worker.node_id in {node for _, node in paused}
        ray_nodes.remove_node(worker)

    done, _ = _run_hurting(tmp_path / "data", ex, remove)
    assert ex.retried() == 1
    _check(done, reference, tmp_path / "data")
