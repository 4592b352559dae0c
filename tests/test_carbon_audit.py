"""zone_opt.carbon audit trail: RFC 6962 roots, inclusion proofs, tampering, chaining."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.carbon import (
    GENESIS,
    MerkleProof,
    canonical_row,
    chain_head,
    merkle_root,
    proof,
    tenant_hour_rows,
    verify,
)
from zone_opt.errors import InvalidInputError


def rfc6962_root(rows: list[bytes]) -> bytes:
    """MTH from RFC 6962 section 2.1, written independently with hashlib."""
    if not rows:
        return hashlib.sha256(b"").digest()
    if len(rows) == 1:
        return hashlib.sha256(b"\x00" + rows[0]).digest()
    k = 1 << ((len(rows) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + rfc6962_root(rows[:k]) + rfc6962_root(rows[k:])).digest()


def result_rows(n: int) -> list[bytes]:
    return [canonical_row(f"tenant-{i % 7}", i % 8760, "scope2-lb", i * 1_234) for i in range(n)]


def test_roots_match_rfc6962_and_every_proof_verifies() -> None:
    for n in range(0, 40):
        rows = result_rows(n)
        root = merkle_root(rows)
        assert root == rfc6962_root(rows)
        for i in range(n):
            p = proof(rows, i)
            assert (p.index, p.tree_size) == (i, n)
            assert len(p.path) <= math.ceil(math.log2(max(n, 1)))
            assert verify(rows[i], p, root)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_tampered_row_proof_or_root_fails(n: int, data: st.DataObject) -> None:
    rows = result_rows(n)
    root = merkle_root(rows)
    i = data.draw(st.integers(0, n - 1))
    p = proof(rows, i)
    row = bytearray(rows[i])
    k = data.draw(st.integers(0, len(row) - 1))
    row[k] ^= 1 << data.draw(st.integers(0, 7))
    assert not verify(bytes(row), p, root)
    assert not verify(rows[i], p, bytes(31) + b"\x01")
    if n > 1:
        assert not verify(rows[i], MerkleProof((i + 1) % n, n, p.path), root)
        step = data.draw(st.integers(0, len(p.path) - 1))
        bad = list(p.path)
        bad[step] = bytes(b ^ 0xFF for b in bad[step])
        assert not verify(rows[i], MerkleProof(i, n, tuple(bad)), root)
        assert not verify(rows[i], MerkleProof(i, n, p.path[:-1]), root)


def test_malformed_proofs_are_invalid_input() -> None:
    rows = result_rows(5)
    root = merkle_root(rows)
    p = proof(rows, 2)
    with pytest.raises(InvalidInputError) as info:
        verify(rows[2], MerkleProof(2, 5, (p.path[0][:10], *p.path[1:])), root)
    assert (info.value.violations[0].field, info.value.violations[0].row) == ("proof.path", 0)
    with pytest.raises(InvalidInputError) as info:
        verify(rows[2], p, root[:5])
    assert info.value.violations[0].field == "root"
    with pytest.raises(InvalidInputError):
        proof(rows, 5)
    assert not verify(rows[2], MerkleProof(-1, 5, p.path), root)


def test_chain_heads() -> None:
    a, b = merkle_root(result_rows(3)), merkle_root(result_rows(4))
    first = chain_head(GENESIS, a)
    assert first == hashlib.sha256(b"\x02" + GENESIS + a).digest()
    second = chain_head(first, b)
    # Rewriting the first run changes every later head.
    assert chain_head(chain_head(GENESIS, b), b) != second
    with pytest.raises(InvalidInputError):
        chain_head(b"short", a)


def test_canonical_rows_are_unambiguous() -> None:
    assert (
        canonical_row("t1", 0, 1234).hex() == "730000000274316900000000000000006900000000000004d2"
    )
    assert canonical_row("ab", "c") != canonical_row("a", "bc")
    assert canonical_row(1) != canonical_row(1.0) != canonical_row("1")
    assert canonical_row(b"x") != canonical_row("x")
    assert canonical_row(-0.0) == canonical_row(0.0)
    for bad in (math.nan, True, None, 2**63):
        with pytest.raises(InvalidInputError) as info:
            canonical_row("t", bad)  # type: ignore[arg-type]
        assert (info.value.violations[0].field, info.value.violations[0].row) == ("row", 1)


def test_tenant_hour_rows_are_canonical_rows() -> None:
    grid = np.array([[5, -7, 9], [1, 2, 2**40]], dtype=np.int64)
    rows = tenant_hour_rows("scope2-location", grid)
    assert len(rows) == grid.size
    expected = [
        canonical_row("scope2-location", i, h, int(grid[i, h])) for i in range(2) for h in range(3)
    ]
    assert [rows[k] for k in range(len(rows))] == expected
    assert merkle_root(rows) == merkle_root(expected) == rfc6962_root(expected)
    assert proof(rows, 4) == proof(expected, 4)
    with pytest.raises(InvalidInputError):
        tenant_hour_rows("x", np.zeros(3, dtype=np.int64))
