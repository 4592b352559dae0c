"""The durable dataset store: Arrow IPC stream files under the data dir, records in SQLite.

An upload is written to ``tmp/`` as its chunks arrive (with direct I/O where the file
system allows it, see :class:`Sink`), hashed over the same bytes with
the checksum its header chose (:data:`CHECKSUMS`: SHA-256, BLAKE3 or XXH3-128), decoded from memory
batch by batch and validated against its table kind's schema
(:class:`zone_opt.validation.BatchValidator`, the rules of
:func:`zone_opt.validation.validate_table`), fsynced once, then renamed into place (the
directory fsynced) and only then recorded; so bad input or
a crash at any point never changes a stored dataset, and a recorded dataset always has its
file. Results of operations are written the same way under ids derived from the job id,
so running a job twice leaves exactly one result. Tenants are separate: every read, list
and delete is filtered by tenant, and another tenant's dataset is simply not found.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from zone_opt.errors import (
    FailedPreconditionError,
    InvalidInputError,
    NotFoundError,
    ResourceExhaustedError,
    VerificationError,
    bounded,
)
from zone_opt.rpc.checksums import CHECKSUMS
from zone_opt.rpc.enums import RESULT_KIND
from zone_opt.rpc.ipc import IpcStreamDecoder
from zone_opt.rpc.upload import UploadChunk
from zone_opt.schemas import TABLES, TableSpec
from zone_opt.service.storage.files import READ_AHEAD_CHUNKS, ReadAhead, Sink, fsync_dir
from zone_opt.service.storage.jobstore import Database
from zone_opt.validation import BatchValidator

__all__ = ["DatasetInfo", "DatasetStore"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    num_rows INTEGER NOT NULL,
    num_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    columns TEXT NOT NULL,
    created_s REAL NOT NULL,
    blake3 TEXT NOT NULL DEFAULT '',
    xxh3_128 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS datasets_tenant ON datasets (tenant, created_s)
"""


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset's record (no data)."""

    dataset_id: str
    tenant: str
    name: str
    kind: str
    num_rows: int
    num_bytes: int
    sha256: str
    columns: tuple[str, ...]
    created_s: float
    #: BLAKE3 of the stored stream when it was uploaded with that checksum, else empty.
    blake3: str = ""
    #: XXH3-128 of the stored stream when it was uploaded with that checksum, else empty;
    #: exactly one of ``sha256``, ``blake3`` and ``xxh3_128`` is set.
    xxh3_128: str = ""

    @property
    def recorded(self) -> tuple[str, str] | None:
        """``(checksum, digest)`` the stored stream was recorded with (None if none was)."""
        return next(((n, d) for n in CHECKSUMS if (d := getattr(self, n))), None)


@dataclass(frozen=True)
class _Received:
    """An upload received in full: the digest its last chunk declared, its size, its
    batches being validated, and why it is not a valid IPC stream (reported only after
    the checksum was compared)."""

    declared: str
    size: int
    validator: BatchValidator | None
    broken: InvalidInputError | None


class DatasetStore:
    """Datasets of every tenant under ``root``; records in ``db``."""

    def __init__(self, root: Path, db: Database, max_upload_bytes: int) -> None:
        self.root = root
        self.db = db
        self.max_upload_bytes = max_upload_bytes
        self._tmp = root / "tmp"
        shutil.rmtree(self._tmp, ignore_errors=True)  # partial uploads of a previous run
        self._tmp.mkdir(parents=True, exist_ok=True)
        (root / "tables").mkdir(parents=True, exist_ok=True)
        with db.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)
            columns = {row["name"] for row in conn.execute("PRAGMA table_info(datasets)")}
            for added in ("blake3", "xxh3_128"):  # a data dir from before these checksums
                if added not in columns:
                    conn.execute(
                        f"ALTER TABLE datasets ADD COLUMN {added} TEXT NOT NULL DEFAULT ''"
                    )

    def _path(self, dataset_id: str) -> Path:
        return self.root / "tables" / f"{dataset_id}.arrows"

    def ingest(
        self,
        tenant: str,
        name: str,
        kind: str,
        chunks: Iterable[UploadChunk],
        checksum: str = "sha256",
    ) -> DatasetInfo:
        """Store an uploaded table of ``kind`` after checking order, size, checksum, schema.

        ``checksum`` (a key of :data:`CHECKSUMS`) is what the stream is hashed with, stored
        with, and compared against the digest the last chunk declares for it.

        One pass over the chunks as they arrive: each is checked (sequence number, size
        limit), hashed and written to the temporary file, and the record batches it
        completes are decoded from memory and checked against the schema's row rules
        (:class:`zone_opt.validation.BatchValidator`); after the last chunk come the
        checks spanning rows (the key), one fsync and the atomic rename.

        Raises:
            InvalidInputError: chunks out of order or missing, not an IPC stream, or rows
                that break the schema of ``kind`` (one violation per problem).
            VerificationError: the declared digest does not match the bytes received.
            ResourceExhaustedError: the upload exceeds ``max_upload_bytes``.

        Complexity: O(bytes) hashing and I/O plus the validation of the table.
        """
        if kind not in TABLES:
            raise InvalidInputError.single("header.kind", None, f"unknown table kind {kind!r}")
        if checksum not in CHECKSUMS:
            raise InvalidInputError.single(
                "header.checksum", None, f"unknown checksum {checksum!r}"
            )
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            with _disk_full_is_exhausted("upload"), Sink(tmp, checksum) as sink:
                with contextlib.closing(ReadAhead(chunks, READ_AHEAD_CHUNKS)) as ahead:
                    received = self._receive(sink, ahead, TABLES[kind])
                # The hashing and writing of the last pieces and the fsync run on the sink's
                # thread while this one checks the key; the checksum is compared first, so
                # bytes damaged in transit are DATA_LOSS, not INVALID_ARGUMENT.
                synced = sink.sync()
                invalid, conformed = received.broken, None
                if invalid is None and received.validator is not None:
                    try:
                        conformed = received.validator.finish()
                    except InvalidInputError as exc:
                        invalid = exc
                digest = sink.digest()
                if received.declared and received.declared != digest:
                    raise VerificationError(
                        f"checksum mismatch: declared {checksum} {received.declared},"
                        f" received {digest}"
                    )
                if invalid is not None or conformed is None or received.validator is None:
                    raise invalid or InvalidInputError.single("chunk.ipc", None, "no table")
                synced.result()
            size = received.size
            with _disk_full_is_exhausted("upload"):
                if not conformed.schema.equals(received.validator.schema):  # store conformed
                    rewritten = tmp.with_suffix(".conformed")
                    digest, size = self._write_table(rewritten, conformed, checksum)
                    os.replace(rewritten, tmp)
                stored = _Stored(checksum, digest, size)
                info = _record(uuid.uuid4().hex, tenant, name, kind, table=conformed, stored=stored)
                return self._commit(tmp, info)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_suffix(".conformed").unlink(missing_ok=True)

    def _receive(self, sink: Sink, chunks: Iterable[UploadChunk], spec: TableSpec) -> _Received:
        """Check, hash, write and decode the chunks as they arrive.

        Hashing and writing run on the sink's thread (both release the GIL), in chunk
        order, while this thread receives, decodes and validates the next chunks. A stream
        that is not valid IPC comes back in ``broken``, to be reported after the checksum
        was compared.
        """
        # The key columns' full validation is left to the pass that encodes them (one read
        # of their bytes instead of two); every other column is validated by the decoder.
        decoder = IpcStreamDecoder(deferred=BatchValidator.encoded_columns(spec))
        validator: BatchValidator | None = None
        broken: InvalidInputError | None = None
        size, last, finished = 0, None, False
        for expected, chunk in enumerate(chunks):
            if finished:
                raise InvalidInputError.single("chunk.seq", chunk.seq, "chunk after the last")
            if chunk.seq != expected:
                raise InvalidInputError.single(
                    "chunk.seq", chunk.seq, f"expected sequence number {expected}"
                )
            size += len(chunk.ipc)
            if size > self.max_upload_bytes:
                raise ResourceExhaustedError(
                    f"upload larger than the limit of {self.max_upload_bytes} bytes"
                )
            sink.put(chunk.ipc)
            finished, last = chunk.last, chunk
            if broken is None:
                try:
                    batches = decoder.feed(chunk.ipc)
                    if validator is None and decoder.schema is not None:
                        validator = BatchValidator(spec, decoder.schema, deferred=decoder.deferred)
                    for batch in batches:
                        validator.add(batch)  # type: ignore[union-attr]
                except InvalidInputError as exc:
                    broken = exc
        if not finished or last is None:
            raise InvalidInputError.single("chunk.last", None, "stream ended without a last chunk")
        declared = _declared(last, sink.checksum)
        if broken is None:
            try:
                rest = decoder.finish()  # raises for a stream cut inside a message
                if validator is None and decoder.schema is not None:
                    validator = BatchValidator(spec, decoder.schema, deferred=decoder.deferred)
                if validator is None:
                    raise InvalidInputError.single("chunk.ipc", None, "not an Arrow IPC stream")
                for batch in rest:
                    validator.add(batch)
            except InvalidInputError as exc:
                broken = exc
        return _Received(declared, size, validator, broken)

    def _write_table(self, path: Path, table: pa.Table, checksum: str) -> tuple[str, int]:
        with open(path, "wb") as out:
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
            out.flush()
            os.fsync(out.fileno())
        hasher = CHECKSUMS[checksum]()
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                hasher.update(block)
        return hasher.hexdigest(), path.stat().st_size

    def _commit(self, tmp: Path, info: DatasetInfo) -> DatasetInfo:
        """Move the written file ``tmp`` into place (durably) and record ``info``."""
        final = self._path(info.dataset_id)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO datasets (dataset_id, tenant, name, kind, num_rows,"
                " num_bytes, sha256, columns, created_s, blake3, xxh3_128)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.dataset_id,
                    info.tenant,
                    info.name,
                    info.kind,
                    info.num_rows,
                    info.num_bytes,
                    info.sha256,
                    "\x1f".join(info.columns),
                    info.created_s,
                    info.blake3,
                    info.xxh3_128,
                ),
            )
        return info

    def put_result(self, tenant: str, dataset_id: str, name: str, table: pa.Table) -> DatasetInfo:
        """Store a result table under a caller-chosen id (replacing it: idempotent)."""
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            with _disk_full_is_exhausted("result"):
                digest, size = self._write_table(tmp, table, "xxh3_128")
                stored = _Stored("xxh3_128", digest, size)
                info = _record(dataset_id, tenant, name, RESULT_KIND, table=table, stored=stored)
                return self._commit(tmp, info)
        finally:
            tmp.unlink(missing_ok=True)

    def get(
        self, tenant: str, dataset_id: str, kind: str | None = None, field: str = "dataset_id"
    ) -> DatasetInfo:
        """The tenant's dataset record; :class:`NotFoundError` otherwise (any tenant).

        With ``kind``, a dataset of another kind is :class:`FailedPreconditionError` naming
        ``field`` (the request field that named it) and both kinds.
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM datasets WHERE dataset_id = ? AND tenant = ?", (dataset_id, tenant)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"dataset {bounded(dataset_id)!r} not found")
        info = _info(row)
        if kind is not None and info.kind != kind:
            raise FailedPreconditionError(
                f"{field}: dataset {dataset_id!r} holds a {info.kind} table; expected {kind}",
                subject=field,
                kind="DATASET_KIND",
            )
        return info

    def read(
        self, tenant: str, dataset_id: str, kind: str | None = None, field: str = "dataset_id"
    ) -> pa.Table:
        """The tenant's table (memory-mapped); ``kind`` and ``field`` as :meth:`get`."""
        self.get(tenant, dataset_id, kind, field)
        with pa.memory_map(str(self._path(dataset_id))) as source:
            return pa.ipc.open_stream(source).read_all()

    def stream_bytes(self, tenant: str, dataset_id: str, chunk_bytes: int) -> Iterator[bytes]:
        """The stored IPC stream in pieces of ``chunk_bytes`` (the file is opened first, so a
        concurrent delete does not cut a download short)."""
        self.get(tenant, dataset_id)
        with open(self._path(dataset_id), "rb") as f:
            while block := f.read(chunk_bytes):
                yield block

    def list(self, tenant: str, kind: str | None, limit: int, offset: int) -> list[DatasetInfo]:
        """The tenant's datasets, newest first."""
        query = "SELECT * FROM datasets WHERE tenant = ?"
        args: list[object] = [tenant]
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind)
        query += " ORDER BY created_s DESC, dataset_id LIMIT ? OFFSET ?"
        with self.db.transaction() as conn:
            rows = conn.execute(query, (*args, limit, offset)).fetchall()
        return [_info(r) for r in rows]

    def delete(self, tenant: str, dataset_id: str) -> None:
        """Delete the record (committed first), then the file."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM datasets WHERE dataset_id = ? AND tenant = ?", (dataset_id, tenant)
            )
        if cur.rowcount == 0:
            raise NotFoundError(f"dataset {dataset_id!r} not found")
        self._path(dataset_id).unlink(missing_ok=True)

    def count(self, tenant: str) -> int:
        with self.db.transaction() as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM datasets WHERE tenant = ?", (tenant,)
            ).fetchone()
        return int(n)


#: errno values of a full disk (ENOSPC), an exhausted quota (EDQUOT) and a file over the
#: size limit (EFBIG).
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@contextlib.contextmanager
def _disk_full_is_exhausted(what: str) -> Iterator[None]:
    """A full disk while storing ``what`` becomes :class:`ResourceExhaustedError` (the
    caller's ``finally`` removes the partial file; nothing stored before is touched)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise ResourceExhaustedError(
                f"the server's disk is full: {what} not stored ({os.strerror(exc.errno)})",
                retry_after_s=60.0,
            ) from None
        raise
    except sqlite3.OperationalError as exc:
        if "full" in str(exc):  # SQLITE_FULL: "database or disk is full"
            raise ResourceExhaustedError(
                f"the server's disk is full: {what} not recorded ({exc})", retry_after_s=60.0
            ) from None
        raise


def _info(r: sqlite3.Row) -> DatasetInfo:
    return DatasetInfo(
        r["dataset_id"],
        r["tenant"],
        r["name"],
        r["kind"],
        r["num_rows"],
        r["num_bytes"],
        r["sha256"],
        tuple(c for c in r["columns"].split("\x1f") if c),
        r["created_s"],
        r["blake3"],
        r["xxh3_128"],
    )


def _declared(chunk: UploadChunk, checksum: str) -> str:
    """The digest ``chunk`` declares for ``checksum``; one for another checksum is refused."""
    declared: dict[str, str] = {name: getattr(chunk, name) for name in CHECKSUMS}
    for name, digest in declared.items():
        if digest and name != checksum:
            raise InvalidInputError.single(
                f"chunk.{name}", chunk.seq, f"the upload's header chose the checksum {checksum}"
            )
    return declared[checksum]


@dataclass(frozen=True)
class _Stored:
    """A table's file once written: the name of its checksum, the digest and its bytes."""

    checksum: str
    digest: str
    size: int


def _record(
    dataset_id: str, tenant: str, name: str, kind: str, *, table: pa.Table, stored: _Stored
) -> DatasetInfo:
    """The record of a dataset about to be committed."""
    return DatasetInfo(
        dataset_id,
        tenant,
        name,
        kind,
        table.num_rows,
        stored.size,
        columns=tuple(table.column_names),
        created_s=time.time(),
        **{c: stored.digest if c == stored.checksum else "" for c in CHECKSUMS},
    )
