"""The shard manifest and sharded jobs: commits fenced by the lease's generation, idempotent,
one row per shard ever, a crash between rename and insert recovered, and a job worker
SIGKILLed mid-job whose job is finished by the next worker once the lease expires, with
the result of an uninterrupted run. (The Ray faults: tests/test_shards_ray.py.)"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shard_cases import (
    TENANT,
    FirstRoundHook,
    manifest_checks,
    manifest_rows,
    open_store,
    run_to_end,
    submit_example,
)

from zone_opt.distributed import LocalExecutor
from zone_opt.errors import InvalidInputError
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.jobs.sharded import ShardPlan, shard_keys
from zone_opt.service.storage.jobstore import Job, JobState, JobStore
from zone_opt.service.storage.shards import ShardCorruptError, StaleShardCommitError

SHARD_WORKER = Path(__file__).resolve().parent / "shard_cases.py"


def _claimed(tmp_path: Path) -> tuple[JobStore, Job]:
    store = open_store(tmp_path / "data")
    submit_example(store)
    job = store.claim("worker-1", lease_s=30)
    assert job is not None
    assert job.generation == 1
    return store, job


def _take_over(store: JobStore) -> Job:
    """Another worker's claim after the first one's lease expired."""
    store.recover()  # as after a restart: every running lease expired now
    job = store.claim("worker-2", lease_s=30)
    assert job is not None
    return job


def _job_dir_files(store: JobStore, job: Job) -> list[str]:
    directory = store.shard_files.root / job.job_id
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_commit_writes_the_file_and_one_row(tmp_path: Path) -> None:
    store, job = _claimed(tmp_path)
    record = store.commit_shard(job, "scenario-000000", b"plan bytes", rows=3)
    assert (record.generation, record.rows, record.size_bytes) == (1, 3, 10)
    assert record.path == f"{job.job_id}/scenario-000000.shard"
    assert record.sha256 == hashlib.sha256(b"plan bytes").hexdigest()
    assert store.read_shard(record) == b"plan bytes"
    assert manifest_checks(store, job.job_id) == (record,)


def test_double_commit_is_idempotent(tmp_path: Path) -> None:
    store, job = _claimed(tmp_path)
    first = store.commit_shard(job, "k1", b"one", rows=1)
    again = store.commit_shard(job, "k1", b"one", rows=1)
    assert again == first
    assert manifest_rows(store, job.job_id) == 1
    assert _job_dir_files(store, job) == ["k1.shard"]  # no temporary file left


def test_stale_generation_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store, old = _claimed(tmp_path)
    store.commit_shard(old, "k0", b"zero", rows=1)
    new = _take_over(store)
    assert new.generation == 2
    with pytest.raises(StaleShardCommitError, match="generation 1 is stale") as refused:
        store.commit_shard(old, "k1", b"late", rows=1)
    assert (refused.value.generation, refused.value.current) == (1, 2)
    assert [r.shard_key for r in store.shards(old.job_id)] == ["k0"]
    assert _job_dir_files(store, old) == ["k0.shard"]
    # the new attempt commits; a key committed by the old one stays the old one's
    assert store.commit_shard(new, "k1", b"one", rows=1).generation == 2
    kept = store.commit_shard(new, "k0", b"recomputed", rows=1)
    assert (kept.generation, store.read_shard(kept)) == (1, b"zero")
    assert manifest_rows(store, old.job_id) == 2


def test_a_finished_job_commits_nothing(tmp_path: Path) -> None:
    store, job = _claimed(tmp_path)
    assert store.finish(job, JobState.SUCCEEDED, result={})
    with pytest.raises(StaleShardCommitError, match="state 3"):
        store.commit_shard(job, "k0", b"zero", rows=1)
    assert store.shards(job.job_id) == ()


def test_crash_between_rename_and_insert_is_recovered(tmp_path: Path) -> None:
    """A file at the final name with no row (the process died after the rename): the next
    commit replaces it, then inserts its row."""
    store, job = _claimed(tmp_path)
    final = store.shard_files.root / store.shard_files.relative(job.job_id, "k0")
    final.parent.mkdir(parents=True)
    final.write_bytes(b"half of an older attempt")
    record = store.commit_shard(job, "k0", b"the shard", rows=1)
    assert final.read_bytes() == b"the shard"
    assert manifest_checks(store, job.job_id) == (record,)


def test_never_a_second_row_for_a_key(tmp_path: Path) -> None:
    store, job = _claimed(tmp_path)
    record = store.commit_shard(job, "k0", b"zero", rows=1)
    with store.db.transaction() as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO shards VALUES (?, ?, 2, 'x', 'y', 1, 1, 0)", (job.job_id, "k0"))
    assert store.shards(job.job_id) == (record,)


def test_a_corrupt_shard_is_not_read(tmp_path: Path) -> None:
    store, job = _claimed(tmp_path)
    record = store.commit_shard(job, "k0", b"zero", rows=1)
    (store.shard_files.root / record.path).write_bytes(b"zer0")
    with pytest.raises(ShardCorruptError, match="sha256"):
        store.read_shard(record)


def test_deleting_a_jobs_shards_removes_rows_and_files(tmp_path: Path) -> None:
    store, job = _claimed(tmp_path)
    for key in ("k0", "k1"):
        store.commit_shard(job, key, key.encode(), rows=1)
    assert store.delete_shards(job.job_id) == 2
    assert store.shards(job.job_id) == ()
    assert not (store.shard_files.root / job.job_id).exists()


@pytest.mark.parametrize(
    ("key", "rows"), [("../etc", 1), (".hidden", 1), ("", 1), ("k", -1), ("k", True)]
)
def test_keys_and_rows_are_checked(tmp_path: Path, key: str, rows: int) -> None:
    store, job = _claimed(tmp_path)
    with pytest.raises(InvalidInputError):
        store.commit_shard(job, key, b"x", rows=rows)
    assert _job_dir_files(store, job) == []


def test_a_plan_needs_unique_valid_keys() -> None:
    def fn(_shared: None, item: int) -> int:
        return item

    def plan(keys: list[str]) -> ShardPlan[None, int, int]:
        return ShardPlan(keys, keys, [0] * len(keys), fn, lambda: None, lambda r: (b"", r))

    assert shard_keys(3, "s") == ["s-000000", "s-000001", "s-000002"]
    with pytest.raises(InvalidInputError, match="unique"):
        plan(["a", "a"])
    with pytest.raises(InvalidInputError, match="must match"):
        plan(["a/b"])


def _serial(tmp_path: Path) -> tuple[Job, JobStore]:
    store = open_store(tmp_path / "serial")
    job = submit_example(store)
    return run_to_end(store, job.job_id, LocalExecutor(1)), store


def test_an_uninterrupted_job_commits_each_scenario_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages: list[str] = []
    report = JobContext.report

    def spy(self: JobContext, progress: float, stage: str) -> None:
        stages.append(stage)
        report(self, progress, stage)

    monkeypatch.setattr(JobContext, "report", spy)
    done, store = _serial(tmp_path)
    assert done.state == JobState.SUCCEEDED, done.error_message
    records = manifest_checks(store, done.job_id)
    assert [r.shard_key for r in records] == shard_keys(4, "scenario")
    assert {(r.generation, r.rows) for r in records} == {(1, 1)}
    committed = [s for s in stages if s.endswith(": committed")]
    assert [s.split(":")[0] for s in committed] == [f"shard {k} of 4" for k in range(1, 5)]


def test_driver_killed_mid_job_is_resumed_after_its_lease(tmp_path: Path) -> None:
    """A job worker process commits 2 of 4 shards and is SIGKILLed (by its pid); once its
    lease has expired the next worker claims the job, solves only the 2 missing
    scenarios and ends with the uninterrupted run's result. The first attempt's commit,
    arriving late, is refused."""
    reference, _ = _serial(tmp_path)
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    job_id = submit_example(store).job_id
    lease_s = 1.5
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(SHARD_WORKER), str(data_dir), str(lease_s), "2"], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while manifest_rows(store, job_id) < 2:
            assert child.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        first = store.get(TENANT, job_id)  # the first attempt, as its worker saw it
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert (first.state, first.generation, manifest_rows(store, job_id)) == (
        JobState.RUNNING,
        1,
        2,
    )
    assert store.claim("too-early", lease_s) is None  # the dead worker's lease still holds
    time.sleep(lease_s + 0.2)

    late: list[BaseException] = []

    def late_commit() -> None:  # runs while the second attempt holds the job
        try:
            store.commit_shard(first, "scenario-000002", b"late", rows=1)
        except StaleShardCommitError as exc:
            late.append(exc)

    done = run_to_end(store, job_id, FirstRoundHook(late_commit))
    assert done.state == JobState.SUCCEEDED, done.error_message
    assert (done.attempts, done.generation) == (2, 2)
    assert len(late) == 1
    assert "generation 1 is stale" in str(late[0])
    assert done.result == reference.result
    records = manifest_checks(store, job_id)
    assert [r.shard_key for r in records] == shard_keys(4, "scenario")
    assert [r.generation for r in records] == [1, 1, 2, 2]
    ref_records = open_store(tmp_path / "serial").shards(reference.job_id)
    assert [r.sha256 for r in records] == [r.sha256 for r in ref_records]
