"""Tamper-evident audit trail over result rows: an RFC 6962 Merkle tree (SHA-256).

Rows are byte strings; :func:`canonical_row` encodes a result row's fields unambiguously
so that the same row always hashes the same. ``leaf = SHA256(0x00 || row)``,
``node = SHA256(0x01 || left || right)``; a run's head chains to the previous head of the
same park, ``head = SHA256(0x02 || previous || root)`` (:data:`GENESIS` for the first run),
so history cannot be rewritten without changing every later head.

Complexity: O(n) hashes for a root, O(log n) for a proof's size and its verification.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.errors import InvalidInputError

__all__ = [
    "GENESIS",
    "MerkleProof",
    "PackedRows",
    "canonical_row",
    "chain_head",
    "merkle_root",
    "proof",
    "tenant_hour_rows",
    "verify",
]

#: The previous head of a park's first run.
GENESIS: bytes = bytes(32)


def canonical_row(*fields: int | float | str | bytes) -> bytes:
    """Encode a result row's fields unambiguously: a type tag, then a fixed-width value or
    a length-prefixed payload (``i`` int64, ``f`` float64, ``s`` UTF-8, ``b`` bytes; all
    big-endian). NaN is refused (it has many encodings).

    >>> canonical_row("t1", 0, 1234).hex()
    '730000000274316900000000000000006900000000000004d2'
    """
    out = bytearray()
    for k, value in enumerate(fields):
        if isinstance(value, bool) or not isinstance(value, int | float | str | bytes):
            raise InvalidInputError.single(
                "row", k, f"unsupported field type {type(value).__name__}"
            )
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise InvalidInputError.single("row", k, f"{value} does not fit in int64")
            out += b"i" + struct.pack(">q", value)
        elif isinstance(value, float):
            if math.isnan(value):
                raise InvalidInputError.single("row", k, "NaN has no canonical encoding")
            out += b"f" + struct.pack(">d", value + 0.0)  # -0.0 -> 0.0
        else:
            payload = value.encode() if isinstance(value, str) else value
            out += (b"s" if isinstance(value, str) else b"b") + struct.pack(">I", len(payload))
            out += payload
    return bytes(out)


@dataclass(frozen=True)
class PackedRows:
    """Rows stored back to back: row ``i`` is ``data[offsets[i]:offsets[i + 1]]``."""

    offsets: npt.NDArray[np.int64]
    data: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()


def tenant_hour_rows(scope: str, co2e_g: npt.NDArray[np.signedinteger[Any]]) -> PackedRows:
    """Canonical rows ``canonical_row(scope, tenant, hour, grams)`` of an integer
    (tenants, hours) grid, tenant-major, built vectorised (no per-row Python)."""
    label = scope.encode()
    grid = np.asarray(co2e_g, dtype=np.int64)
    if grid.ndim != 2:
        raise InvalidInputError.single("co2e_g", None, f"must be 2-D, got shape {grid.shape}")
    n, hours = grid.shape
    layout = np.dtype(
        [
            ("s", "S1"),
            ("len", ">u4"),
            ("scope", f"S{len(label)}"),
            ("ti", "S1"),
            ("tenant", ">i8"),
            ("hi", "S1"),
            ("hour", ">i8"),
            ("gi", "S1"),
            ("g", ">i8"),
        ]
    )
    rows = np.empty(n * hours, dtype=layout)
    rows["s"], rows["len"], rows["scope"] = b"s", len(label), label
    rows["ti"], rows["hi"], rows["gi"] = b"i", b"i", b"i"
    rows["tenant"] = np.repeat(np.arange(n), hours)
    rows["hour"] = np.tile(np.arange(hours), n)
    rows["g"] = grid.ravel()
    width = layout.itemsize
    offsets = np.arange(n * hours + 1, dtype=np.int64) * width
    return PackedRows(offsets, np.frombuffer(rows.tobytes(), dtype=np.uint8))


def _pack(
    rows: Sequence[bytes] | PackedRows,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    if isinstance(rows, PackedRows):
        return rows.offsets, rows.data
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    data = np.frombuffer(b"".join(rows), dtype=np.uint8)
    return offsets, data


@dataclass(frozen=True)
class MerkleProof:
    """An inclusion proof: row ``index`` of ``tree_size`` rows; ``path`` the sibling
    hashes from the leaf up (RFC 6962 audit path)."""

    index: int
    tree_size: int
    path: tuple[bytes, ...]


def merkle_root(rows: Sequence[bytes] | PackedRows) -> bytes:
    """The 32-byte Merkle root of ``rows`` (SHA-256 of nothing for no rows)."""
    return _core.audit_merkle_root(*_pack(rows))


def proof(rows: Sequence[bytes] | PackedRows, index: int) -> MerkleProof:
    """The inclusion proof of ``rows[index]``; raises InvalidInputError for a bad index."""
    if not 0 <= index < len(rows):
        raise InvalidInputError.single("index", None, f"{index} is outside the {len(rows)} rows")
    path = _core.audit_merkle_proof(*_pack(rows), index)
    return MerkleProof(index=index, tree_size=len(rows), path=tuple(path))


def verify(row: bytes, proof: MerkleProof, root: bytes) -> bool:
    """Whether ``proof`` shows that ``row`` is in the tree with ``root``.

    A tampered row, path, index or root gives ``False``; malformed hashes (not 32 bytes)
    raise InvalidInputError naming ``root`` or ``proof.path`` and the step.
    """
    if proof.index < 0 or proof.tree_size < 0:
        return False
    return _core.audit_verify(row, proof.index, proof.tree_size, list(proof.path), root)


def chain_head(previous: bytes, root: bytes) -> bytes:
    """The head of a run: ``SHA256(0x02 || previous || root)``."""
    return _core.audit_chain_head(previous, root)
