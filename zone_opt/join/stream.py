"""Private set intersection for sets larger than memory, bucket by bucket.

:class:`StreamingJoinSender` (the sender) and :class:`StreamingJoinReceiver` (the receiver)
read their keys from a Parquet file (in record batches), an Arrow table or any iterable of
record batches, spill them to a private temporary directory in ``buckets`` parts, and run
the intersection one bucket at a time::

    with StreamingJoinSender("theirs.parquet", "enterprise_id", buckets=64) as server, \\
         StreamingJoinReceiver("ours.parquet", "enterprise_id", buckets=64) as client:
        result = client.run(server.respond, server.setup_parts())
    result.indices                                  # int64 rows of ours.parquet, ascending

Both protocols of the in-memory join stream (``protocol=``, the same on both sides):

- ``"dh"`` (default): the DH-OPRF of :class:`~zone_opt.join.JoinReceiver` in intersection
  mode (one sender key and one receiver blind per session). ``run`` is
  ``client.exchange(server.respond)`` (one request/response per bucket), then
  ``client.finish(server.setup_parts())`` (one setup part per bucket).
- ``"vole"``: the VOLE-based PSI (RR22, semi-honest, ``docs/join-vole.md``), one whole
  five-message session per bucket, in order. ``run`` is
  ``client.exchange(server.respond, server.setup_parts())`` (per bucket: the setup part,
  then two calls of ``respond``: request -> VOLE message, correction -> tags), then
  ``client.finish()``. About 30 bytes and a few microseconds of CPU per element, plus a
  fixed ~1 MB of messages per bucket: choose buckets of ``2^16`` keys or more.

**What the buckets reveal.** Nothing beyond the in-memory protocol:

- DH: the sender's table is split by the first bits of its 12-byte OPRF tags, which are
  pseudo-random and sent in full anyway: the concatenated setup parts are the in-memory
  setup's sorted tag list. The receiver's keys are split by a keyed hash under a key drawn
  per session that never leaves the receiver, so equal keys share a bucket (the receiver
  de-duplicates per bucket, as in memory) and the sender, who sees one request per bucket,
  learns the receiver's number of distinct keys split at random into ``buckets`` parts:
  its total, as in memory, and nothing about which keys. A public bucket hash would not
  do: with it, per-bucket counts tell a party that knows all but one of the other's keys
  about ``log2(buckets)`` bits of the last one.
- VOLE: a key must meet its match in the same bucket's session, so both parties bucket by
  one public hash of the key; per-bucket counts would then leak as above, so **every
  bucket is padded** with random dummy keys to one size, a bound of the party's distinct
  count that a bucket exceeds with probability below 2^-40 (about 3 % over the mean for
  2^16 keys per bucket; an over-full bucket is refused naming ``buckets``, never sent).
  Each side learns the other's padded size (``buckets`` times one bound: less than the
  in-memory protocol's exact distinct count) and the receiver which of its rows match.

Streaming is intersection mode only (not labelled, cardinality, sum or verifiable).

**On an executor** (``executor=``, DH only): each party's record batches and buckets run
as tasks on an executor of its own (threads, or its own Ray cluster), the session secret
sealed to each worker, with the same messages and result; see :mod:`zone_opt.join.sharded`.

**Memory.** At most one record batch (``batch_rows`` keys) or one bucket (about
``n / buckets`` keys, where ``n`` is the party's row count) is resident at a time, plus the
matched row numbers (8 bytes each); :attr:`StreamStats.peak_resident_rows` records the
largest. With ``protocol="vole"`` a bucket's session holds its VOLE (about 60 bytes per
padded key on the sender, 100 on the receiver, while it runs). Choose ``buckets`` about
``n / rows_that_fit``. Disk: the spill files hold about ``n * (12 + key bytes + 16)``
bytes (DH) or ``n * 24`` (VOLE: 16-byte key hashes and row numbers), in ``spill_dir``
(default: the system's temporary directory), removed by :meth:`close` or on exit from the
``with`` block.

Cost: the in-memory protocol's (DH: about 4 scalar multiplications per element, both
parties together; VOLE: AES and GF(2^128) work), on the engine's pool with the GIL
released, plus writing and reading the spill files once or twice per row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Self, TypeAlias, Unpack

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.arguments import check_bytes, check_choice
from zone_opt.distributed.executor import Executor, check_executor
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join.options import KeyKind, Protocol
from zone_opt.join.party import (
    DEFAULT_BATCH_ROWS,
    BatchSource,
    Party,
    Placement,
    StreamStats,
    placement,
)
from zone_opt.join.session import JoinResult
from zone_opt.join.sharded import ShardedReceiver, ShardedSender
from zone_opt.join.spill import HASH_LEN, TAG_LEN
from zone_opt.join.spill import Spill as _Spill
from zone_opt.join.spill import groups as _groups
from zone_opt.join.spill import tag_buckets as _tag_buckets

__all__ = [
    "BatchSource",
    "Placement",
    "StreamStats",
    "StreamingJoinReceiver",
    "StreamingJoinSender",
]

Partitioned: TypeAlias = tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint32]]


def _uscc(key_kind: str) -> bool:
    return check_choice("key_kind", key_kind, ("uscc", "text")) == "uscc"


def _protocol(protocol: str) -> Protocol:
    if protocol not in ("dh", "vole"):
        raise InvalidInputError.single("protocol", None, "must be 'dh' or 'vole'")
    return protocol  # type: ignore[return-value]


class StreamingJoinSender(Party):
    """The sender of a streaming intersection session.

    Reads ``source`` once on construction: each record batch's keys are canonicalised and
    spilled by bucket: DH: evaluated under this session's key, as 12-byte tags, by tag
    prefix; VOLE: as 16-byte key hashes, by their public bucket hash (then the distinct
    keys are counted, one bucket at a time, to fix the padded bucket size).

    Args:
        source: a Parquet path, an Arrow table or an iterable of record batches.
        column: the key column (strings).
        buckets: power of two, up to 65536; must equal the receiver's.
        batch_rows: rows per record batch read (larger batches are sliced).
        key_kind: ``"uscc"`` or ``"text"``, as for :class:`~zone_opt.join.JoinSender`.
        protocol: ``"dh"`` or ``"vole"``; must equal the receiver's.
        spill_dir: where the private temporary directory goes.
        executor: run the batches and buckets as tasks on this executor of the party's
            own (:mod:`zone_opt.join.sharded`: the session secret sealed to each worker;
            same messages, answered once); None (default): in this process.
            ``protocol="dh"`` only.
        session_key: with ``executor``, at least 32 random bytes the party stores: the
            session (its secret sealed to a key derived from them, its spill files, its
            answers) is kept in :attr:`directory` so that a new driver process can
            :meth:`resume` it if this one dies; :meth:`close` removes it.
    """

    role = "sender"

    @classmethod
    def resume(
        cls, directory: str | os.PathLike[str], *, session_key: bytes, executor: Executor
    ) -> Self:
        """The session a sender made with ``session_key`` kept in ``directory`` (its
        :attr:`directory`), in this process: the same session secret, setup parts and
        answers (a request answered before gets the same bytes; another request for an
        answered bucket is refused). Refused naming ``sealed`` for another key."""
        self = cls.__new__(cls)
        restored = self._restore(directory, session_key)
        core = _core.JoinStreamSender.open_sealed(restored.key, restored.sealed)
        self._core = core
        self._sharded = ShardedSender(core, check_executor(executor), self._dir)
        self._sharded.answers.restore()
        self._tags = _Spill(self._dir, "tags")
        self._tags.rows = restored.spill_rows("tags")
        self._setup_started = False
        return self

    def _spills(self) -> dict[str, _Spill]:
        return {"tags": self._tags}

    def _seal_to(self, public: bytes) -> bytes:
        if not isinstance(self._core, _core.JoinStreamSender):
            raise InvalidInputError.single("session_key", None, "a kept session is protocol='dh'")
        return self._core.seal_to(public)

    def __init__(
        self,
        source: BatchSource,
        column: str,
        *,
        buckets: int = 64,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        key_kind: KeyKind = "uscc",
        protocol: Protocol = "dh",
        **given: Unpack[Placement],
    ) -> None:
        self.protocol = _protocol(protocol)
        where = placement(given, self.protocol)
        executor = where.executor
        super().__init__(buckets, batch_rows, where)
        self._core: _core.JoinStreamSender | _core.VoleStreamSender
        self._sharded: ShardedSender | None = None
        if self.protocol == "vole":
            self._core = _core.VoleStreamSender(_uscc(key_kind), buckets)
        else:
            self._core = _core.JoinStreamSender("intersection", False, _uscc(key_kind), buckets)
            if executor is not None:
                self._sharded = ShardedSender(self._core, executor, self._dir)
        self._tags = _Spill(self._dir, "tags")
        self._setup_started = False
        self._guarded(source, column)

    def _read(self, source: BatchSource, column: str) -> None:
        engine = self._core
        if isinstance(engine, _core.VoleStreamSender):
            for first, offsets, data in self._batches(source, column):
                hashes, bucket = engine.hash_batch(offsets, data, first)
                rows16 = hashes.reshape(-1, HASH_LEN)
                for b, rows in _groups(bucket, self.buckets):
                    self._tags.append(b, len(rows), hash=rows16[rows])
            engine.begin(self._tags.distinct_hashes(self.buckets, "hash"))
            return
        batches = self._batches(source, column)
        evaluated: Iterable[npt.NDArray[np.uint8]] = (
            (engine.tags(offsets, data, first) for first, offsets, data in batches)
            if self._sharded is None
            else self._sharded.tags(batches)
        )
        for flat in evaluated:
            tags = flat.reshape(-1, TAG_LEN)
            for b, rows in _groups(_tag_buckets(tags, self.buckets), self.buckets):
                self._tags.append(b, len(rows), tag=tags[rows])

    def setup_parts(self) -> Iterator[bytes]:
        """The sender's table, one message per bucket in order (each sorted, duplicates
        removed); each bucket's spill file is read once and deleted, so the parts can be
        produced once per session.

        ``protocol="vole"``: bucket ``b + 1``'s setup is made (its session opened) only
        after bucket ``b`` was answered, so one bucket is resident. With ``executor``: made
        a round of buckets at a time on the executor, the spill files kept, so the parts
        can be produced again (the same bytes) for a receiver that resumes."""
        if self._sharded is not None:
            yield from self._sharded.setup_parts(self._tags, self.buckets, self._resident)
            return
        if self._setup_started:
            raise InvalidInputError.single(
                "setup_parts", None, "this session's setup parts were already produced"
            )
        self._setup_started = True
        for b in range(self.buckets):
            if isinstance(self._core, _core.VoleStreamSender):
                hashes = self._tags.read(b, "hash", np.uint8)
                self._resident(len(hashes) // HASH_LEN)
                yield self._core.setup_part(b, hashes)
                continue
            tags = self._tags.read(b, "tag", np.uint8)
            self._resident(len(tags) // TAG_LEN)
            yield self._core.setup_part(b, tags)

    def respond(self, request: bytes) -> bytes:
        """Evaluate one bucket's blinded keys (each bucket once, one receiver per session).

        ``protocol="vole"``: answer the open bucket's request (with its VOLE message), then
        its correction (with its tags, which closes the bucket). With ``executor``: the
        request evaluated on a worker; the same request again gets the same bytes, another
        request for an answered bucket is refused."""
        request = check_bytes("request", request)
        if self._sharded is not None:
            return self._sharded.answers.respond(request)
        return self._core.respond_part(request)

    @property
    def receiver_count(self) -> int:
        """The receiver's number of distinct keys, over the buckets answered so far
        (``protocol="vole"``: its padded bucket size times the buckets answered)."""
        return self._core.receiver_len

    @property
    def stats(self) -> StreamStats:
        return self._stats(self._tags.largest)


class StreamingJoinReceiver(Party):
    """The receiver of a streaming intersection session.

    Reads ``source`` once on construction: each record batch's keys are canonicalised and
    spilled with their row numbers, DH: as canonical keys, to the bucket of a secret keyed
    hash; VOLE: as 16-byte key hashes, to the bucket of their public hash (then its
    distinct keys are counted to fix the padded bucket size).

    Args: as for :class:`StreamingJoinSender`. With ``executor``, :meth:`exchange` commits
    each round of buckets to the manifest in the spill directory; if it is interrupted (an
    error of ``respond``, a lost worker), calling it again resumes with the buckets not
    committed; with a ``session_key`` too, so can a new driver process (:meth:`resume`).
    """

    role = "receiver"

    @classmethod
    def resume(
        cls, directory: str | os.PathLike[str], *, session_key: bytes, executor: Executor
    ) -> Self:
        """The session a receiver made with ``session_key`` kept in ``directory`` (its
        :attr:`directory`), in this process: :meth:`exchange` then skips the committed
        buckets and sends the same requests for the others. Refused naming ``sealed``
        for another key."""
        self = cls.__new__(cls)
        restored = self._restore(directory, session_key)
        core = _core.JoinStreamReceiver.open_sealed(restored.key, restored.sealed)
        self._core = core
        self._sharded = ShardedReceiver(core, check_executor(executor), self._dir, self.buckets)
        self._keys = _Spill(self._dir, "keys")
        self._keys.rows = restored.spill_rows("keys")
        self._tags = _Spill(self._dir, "tags")
        self._exchanged = False
        self._matched = []
        return self

    def _spills(self) -> dict[str, _Spill]:
        return {"keys": self._keys}

    def _seal_to(self, public: bytes) -> bytes:
        if not isinstance(self._core, _core.JoinStreamReceiver):
            raise InvalidInputError.single("session_key", None, "a kept session is protocol='dh'")
        return self._core.seal_to(public)

    def __init__(
        self,
        source: BatchSource,
        column: str,
        *,
        buckets: int = 64,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        key_kind: KeyKind = "uscc",
        protocol: Protocol = "dh",
        **given: Unpack[Placement],
    ) -> None:
        self.protocol = _protocol(protocol)
        where = placement(given, self.protocol)
        executor = where.executor
        super().__init__(buckets, batch_rows, where)
        self._core: _core.JoinStreamReceiver | _core.VoleStreamReceiver
        self._sharded: ShardedReceiver | None = None
        if self.protocol == "vole":
            self._core = _core.VoleStreamReceiver(_uscc(key_kind), buckets)
        else:
            self._core = _core.JoinStreamReceiver("intersection", False, _uscc(key_kind), buckets)
            if executor is not None:
                self._sharded = ShardedReceiver(self._core, executor, self._dir, buckets)
        self._keys = _Spill(self._dir, "keys")
        self._tags = _Spill(self._dir, "tags")
        self._exchanged = False
        self._matched: list[npt.NDArray[np.int64]] = []
        self._guarded(source, column)

    def _read(self, source: BatchSource, column: str) -> None:
        engine = self._core
        if isinstance(engine, _core.VoleStreamReceiver):
            for first, offsets, data in self._batches(source, column):
                hashes, bucket = engine.hash_batch(offsets, data, first)
                rows16 = hashes.reshape(-1, HASH_LEN)
                for b, rows in _groups(bucket, self.buckets):
                    self._keys.append(
                        b, len(rows), row=rows.astype(np.int64) + first, hash=rows16[rows]
                    )
            engine.begin(self._keys.distinct_hashes(self.buckets, "hash"))
            return
        batches = self._batches(source, column)
        parts: Iterable[tuple[int, Partitioned]] = (
            ((first, engine.partition(offsets, data, first)) for first, offsets, data in batches)
            if self._sharded is None
            else self._sharded.partition(batches)
        )
        for first, partitioned in parts:
            self._spill_canonical(first, partitioned)

    def _spill_canonical(self, first: int, partitioned: Partitioned) -> None:
        """DH: one batch's canonical keys, to the buckets of the secret hash."""
        canon_offsets, canon_data, bucket = partitioned
        lengths = np.diff(canon_offsets)
        for b, rows in _groups(bucket, self.buckets):
            # The bytes of the bucket's keys, gathered in one vectorised take.
            taken = lengths[rows]
            picked = np.repeat(canon_offsets[rows] - np.cumsum(taken) + taken, taken)
            picked += np.arange(len(picked), dtype=np.int64)
            self._keys.append(
                b,
                len(rows),
                row=rows.astype(np.int64) + first,
                len=taken.astype(np.uint32),
                data=canon_data[picked],
            )

    def exchange(
        self, respond: Callable[[bytes], bytes], setup_parts: Iterable[bytes] | None = None
    ) -> None:
        """Run every bucket's messages through ``respond`` (the sender's
        :meth:`StreamingJoinSender.respond`, or a call to it over the network), one bucket
        resident at a time.

        DH: one request per bucket; the answers are unblinded and the tags spilled by tag
        prefix for :meth:`finish`. VOLE: ``setup_parts`` (the sender's
        :meth:`StreamingJoinSender.setup_parts`) is required; per bucket its setup part,
        then the request and the correction through ``respond``, and the bucket's matches.
        """
        if self._exchanged:
            raise InvalidInputError.single("exchange", None, "this session already exchanged")
        engine = self._core
        if isinstance(engine, _core.VoleStreamReceiver):
            if setup_parts is None:
                raise InvalidInputError.single(
                    "setup_parts", None, "protocol='vole' needs the sender's setup parts here"
                )
            self._exchanged = True
            self._exchange_vole(engine, respond, setup_parts)
            return
        if setup_parts is not None:
            raise InvalidInputError.single(
                "setup_parts", None, "protocol='dh' takes the setup parts in finish()"
            )
        if self._sharded is not None:
            self._sharded.exchange(self._keys, respond, self._resident)
            self._exchanged = True
            return
        self._exchanged = True
        for b in range(self.buckets):
            rows = self._keys.read(b, "row", np.int64)
            lengths = self._keys.read(b, "len", np.uint32)
            data = self._keys.read(b, "data", np.uint8)
            self._resident(len(rows))
            offsets = np.zeros(len(lengths) + 1, np.int64)
            np.cumsum(lengths, out=offsets[1:])
            request = engine.request_part(b, offsets, data)
            answer = check_bytes("response", respond(request))
            tags = engine.receive_part(answer).reshape(-1, TAG_LEN)
            for t, picked in _groups(_tag_buckets(tags, self.buckets), self.buckets):
                self._tags.append(t, len(picked), row=rows[picked], tag=tags[picked])

    def _exchange_vole(
        self,
        engine: _core.VoleStreamReceiver,
        respond: Callable[[bytes], bytes],
        setup_parts: Iterable[bytes],
    ) -> None:
        """VOLE: the five messages of each bucket's session, in order."""
        parts = iter(setup_parts)
        for b in range(self.buckets):
            setup = next(parts, None)
            if setup is None:
                raise VerificationError(
                    f"the sender's setup ended after {b} of {self.buckets} parts"
                )
            rows = self._keys.read(b, "row", np.int64)
            hashes = self._keys.read(b, "hash", np.uint8)
            self._resident(len(rows))
            request = engine.request_part(check_bytes("setup", setup), hashes)
            vole = check_bytes("vole", respond(request))
            correction = engine.correction_part(vole)
            response = check_bytes("response", respond(correction))
            self._matched.append(rows[engine.finish_part(response)])
        if next(parts, None) is not None:
            raise VerificationError(f"the sender sent more than {self.buckets} setup parts")

    def finish(self, setup_parts: Iterable[bytes] | None = None) -> JoinResult:
        """The matched rows, ascending. DH: look the tags up in the sender's setup parts (in
        order, one bucket resident at a time). VOLE: no argument (the buckets were matched
        during :meth:`exchange`)."""
        if not self._exchanged:
            raise InvalidInputError.single("finish", None, "call exchange() first")
        engine = self._core
        if isinstance(engine, _core.VoleStreamReceiver):
            if setup_parts is not None:
                raise InvalidInputError.single(
                    "setup_parts", None, "protocol='vole' takes the setup parts in exchange()"
                )
            if not engine.is_complete:
                raise VerificationError("the exchange did not finish every bucket")
            return _result(self._matched)
        if setup_parts is None:
            raise InvalidInputError.single("setup_parts", None, "protocol='dh' needs them here")
        if self._sharded is not None:
            return _result(self._sharded.finish(self._tags, setup_parts, self._resident))
        matched = []
        for t, part in enumerate(setup_parts):
            if t >= self.buckets:
                raise VerificationError(f"the sender sent more than {self.buckets} setup parts")
            rows = self._tags.read(t, "row", np.int64)
            tags = self._tags.read(t, "tag", np.uint8)
            self._resident(len(rows))
            matched.append(engine.match_part(check_bytes("setup", part), tags, rows))
        if not engine.is_complete:
            raise VerificationError(
                f"the sender's setup ended after {len(matched)} of {self.buckets} parts"
            )
        return _result(matched)

    def run(self, respond: Callable[[bytes], bytes], setup_parts: Iterable[bytes]) -> JoinResult:
        """The whole session, either protocol: :meth:`exchange` and :meth:`finish` in the
        order the protocol needs."""
        if self.protocol == "vole":
            self.exchange(respond, setup_parts)
            return self.finish()
        self.exchange(respond)
        return self.finish(setup_parts)

    @property
    def stats(self) -> StreamStats:
        return self._stats(max(self._keys.largest, self._tags.largest))


def _result(matched: list[npt.NDArray[np.int64]]) -> JoinResult:
    indices = np.sort(np.concatenate(matched)) if matched else np.zeros(0, np.int64)
    return JoinResult(indices=indices.astype(np.int64, copy=False))
