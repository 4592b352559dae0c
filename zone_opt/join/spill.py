"""Spill files and the per-session manifest of streaming PSI (:mod:`zone_opt.join.stream`).

A party's spill directory holds its keys (or tags) by bucket, appended one record batch at
a time (:class:`Spill`). With an executor (:mod:`zone_opt.join.sharded`) it also holds each
bucket's committed output (the receiver's unblinded tags, the sender's answers), each file
written whole and atomically (:func:`write_atomic`), and :class:`Manifest`, a small record
of which buckets are committed and the SHA-256 of each one's output, so that an
interrupted exchange resumes where it stopped, skipping what is committed and verified.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.durable import write_atomic
from zone_opt.errors import FailedPreconditionError

__all__ = [
    "HASH_LEN",
    "TAG_LEN",
    "Manifest",
    "SessionDirectory",
    "Spill",
    "distinct_hashes",
    "groups",
    "read_verified",
    "tag_buckets",
    "write_atomic",
]

TAG_LEN = _core.JOIN_TAG_LEN
HASH_LEN = 16
MANIFEST_VERSION = 1


def distinct_hashes(hashes: npt.NDArray[np.uint8]) -> int:
    """Number of distinct 16-byte key hashes in a flat byte array."""
    if not len(hashes):
        return 0
    return len(np.unique(hashes.view(np.uint64).reshape(-1, 2), axis=0))


def tag_buckets(tags: npt.NDArray[np.uint8], buckets: int) -> npt.NDArray[np.int64]:
    """The bucket of each 12-byte tag: its first log2(buckets) bits (as in the engine)."""
    bits = buckets.bit_length() - 1
    rows = tags.reshape(-1, TAG_LEN)
    prefix = (rows[:, 0].astype(np.int64) << 8) | rows[:, 1].astype(np.int64)
    return prefix >> (16 - bits)


def groups(
    bucket: npt.NDArray[np.integer], buckets: int
) -> Iterator[tuple[int, npt.NDArray[np.intp]]]:
    """``(bucket, rows)`` for every non-empty bucket (vectorised: one argsort per batch)."""
    order = np.argsort(bucket, kind="stable")
    bounds = np.zeros(buckets + 1, np.int64)
    np.cumsum(np.bincount(bucket, minlength=buckets), out=bounds[1:])
    for b in np.flatnonzero(np.diff(bounds)):
        yield int(b), order[bounds[b] : bounds[b + 1]]


class Spill:
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

    def read(
        self, bucket: int, part: str, dtype: type[np.generic], keep: bool = False
    ) -> npt.NDArray[Any]:
        """One bucket's part, then its file is removed (kept with ``keep``)."""
        path = self.path(bucket, part)
        if not path.exists():
            return np.zeros(0, dtype)
        out = np.fromfile(path, dtype=dtype)
        if not keep:
            path.unlink()
        return out

    def clear(self, buckets: int, *parts: str) -> None:
        """Remove every bucket's files of ``parts`` (before they are written again)."""
        for b in range(buckets):
            for part in parts:
                self.path(b, part).unlink(missing_ok=True)
        self.rows.clear()

    def distinct_hashes(self, buckets: int, part: str) -> int:
        """Distinct 16-byte hashes over every bucket (duplicates share a bucket), one
        bucket resident at a time."""
        return sum(distinct_hashes(self.read(b, part, np.uint8, keep=True)) for b in range(buckets))

    @property
    def largest(self) -> int:
        return max(self.rows.values(), default=0)


class SessionDirectory:
    """A resumable session's spill directory: unlike a temporary directory it outlives
    the process that made it (a driver that dies leaves it for ``resume``); only
    :meth:`cleanup` removes it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def cleanup(self) -> None:
        shutil.rmtree(self.name, ignore_errors=True)


def read_verified(path: Path, sha256: str | None) -> bytes | None:
    """The bytes of ``path`` if it exists and its SHA-256 is ``sha256``, else None."""
    if sha256 is None or not path.exists():
        return None
    data = path.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


class Manifest:
    """Which buckets of a party's session are committed, per stage: bucket -> the SHA-256
    of the committed output, plus the session's facts (``meta``: ids, counts). One JSON
    file in the spill directory, rewritten atomically on every commit (a round of buckets
    at a time). A manifest of another session (``session`` differs) is refused."""

    def __init__(self, path: Path, session: str) -> None:
        self.path = path
        self.session = session
        self._stages: dict[str, dict[str, str]] = {}
        self.meta: dict[str, str] = {}
        if path.exists():
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("session") != session or record.get("version") != MANIFEST_VERSION:
                raise FailedPreconditionError(
                    f"{path} belongs to another session; use a fresh spill directory",
                    subject="spill_dir",
                )
            self._stages = record["stages"]
            self.meta = record["meta"]

    def digest(self, stage: str, bucket: int) -> str | None:
        """The committed output's SHA-256 of ``bucket`` in ``stage``, or None."""
        return self._stages.get(stage, {}).get(str(bucket))

    def committed(self, stage: str) -> int:
        return len(self._stages.get(stage, {}))

    def buckets(self, stage: str) -> list[int]:
        """The committed buckets of ``stage``, ascending."""
        return sorted(int(b) for b in self._stages.get(stage, {}))

    def commit(
        self, stage: str, outputs: Mapping[int, str], meta: Mapping[str, str] | None = None
    ) -> None:
        """Record ``outputs`` (bucket -> SHA-256) of ``stage`` and ``meta``, atomically."""
        self._stages.setdefault(stage, {}).update({str(b): d for b, d in outputs.items()})
        self.meta.update(meta or {})
        record = {
            "version": MANIFEST_VERSION,
            "session": self.session,
            "stages": self._stages,
            "meta": self.meta,
        }
        write_atomic(self.path, json.dumps(record, sort_keys=True).encode())
