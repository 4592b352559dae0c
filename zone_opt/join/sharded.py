"""Streaming PSI's buckets on an executor of one party's own cluster (``executor=`` on
:class:`~zone_opt.join.StreamingJoinSender` and :class:`~zone_opt.join.StreamingJoinReceiver`,
protocol ``"dh"``).

Each party runs its own executor (threads, or its own Ray cluster); the parties talk only
through their messages, which the two drivers route (in production over
``PrivateJoinService``). A party's per-batch and per-bucket work runs as tasks:

- sender: a record batch's OPRF tags; a bucket's setup part; a bucket's response;
- receiver: a record batch's secret bucketing; a bucket's request (blinding); the
  unblinding of its response; the look-up of a bucket's tags in a setup part.

**Sealed secrets.** A task needs the session secret (the sender's OPRF key; the
receiver's blind and bucket key). It never travels in plaintext: every worker process
makes a keypair of its own (:func:`worker_key`, ``_core.SealKey``: the private scalar
never leaves the process, and the object cannot be pickled), the driver seals the secret
to each worker's public key in Rust (``seal_to``: ristretto255 ECIES with
ChaCha20-Poly1305 bound to the key id and a label) and ships only the sealed bytes; a task
opens them into a copy of the session for its one batch or bucket, dropped (and wiped)
when it returns. A task that lands in a process whose key has no sealed copy yet (a new
or restarted worker) returns that key instead of a result; the driver seals to it and
runs those items again (:class:`Sealer`). The plaintext secret exists only in the
driver's session object and, for the length of a task, in a worker's copy.

**Same bytes, answered once.** Every message is a deterministic function of the session
secret and the bucket's keys (no per-bucket randomness), so a retried task gives the same
bytes. The sender keeps one answer per bucket (:class:`Answers`, on disk): the same
request again gets the same bytes; another request for an answered bucket is refused.

**Resume.** Each committed bucket's output (the receiver's unblinded tags, the sender's
answer) is written atomically in the spill directory and its SHA-256 recorded in the
party's :class:`~zone_opt.join.spill.Manifest`; an interrupted
:meth:`~zone_opt.join.StreamingJoinReceiver.exchange` called again skips the committed
buckets (their files verified against the manifest) and sends byte-identical requests
for the others.

Memory: a task holds one record batch or one bucket; the driver one round of them
(``2 * executor.workers``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypeVar, cast

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.arguments import check_bytes
from zone_opt.distributed.executor import Executor, check_executor
from zone_opt.errors import FailedPreconditionError, InvalidInputError, VerificationError
from zone_opt.join.spill import (
    TAG_LEN,
    Manifest,
    Spill,
    groups,
    read_verified,
    tag_buckets,
    write_atomic,
)

__all__ = [
    "SECRET_FILE",
    "SESSION_FILE",
    "Answers",
    "NeedsKey",
    "Restored",
    "Sealed",
    "Sealer",
    "ShardedReceiver",
    "ShardedSender",
    "load_session",
    "save_session",
    "worker_key",
]

T = TypeVar("T")
R = TypeVar("R")
Role = Literal["sender", "receiver"]
Keys: TypeAlias = tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]
#: Rounds of sealing to newly seen worker keys before a map gives up.
MAX_KEY_ROUNDS = 4
#: A resumable session's parameters and the session secret, sealed to the party's key.
SESSION_FILE = "session.json"
SECRET_FILE = "session.sealed"

_key_lock = threading.Lock()
_worker_keys: list[_core.SealKey] = []


def worker_key() -> _core.SealKey:
    """This process's sealing keypair, made on first use (one per worker process)."""
    with _key_lock:
        if not _worker_keys:
            _worker_keys.append(_core.SealKey())
        return _worker_keys[0]


@dataclass(frozen=True, slots=True)
class NeedsKey:
    """A task's answer from a worker whose key has no sealed secret yet."""

    key_id: bytes
    public: bytes


@dataclass(frozen=True, slots=True)
class Sealed:
    """A round's shared context: the session secret sealed to each known worker key."""

    role: Role
    by_key: dict[bytes, bytes]


def _public_key(_shared: None, _item: int) -> NeedsKey:
    key = worker_key()
    return NeedsKey(key.key_id, key.public)


Engine = TypeVar("Engine", _core.JoinStreamSender, _core.JoinStreamReceiver)


def _opened(shared: Sealed, kind: type[Engine]) -> Engine | NeedsKey:
    """This worker's copy of the party's engine, opened from the copy sealed to its key;
    or, if none was sealed to it yet, its public key (the driver seals one and retries)."""
    key = worker_key()
    sealed = shared.by_key.get(key.key_id)
    if sealed is None:
        return NeedsKey(key.key_id, key.public)
    return kind.open_sealed(key, sealed)


def _sender(shared: Sealed) -> _core.JoinStreamSender | NeedsKey:
    return _opened(shared, _core.JoinStreamSender)


def _receiver(shared: Sealed) -> _core.JoinStreamReceiver | NeedsKey:
    return _opened(shared, _core.JoinStreamReceiver)


def sender_tags(
    shared: Sealed, batch: tuple[int, npt.NDArray[np.int64], npt.NDArray[np.uint8]]
) -> npt.NDArray[np.uint8] | NeedsKey:
    """Task: the 12-byte OPRF tags of one record batch ``(first_row, offsets, data)``."""
    engine = _sender(shared)
    if isinstance(engine, NeedsKey):
        return engine
    first_row, offsets, data = batch
    return engine.tags(offsets, data, first_row)


def sender_setup(shared: Sealed, item: tuple[int, npt.NDArray[np.uint8]]) -> bytes | NeedsKey:
    """Task: setup part ``b`` from the bucket's tags."""
    engine = _sender(shared)
    if isinstance(engine, NeedsKey):
        return engine
    return engine.setup_part(*item)


def sender_respond(shared: Sealed, request: bytes) -> bytes | NeedsKey:
    """Task: the response to one bucket's request (the driver admitted it)."""
    engine = _sender(shared)
    if isinstance(engine, NeedsKey):
        return engine
    return engine.respond_part(request)


def receiver_partition(
    shared: Sealed, batch: tuple[int, npt.NDArray[np.int64], npt.NDArray[np.uint8]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint32]] | NeedsKey:
    """Task: one record batch's canonical keys and their secret buckets."""
    engine = _receiver(shared)
    if isinstance(engine, NeedsKey):
        return engine
    first_row, offsets, data = batch
    return engine.partition(offsets, data, first_row)


def receiver_request(shared: Sealed, item: tuple[int, Keys]) -> bytes | NeedsKey:
    """Task: bucket ``b``'s request over its canonical keys."""
    engine = _receiver(shared)
    if isinstance(engine, NeedsKey):
        return engine
    part, (offsets, data) = item
    return engine.request_part(part, offsets, data)


def receiver_unblind(
    shared: Sealed, item: tuple[int, Keys, bytes]
) -> tuple[bytes, npt.NDArray[np.uint8]] | NeedsKey:
    """Task: ``(sender session, one tag per key)`` from bucket ``b``'s response."""
    engine = _receiver(shared)
    if isinstance(engine, NeedsKey):
        return engine
    return engine.receive_for(*item)


def receiver_match(
    shared: Sealed,
    item: tuple[int, bytes, bytes, tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]],
) -> npt.NDArray[np.int64] | NeedsKey:
    """Task: the rows among a tag bucket's whose tags are in its setup part."""
    engine = _receiver(shared)
    if isinstance(engine, NeedsKey):
        return engine
    return engine.match_for(*item)


class Sealer:
    """One party's sealed secret on its executor: finds its workers' keys, seals the
    session secret to each (``seal_to``, in Rust), and runs rounds of tasks."""

    def __init__(self, executor: Executor, role: Role, seal_to: Callable[[bytes], bytes]):
        self.executor = check_executor(executor)
        self.role = role
        self._seal_to = seal_to
        self._by_key: dict[bytes, bytes] = {}
        self.round_size = 2 * max(1, self.executor.workers)

    @property
    def workers_sealed(self) -> int:
        """Worker keys the secret was sealed to so far."""
        return len(self._by_key)

    def _seal(self, keys: Iterable[NeedsKey]) -> None:
        for k in keys:
            if k.key_id not in self._by_key:
                self._by_key[k.key_id] = self._seal_to(k.public)

    def map(self, fn: Callable[[Sealed, T], R | NeedsKey], items: Sequence[T]) -> list[R]:
        """``[fn(sealed, item) for item in items]`` on the executor, in order."""
        if not items:
            return []
        if not self._by_key:
            self._seal(self.executor.map(_public_key, None, list(range(self.round_size))))
        results: list[R | None] = [None] * len(items)
        todo = list(range(len(items)))
        for _ in range(MAX_KEY_ROUNDS):
            shared = Sealed(self.role, dict(self._by_key))
            out = self.executor.map(fn, shared, [items[i] for i in todo])
            missing = [(i, r) for i, r in zip(todo, out, strict=True) if isinstance(r, NeedsKey)]
            for i, r in zip(todo, out, strict=True):
                if not isinstance(r, NeedsKey):
                    results[i] = r
            if not missing:
                return cast("list[R]", results)
            self._seal(r for _, r in missing)
            todo = [i for i, _ in missing]
        raise FailedPreconditionError(
            f"tasks kept landing on workers without a sealed secret after {MAX_KEY_ROUNDS} "
            "rounds (workers restarting?)",
            subject="executor",
        )

    def rounds(self, fn: Callable[[Sealed, T], R | NeedsKey], items: Iterable[T]) -> Iterator[R]:
        """:meth:`map` over ``items`` a round at a time (one round resident)."""
        batch: list[T] = []
        for item in items:
            batch.append(item)
            if len(batch) == self.round_size:
                yield from self.map(fn, batch)
                batch = []
        yield from self.map(fn, batch)


class Answers:
    """The sender's answers, one per bucket, kept in its spill directory: a request seen
    before gets the bytes it got then; another request for an answered bucket is refused
    (``admit_part``); the evaluation runs on a worker."""

    def __init__(
        self, core: _core.JoinStreamSender, sealer: Sealer, directory: Path, manifest: Manifest
    ) -> None:
        self._core = core
        self._sealer = sealer
        self._directory = directory
        self._manifest = manifest
        self._lock = threading.Lock()
        self._bucket_of: dict[str, int] = {}
        self.evaluated = 0

    def _path(self, bucket: int) -> Path:
        return self._directory / f"answer-{bucket:05d}.msg"

    def _request_path(self, bucket: int) -> Path:
        return self._directory / f"request-{bucket:05d}.msg"

    def restore(self) -> None:
        """Admit again the requests admitted before (a resumed session): the same bucket
        record, receiver session and count as then."""
        for bucket in self._manifest.buckets("request"):
            digest = self._manifest.digest("request", bucket)
            request = read_verified(self._request_path(bucket), digest)
            if request is None or digest is None:
                raise VerificationError(
                    f"the kept request of bucket {bucket} is missing or altered"
                )
            self._core.admit_part(request)
            self._bucket_of[digest] = bucket

    def respond(self, request: bytes) -> bytes:
        digest = hashlib.sha256(request).hexdigest()
        with self._lock:
            bucket = self._bucket_of.get(digest)
            if bucket is None:
                bucket = self._core.admit_part(request)
                self._bucket_of[digest] = bucket
                kept = write_atomic(self._request_path(bucket), request)
                self._manifest.commit("request", {bucket: kept})
            stored = read_verified(self._path(bucket), self._manifest.digest("answer", bucket))
            if stored is not None:
                return stored
            (response,) = self._sealer.map(sender_respond, [request])
            self.evaluated += 1
            written = write_atomic(self._path(bucket), response)
            self._manifest.commit("answer", {bucket: written})
            return response


@dataclass(frozen=True, slots=True)
class Restored:
    """A resumable session read back: the party's key (from its session key), the sealed
    session secret, and the party's saved state."""

    key: _core.SealKey
    sealed: bytes
    state: dict[str, Any]

    def spill_rows(self, name: str) -> dict[int, int]:
        return {int(b): int(n) for b, n in self.state["spills"][name].items()}


def save_session(
    directory: Path,
    role: Role,
    seal_to: Callable[[bytes], bytes],
    session_key: bytes,
    state: dict[str, Any],
) -> None:
    """Keep what a later driver needs to resume: the session secret sealed to the key
    derived from ``session_key`` (never in plaintext), and the party's state."""
    key = _core.SealKey.from_secret(session_key)
    write_atomic(directory / SECRET_FILE, seal_to(key.public))
    write_atomic(directory / SESSION_FILE, json.dumps({"role": role, **state}).encode())


def load_session(directory: Path, role: Role, session_key: bytes) -> Restored:
    """The session kept in ``directory`` for ``role``; refused naming ``directory`` if
    there is none, and naming ``sealed`` if ``session_key`` is not the one it was kept
    with (when the secret is opened)."""
    path = directory / SESSION_FILE
    if not path.is_file() or not (directory / SECRET_FILE).is_file():
        raise InvalidInputError.single(
            "directory", None, f"{directory} holds no resumable session ({SESSION_FILE})"
        )
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("role") != role:
        raise InvalidInputError.single(
            "directory", None, f"{directory} holds a {state.get('role')}'s session, not a {role}'s"
        )
    return Restored(
        _core.SealKey.from_secret(session_key), (directory / SECRET_FILE).read_bytes(), state
    )


Batch: TypeAlias = tuple[int, npt.NDArray[np.int64], npt.NDArray[np.uint8]]


class ShardedSender:
    """The executor side of a :class:`~zone_opt.join.StreamingJoinSender` (DH)."""

    def __init__(self, core: _core.JoinStreamSender, executor: Executor, directory: Path):
        self.sealer = Sealer(executor, "sender", core.seal_to)
        self.manifest = Manifest(directory / "manifest.json", core.session.hex())
        self.answers = Answers(core, self.sealer, directory, self.manifest)

    def tags(self, batches: Iterable[Batch]) -> Iterator[npt.NDArray[np.uint8]]:
        return self.sealer.rounds(sender_tags, batches)

    def setup_parts(
        self, tags: Spill, buckets: int, resident: Callable[[int], None]
    ) -> Iterator[bytes]:
        def items() -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
            for b in range(buckets):
                part = tags.read(b, "tag", np.uint8, keep=True)
                resident(len(part) // TAG_LEN)
                yield b, part

        return self.sealer.rounds(sender_setup, items())


def _partition_task(
    shared: Sealed, batch: Batch
) -> (
    tuple[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint32]]]
    | NeedsKey
):
    out = receiver_partition(shared, batch)
    return out if isinstance(out, NeedsKey) else (batch[0], out)


class ShardedReceiver:
    """The executor side of a :class:`~zone_opt.join.StreamingJoinReceiver` (DH): the
    exchange in rounds of buckets, each committed (its rows and unblinded tags) to the
    manifest; the look-up in rounds of setup parts."""

    def __init__(
        self, core: _core.JoinStreamReceiver, executor: Executor, directory: Path, buckets: int
    ) -> None:
        self.sealer = Sealer(executor, "receiver", core.seal_to)
        self.manifest = Manifest(directory / "manifest.json", core.session.hex())
        self._directory = directory
        self.buckets = buckets
        self.requests_sent = 0

    def partition(
        self, batches: Iterable[Batch]
    ) -> Iterator[
        tuple[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint32]]]
    ]:
        return self.sealer.rounds(_partition_task, batches)

    def _out(self, bucket: int) -> Path:
        return self._directory / f"out-{bucket:05d}.bin"

    def committed(self, bucket: int) -> bytes | None:
        """Bucket ``bucket``'s committed rows and tags, verified, or None."""
        return read_verified(self._out(bucket), self.manifest.digest("exchange", bucket))

    def exchange(
        self, keys: Spill, respond: Callable[[bytes], bytes], resident: Callable[[int], None]
    ) -> None:
        """Every bucket not committed yet: requests (a round on the executor), their
        responses through ``respond`` in bucket order, the unblinding (a round), then the
        round's outputs committed."""
        todo = [b for b in range(self.buckets) if self.committed(b) is None]
        for start in range(0, len(todo), self.sealer.round_size):
            chunk = todo[start : start + self.sealer.round_size]
            loaded = [_bucket_keys(keys, b) for b in chunk]
            resident(sum(len(rows) for rows, _ in loaded))
            requests = self.sealer.map(
                receiver_request, [(b, k) for b, (_, k) in zip(chunk, loaded, strict=True)]
            )
            responses = []
            for request in requests:
                responses.append(check_bytes("response", respond(request)))
                self.requests_sent += 1
            unblinded = self.sealer.map(
                receiver_unblind,
                [(b, k, r) for b, (_, k), r in zip(chunk, loaded, responses, strict=True)],
            )
            self._commit(chunk, [rows for rows, _ in loaded], unblinded)

    def _commit(
        self,
        chunk: list[int],
        rows: list[npt.NDArray[np.int64]],
        unblinded: list[tuple[bytes, npt.NDArray[np.uint8]]],
    ) -> None:
        session = self.manifest.meta.get("sender_session")
        outputs = {}
        for b, r, (sender, tags) in zip(chunk, rows, unblinded, strict=True):
            if session is not None and sender.hex() != session:
                raise VerificationError(
                    "the responses come from different sender sessions (wrong session id)"
                )
            session = sender.hex()
            outputs[b] = write_atomic(self._out(b), r.tobytes() + tags.tobytes())
        self.manifest.commit("exchange", outputs, {"sender_session": session or ""})

    def regroup(self, tags: Spill) -> None:
        """The committed tags and rows, by tag prefix (rebuilt from the outputs)."""
        tags.clear(self.buckets, "row", "tag")
        for b in range(self.buckets):
            data = self.committed(b)
            if data is None:
                raise InvalidInputError.single(
                    "finish",
                    None,
                    f"{self.manifest.committed('exchange')} of {self.buckets} buckets are "
                    "committed (or an output was altered); call exchange() again",
                )
            n = len(data) // (8 + TAG_LEN)
            rows = np.frombuffer(data, np.int64, n)
            out = np.frombuffer(data, np.uint8, offset=8 * n).reshape(-1, TAG_LEN)
            for t, picked in groups(tag_buckets(out, self.buckets), self.buckets):
                tags.append(t, len(picked), row=rows[picked], tag=out[picked])

    def finish(
        self, tags: Spill, setup_parts: Iterable[bytes], resident: Callable[[int], None]
    ) -> list[npt.NDArray[np.int64]]:
        """Look each tag bucket up in its setup part (a round of parts at a time)."""
        self.regroup(tags)
        sender = bytes.fromhex(self.manifest.meta.get("sender_session", ""))
        buckets = self.buckets

        def items() -> Iterator[
            tuple[int, bytes, bytes, tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]]
        ]:
            for t, part in enumerate(setup_parts):
                if t >= buckets:
                    raise VerificationError(f"the sender sent more than {buckets} setup parts")
                rows = tags.read(t, "row", np.int64, keep=True)
                resident(len(rows))
                tag = tags.read(t, "tag", np.uint8, keep=True)
                yield t, sender, check_bytes("setup", part), (tag, rows)

        matched = list(self.sealer.rounds(receiver_match, items()))
        if len(matched) != buckets:
            raise VerificationError(
                f"the sender's setup ended after {len(matched)} of {buckets} parts"
            )
        return matched


def _bucket_keys(keys: Spill, bucket: int) -> tuple[npt.NDArray[np.int64], Keys]:
    """A bucket's row numbers and canonical keys (as Arrow buffers), the files kept."""
    rows = keys.read(bucket, "row", np.int64, keep=True)
    lengths = keys.read(bucket, "len", np.uint32, keep=True)
    data = keys.read(bucket, "data", np.uint8, keep=True)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return rows, (offsets, data)
