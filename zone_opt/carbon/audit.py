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

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.errors import InvalidInputError

__all__ = [
    "GENESIS",
    "MerkleProof",
    "canonical_row",
    "chain_head",
    "merkle_root",
    "proof",
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


def _pack(rows: Sequence[bytes]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
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


def merkle_root(rows: Sequence[bytes]) -> bytes:
    """The 32-byte Merkle root of ``rows`` (SHA-256 of nothing for no rows)."""
    return _core.audit_merkle_root(*_pack(rows))


def proof(rows: Sequence[bytes], index: int) -> MerkleProof:
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
