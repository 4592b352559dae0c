"""The durable job store: one SQLite table of jobs (WAL, ``synchronous=FULL``).

A job is acknowledged only after its INSERT has committed under ``synchronous=FULL``, so
an acknowledged job survives a process crash and a power loss. Workers claim a job with
one atomic UPDATE that sets a lease (owner, expiry) and increments ``generation``, the
fencing token: every later write by that worker (progress, finish) says
``WHERE generation = ?``, so a worker whose lease was taken over changes nothing. A job
whose lease expires (its worker died) is claimed again, up to ``max_attempts`` times,
then FAILED with the reason. Idempotency (AIP-155): ``(tenant, request_id)`` is unique;
the same request id with the same body returns the existing job, a different body raises
:class:`~zone_opt.errors.AlreadyExistsError`.

Every method is one short transaction on one connection guarded by a lock: O(log n)
index lookups, no method holds the lock while work runs.

Sharded jobs also keep a manifest of committed shards (the ``shards`` table, files under
``shards_root``; :mod:`zone_opt.service.storage.shards`): :meth:`JobStore.commit_shard`
commits one under the same fencing token, so a stale attempt's commit is refused.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zone_opt.errors import AlreadyExistsError, NotFoundError
from zone_opt.service.storage.shards import SCHEMA as SHARDS_SCHEMA
from zone_opt.service.storage.shards import (
    ShardCommit,
    ShardFiles,
    ShardRecord,
    commit_shard,
    committed_shards,
    delete_shards,
)

__all__ = ["Database", "Job", "JobState", "JobStore"]


class JobState(enum.IntEnum):
    """Job states; the values equal ``zone_opt.api.v1.OperationState``."""

    QUEUED = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    CANCELLED = 5

    @property
    def done(self) -> bool:
        return self >= JobState.SUCCEEDED


class Database:
    """One SQLite connection (WAL, synchronous=FULL) shared under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) under the lock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def writable(self) -> bool:
        """Whether a write transaction can commit now (for health checks)."""
        try:
            with self.transaction() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS _probe (x INTEGER)")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    job_id: str
    tenant: str
    kind: str
    request_id: str
    params: dict[str, Any]
    state: JobState
    progress: float
    stage: str
    attempts: int
    generation: int
    cancel_requested: bool
    result: dict[str, Any] | None
    error_code: str
    error_message: str
    created_s: float
    updated_s: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            job_id=row["job_id"],
            tenant=row["tenant"],
            kind=row["kind"],
            request_id=row["request_id"] or "",
            params=json.loads(row["params"]),
            state=JobState(row["state"]),
            progress=row["progress"],
            stage=row["stage"],
            attempts=row["attempts"],
            generation=row["generation"],
            cancel_requested=bool(row["cancel_requested"]),
            result=json.loads(row["result"]) if row["result"] else None,
            error_code=row["error_code"],
            error_message=row["error_message"],
            created_s=row["created_s"],
            updated_s=row["updated_s"],
        )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_id TEXT,
    body_sha256 TEXT NOT NULL,
    params TEXT NOT NULL,
    state INTEGER NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_s REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    created_s REAL NOT NULL,
    updated_s REAL NOT NULL,
    UNIQUE (tenant, request_id)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_s);
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, created_s);
"""


class JobStore:
    """Durable jobs on a :class:`Database`."""

    def __init__(
        self, db: Database, max_attempts: int = 3, shards_root: Path | None = None
    ) -> None:
        """``shards_root``: where shard files go (default: ``shards`` beside the database)."""
        self.db = db
        self.max_attempts = max_attempts
        self.shard_files = ShardFiles(shards_root or db.path.parent / "shards")
        with db.transaction() as conn:
            for statement in (*_SCHEMA.split(";"), SHARDS_SCHEMA):
                if statement.strip():
                    conn.execute(statement)

    def submit(self, tenant: str, kind: str, params: dict[str, Any], request_id: str = "") -> Job:
        """Insert a QUEUED job and commit (durable when this returns); idempotent by request id."""
        body = json.dumps({"kind": kind, "params": params}, sort_keys=True)
        body_sha256 = hashlib.sha256(body.encode()).hexdigest()
        now = time.time()
        with self.db.transaction() as conn:
            if request_id:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE tenant = ? AND request_id = ?", (tenant, request_id)
                ).fetchone()
                if row is not None:
                    if row["body_sha256"] != body_sha256:
                        raise AlreadyExistsError(
                            f"request id {request_id!r} was already used with another request"
                        )
                    return Job.from_row(row)
            job_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO jobs (job_id, tenant, kind, request_id, body_sha256, params, state,"
                " created_s, updated_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    tenant,
                    kind,
                    request_id or None,
                    body_sha256,
                    json.dumps(params, sort_keys=True),
                    int(JobState.QUEUED),
                    now,
                    now,
                ),
            )
            row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return Job.from_row(row)

    def get(self, tenant: str, job_id: str) -> Job:
        """The tenant's job; another tenant's job is reported as not found."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM jobs WHERE job_id = ? AND tenant = ?", (job_id, tenant)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"operation {job_id!r} not found")
        return Job.from_row(row)

    def list(self, tenant: str, limit: int, offset: int) -> list[Job]:
        """The tenant's jobs, newest first."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE tenant = ? ORDER BY created_s DESC, job_id"
                " LIMIT ? OFFSET ?",
                (tenant, limit, offset),
            ).fetchall()
        return [Job.from_row(r) for r in rows]

    def queue_depth(self) -> int:
        """Jobs waiting for a worker."""
        with self.db.transaction() as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = ?", (int(JobState.QUEUED),)
            ).fetchone()
        return int(n)

    def claim(self, owner: str, lease_s: float) -> Job | None:
        """Lease the oldest queued job (or one whose lease expired) to ``owner``."""
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT job_id FROM jobs WHERE state = ? OR (state = ? AND lease_expires_s < ?)"
                " ORDER BY created_s LIMIT 1",
                (int(JobState.QUEUED), int(JobState.RUNNING), now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = ?, lease_owner = ?, lease_expires_s = ?,"
                " generation = generation + 1, attempts = attempts + 1, updated_s = ?"
                " WHERE job_id = ?",
                (int(JobState.RUNNING), owner, now + lease_s, now, row["job_id"]),
            )
            claimed = conn.execute(
                "SELECT * FROM jobs WHERE job_id = ?", (row["job_id"],)
            ).fetchone()
        job = Job.from_row(claimed)
        if job.attempts > self.max_attempts:
            self.finish(
                job,
                JobState.FAILED,
                error=("ABORTED", f"abandoned after {job.attempts - 1} attempts (worker lost)"),
            )
            return self.claim(owner, lease_s)
        return job

    def heartbeat(
        self, job: Job, lease_s: float, progress: float | None = None, stage: str | None = None
    ) -> tuple[bool, bool]:
        """Extend the lease (and record progress); ``(still_owner, cancel_requested)``."""
        now = time.time()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_expires_s = ?, updated_s = ?,"
                " progress = COALESCE(?, progress), stage = COALESCE(?, stage)"
                " WHERE job_id = ? AND generation = ? AND state = ?",
                (
                    now + lease_s,
                    now,
                    progress,
                    stage,
                    job.job_id,
                    job.generation,
                    int(JobState.RUNNING),
                ),
            )
            row = conn.execute(
                "SELECT cancel_requested FROM jobs WHERE job_id = ?", (job.job_id,)
            ).fetchone()
        return cur.rowcount == 1, bool(row["cancel_requested"]) if row else True

    def finish(
        self,
        job: Job,
        state: JobState,
        result: dict[str, Any] | None = None,
        error: tuple[str, str] | None = None,
    ) -> bool:
        """Record the outcome; ``False`` (and no change) if ``job``'s lease was lost."""
        code, message = error or ("", "")
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET state = ?, result = ?, error_code = ?, error_message = ?,"
                " progress = CASE WHEN ? = 3 THEN 1.0 ELSE progress END,"
                " lease_owner = NULL, lease_expires_s = NULL, updated_s = ?"
                " WHERE job_id = ? AND generation = ? AND state = ?",
                (
                    int(state),
                    json.dumps(result) if result is not None else None,
                    code,
                    message,
                    int(state),
                    time.time(),
                    job.job_id,
                    job.generation,
                    int(JobState.RUNNING),
                ),
            )
        return cur.rowcount == 1

    def requeue(self, job: Job, reason: str) -> bool:
        """Give a running job back to the queue (checkpoint on shutdown)."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET state = ?, lease_owner = NULL, lease_expires_s = NULL,"
                " stage = ?, attempts = MAX(attempts - 1, 0), updated_s = ?"
                " WHERE job_id = ? AND generation = ? AND state = ?",
                (
                    int(JobState.QUEUED),
                    reason,
                    time.time(),
                    job.job_id,
                    job.generation,
                    int(JobState.RUNNING),
                ),
            )
        return cur.rowcount == 1

    def request_cancel(self, tenant: str, job_id: str) -> Job:
        """Cancel a queued job now; flag a running one (its worker stops at the next stage)."""
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, error_code = 'CANCELLED',"
                " error_message = 'cancelled before it started', updated_s = ?"
                " WHERE job_id = ? AND tenant = ? AND state = ?",
                (int(JobState.CANCELLED), now, job_id, tenant, int(JobState.QUEUED)),
            )
            conn.execute(
                "UPDATE jobs SET cancel_requested = 1, updated_s = ?"
                " WHERE job_id = ? AND tenant = ? AND state = ?",
                (now, job_id, tenant, int(JobState.RUNNING)),
            )
        return self.get(tenant, job_id)

    def recover(self) -> int:
        """On start, with the data dir locked by this process: every RUNNING job's worker is
        gone, so expire its lease now (it is claimed again, or failed after max attempts)."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_expires_s = 0 WHERE state = ?", (int(JobState.RUNNING),)
            )
        return cur.rowcount

    def commit_shard(self, job: Job, shard_key: str, data: bytes, rows: int) -> ShardRecord:
        """Commit one shard's output under ``job``'s fencing token (its generation): written,
        fsynced, renamed and recorded, or
        :class:`~zone_opt.service.storage.shards.StaleShardCommitError` (nothing left
        behind) when the job is no longer RUNNING at that generation. Idempotent: a key
        already committed returns its existing row."""
        commit = ShardCommit(job.job_id, job.generation, shard_key, data, rows)
        with self.db.transaction() as conn:
            return commit_shard(conn, self.shard_files, commit)

    def shards(self, job_id: str) -> tuple[ShardRecord, ...]:
        """The committed shards of a job, by key."""
        with self.db.transaction() as conn:
            return tuple(committed_shards(conn, job_id))

    def read_shard(self, record: ShardRecord) -> bytes:
        """A committed shard's bytes, checked against its recorded SHA-256."""
        return self.shard_files.read(record)

    def delete_shards(self, job_id: str) -> int:
        """Drop a job's shard manifest and files (with the job's other outputs)."""
        with self.db.transaction() as conn:
            return delete_shards(conn, self.shard_files, job_id)
