"""Where a distributed match keeps what it has already computed, so that a new driver
(a job resumed after its worker died) does not compute it again.

:class:`ShardLedger` is what :func:`~zone_opt.matching.distributed.solve_distributed`
needs of a store: the bytes committed under a key, if any, and a durable commit. The
server's job store is one (:class:`zone_opt.service.jobs.sharded.JobLedger`: files
written, fsynced, renamed and recorded under the job's fencing token);
:class:`MemoryLedger` keeps them in a dict (tests, and callers who only want the
accounting).

What is kept: each candidate shard's graph (the enterprise rows ``start:stop``; their
CSR rows, scores, chain components, reasons and feasible counts) under the key
``candidates-START-STOP``, encoded by :func:`encode_graph`. A shard is reused only for
the very same rows, so a resumed job on a cluster of another size (other shard bounds)
recomputes what does not line up instead of misreading it. The solve rounds after it are
recomputed on resume (they are deterministic, so the result is the same).
"""

from __future__ import annotations

import struct
from typing import Protocol

import numpy as np

from zone_opt.errors import VerificationError
from zone_opt.matching.candidates import CandidateGraph

__all__ = ["MemoryLedger", "ShardLedger", "decode_graph", "encode_graph", "shard_key"]

#: Format tag and version of an encoded candidate shard.
_MAGIC = b"ZOCG\x01"
_HEADER = struct.Struct("<5sqq")  # magic, rows, edges


class ShardLedger(Protocol):
    """A durable store of a job's shards (see the module docstring)."""

    def committed(self, key: str) -> bytes | None:
        """The bytes committed under ``key`` by this or an earlier attempt, or None."""
        ...

    def commit(self, key: str, data: bytes, rows: int, label: str) -> None:
        """Commit ``data`` (``rows`` rows) under ``key``, durably; ``label`` says what it
        is ("candidates shard 3 of 8") for progress reports."""
        ...


class MemoryLedger:
    """A :class:`ShardLedger` in a dict: ``commits`` lists the keys in commit order."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.commits: list[str] = []

    def committed(self, key: str) -> bytes | None:
        return self.data.get(key)

    def commit(self, key: str, data: bytes, rows: int, label: str) -> None:
        self.data[key] = data
        self.commits.append(key)


def shard_key(start: int, stop: int) -> str:
    """The key of the candidate shard of enterprise rows ``start:stop``."""
    return f"candidates-{start:010d}-{stop:010d}"


_FIELDS: tuple[tuple[str, type[np.generic]], ...] = (
    ("indptr", np.int64),
    ("cols", np.int64),
    ("scores", np.int64),
    ("chain", np.float64),
    ("reason", np.uint8),
    ("n_feasible", np.int64),
)


def encode_graph(graph: CandidateGraph) -> bytes:
    """One shard's graph as bytes: a header (rows, edges), then each array
    little-endian in a fixed order."""
    rows, edges = graph.reason.size, graph.n_edges
    parts = [_HEADER.pack(_MAGIC, rows, edges)]
    for name, dtype in _FIELDS:
        parts.append(
            np.ascontiguousarray(
                getattr(graph, name), dtype=np.dtype(dtype).newbyteorder("<")
            ).tobytes()
        )
    return b"".join(parts)


def decode_graph(data: bytes, rows: int) -> CandidateGraph:
    """The graph of :func:`encode_graph`, checked: ``rows`` enterprise rows, sizes that
    add up, offsets from 0 rising to the edge count.

    Raises:
        VerificationError: the bytes are not such a graph (a damaged or foreign shard).
    """
    if len(data) < _HEADER.size:
        raise VerificationError("candidate shard: shorter than its header")
    magic, n_rows, n_edges = _HEADER.unpack_from(data)
    if magic != _MAGIC or n_rows != rows or n_edges < 0:
        raise VerificationError(
            f"candidate shard: not a graph of {rows} rows (header {magic!r}, {n_rows} rows)"
        )
    sizes = {"indptr": rows + 1, "reason": rows, "n_feasible": rows}
    offset = _HEADER.size
    arrays: dict[str, np.ndarray] = {}
    for name, dtype in _FIELDS:
        count = sizes.get(name, n_edges)
        size = count * np.dtype(dtype).itemsize
        if offset + size > len(data):
            raise VerificationError(f"candidate shard: {name} is cut short")
        le = np.dtype(dtype).newbyteorder("<")
        arrays[name] = np.frombuffer(data, dtype=le, count=count, offset=offset).astype(dtype)
        offset += size
    if offset != len(data):
        raise VerificationError("candidate shard: bytes past its last array")
    indptr = arrays["indptr"]
    if indptr[0] != 0 or indptr[-1] != n_edges or np.any(np.diff(indptr) < 0):
        raise VerificationError("candidate shard: offsets do not rise from 0 to its edges")
    return CandidateGraph(**arrays)
