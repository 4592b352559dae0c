"""A server ``Match`` on a remote executor commits each candidate shard to the job's shard
manifest; a job whose driver stopped mid-candidates is finished by the next worker once
the lease expired, making only the missing shards, with the uninterrupted run's result;
the first attempt, woken late, is fenced off. (Library side: the ledger's encoding and a
resumed ``solve_distributed``.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pytest

from zone_opt.api.v1 import matching_pb2
from zone_opt.client import Client
from zone_opt.distributed import LocalExecutor
from zone_opt.errors import VerificationError
from zone_opt.matching import Matcher, distributed
from zone_opt.matching.candidates import CandidateGraph
from zone_opt.matching.ledger import MemoryLedger, decode_graph, encode_graph
from zone_opt.service.jobs.runner import JobContext, WorkerPool
from zone_opt.service.operations.matching import OPERATION, MatchParams
from zone_opt.service.server import Server
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.jobstore import Database, Job, JobState, JobStore

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")
TABLES = ("spaces", "enterprises", "parks", "tenancies")


@dataclass(frozen=True)
class SmallShards(distributed.ShardOptions):
    """Shards of 250 enterprises: the 2,000 sample enterprises make 8."""

    enterprises_per_shard: int = 250


class Remote(LocalExecutor):
    """Threads that say they are remote (the server's distributed path), counting the
    candidate shards they make; after ``rounds`` candidate rounds the next one waits for
    :attr:`release` (a driver about to die), then runs."""

    def __init__(self, rounds: int | None = None) -> None:
        super().__init__(1)
        self.rounds = rounds
        self.shards_made = 0
        self.waiting = threading.Event()
        self.release = threading.Event()

    @property
    def remote(self) -> bool:
        return True

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        if fn is distributed.generate_shard:
            if self.rounds is not None and self.rounds == 0:
                self.waiting.set()
                self.release.wait()
            if self.rounds is not None:
                self.rounds -= 1
            self.shards_made += len(items)
        return super().map(fn, shared, items)


def _pool(store: JobStore, datasets: DatasetStore, executor: LocalExecutor) -> WorkerPool:
    return WorkerPool(
        store,
        datasets,
        {OPERATION.kind: OPERATION},
        workers=1,
        max_queue=4,
        lease_s=30.0,
        executor=executor,
    )


def _wait(store: JobStore, job_id: str, timeout_s: float = 120.0) -> Job:
    deadline = time.monotonic() + timeout_s
    while not (job := store.get("alice", job_id)).state.done:
        assert time.monotonic() < deadline, f"job not done: {job.state.name} {job.stage}"
        time.sleep(0.05)
    return job


def _result(job: Job) -> matching_pb2.MatchResult:
    assert job.result is not None
    return OPERATION.decode_result(job.result)


def _rows(datasets: DatasetStore, job: Job) -> pa.Table:
    table = datasets.read("alice", _result(job).assignments_dataset_id)
    return table.sort_by("enterprise_id")


@pytest.fixture
def stored(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[JobStore, DatasetStore, dict[str, Any]]:
    """The sample tables uploaded through a server that is then stopped; its job store
    and dataset store, and a Match job's params. Candidate shards of 250 enterprises."""
    server, port = start(tmp_path / "data")
    with Client(f"127.0.0.1:{port}", token="token-alice") as alice:
        ids = {t: alice.upload(sample(t), t, kind=t) for t in TABLES}
    server.stop(0.5)
    monkeypatch.setattr(distributed, "ShardOptions", SmallShards)
    db = Database(tmp_path / "data" / "zone-opt.db")
    store = JobStore(db)
    datasets = DatasetStore(tmp_path / "data", db, 1 << 20)
    params = MatchParams(
        spaces_dataset_id=ids["spaces"],
        enterprises_dataset_id=ids["enterprises"],
        parks_dataset_id=ids["parks"],
        tenancies_dataset_id=ids["tenancies"],
        now="2026-11-23",
    )
    return store, datasets, OPERATION.encode_params(params)


def test_a_match_resumed_after_its_driver_stopped_makes_only_the_missing_shards(
    stored: tuple[JobStore, DatasetStore, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, datasets, params = stored
    stages: list[str] = []
    checkpoint = JobContext.checkpoint

    def spy(self: JobContext, progress: float, stage: str) -> None:
        stages.append(stage)
        checkpoint(self, progress, stage)

    monkeypatch.setattr(JobContext, "checkpoint", spy)
    # The uninterrupted run: 8 shards, each committed once by generation 1.
    reference = store.submit("alice", OPERATION.kind, params)
    whole = Remote()
    pool = _pool(store, datasets, whole)
    pool.start()
    done_reference = _wait(store, reference.job_id)
    pool.stop(5.0)
    assert done_reference.state == JobState.SUCCEEDED, done_reference.error_message
    assert whole.shards_made == 8
    ref_records = store.shards(reference.job_id)
    assert len(ref_records) == 8
    assert {r.generation for r in ref_records} == {1}
    committed = [s for s in stages if s.endswith(": committed")]
    assert committed == [f"candidates shard {k} of 8: committed" for k in range(1, 9)]
    stages.clear()

    # The interrupted run: 2 rounds of 2 shards committed, then the driver hangs.
    job_id = store.submit("alice", OPERATION.kind, params).job_id
    stuck = Remote(rounds=2)
    first = _pool(store, datasets, stuck)
    first.start()
    assert stuck.waiting.wait(60)
    assert [r.shard_key for r in store.shards(job_id)] == [r.shard_key for r in ref_records[:4]]
    store.recover()  # as after a restart: the hung attempt's lease is gone
    again = Remote()
    second = _pool(store, datasets, again)
    second.start()
    done = _wait(store, job_id)
    second.stop(5.0)
    assert done.state == JobState.SUCCEEDED, done.error_message
    assert (done.attempts, done.generation) == (2, 2)
    assert again.shards_made == 4  # only the missing ones
    assert "resumed: 4 shards committed" in stages
    records = store.shards(job_id)
    assert [r.shard_key for r in records] == [r.shard_key for r in ref_records]
    assert [r.generation for r in records] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert [r.sha256 for r in records] == [r.sha256 for r in ref_records]
    result, reference_result = _result(done), _result(done_reference)
    for name in ("n_seekers", "n_edges", "n_matched", "n_outcompeted", "total_score"):
        assert getattr(result.statistics, name) == getattr(reference_result.statistics, name)
    assert result.statistics.total_score > 0
    assert (
        _rows(datasets, done)
        .select(["enterprise_id", "space_id", "score"])
        .equals(_rows(datasets, done_reference).select(["enterprise_id", "space_id", "score"]))
    )

    # The first attempt wakes up: its next commit is refused, its outcome not recorded.
    stuck.release.set()
    first.stop(10.0)
    assert len(store.shards(job_id)) == 8
    after = store.get("alice", job_id)
    assert (after.state, after.generation, after.result) == (
        JobState.SUCCEEDED,
        2,
        done.result,
    )


def _graph(rows: int = 3) -> CandidateGraph:
    return CandidateGraph(
        indptr=np.array([0, 2, 2, 3][: rows + 1], dtype=np.int64),
        cols=np.array([4, 1, 7], dtype=np.int64),
        scores=np.array([90, 80, 70], dtype=np.int64),
        chain=np.array([0.5, 0.25, 1.0]),
        reason=np.array([0, 3, 0], dtype=np.uint8),
        n_feasible=np.array([5, 0, 1], dtype=np.int64),
    )


def test_a_candidate_shard_round_trips_and_damage_is_refused() -> None:
    graph = _graph()
    back = decode_graph(encode_graph(graph), 3)
    for name in ("indptr", "cols", "scores", "chain", "reason", "n_feasible"):
        assert np.array_equal(getattr(back, name), getattr(graph, name)), name
        assert getattr(back, name).dtype == getattr(graph, name).dtype
        assert getattr(back, name).flags.writeable
    data = encode_graph(graph)
    with pytest.raises(VerificationError, match="3 rows"):
        decode_graph(data, 4)
    with pytest.raises(VerificationError, match="cut short"):
        decode_graph(data[:-1], 3)
    with pytest.raises(VerificationError, match="past its last"):
        decode_graph(data + b"\0", 3)
    with pytest.raises(VerificationError, match="header"):
        decode_graph(b"ZOCG", 3)
    bad = bytearray(data)
    bad[21 + 8 : 21 + 16] = (5).to_bytes(8, "little")  # indptr[1] past the edges
    bad[21 + 16 : 21 + 24] = (1).to_bytes(8, "little")
    with pytest.raises(VerificationError, match="offsets"):
        decode_graph(bytes(bad), 3)


def test_solve_distributed_reads_committed_shards_back(
    sample: Callable[[str], pa.Table],
) -> None:
    """A ledger holding some shards (one of them from another run): the resumed solve
    makes only the others and matches the uninterrupted one's total; a ledger without
    an executor is refused."""
    tables = {t: sample(t) for t in TABLES}
    matcher = Matcher(
        tables["spaces"],
        tables["enterprises"],
        parks=tables["parks"],
        tenancies=tables["tenancies"],
        keep_index_inputs=True,
    )
    shards = SmallShards()
    ledger = MemoryLedger()
    full = distributed.solve_distributed(matcher, Remote(), shards=shards, ledger=ledger)
    assert len(ledger.commits) == 8
    kept = MemoryLedger()
    for key in ledger.commits[::2]:
        kept.data[key] = ledger.data[key]
    resumed_executor = Remote()
    resumed = distributed.solve_distributed(matcher, resumed_executor, shards=shards, ledger=kept)
    assert resumed_executor.shards_made == 4
    assert kept.commits == ledger.commits[1::2]
    assert resumed.summary.total_score == full.summary.total_score
    assert resumed.summary.n_matched == full.summary.n_matched
    # A damaged shard is an error, never a wrong graph.
    kept.data[ledger.commits[0]] = ledger.data[ledger.commits[0]][:-8]
    with pytest.raises(VerificationError):
        distributed.solve_distributed(matcher, Remote(), shards=shards, ledger=kept)
