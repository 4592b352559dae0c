"""Exact sparse assignment against its peers: sparse max-weight with an outside option,
and the classic perfect sparse LAP (instances as in shared/reference/matching.md). The
dense LAP has its own suite, ``matching_dense``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.harness import Case, Contender, Summary, suite
from zone_opt.matching import Assignment, assign_sparse

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Sparse:
    """n rows and columns, k candidates per row (one on a random permutation), scores 1..1000."""

    n: int
    rows: IntArray
    cols: IntArray
    scores: IntArray


def make_sparse(n: int, k: int, seed: int) -> Sparse:
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, (n, k))
    cols[:, 0] = rng.permutation(n)
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    scores = rng.integers(1, 1001, n * k).astype(np.int64)
    return Sparse(n, rows, cols.ravel().astype(np.int64), scores)


# --- zone-opt ---------------------------------------------------------------------------


def ours_sparse(inst: Sparse) -> Assignment:
    return assign_sparse(inst.rows, inst.cols, inst.scores, (inst.n, inst.n))


def ours_perfect(inst: Sparse) -> Assignment:
    return assign_sparse(inst.rows, inst.cols, inst.scores, (inst.n, inst.n), perfect=True)


def summarize_ours(inst: Any, a: Assignment) -> Summary:
    if isinstance(inst, Sparse):
        a.verify(inst.rows, inst.cols, inst.scores)
    return {"objective": int(a.total), "matched": a.n_matched}


# --- peers ------------------------------------------------------------------------------


def ortools_mcf(inst: Sparse) -> tuple[int, int]:
    """SimpleMinCostFlow with row->sink bypass arcs of cost 0 (the outside option)."""
    from ortools.graph.python import min_cost_flow  # noqa: PLC0415 (optional peer)

    n = inst.n
    mcf = min_cost_flow.SimpleMinCostFlow()
    source, sink = 2 * n, 2 * n + 1
    ids = np.arange(n)
    one, zero = np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    mcf.add_arcs_with_capacity_and_unit_cost(np.full(n, source), ids, one, zero)
    mcf.add_arcs_with_capacity_and_unit_cost(
        inst.rows, n + inst.cols, np.ones_like(inst.rows), -inst.scores
    )
    mcf.add_arcs_with_capacity_and_unit_cost(ids, np.full(n, sink), one, zero)
    mcf.add_arcs_with_capacity_and_unit_cost(n + ids, np.full(n, sink), one, zero)
    mcf.set_nodes_supplies(np.array([source, sink]), np.array([n, -n]))
    if mcf.solve() != mcf.OPTIMAL:
        raise RuntimeError("OR-Tools MCF did not reach OPTIMAL")
    flows = mcf.flows(np.arange(n, n + len(inst.rows)))
    return -mcf.optimal_cost(), int(flows.sum())


def summarize_pair(inst: Sparse, out: tuple[int, int]) -> Summary:
    return {"objective": int(out[0]), "matched": int(out[1])}


def ortools_lsa(inst: Sparse) -> tuple[int, int]:
    """SimpleLinearSumAssignment (perfect matching only) on costs -score."""
    from ortools.graph.python import linear_sum_assignment  # noqa: PLC0415 (optional peer)

    lsa = linear_sum_assignment.SimpleLinearSumAssignment()
    lsa.add_arcs_with_cost(inst.rows, inst.cols, -inst.scores)
    if lsa.solve() != lsa.OPTIMAL:
        raise RuntimeError("OR-Tools LSA did not reach OPTIMAL")
    return -lsa.optimal_cost(), inst.n


def scipy_mwfbm(inst: Sparse) -> tuple[int, int]:
    """min_weight_full_bipartite_matching on the n x 2n form (one dummy column per row)."""
    from scipy.sparse import csr_matrix  # noqa: PLC0415 (optional peer)
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching  # noqa: PLC0415 (optional peer)

    n, big = inst.n, 1001
    key = inst.rows * n + inst.cols
    order = np.lexsort((-inst.scores, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]  # the best score of each duplicated pair
    r = np.concatenate([inst.rows[keep], np.arange(n)])
    c = np.concatenate([inst.cols[keep], n + np.arange(n)])
    w = np.concatenate([big - inst.scores[keep], np.full(n, big)]).astype(np.float64)
    rr, cc = min_weight_full_bipartite_matching(csr_matrix((w, (r, c)), shape=(n, 2 * n)))
    real = cc < n
    mat = csr_matrix((w, (r, c)), shape=(n, 2 * n))
    cost = float(np.asarray(mat[rr, cc]).sum())
    return round(big * n - cost), int(real.sum())


# --- suite ------------------------------------------------------------------------------


def bypass_case(n: int, mcf_timeout_s: float, with_scipy: bool) -> Case:
    peers = [
        Contender(
            "OR-Tools SimpleMinCostFlow (bypass arcs)",
            ortools_mcf,
            summarize_pair,
            requires=("ortools",),
            timeout_s=mcf_timeout_s,
        )
    ]
    if with_scipy:
        peers.append(
            Contender(
                "scipy min_weight_full_bipartite_matching (n x 2n)",
                scipy_mwfbm,
                summarize_pair,
                requires=("scipy",),
                timeout_s=120.0,
            )
        )
    return Case(
        name=f"sparse_max_weight_n{n}_k16",
        make=lambda: make_sparse(n, 16, 5),
        contenders=[
            Contender("zone-opt assign_sparse", ours_sparse, summarize_ours, ours=True),
            *peers,
        ],
        params={"n": n, "k": 16, "scores": "1..1000", "unassigned": "allowed"},
    )


def perfect_case(n: int) -> Case:
    return Case(
        name=f"sparse_perfect_n{n}_k16",
        make=lambda: make_sparse(n, 16, 6),
        contenders=[
            Contender("zone-opt assign_sparse(perfect)", ours_perfect, summarize_ours, ours=True),
            Contender(
                "OR-Tools SimpleLinearSumAssignment",
                ortools_lsa,
                summarize_pair,
                requires=("ortools",),
                timeout_s=120.0,
            ),
        ],
        params={"n": n, "k": 16, "scores": "1..1000", "unassigned": "no"},
    )


@suite("matching_assign")
def matching_assign(size: str) -> list[Case]:
    """Exact sparse assignment vs OR-Tools MCF/LSA and scipy."""
    if size == "smoke":
        return [bypass_case(1000, 60.0, True), perfect_case(1000)]
    return [
        bypass_case(10_000, 120.0, True),
        bypass_case(100_000, 120.0, False),
        perfect_case(100_000),
        bypass_case(1_000_000, 300.0, False),
        perfect_case(1_000_000),
    ]
