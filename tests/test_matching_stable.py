"""Deferred acceptance: stability, equality with `matching`'s HospitalResident, bad input."""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matching.games import HospitalResident

from zone_opt.errors import InvalidInputError
from zone_opt.matching import blocking_pairs, deferred_acceptance

Instance = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    int,
]


def random_instance(seed: int, n: int, m: int, density: float, levels: int) -> Instance:
    """Random acceptable pairs; few score levels so that ties are common."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    rows, cols = np.nonzero(mask)
    ps = rng.integers(0, levels, rows.size).astype(np.float64)
    rs = rng.integers(0, levels, rows.size).astype(np.float64)
    caps = rng.integers(0, 3, m)
    return rows.astype(np.int64), cols.astype(np.int64), ps, rs, caps, n


def naive_blocking_pairs(inst: Instance, match: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """Independent pure-Python search for blocking pairs."""
    rows, cols, ps, rs, caps, n = inst
    pscore = {(int(r), int(c)): float(s) for r, c, s in zip(rows, cols, ps, strict=True)}
    rscore = {(int(r), int(c)): float(s) for r, c, s in zip(rows, cols, rs, strict=True)}
    held: dict[int, list[int]] = {}
    for p in range(n):
        if match[p] >= 0:
            held.setdefault(int(match[p]), []).append(p)

    def p_prefers(p: int, a: int, b: int) -> bool:  # p prefers receiver a to b (or to none)
        if b < 0:
            return True
        return (pscore[(p, a)], -a) > (pscore[(p, b)], -b)

    def r_prefers(c: int, a: int, b: int) -> bool:  # c prefers proposer a to b
        return (rscore[(a, c)], -a) > (rscore[(b, c)], -b)

    found = []
    for p, c in pscore:
        if int(match[p]) == c or not p_prefers(p, c, int(match[p])):
            continue
        h = held.get(c, [])
        if len(h) < caps[c] or any(r_prefers(c, p, q) for q in h):
            found.append((p, c))
    return found


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 25),
    m=st.integers(1, 8),
    density=st.floats(0.0, 1.0),
    levels=st.sampled_from([1, 2, 5, 1000]),
)
def test_result_is_stable_and_certificate_agrees(
    seed: int, n: int, m: int, density: float, levels: int
) -> None:
    inst = random_instance(seed, n, m, density, levels)
    rows, cols, ps, rs, caps, _ = inst
    match = deferred_acceptance(rows, cols, ps, rs, caps, n_proposers=n)
    assert match.shape == (n,)
    assert match.dtype == np.int64
    # Feasible: along acceptable pairs, within capacities.
    pairs = set(zip(rows.tolist(), cols.tolist(), strict=True))
    for p, c in enumerate(match.tolist()):
        assert c == -1 or (p, c) in pairs
    assert (np.bincount(match[match >= 0], minlength=m) <= caps).all()
    assert naive_blocking_pairs(inst, match) == []
    assert blocking_pairs(rows, cols, ps, rs, caps, matching=match).size == 0


def test_certificate_finds_blocking_pairs_of_a_perturbed_matching() -> None:
    inst = random_instance(3, 30, 6, 0.5, 4)
    rows, cols, ps, rs, caps, n = inst
    match = deferred_acceptance(rows, cols, ps, rs, caps, n_proposers=n)
    broken = match.copy()
    broken[match >= 0] = -1  # everyone unmatched: every acceptable pair with a seat blocks
    found = blocking_pairs(rows, cols, ps, rs, caps, matching=broken)
    expected = naive_blocking_pairs(inst, broken)
    assert sorted(zip(rows[found].tolist(), cols[found].tolist(), strict=True)) == sorted(expected)
    assert found.size > 0


def _hr_matching(inst: Instance) -> npt.NDArray[np.int64]:
    """The `matching` package's resident-optimal HospitalResident solution."""
    rows, cols, ps, rs, caps, n = inst
    resident_prefs: dict[int, list[int]] = {}
    hospital_prefs: dict[int, list[int]] = {c: [] for c in range(caps.size)}
    for p in range(n):
        sel = np.nonzero(rows == p)[0]
        order = sorted(sel.tolist(), key=lambda i: (-ps[i], cols[i]))
        resident_prefs[p] = [int(cols[i]) for i in order]
    for c in range(caps.size):
        sel = np.nonzero(cols == c)[0]
        order = sorted(sel.tolist(), key=lambda i: (-rs[i], rows[i]))
        hospital_prefs[c] = [int(rows[i]) for i in order]
    residents = {p: v for p, v in resident_prefs.items() if v}
    hospitals = {c: v for c, v in hospital_prefs.items() if v}
    capacity = {c: int(caps[c]) for c in hospitals}
    out = np.full(n, -1, dtype=np.int64)
    result: dict[str, Any] = {}

    def run() -> None:
        game = HospitalResident.create_from_dictionaries(residents, hospitals, capacity)
        result["m"] = game.solve(optimal="resident")

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    threading.stack_size(256 * 2**20)
    try:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    finally:
        threading.stack_size(0)
        sys.setrecursionlimit(old)
    for hospital, matched in result["m"].items():
        for resident in matched:
            out[int(resident.name)] = int(hospital.name)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_equals_matching_package_hospital_resident(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 60, 12
    inst = random_instance(seed, n, m, 0.3, 1000)
    rows, cols, ps, rs, _, _ = inst
    caps = rng.integers(1, 5, m)
    inst = (rows, cols, ps, rs, caps, n)
    assert np.array_equal(
        deferred_acceptance(rows, cols, ps, rs, caps, n_proposers=n), _hr_matching(inst)
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "row"),
    [
        ({"cols": [0]}, "cols", None),
        ({"rows": [0, 5]}, "rows", 1),
        ({"cols": [0, 3]}, "cols", 1),
        ({"proposer_scores": [1.0, float("nan")]}, "proposer_scores", 1),
        ({"receiver_scores": [float("nan"), 1.0]}, "receiver_scores", 0),
        ({"capacities": [1, -1]}, "capacities", 1),
        ({"cols": [1, 1], "rows": [0, 0]}, "cols", 1),
        ({"rows": [0.5, 1.0]}, "rows", None),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, Any], field: str, row: int | None) -> None:
    args: dict[str, Any] = {
        "rows": [0, 1],
        "cols": [0, 1],
        "proposer_scores": [1.0, 2.0],
        "receiver_scores": [1.0, 2.0],
        "capacities": [1, 1],
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError) as info:
        deferred_acceptance(**args, n_proposers=2)
    assert info.value.violations[0].field == field
    assert info.value.violations[0].row == row


def test_empty_instance() -> None:
    out = deferred_acceptance([], [], [], [], [], n_proposers=3)
    assert out.tolist() == [-1, -1, -1]
