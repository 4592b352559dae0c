"""What the two parties of a streaming PSI session share (:mod:`zone_opt.join.stream`):
reading keys in record batches, the spill directory, the memory counters, where the work
runs (:class:`Placement`) and, for a resumable session, saving and restoring the party.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zone_opt.arguments import check_bytes, check_int
from zone_opt.distributed.executor import Executor, check_executor
from zone_opt.errors import InvalidInputError
from zone_opt.join.options import Protocol
from zone_opt.join.session import _string_buffers
from zone_opt.join.sharded import Restored, Role, load_session, save_session
from zone_opt.join.spill import SessionDirectory, Spill

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "MAX_BUCKETS",
    "Batch",
    "BatchSource",
    "Party",
    "Placement",
    "StreamStats",
    "Where",
    "check_buckets",
    "check_sizes",
    "placement",
]

BatchSource: TypeAlias = str | os.PathLike[str] | pa.Table | Iterable[pa.RecordBatch]
Batch: TypeAlias = tuple[int, npt.NDArray[np.int64], npt.NDArray[np.uint8]]
DEFAULT_BATCH_ROWS = 1 << 16
#: The fewest bytes of a session key (the engine's ``SealKey.from_secret`` minimum).
SESSION_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class StreamStats:
    """What one party held in memory.

    Attributes:
        rows: keys read.
        buckets: number of buckets.
        batch_rows: the largest record batch allowed (larger ones are sliced).
        largest_bucket_rows: rows in the fullest bucket (of keys or of tags).
        peak_resident_rows: the most keys (or tags) held at once: the largest record batch
            or bucket loaded; at most ``max(batch_rows, largest_bucket_rows)``.
    """

    rows: int
    buckets: int
    batch_rows: int
    largest_bucket_rows: int
    peak_resident_rows: int


def _key_arrays(
    source: BatchSource, column: str, batch_rows: int
) -> Iterator[pa.Array | pa.ChunkedArray]:
    """The key column of ``source`` in slices of at most ``batch_rows`` rows."""
    if isinstance(source, str | os.PathLike):
        parquet = pq.ParquetFile(source)
        if column not in parquet.schema_arrow.names:
            raise InvalidInputError.single("column", None, f"{column!r} is not in {source}")
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=[column]):
            yield batch.column(0)
        return
    batches: Iterable[pa.RecordBatch] = source
    if isinstance(source, pa.Table):
        if column not in source.column_names:
            raise InvalidInputError.single("column", None, f"{column!r} is not in the table")
        batches = source.select([column]).to_batches(max_chunksize=batch_rows)
    for batch in batches:
        if column not in batch.schema.names:
            raise InvalidInputError.single("column", None, f"{column!r} is not in the batches")
        keys = batch.column(column)
        for start in range(0, len(keys), batch_rows):
            yield keys.slice(start, batch_rows)


def _batch_buffers(
    keys: pa.Array | pa.ChunkedArray, first_row: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    if not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        raise InvalidInputError.single("keys", None, f"must be strings, got {keys.type}")
    if keys.null_count:
        row = int(np.flatnonzero(pc.is_null(keys).to_numpy(zero_copy_only=False))[0])
        raise InvalidInputError.single("keys", first_row + row, "a key is null")
    offsets, data, _ = _string_buffers(keys, "keys")
    return offsets, data


#: The most buckets a streaming session may have (the engine's limit).
MAX_BUCKETS = 1 << 16


def check_buckets(buckets: int) -> int:
    """A session's bucket count: a power of two from 1 to :data:`MAX_BUCKETS` (an
    :class:`InvalidInputError` naming ``buckets`` otherwise)."""
    buckets = check_int("buckets", buckets, low=1, high=MAX_BUCKETS)
    if buckets & (buckets - 1):
        raise InvalidInputError.single(
            "buckets", None, f"must be a power of two up to {MAX_BUCKETS}, got {buckets}"
        )
    return buckets


def check_sizes(buckets: int, batch_rows: int) -> None:
    check_buckets(buckets)
    check_int("batch_rows", batch_rows, low=1, high=2**31 - 1)


class Placement(TypedDict, total=False):
    """Where a streaming party keeps its spill files (``spill_dir``: the private temporary
    directory goes there; default: the system's temporary directory), runs its batches
    and buckets (``executor``; default None: in this process) and, with an executor,
    whether a later driver process may resume the session (``session_key``: at least 32
    random bytes the party stores; see ``resume``)."""

    spill_dir: str | os.PathLike[str] | None
    executor: Executor | None
    session_key: bytes | None


@dataclass(frozen=True, slots=True)
class Where:
    """A party's checked :class:`Placement`."""

    spill_dir: str | os.PathLike[str] | None
    executor: Executor | None
    session_key: bytes | None


def placement(given: Placement, protocol: Protocol) -> Where:
    """The placement keywords, checked: an executor runs ``protocol="dh"`` only; a
    ``session_key`` needs an executor."""
    unknown = sorted(set(given) - set(Placement.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    executor, key = given.get("executor"), given.get("session_key")
    if executor is not None:
        if protocol != "dh":
            raise InvalidInputError.single(
                "executor", None, "runs protocol='dh' only; protocol='vole' runs in this process"
            )
        executor = check_executor(executor)
    if key is not None:
        key = check_bytes("session_key", key)
        if len(key) < SESSION_KEY_BYTES:
            raise InvalidInputError.single(
                "session_key", None, f"must hold at least {SESSION_KEY_BYTES} random bytes"
            )
        if executor is None:
            raise InvalidInputError.single(
                "session_key", None, "a resumable session runs on an executor (executor=)"
            )
    return Where(given.get("spill_dir"), executor, key)


class Party:
    """What both streaming parties share: the spill directory, the counters, reading."""

    role: Role

    def __init__(self, buckets: int, batch_rows: int, where: Where) -> None:
        check_sizes(buckets, batch_rows)
        self.buckets = buckets
        self.batch_rows = batch_rows
        self._session_key = where.session_key
        self._tmp: tempfile.TemporaryDirectory[str] | SessionDirectory
        if where.session_key is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="zone-opt-psi-", dir=where.spill_dir)
        else:  # kept if this process dies, for resume(); close() removes it
            self._tmp = SessionDirectory(
                tempfile.mkdtemp(prefix="zone-opt-psi-", dir=where.spill_dir)
            )
        self._dir = Path(self._tmp.name)
        self._rows = 0
        self._peak = 0

    @property
    def directory(self) -> Path:
        """The party's spill directory (what ``resume`` takes)."""
        return self._dir

    def _resident(self, rows: int) -> None:
        self._peak = max(self._peak, rows)

    def _stats(self, largest: int) -> StreamStats:
        return StreamStats(self._rows, self.buckets, self.batch_rows, largest, self._peak)

    def _batches(self, source: BatchSource, column: str) -> Iterator[Batch]:
        """``(first_row, offsets, data)`` of each record batch, counting the rows."""
        for keys in _key_arrays(source, column, self.batch_rows):
            self._resident(len(keys))
            offsets, data = _batch_buffers(keys, self._rows)
            yield self._rows, offsets, data
            self._rows += len(keys)

    def _read(self, source: BatchSource, column: str) -> None:
        raise NotImplementedError

    def _spills(self) -> dict[str, Spill]:
        """The spill files a resumed session needs, by name."""
        raise NotImplementedError

    def _seal_to(self, public: bytes) -> bytes:
        """The session secret sealed to ``public`` (the core's ``seal_to``)."""
        raise NotImplementedError

    def _guarded(self, source: BatchSource, column: str) -> None:
        """Read the source (then, with a session key, save what ``resume`` needs); on any
        error remove the spill files before raising."""
        try:
            self._read(source, column)
            if self._session_key is not None:
                state = {
                    "buckets": self.buckets,
                    "batch_rows": self.batch_rows,
                    "rows": self._rows,
                    "peak": self._peak,
                    "spills": {n: s.rows for n, s in self._spills().items()},
                }
                save_session(self._dir, self.role, self._seal_to, self._session_key, state)
        except BaseException:
            self.close()
            raise

    def _restore(self, directory: str | os.PathLike[str], session_key: bytes) -> Restored:
        """Set this party's fields from the session kept in ``directory``."""
        restored = load_session(Path(directory), self.role, check_bytes("session_key", session_key))
        state = restored.state
        self.protocol: Protocol = "dh"
        self.buckets = int(state["buckets"])
        self.batch_rows = int(state["batch_rows"])
        self._session_key = session_key
        self._tmp = SessionDirectory(str(directory))
        self._dir = Path(directory)
        self._rows = int(state["rows"])
        self._peak = int(state["peak"])
        return restored

    def close(self) -> None:
        """Remove the spill files."""
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
