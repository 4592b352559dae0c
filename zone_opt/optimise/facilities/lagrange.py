"""Lagrangian bounds for the splittable single-type problem (Beasley 1988).

Relaxing the demand rows ``sum_i x_ij = 1`` with multipliers ``u_j`` splits the problem
by site: site i, if open, solves a continuous knapsack ``min sum_j (C_ij - u_j) x_ij``
subject to ``sum_j d_j x_ij <= s_i``, ``0 <= x <= 1`` (C_ij the cost of serving all of j
from i), worth ``v_i = f_i + knapsack_i``. The sites to open then solve
``min sum_i v_i y_i`` s.t. ``sum_i s_i y_i >= D`` (the aggregate capacity cut), exactly
when all capacities are equal (open the K = ceil(D/s) best, plus every other negative
one), by its LP otherwise. ``L(u) = sum_j u_j + that minimum`` is a lower bound on the
optimum for every u; subgradient ascent maximises it. Each evaluation is one row-wise sort
of the m x n reduced costs: O(m n log n) numpy work, no LP.

Given u and an upper bound UB, site i can be fixed closed (open) when forcing it open
(closed) raises the bound above UB; that reduction makes the remaining MILP small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.problem import FacilityProblem

__all__ = ["LagrangianBound", "lagrangian_bound"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class LagrangianBound:
    bound_cny: float
    multipliers: F64
    site_value: F64
    """v_i(u): the Lagrangian value of opening site i."""
    open_sites: NDArray[np.bool_]
    """The sites the best bound opens (a starting point for heuristics)."""
    iterations: int
    candidates: tuple[NDArray[np.bool_], ...] = ()
    """Distinct site sets the relaxation opened along the way (for primal heuristics)."""


class _Relaxation:
    def __init__(self, problem: FacilityProblem) -> None:
        self.d = problem.demand[:, 0].astype(np.float64)
        self.s = problem.capacity[:, 0].astype(np.float64)
        self.f = np.asarray(problem.fixed_cost_cny, dtype=np.float64)
        per_unit = problem.transport_cost_cny_per_unit + problem.operating[:, 0][None, :]
        per_unit = np.where(problem.reachable(), per_unit, np.inf)
        self.cost = (per_unit * self.d[:, None]).T  # (m, n): serve all of j from i
        self.total = float(self.d.sum())
        self.equal = bool(np.all(self.s == self.s[0]))

    def site_values(self, u: F64) -> tuple[F64, F64]:
        """v_i(u) and the knapsack fractions x (m, n)."""
        red = self.cost - u[None, :]
        d = self.d
        ratio = np.where(red < 0, red / np.maximum(d, 1e-300)[None, :], np.inf)
        order = np.argsort(ratio, axis=1, kind="stable")
        d_sorted = d[order]
        before = np.cumsum(d_sorted, axis=1) - d_sorted
        room = self.s[:, None] - before
        frac_sorted = np.clip(room / np.maximum(d_sorted, 1e-300), 0.0, 1.0)
        frac_sorted[np.take_along_axis(ratio, order, axis=1) == np.inf] = 0.0
        x = np.zeros_like(red)
        np.put_along_axis(x, order, frac_sorted, axis=1)
        v = self.f + np.sum(np.where(x > 0, x * red, 0.0), axis=1)
        return v, x

    def choose(self, v: F64, lo: NDArray[np.bool_], hi: NDArray[np.bool_]) -> tuple[float, F64]:
        """min sum v y, sum s y >= D, lo <= y <= hi (exact for equal s, else LP)."""
        y = lo.astype(np.float64).copy()
        free = hi & ~lo
        y[free & (v < 0)] = 1.0
        short = self.total - float(self.s @ y)
        if short > 1e-9:
            cand = np.flatnonzero(free & (y == 0))
            if self.equal:
                need = math.ceil(short / self.s[0] - 1e-9)
                if need > cand.size:
                    return math.inf, y
                pick = cand[np.argsort(v[cand], kind="stable")[:need]]
                y[pick] = 1.0
            else:
                ordered = cand[np.argsort(v[cand] / self.s[cand], kind="stable")]
                for i in ordered:
                    take = min(1.0, short / self.s[i])
                    y[i] = take
                    short -= take * self.s[i]
                    if short <= 1e-9:
                        break
                if short > 1e-9:
                    return math.inf, y
        return float(v @ y), y


def lagrangian_bound(
    problem: FacilityProblem,
    upper_bound_cny: float,
    *,
    iterations: int = 400,
    multipliers: F64 | None = None,
    stall_limit: int = 30,
    step: float = 2.0,
    decay_every: int = 40,
) -> LagrangianBound:
    """Subgradient ascent on L(u) with Polyak steps towards ``upper_bound_cny``.

    Single facility type, splittable demand. O(iterations * m n log n).
    """
    rel = _Relaxation(problem)
    m = rel.s.shape[0]
    lo = np.zeros(m, dtype=bool)
    hi = np.ones(m, dtype=bool)
    u = (
        multipliers.copy()
        if multipliers is not None
        else np.sort(rel.cost, axis=0)[min(1, m - 1)]  # second-cheapest full service cost
    )
    u = np.where(np.isfinite(u), u, np.nanmax(np.where(np.isfinite(rel.cost), rel.cost, np.nan)))
    best = -math.inf
    best_u, best_v, best_y = u.copy(), np.zeros(m), np.zeros(m)
    seen: list[NDArray[np.bool_]] = []
    stall = 0
    it = 0
    for it in range(1, iterations + 1):
        v, x = rel.site_values(u)
        value, y = rel.choose(v, lo, hi)
        bound = float(u.sum()) + value
        if best == -math.inf or bound > best + 1e-9 * max(1.0, abs(best)):
            best, best_u, best_v, best_y = bound, u.copy(), v, y
        if (y > 0.5).any() and not any(np.array_equal(y > 0.5, o) for o in seen):
            seen.append(y > 0.5)
            if len(seen) > 6:
                seen.pop(0)
            stall = 0
        else:
            stall += 1
        if stall >= stall_limit or (it % decay_every == 0):
            step /= 2.0
            stall = 0
        if step < 1e-5 or (
            math.isfinite(upper_bound_cny) and upper_bound_cny - best <= 1e-9 * abs(upper_bound_cny)
        ):
            break
        g = 1.0 - y @ x
        norm = float(g @ g)
        if norm < 1e-12:
            break
        target = upper_bound_cny if math.isfinite(upper_bound_cny) else best + 0.05 * abs(best)
        u = u + step * max(target - bound, 1e-6 * abs(bound)) / norm * g
    return LagrangianBound(
        bound_cny=best,
        multipliers=best_u,
        site_value=best_v,
        open_sites=best_y > 0.5,
        iterations=it,
        candidates=(*seen[-4:], best_y > 0.5),
    )


def fix_sites(
    problem: FacilityProblem, lb: LagrangianBound, upper_bound_cny: float, rel_gap: float = 1e-9
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Sites provably closed / open in every solution cheaper than ``upper_bound_cny``.

    For each site, the bound with that site forced the other way is recomputed with the same
    multipliers (O(m) each); if it exceeds the upper bound, the site is fixed.
    """
    rel = _Relaxation(problem)
    m = rel.s.shape[0]
    base = float(lb.multipliers.sum())
    limit = upper_bound_cny * (1 - rel_gap)
    closed = np.zeros(m, dtype=bool)
    opened = np.zeros(m, dtype=bool)
    for i in range(m):
        lo = np.zeros(m, dtype=bool)
        hi = np.ones(m, dtype=bool)
        if lb.open_sites[i]:
            hi[i] = False
            value, _ = rel.choose(lb.site_value, lo, hi)
            if base + value > limit:
                opened[i] = True
        else:
            lo[i] = True
            value, _ = rel.choose(lb.site_value, lo, hi)
            if base + value > limit:
                closed[i] = True
    return closed, opened
