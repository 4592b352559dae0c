"""The shard manifest of sharded jobs: one row per committed shard, its file beside it.

A sharded job (:mod:`zone_opt.service.jobs.sharded`) splits its work into shards named by
keys of a deterministic plan. Each shard's output is one file under the job's output
directory, ``<root>/<job id>/<key>.shard``, and one row of the ``shards`` table (primary
key ``(job_id, shard_key)``: never a second row for a key) recording the generation of the
lease that committed it, the file's path relative to ``root``, its SHA-256, rows and size.

Commit protocol (:func:`commit_shard`), safe against a crash at any point:

1. the bytes are written to a temporary name in the job's directory, flushed and
   ``os.fsync``-ed (outside any transaction: the slow part);
2. in one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so no claim of the job by
   another worker can come in between): the fence is checked (the job is RUNNING and its
   ``generation`` is the caller's, else :class:`StaleShardCommitError` and the temporary
   file is removed), an existing row for the key is returned as it is (idempotent), else
   the temporary file is renamed over the final name (``os.replace``, atomic), the directory
   fsynced, and the row inserted.

A crash between the rename and the insert leaves a final file without a row: the next
attempt's rename replaces it before inserting its own row. Committed files are read back
through :meth:`ShardFiles.read`, which checks the recorded SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from zone_opt.durable import fsync_dir
from zone_opt.errors import FailedPreconditionError, InvalidInputError

__all__ = [
    "SCHEMA",
    "SHARD_KEY",
    "ShardCommit",
    "ShardCorruptError",
    "ShardFiles",
    "ShardRecord",
    "StaleShardCommitError",
    "commit_shard",
    "committed_shards",
    "delete_shards",
]

#: A shard key: it names a file, so letters, digits, ``.``, ``_``, ``-`` (not leading ``.``).
SHARD_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
#: A job id as the job store makes them (uuid4 hex); anything else never names a directory.
_JOB_ID = re.compile(r"[0-9a-f]{32}")
#: The job state that may commit (``JobState.RUNNING``; this module sits below jobstore).
_RUNNING = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS shards (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    shard_key TEXT NOT NULL,
    generation INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    rows INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    committed_s REAL NOT NULL,
    PRIMARY KEY (job_id, shard_key)
)
"""


class StaleShardCommitError(FailedPreconditionError):
    """A shard commit from an attempt whose lease was taken over (or whose job is no longer
    RUNNING): refused, nothing written."""

    def __init__(self, job_id: str, generation: int, current: int | None, state: int | None):
        where = "gone" if current is None else f"at generation {current}, state {state}"
        super().__init__(
            f"shard commit of job {job_id} refused: attempt generation {generation} is stale"
            f" (the job is {where})",
            subject="generation",
            kind="STALE_GENERATION",
        )
        self.generation = generation
        self.current = current


class ShardCorruptError(FailedPreconditionError):
    """A committed shard's file is missing or differs from its recorded SHA-256."""


@dataclass(frozen=True)
class ShardRecord:
    """One row of the manifest."""

    job_id: str
    shard_key: str
    generation: int
    path: str
    sha256: str
    rows: int
    size_bytes: int
    committed_s: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ShardRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ShardCommit:
    """What one attempt asks to commit: its job and lease generation, the key, the bytes
    and how many rows (records) they hold."""

    job_id: str
    generation: int
    shard_key: str
    data: bytes
    rows: int

    def __post_init__(self) -> None:
        if not _JOB_ID.fullmatch(self.job_id):
            raise InvalidInputError.single("job_id", None, f"not a job id: {self.job_id!r}")
        if not SHARD_KEY.fullmatch(self.shard_key):
            raise InvalidInputError.single(
                "shard_key", None, f"must match {SHARD_KEY.pattern}, got {self.shard_key!r}"
            )
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0:
            raise InvalidInputError.single("rows", None, f"must be >= 0, got {self.rows!r}")
        if not isinstance(self.data, bytes):
            raise InvalidInputError.single("data", None, "must be bytes")


class ShardFiles:
    """The shard files under ``root`` (one directory per job)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def relative(self, job_id: str, shard_key: str) -> str:
        """The final file of a shard, relative to ``root``: derived from (job id, key)."""
        return f"{job_id}/{shard_key}.shard"

    def write_temp(self, commit: ShardCommit) -> Path:
        """Step 1: the bytes under a temporary name in the job's directory, fsynced."""
        directory = self.root / commit.job_id
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{commit.shard_key}.{commit.generation}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(commit.data)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def publish(self, tmp: Path, relative: str) -> None:
        """Rename ``tmp`` over the final name (atomic) and fsync the directory."""
        final = self.root / relative
        os.replace(tmp, final)
        fsync_dir(final.parent)

    def read(self, record: ShardRecord) -> bytes:
        """A committed shard's bytes, checked against the recorded SHA-256."""
        try:
            data = (self.root / record.path).read_bytes()
        except FileNotFoundError:
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != record.sha256:
            raise ShardCorruptError(
                f"shard {record.shard_key!r} of job {record.job_id} is missing or does not"
                " match its recorded sha256",
                subject=record.path,
                kind="SHARD_CORRUPT",
            )
        return data

    def remove_job(self, job_id: str) -> None:
        """Every file of a job (its directory), if any."""
        if _JOB_ID.fullmatch(job_id):
            shutil.rmtree(self.root / job_id, ignore_errors=True)


def commit_shard(conn: sqlite3.Connection, files: ShardFiles, commit: ShardCommit) -> ShardRecord:
    """Commit one shard under the job's fencing token; see the module docstring.

    ``conn`` must be inside a ``BEGIN IMMEDIATE`` transaction (the caller's), which holds
    SQLite's write lock from the fence check to the insert. Returns the shard's row: the
    new one, or the one already committed for the key (by this generation or an earlier
    one; the bytes given are then dropped). Raises :class:`StaleShardCommitError` when the
    job is not RUNNING at ``commit.generation``.
    """
    tmp = files.write_temp(commit)
    try:
        return _commit_in_transaction(conn, files, commit, tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # gone already once published


def _commit_in_transaction(
    conn: sqlite3.Connection, files: ShardFiles, commit: ShardCommit, tmp: Path
) -> ShardRecord:
    job = conn.execute(
        "SELECT generation, state FROM jobs WHERE job_id = ?", (commit.job_id,)
    ).fetchone()
    if job is None or job["generation"] != commit.generation or job["state"] != _RUNNING:
        current = None if job is None else int(job["generation"])
        raise StaleShardCommitError(
            commit.job_id, commit.generation, current, None if job is None else job["state"]
        )
    existing = conn.execute(
        "SELECT * FROM shards WHERE job_id = ? AND shard_key = ?",
        (commit.job_id, commit.shard_key),
    ).fetchone()
    if existing is not None:
        return ShardRecord.from_row(existing)
    record = ShardRecord(
        job_id=commit.job_id,
        shard_key=commit.shard_key,
        generation=commit.generation,
        path=files.relative(commit.job_id, commit.shard_key),
        sha256=hashlib.sha256(commit.data).hexdigest(),
        rows=commit.rows,
        size_bytes=len(commit.data),
        committed_s=time.time(),
    )
    files.publish(tmp, record.path)
    conn.execute(
        "INSERT INTO shards (job_id, shard_key, generation, path, sha256, rows, size_bytes,"
        " committed_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.job_id,
            record.shard_key,
            record.generation,
            record.path,
            record.sha256,
            record.rows,
            record.size_bytes,
            record.committed_s,
        ),
    )
    return record


def committed_shards(conn: sqlite3.Connection, job_id: str) -> list[ShardRecord]:
    """The manifest of a job, by shard key."""
    rows = conn.execute(
        "SELECT * FROM shards WHERE job_id = ? ORDER BY shard_key", (job_id,)
    ).fetchall()
    return [ShardRecord.from_row(r) for r in rows]


def delete_shards(conn: sqlite3.Connection, files: ShardFiles, job_id: str) -> int:
    """Remove a job's manifest rows and files; how many rows there were."""
    cur = conn.execute("DELETE FROM shards WHERE job_id = ?", (job_id,))
    files.remove_job(job_id)
    return cur.rowcount
