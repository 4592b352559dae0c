"""Private set intersection for sets larger than memory, bucket by bucket.

:class:`StreamingJoinSender` (the sender) and :class:`StreamingJoinReceiver` (the receiver)
read their keys from a Parquet file (in record batches), an Arrow table or any iterable of
record batches, spill them to a private temporary directory in ``buckets`` parts, and run
the intersection one bucket at a time::

    with StreamingJoinSender("theirs.parquet", "enterprise_id", buckets=64) as server, \\
         StreamingJoinReceiver("ours.parquet", "enterprise_id", buckets=64) as client:
        client.exchange(server.respond)             # one request/response per bucket
        result = client.finish(server.setup_parts())  # one setup part per bucket
    result.indices                                  # int64 rows of ours.parquet, ascending

The result is the in-memory :class:`~zone_opt.join.JoinReceiver`'s in intersection mode
(the same OPRF, one sender key and one receiver blind per session).

**What the buckets reveal.** Nothing beyond the in-memory protocol:

- the sender's table is split by the first bits of its 12-byte OPRF tags, which are
  pseudo-random and sent in full anyway: the concatenated setup parts are the in-memory
  setup's sorted tag list;
- the receiver's keys are split by a keyed hash under a key drawn per session that never
  leaves the receiver, so equal keys share a bucket (the receiver de-duplicates per bucket,
  as in memory) and the sender, who sees one request per bucket, learns the receiver's
  number of distinct keys split at random into ``buckets`` parts: its total, as in memory,
  and nothing about which keys. A public bucket hash would not do: with it, per-bucket
  counts tell a party that knows all but one of the other's keys about
  ``log2(buckets)`` bits of the last one.

The sender learns the receiver's number of distinct keys; the receiver learns the sender's
number of distinct keys and which of its rows match. Streaming is intersection mode only
(not labelled, cardinality, sum or verifiable).

**Memory.** At most one record batch (``batch_rows`` keys) or one bucket (about
``n / buckets`` keys, where ``n`` is the party's row count) is resident at a time, plus the
matched row numbers (8 bytes each); :attr:`StreamStats.peak_resident_rows` records the
largest. Choose ``buckets`` about ``n / rows_that_fit``. Disk: the spill files hold about
``n * (12 + key bytes + 16)`` bytes, in ``spill_dir`` (default: the system's temporary
directory), removed by :meth:`close` or on exit from the ``with`` block.

Cost: the in-memory protocol's group operations (about 4 scalar multiplications per
element, both parties together, on the engine's pool with the GIL released), plus writing
and reading the spill files once or twice per row.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zone_opt import _core
from zone_opt.arguments import check_bytes, check_choice, check_int
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join.options import KeyKind
from zone_opt.join.session import JoinResult, _string_buffers

__all__ = ["BatchSource", "StreamStats", "StreamingJoinReceiver", "StreamingJoinSender"]

BatchSource: TypeAlias = str | os.PathLike[str] | pa.Table | Iterable[pa.RecordBatch]
TAG_LEN = _core.JOIN_TAG_LEN
DEFAULT_BATCH_ROWS = 1 << 16


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


def _uscc(key_kind: str) -> bool:
    return check_choice("key_kind", key_kind, ("uscc", "text")) == "uscc"


def _check(buckets: int, batch_rows: int) -> None:
    buckets = check_int("buckets", buckets, low=1, high=1 << 16)
    if buckets & (buckets - 1):
        raise InvalidInputError.single("buckets", None, "must be a power of two up to 65536")
    check_int("batch_rows", batch_rows, low=1, high=2**31 - 1)


def _tag_buckets(tags: npt.NDArray[np.uint8], buckets: int) -> npt.NDArray[np.int64]:
    """The bucket of each 12-byte tag: its first log2(buckets) bits (as in the engine)."""
    bits = buckets.bit_length() - 1
    rows = tags.reshape(-1, TAG_LEN)
    prefix = (rows[:, 0].astype(np.int64) << 8) | rows[:, 1].astype(np.int64)
    return prefix >> (16 - bits)


def _groups(
    bucket: npt.NDArray[np.integer], buckets: int
) -> Iterator[tuple[int, npt.NDArray[np.intp]]]:
    """``(bucket, rows)`` for every non-empty bucket (vectorised: one argsort per batch)."""
    order = np.argsort(bucket, kind="stable")
    bounds = np.zeros(buckets + 1, np.int64)
    np.cumsum(np.bincount(bucket, minlength=buckets), out=bounds[1:])
    for b in np.flatnonzero(np.diff(bounds)):
        yield int(b), order[bounds[b] : bounds[b + 1]]


class _Spill:
    """Append-only files, one or more per bucket, in a private temporary directory."""

    def __init__(self, directory: Path, name: str) -> None:
        self._directory = directory
        self._name = name
        self.rows: dict[int, int] = {}

    def path(self, bucket: int, part: str) -> Path:
        return self._directory / f"{self._name}-{bucket:05d}.{part}"

    def append(self, bucket: int, rows: int, **arrays: npt.NDArray[np.generic]) -> None:
        for part, array in arrays.items():
            with open(self.path(bucket, part), "ab") as f:
                f.write(np.ascontiguousarray(array).tobytes())
        self.rows[bucket] = self.rows.get(bucket, 0) + rows

    def read(self, bucket: int, part: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
        path = self.path(bucket, part)
        if not path.exists():
            return np.zeros(0, dtype)
        out = np.fromfile(path, dtype=dtype)
        path.unlink()
        return out

    @property
    def largest(self) -> int:
        return max(self.rows.values(), default=0)


class _Party:
    def __init__(self, buckets: int, batch_rows: int, spill_dir: str | os.PathLike[str] | None):
        _check(buckets, batch_rows)
        self.buckets = buckets
        self.batch_rows = batch_rows
        self._tmp = tempfile.TemporaryDirectory(prefix="zone-opt-psi-", dir=spill_dir)
        self._dir = Path(self._tmp.name)
        self._rows = 0
        self._peak = 0

    def _resident(self, rows: int) -> None:
        self._peak = max(self._peak, rows)

    def _stats(self, largest: int) -> StreamStats:
        return StreamStats(self._rows, self.buckets, self.batch_rows, largest, self._peak)

    def _read(self, source: BatchSource, column: str) -> None:
        raise NotImplementedError

    def _guarded(self, source: BatchSource, column: str) -> None:
        """Read the source; on any error remove the spill files before raising."""
        try:
            self._read(source, column)
        except BaseException:
            self.close()
            raise

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


class StreamingJoinSender(_Party):
    """The sender of a streaming intersection session.

    Reads ``source`` once on construction: each record batch's keys are hashed, evaluated
    under this session's key and spilled as 12-byte tags by tag prefix.

    Args:
        source: a Parquet path, an Arrow table or an iterable of record batches.
        column: the key column (strings).
        buckets: power of two, up to 65536; must equal the receiver's.
        batch_rows: rows per record batch read (larger batches are sliced).
        key_kind: ``"uscc"`` or ``"text"``, as for :class:`~zone_opt.join.JoinSender`.
        spill_dir: where the private temporary directory goes.
    """

    def __init__(
        self,
        source: BatchSource,
        column: str,
        *,
        buckets: int = 64,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        key_kind: KeyKind = "uscc",
        spill_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(buckets, batch_rows, spill_dir)
        self._core = _core.JoinStreamSender("intersection", False, _uscc(key_kind), buckets)
        self._tags = _Spill(self._dir, "tags")
        self._setup_started = False
        self._guarded(source, column)

    def _read(self, source: BatchSource, column: str) -> None:
        for keys in _key_arrays(source, column, self.batch_rows):
            self._resident(len(keys))
            offsets, data = _batch_buffers(keys, self._rows)
            tags = self._core.tags(offsets, data, self._rows).reshape(-1, TAG_LEN)
            for b, rows in _groups(_tag_buckets(tags, self.buckets), self.buckets):
                self._tags.append(b, len(rows), tag=tags[rows])
            self._rows += len(keys)

    def setup_parts(self) -> Iterator[bytes]:
        """The sender's table, one message per bucket in order (each sorted, duplicates
        removed); each bucket's spill file is read once and deleted, so the parts can be
        produced once per session."""
        if self._setup_started:
            raise InvalidInputError.single(
                "setup_parts", None, "this session's setup parts were already produced"
            )
        self._setup_started = True
        for b in range(self.buckets):
            tags = self._tags.read(b, "tag", np.uint8)
            self._resident(len(tags) // TAG_LEN)
            yield self._core.setup_part(b, tags)

    def respond(self, request: bytes) -> bytes:
        """Evaluate one bucket's blinded keys (each bucket once, one receiver per session)."""
        return self._core.respond_part(check_bytes("request", request))

    @property
    def receiver_count(self) -> int:
        """The receiver's number of distinct keys, over the buckets answered so far."""
        return self._core.receiver_len

    @property
    def stats(self) -> StreamStats:
        return self._stats(self._tags.largest)


class StreamingJoinReceiver(_Party):
    """The receiver of a streaming intersection session.

    Reads ``source`` once on construction: each record batch's keys are canonicalised and
    spilled to the bucket of a secret keyed hash, with their row numbers.

    Args: as for :class:`StreamingJoinSender`.
    """

    def __init__(
        self,
        source: BatchSource,
        column: str,
        *,
        buckets: int = 64,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        key_kind: KeyKind = "uscc",
        spill_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(buckets, batch_rows, spill_dir)
        self._core = _core.JoinStreamReceiver("intersection", False, _uscc(key_kind), buckets)
        self._keys = _Spill(self._dir, "keys")
        self._tags = _Spill(self._dir, "tags")
        self._exchanged = False
        self._guarded(source, column)

    def _read(self, source: BatchSource, column: str) -> None:
        for keys in _key_arrays(source, column, self.batch_rows):
            self._resident(len(keys))
            offsets, data = _batch_buffers(keys, self._rows)
            canon_offsets, canon_data, bucket = self._core.partition(offsets, data, self._rows)
            lengths = np.diff(canon_offsets)
            for b, rows in _groups(bucket, self.buckets):
                # The bytes of the bucket's keys, gathered in one vectorised take.
                taken = lengths[rows]
                picked = np.repeat(canon_offsets[rows] - np.cumsum(taken) + taken, taken)
                picked += np.arange(len(picked), dtype=np.int64)
                self._keys.append(
                    b,
                    len(rows),
                    row=rows.astype(np.int64) + self._rows,
                    len=taken.astype(np.uint32),
                    data=canon_data[picked],
                )
            self._rows += len(keys)

    def exchange(self, respond: Callable[[bytes], bytes]) -> None:
        """Run every bucket's request through ``respond`` (the sender's
        :meth:`StreamingJoinSender.respond`, or a call to it over the network), unblind the
        answers and spill the tags by tag prefix. One bucket is resident at a time."""
        if self._exchanged:
            raise InvalidInputError.single("exchange", None, "this session already exchanged")
        self._exchanged = True
        for b in range(self.buckets):
            rows = self._keys.read(b, "row", np.int64)
            lengths = self._keys.read(b, "len", np.uint32)
            data = self._keys.read(b, "data", np.uint8)
            self._resident(len(rows))
            offsets = np.zeros(len(lengths) + 1, np.int64)
            np.cumsum(lengths, out=offsets[1:])
            request = self._core.request_part(b, offsets, data)
            answer = check_bytes("response", respond(request))
            tags = self._core.receive_part(answer).reshape(-1, TAG_LEN)
            for t, picked in _groups(_tag_buckets(tags, self.buckets), self.buckets):
                self._tags.append(t, len(picked), row=rows[picked], tag=tags[picked])

    def finish(self, setup_parts: Iterable[bytes]) -> JoinResult:
        """Look the tags up in the sender's setup parts (in order, one bucket resident at a
        time) and return the matched rows, ascending."""
        if not self._exchanged:
            raise InvalidInputError.single("finish", None, "call exchange() first")
        matched = []
        for t, part in enumerate(setup_parts):
            if t >= self.buckets:
                raise VerificationError(f"the sender sent more than {self.buckets} setup parts")
            rows = self._tags.read(t, "row", np.int64)
            tags = self._tags.read(t, "tag", np.uint8)
            self._resident(len(rows))
            matched.append(self._core.match_part(check_bytes("setup", part), tags, rows))
        if not self._core.is_complete:
            raise VerificationError(
                f"the sender's setup ended after {len(matched)} of {self.buckets} parts"
            )
        indices = np.sort(np.concatenate(matched)) if matched else np.zeros(0, np.int64)
        return JoinResult(indices=indices.astype(np.int64, copy=False))

    @property
    def stats(self) -> StreamStats:
        return self._stats(max(self._keys.largest, self._tags.largest))
