"""Deferred acceptance (hospital-resident, resident-optimal) against its peers.

Instances follow ``shared/reference/matching.md`` section 1.3: R residents each list L=10
distinct hospitals drawn with a popularity skew, hospitals have capacities 5-20 and rank
applicants by merit plus noise. Contenders: zone-opt's Rust DA (numpy edges in), a
pure-Python reference DA (about 30 lines, below) and the ``matching`` package's
HospitalResident (build + solve). The resident-optimal stable matching is unique, so every
contender must return the identical matching (compared by a hash of the assignment).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import sys
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.harness import Case, Contender, agree_on, suite
from zone_opt.matching import deferred_acceptance

L = 10


def make_instance(n_residents: int, n_hospitals: int, seed: int = 0) -> dict[str, Any]:
    """Edges (resident, hospital, resident score, hospital score) and capacities."""
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, n_hospitals) + 1.0
    p = popularity / popularity.sum()
    # L distinct hospitals per resident: draw with the skew, then fix duplicates.
    picks = rng.choice(n_hospitals, size=(n_residents, L), p=p)
    picks.sort(axis=1)
    dup = np.zeros_like(picks, dtype=bool)
    dup[:, 1:] = picks[:, 1:] == picks[:, :-1]
    while dup.any():
        picks[dup] = rng.integers(0, n_hospitals, int(dup.sum()))
        picks.sort(axis=1)
        dup[:] = False
        dup[:, 1:] = picks[:, 1:] == picks[:, :-1]
    rows = np.repeat(np.arange(n_residents, dtype=np.int64), L)
    cols = picks.reshape(-1).astype(np.int64)
    # Residents' order: a random permutation of their list (distinct integer ranks).
    r_score = rng.permuted(np.tile(np.arange(L, 0, -1, dtype=np.float64), (n_residents, 1)), axis=1)
    merit = rng.normal(size=n_residents)
    h_score = merit[rows] + 0.5 * rng.normal(size=rows.size)
    caps = rng.integers(5, 21, n_hospitals).astype(np.int64)
    return {
        "n": n_residents,
        "m": n_hospitals,
        "rows": rows,
        "cols": cols,
        "ps": r_score.reshape(-1),
        "rs": h_score,
        "caps": caps,
    }


def _pref_lists(inst: dict[str, Any]) -> tuple[list[list[int]], list[dict[int, float]]]:
    """Residents' lists (best first) and hospitals' score of each applicant."""
    n, rows, cols, ps, rs = inst["n"], inst["rows"], inst["cols"], inst["ps"], inst["rs"]
    order = np.lexsort((cols, -ps, rows))
    lists: list[list[int]] = [[] for _ in range(n)]
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        lists[r].append(c)
    hosp: list[dict[int, float]] = [{} for _ in range(inst["m"])]
    for r, c, s in zip(rows.tolist(), cols.tolist(), rs.tolist(), strict=True):
        hosp[c][r] = s
    return lists, hosp


def reference_da(inst: dict[str, Any]) -> npt.NDArray[np.int64]:
    """Plain-list resident-proposing DA with heaps (the reference of matching.md 1.3)."""
    lists, hosp = _pref_lists(inst)
    caps = inst["caps"].tolist()
    held: list[list[tuple[float, int]]] = [[] for _ in caps]
    nxt = [0] * inst["n"]
    free = list(range(inst["n"] - 1, -1, -1))
    while free:
        r = free.pop()
        if nxt[r] >= len(lists[r]):
            continue
        h = lists[r][nxt[r]]
        nxt[r] += 1
        key = (hosp[h][r], -r)
        if len(held[h]) < caps[h]:
            heapq.heappush(held[h], key)
        elif caps[h] and key > held[h][0]:
            _, loser = heapq.heapreplace(held[h], key)
            free.append(-loser)
        else:
            free.append(r)
    out = np.full(inst["n"], -1, dtype=np.int64)
    for h, items in enumerate(held):
        for _, neg in items:
            out[-neg] = h
    return out


def matching_package(inst: dict[str, Any]) -> npt.NDArray[np.int64]:
    """The `matching` package's HospitalResident, resident-optimal (build + solve)."""
    from matching.games import HospitalResident  # noqa: PLC0415 (optional peer)

    lists, hosp = _pref_lists(inst)
    residents = {r: lst for r, lst in enumerate(lists) if lst}
    hospitals = {
        h: [r for r, _ in sorted(apps.items(), key=lambda kv: (-kv[1], kv[0]))]
        for h, apps in enumerate(hosp)
        if apps
    }
    capacity = {h: int(inst["caps"][h]) for h in hospitals}
    box: dict[str, Any] = {}

    def run() -> None:
        game = HospitalResident.create_from_dictionaries(residents, hospitals, capacity)
        box["m"] = game.solve(optimal="resident")

    sys.setrecursionlimit(1_000_000)
    threading.stack_size(512 * 2**20)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    out = np.full(inst["n"], -1, dtype=np.int64)
    for hospital, matched in box["m"].items():
        for resident in matched:
            out[int(resident.name)] = int(hospital.name)
    return out


def zone_opt_da(inst: dict[str, Any]) -> npt.NDArray[np.int64]:
    return deferred_acceptance(
        inst["rows"], inst["cols"], inst["ps"], inst["rs"], inst["caps"], n_proposers=inst["n"]
    )


def summarize(inst: dict[str, Any], out: npt.NDArray[np.int64]) -> dict[str, Any]:
    return {
        "n_matched": int((out >= 0).sum()),
        "matching_sha1": hashlib.sha1(np.ascontiguousarray(out).tobytes()).hexdigest(),
    }


@suite("matching_stable")
def cases(size: str) -> list[Case]:
    """Deferred acceptance vs a pure-Python DA and matching's HospitalResident."""
    sizes = (
        [(1_000, 100)]
        if size == "smoke"
        else [(10_000, 1_000), (100_000, 10_000), (1_000_000, 100_000)]
    )
    out = []
    for n, m in sizes:
        peer_timeout = 60.0 if n >= 100_000 else 120.0
        contenders = [
            Contender("zone-opt deferred_acceptance", zone_opt_da, summarize, ours=True),
            Contender("reference DA (pure Python)", reference_da, summarize, timeout_s=120.0),
        ]
        if n <= 100_000:
            contenders.append(
                Contender(
                    "matching.HospitalResident",
                    matching_package,
                    summarize,
                    requires=("matching",),
                    timeout_s=peer_timeout,
                )
            )
        out.append(
            Case(
                f"hr R={n} H={m} L={L}",
                functools.partial(make_instance, n, m),
                contenders,
                agree=agree_on("n_matched", "matching_sha1"),
                params={"residents": n, "hospitals": m, "list_length": L},
            )
        )
    return out
