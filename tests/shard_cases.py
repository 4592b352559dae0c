"""Helpers of the shard fault tests: a job store on a data dir, a PlanFacilities job run by
a worker pool to its end, executors that stop where a test wants to hurt them, and a job
worker process to SIGKILL (``python tests/shard_cases.py DATA_DIR LEASE_S ROUNDS``)."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from zone_opt.distributed import Executor, LocalExecutor
from zone_opt.service.jobs.runner import WorkerPool
from zone_opt.service.operations.facilities import OPERATION, PlanParams
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.jobstore import Database, Job, JobStore
from zone_opt.service.storage.shards import ShardRecord

EXAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "facilities" / "example_scenario.yaml"
TENANT = "alice"
S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


def open_store(data_dir: Path) -> JobStore:
    data_dir.mkdir(parents=True, exist_ok=True)
    return JobStore(Database(data_dir / "zone-opt.db"))


def submit_example(store: JobStore) -> Job:
    """A PlanFacilities job of the example file (4 scenarios: 4 shards)."""
    params = PlanParams(scenario_yaml=EXAMPLE.read_text(), sharing=["shapley", "least_core"])
    return store.submit(TENANT, OPERATION.kind, OPERATION.encode_params(params))


def pool(store: JobStore, executor: Executor, lease_s: float = 30.0) -> WorkerPool:
    datasets = DatasetStore(store.db.path.parent, store.db, 1 << 20)
    return WorkerPool(
        store,
        datasets,
        {OPERATION.kind: OPERATION},
        workers=1,
        max_queue=4,
        lease_s=lease_s,
        executor=executor,
    )


def run_to_end(store: JobStore, job_id: str, executor: Executor, timeout_s: float = 60) -> Job:
    """Start a pool on ``store`` with ``executor``; the job once it is done."""
    workers = pool(store, executor, lease_s=5.0)
    workers.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not (job := store.get(TENANT, job_id)).state.done:
            assert time.monotonic() < deadline, f"job not done: {job.state.name} {job.stage}"
            workers.wait_changed(0.2)
        return job
    finally:
        workers.stop(5.0)


def manifest_checks(store: JobStore, job_id: str) -> tuple[ShardRecord, ...]:
    """The manifest, after checking each file's bytes hash to the recorded SHA-256 and
    that nothing else (no temporary file) is left in the job's directory."""
    records = store.shards(job_id)
    for r in records:
        data = (store.shard_files.root / r.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.sha256
        assert len(data) == r.size_bytes
    files = sorted(p.name for p in (store.shard_files.root / job_id).iterdir())
    assert files == sorted(Path(r.path).name for r in records)
    return records


def manifest_rows(store: JobStore, job_id: str) -> int:
    with store.db.transaction() as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM shards WHERE job_id = ?", (job_id,)).fetchone()
    return int(n)


class HangingExecutor(LocalExecutor):
    """Runs ``rounds`` rounds, then hangs in the next one (a driver about to be killed)."""

    def __init__(self, rounds: int) -> None:
        super().__init__(1)
        self.rounds = rounds
        self.calls = 0

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        self.calls += 1
        if self.calls > self.rounds:
            threading.Event().wait()
        return super().map(fn, shared, items)


class FirstRoundHook(LocalExecutor):
    """Calls ``hook()`` before its first round (while the job is running), then runs."""

    def __init__(self, hook: Callable[[], None]) -> None:
        super().__init__(1)
        self.hook: Callable[[], None] | None = hook

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return super().map(fn, shared, items)


def _pausing(
    shared: tuple[Callable[[Any, Any], Any], Any, str, bool], item: tuple[int, Any]
) -> Any:
    """A Ray task of :class:`PausingExecutor`: on its first run, report the worker's pid and
    node (``<k>.pid``) and wait for ``go``; on a retry (the pid file is there) mark
    ``<k>.retry`` and run at once."""
    fn, inner, directory, pause = shared
    k, value = item
    marker = Path(directory) / f"{k}.pid"
    if pause:
        if marker.exists():
            (Path(directory) / f"{k}.retry").write_text(str(os.getpid()))
        else:
            ray = importlib.import_module("ray")
            node = ray.get_runtime_context().get_node_id()
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(f"{os.getpid()} {node}")
            tmp.replace(marker)
            deadline = time.monotonic() + 60
            while not (Path(directory) / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
    return fn(inner, value)


class PausingExecutor:
    """Another executor whose first round's tasks stop until the test says ``go`` (see
    :func:`_pausing`), so a test can kill a task's worker or its node meanwhile."""

    def __init__(self, inner: Executor, directory: Path) -> None:
        self.inner = inner
        self.directory = directory
        self.rounds = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def workers(self) -> int:
        return self.inner.workers

    @property
    def remote(self) -> bool:
        return self.inner.remote

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        self.rounds += 1
        wrapped = (fn, shared, str(self.directory), self.rounds == 1)
        result: list[R] = self.inner.map(_pausing, wrapped, list(enumerate(items)))
        return result

    def close(self) -> None:
        self.inner.close()

    def paused(self, count: int, timeout_s: float = 60) -> list[tuple[int, str]]:
        """Wait until ``count`` tasks wait for ``go``; their ``(pid, node id)``."""
        deadline = time.monotonic() + timeout_s
        while len(found := sorted(self.directory.glob("*.pid"))) < count:
            assert time.monotonic() < deadline, "tasks did not start"
            time.sleep(0.02)
        out = []
        for path in found:
            pid, node = path.read_text().split()
            out.append((int(pid), node))
        return out

    def go(self) -> None:
        (self.directory / "go").write_text("")

    def retried(self) -> int:
        return len(list(self.directory.glob("*.retry")))


def _worker_main(data_dir: str, lease_s: str, rounds: str) -> None:
    """A job worker process: claims the queued job, commits ``rounds`` shards, hangs."""
    workers = pool(open_store(Path(data_dir)), HangingExecutor(int(rounds)), float(lease_s))
    workers.start()
    threading.Event().wait()


if __name__ == "__main__":
    _worker_main(*sys.argv[1:4])
