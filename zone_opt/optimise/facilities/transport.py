"""The transportation LP of a fixed set of open sites, and a local search over site sets.

With the open sites fixed, the splittable single-type problem is a transportation LP:
``min sum C_ij x_ij`` s.t. ``sum_i x_ij = 1`` per park, ``sum_j d_j x_ij <= s_i`` per open
site. It is solved over each park's few cheapest open sites first and then priced out
against all open sites with the LP duals (columns with a negative reduced cost are added
and the LP re-solved), so the value is the exact optimum of the full LP at a fraction of
its size (~1000 x 6 columns instead of 1000 x |open|).

:func:`local_search` improves a site set by add, drop and swap moves ranked by estimates
(an add by the Lagrangian value of the site at the LP's demand duals, a drop by the cost of
sending its parks to their next-cheapest open site) and checked with that LP, first
improvement taken.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.lagrange import SiteRelaxation
from zone_opt.optimise.solver import INF, HighsSolver, MatrixModel, SolveOptions, SolveStatus

__all__ = ["Transport", "TransportPlan"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

_LP = SolveOptions(threads=1, presolve=False)


@dataclass(frozen=True)
class TransportPlan:
    """A plan with the sites ``open`` (m,): ``cost`` (fixed + service, CNY), the fractions
    ``x`` (|open|, n') over the open sites in index order, and the LP's demand duals ``u``."""

    open: B
    cost: float
    x: F64
    u: F64


class Transport:
    """Exact transportation LPs for site sets of one problem, cached by site set."""

    def __init__(self, relaxation: SiteRelaxation, budget_cny: float | None = None) -> None:
        self.rel = relaxation
        self.budget = budget_cny
        self.nearest = 6
        """Columns per park in the first LP (before pricing)."""
        self.calls = 0
        self._cache: dict[bytes, TransportPlan | None] = {}

    def feasible(self, sites: B) -> bool:
        """Enough capacity for all demand and within the budget (necessary conditions)."""
        rel = self.rel
        if float(rel.s @ sites) < rel.total * (1 - 1e-12):
            return False
        return self.budget is None or float(rel.f @ sites) <= self.budget * (1 + 1e-12)

    def cached(self, sites: B) -> bool:
        """Whether :meth:`solve` already knows this site set."""
        return np.asarray(sites, dtype=bool).tobytes() in self._cache

    def solve(self, sites: B) -> TransportPlan | None:
        """The cheapest plan with exactly ``sites`` open; None if they cannot serve all."""
        mask = np.asarray(sites, dtype=bool)
        key = mask.tobytes()
        if key not in self._cache:
            self._cache[key] = self._solve(mask) if self.feasible(mask) else None
        return self._cache[key]

    def _solve(self, sites: B) -> TransportPlan | None:
        rel = self.rel
        rows = np.flatnonzero(sites)
        k, n = rows.size, rel.n
        cost = rel.cost[rows]
        reach = np.isfinite(cost)
        if not reach.any(axis=0).all():
            return None
        active = np.zeros((k, n), dtype=bool)
        near = min(self.nearest, k)
        pick = np.argpartition(cost, near - 1, axis=0)[:near]
        active[pick, np.arange(n)[None, :]] = True
        active &= reach
        while True:
            self.calls += 1
            site, park = np.nonzero(active)
            cols = site.size
            model = MatrixModel.from_coo(
                (
                    np.concatenate([park, n + site]),
                    np.concatenate([np.arange(cols), np.arange(cols)]),
                    np.concatenate([np.ones(cols), rel.d[park]]),
                ),
                cost=cost[site, park],
                col_bounds=(0.0, 1.0),
                row_bounds=(
                    np.concatenate([np.ones(n), np.full(k, -INF)]),
                    np.concatenate([np.ones(n), rel.s[rows]]),
                ),
            )
            sol = HighsSolver(model).solve(_LP)
            if sol.status is SolveStatus.INFEASIBLE:
                if active[reach].all():
                    return None
                active = reach.copy()
                continue
            if sol.status is not SolveStatus.OPTIMAL or sol.x is None or sol.row_dual is None:
                return None
            u, w = sol.row_dual[:n], sol.row_dual[n:]
            reduced = cost - u[None, :] - w[:, None] * rel.d[None, :]
            missing = reach & ~active & (reduced < -1e-7 * np.maximum(1.0, np.abs(cost)))
            if not missing.any():
                x = np.zeros((k, n))
                x[site, park] = sol.x
                return TransportPlan(
                    open=sites.copy(), cost=sol.objective + float(rel.f[rows].sum()), x=x, u=u
                )
            active |= missing

    def local_search(
        self, sites: B, *, tries: int = 6, deadline: float = math.inf
    ) -> TransportPlan | None:
        """Improve ``sites`` by add / drop / swap moves until none of the ``tries`` best
        ranked of each kind helps (or ``deadline``, a ``time.perf_counter`` value, passes)."""
        current = self.solve(sites)
        if current is None:
            return None
        rel = self.rel
        while time.perf_counter() < deadline:
            y = current.open
            closed = ~y
            v = rel.evaluate(current.u, closed).v
            adds = np.flatnonzero(closed)
            adds = adds[np.argsort(v[adds], kind="stable")][:tries]
            rows = np.flatnonzero(y)
            cost = rel.cost[rows]
            drop_est = _drop_estimates(cost, current.x) - rel.f[rows]
            drops = rows[np.argsort(drop_est, kind="stable")][:tries]
            est = dict(zip(rows.tolist(), drop_est.tolist(), strict=True))
            moves: list[tuple[float, int, int]] = [
                (float(v[k]), int(k), -1) for k in adds if v[k] < 0
            ]
            moves += [(est[int(i)], -1, int(i)) for i in drops]
            moves += [(est[int(i)] + float(v[k]), int(k), int(i)) for i in drops for k in adds]
            moves.sort()
            for _, add, drop in moves:
                trial = y.copy()
                if add >= 0:
                    trial[add] = True
                if drop >= 0:
                    trial[drop] = False
                plan = self.solve(trial)
                if plan is not None and plan.cost < current.cost * (1 - 1e-12):
                    current = plan
                    break
                if time.perf_counter() >= deadline:
                    break
            else:
                break
        return current


def _drop_estimates(cost: F64, x: F64) -> F64:
    """For each open site (row of ``cost``, its flows ``x``), the transport cost added by
    moving its flows to each park's next cheapest open site: O(sites x parks), from each
    park's cheapest and second cheapest open site."""
    sites = cost.shape[0]
    if sites < 2:
        alt = np.full(cost.shape, np.inf)
    else:
        two = np.argpartition(cost, 1, axis=0)[:2]
        cols = np.arange(cost.shape[1])
        best, second = cost[two[0], cols], cost[two[1], cols]
        alt = np.where(two[0] == np.arange(sites)[:, None], second, best)
    moved = x > 0
    with np.errstate(invalid="ignore"):
        extra = np.where(moved, x * (alt - cost), 0.0)
    return np.asarray(extra.sum(axis=1), dtype=np.float64)
