"""Lagrangian bounds for the splittable single-type problem (Beasley 1988; Görtz & Klose 2012).

Relaxing the demand rows ``sum_i x_ij = 1`` with multipliers ``u_j`` splits the problem
by site: site i, if open, solves a continuous knapsack ``min sum_j (C_ij - u_j) x_ij``
subject to ``sum_j d_j x_ij <= s_i``, ``0 <= x <= 1`` (C_ij the cost of serving all of j
from i), worth ``v_i = f_i + knapsack_i``. The sites to open then solve
``min sum_i v_i y_i`` s.t. ``sum_i s_i y_i >= D`` (the aggregate capacity cut), exactly
when all capacities are equal (open the cheapest that cover D, plus every other negative
one), by its LP otherwise. ``L(u) = sum_j u_j + that minimum`` is a lower bound on the
optimum for every u (and, with sites fixed open or closed, on every plan that keeps those
fixings); subgradient ascent maximises it.

Only arcs with a negative reduced cost enter a knapsack, so one evaluation sorts those
(typically 10^4 of the 10^5 arcs of capa/b/c): O(m n + k log k) numpy work, no LP.
A budget on fixed costs is not part of the relaxation (dropping a constraint keeps the bound
valid); plans are checked against it where they are built.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.problem import FacilityProblem

__all__ = ["Ascent", "AscentSchedule", "Knapsacks", "SiteRelaxation"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]


COVER_UNITS = 20_000
"""Resolution of :meth:`SiteRelaxation.cover`'s DP: the capacity still to cover, in at
most this many units (exact for integral capacities when the shortfall is smaller)."""
COVER_CELLS = 4_000_000
"""At most this many DP cells (sites x units) per :meth:`SiteRelaxation.cover` call: with
many sites the units are coarser."""


@dataclass(frozen=True)
class Knapsacks:
    """The per-site continuous knapsacks at some multipliers: ``v`` (m,) the value of
    opening each site, and the sparse fractions ``frac`` of arcs (``site``, ``park``)."""

    v: F64
    site: I64
    park: I64
    frac: F64


@dataclass(frozen=True)
class Ascent:
    """The best bound a subgradient ascent reached and what it was reached with.

    ``y`` (m,) the sites the relaxation opens at ``u`` (fractional only with unequal
    capacities), ``y_average`` an exponentially smoothed average of the iterates' ``y`` (a
    branching guide), ``iterations`` the evaluations used. ``bound`` is ``inf`` when the
    fixings leave too little capacity (no plan exists below them).
    """

    bound: float
    u: F64
    v: F64
    y: F64
    y_average: F64
    iterations: int


@dataclass(frozen=True)
class AscentSchedule:
    """The step rule of a subgradient ascent: at most ``iterations`` evaluations, starting
    from the step factor ``step``, halved after ``stall_limit`` non-improving steps; the
    ascent stops when the factor falls below ``min_step``."""

    iterations: int
    step: float
    stall_limit: int
    min_step: float = 5e-3


class SiteRelaxation:
    """The Lagrangian relaxation of one splittable single-type problem.

    Sites are fixed per call with boolean masks: ``lo`` (forced open) and ``hi`` (allowed
    open); a site with ``lo & ~hi`` is not a valid input.
    """

    def __init__(self, problem: FacilityProblem) -> None:
        d_all = problem.demand[:, 0].astype(np.float64)
        self.parks = np.flatnonzero(d_all > 0)
        """Parks with demand (the others impose nothing)."""
        self.d = d_all[self.parks]
        self.s = problem.capacity[:, 0].astype(np.float64)
        self.f = np.asarray(problem.fixed_cost_cny, dtype=np.float64)
        per_unit = problem.transport_cost_cny_per_unit + problem.operating[:, 0][None, :]
        per_unit = np.where(problem.reachable(), per_unit, np.inf)[self.parks]
        self.cost = np.ascontiguousarray((per_unit * self.d[:, None]).T)
        """(m, n') cost of serving all of park j from site i (``inf``: not reachable)."""
        self.total = float(self.d.sum())
        self.equal = bool(np.all(self.s == self.s[0]))
        self.m = int(self.s.shape[0])
        self.n = int(self.d.shape[0])

    def start(self) -> F64:
        """Starting multipliers: each park's second-cheapest full service cost."""
        finite = np.where(np.isfinite(self.cost), self.cost, np.nan)
        fallback = float(np.nanmax(finite)) if np.isfinite(finite).any() else 0.0
        u = np.sort(self.cost, axis=0)[min(1, self.m - 1)]
        u = np.where(np.isfinite(u), u, np.nanmin(finite, axis=0))
        return np.where(np.isfinite(u), u, fallback)

    def evaluate(self, u: F64, hi: B) -> Knapsacks:
        """The knapsack of every allowed site at multipliers ``u``. O(|hi| n + k log k)."""
        rows = np.flatnonzero(hi)
        cost = self.cost if rows.size == self.m else self.cost[rows]
        flat = np.flatnonzero(cost < u[None, :])
        local = flat // self.n
        park = flat - local * self.n
        site = rows[local]
        red = cost.ravel()[flat] - u[park]
        dj = self.d[park]
        order = np.lexsort((red / dj, site))
        site, park, red, dj = site[order], park[order], red[order], dj[order]
        cum = np.cumsum(dj)
        first = np.searchsorted(site, np.arange(self.m))
        before = cum - dj - np.concatenate(([0.0], cum))[first][site]
        frac = np.clip((self.s[site] - before) / dj, 0.0, 1.0)
        v = self.f + np.bincount(site, weights=frac * red, minlength=self.m)
        return Knapsacks(v=v, site=site.astype(np.int64), park=park.astype(np.int64), frac=frac)

    def choose(self, v: F64, lo: B, hi: B) -> tuple[float, F64]:
        """min sum v y, sum s y >= D, lo <= y <= hi (exact for equal s, else its LP).

        Returns ``(value, y)``; value ``inf`` when even every allowed site is too little.
        """
        y = lo.astype(np.float64)
        free = hi & ~lo
        y[free & (v < 0)] = 1.0
        short = self.total - float(self.s @ y)
        if short > 1e-9 * max(1.0, self.total):
            cand = np.flatnonzero(free & (y == 0))
            if self.equal:
                need = math.ceil(short / self.s[0] - 1e-9) if self.s[0] > 0 else cand.size + 1
                if need > cand.size:
                    return math.inf, y
                y[cand[np.argsort(v[cand], kind="stable")[:need]]] = 1.0
            else:
                cand = cand[self.s[cand] > 0]
                for i in cand[np.argsort(v[cand] / self.s[cand], kind="stable")]:
                    take = min(1.0, short / self.s[i])
                    y[i] = take
                    short -= take * self.s[i]
                    if short <= 1e-9 * max(1.0, self.total):
                        break
                else:
                    return math.inf, y
        return float(v @ y), y

    def cover(self, v: F64, lo: B, hi: B) -> tuple[float, F64]:
        """min sum v y, sum s y >= D, lo <= y <= hi, **y binary** (the 0-1 cover knapsack).

        A tighter site choice than :meth:`choose` (its LP) wherever the capacities differ:
        on Yang et al.'s instances, whose good plans open a few nearly full sites, it lifts
        the Lagrangian bound by about half the LP's gap (p1: 29,827 -> 29,998 against the
        optimum 30,181). Solved by a DP over the capacity still to cover, in units of
        ``g = max(1, short / units)`` (units: :data:`COVER_UNITS`, fewer when
        :data:`COVER_CELLS` binds; g = 1 for integral data below that size): each
        site counts ``ceil(s_i / g)`` units and ``ceil(short / g)`` are needed. Any plan
        covering ``short`` covers those units (``sum ceil(s/g) y >= sum s y / g >= short/g``,
        an integer), so the value is a valid lower bound, exact when ``g = 1``.
        O(:data:`COVER_CELLS`). Returns ``(value, y)``, value ``inf`` when too little
        capacity is allowed.
        """
        if self.equal:
            return self.choose(v, lo, hi)  # already exact
        y = lo.astype(np.float64)
        free = hi & ~lo
        y[free & (v < 0)] = 1.0
        short = self.total - float(self.s @ y)
        if short <= 1e-9 * max(1.0, self.total):
            return float(v @ y), y
        cand = np.flatnonzero(free & (y == 0) & (self.s > 0))
        integral = bool(np.all(self.s[cand] == np.round(self.s[cand])))
        limit = max(1, min(COVER_UNITS, COVER_CELLS // max(1, cand.size)))
        g = 1.0 if integral and short <= limit else short / limit
        need = math.ceil(short / g - 1e-9)
        units = np.ceil(self.s[cand] / g - 1e-9).astype(np.int64)
        # best[k]: the cheapest choice among the sites so far covering at least k units.
        best = np.full(need + 1, math.inf)
        best[0] = 0.0
        took = np.zeros((cand.size, need + 1), dtype=bool)
        below = np.arange(need + 1)
        for t in range(cand.size):
            with_t = best[np.maximum(below - units[t], 0)] + v[cand[t]]
            took[t] = with_t < best
            best = np.where(took[t], with_t, best)
        if not math.isfinite(best[need]):
            return math.inf, y
        k = need
        for t in range(cand.size - 1, -1, -1):
            if took[t, k]:
                y[cand[t]] = 1.0
                k = max(k - int(units[t]), 0)
        return float(v @ y), y

    def penalties(self, v: F64, y: F64, lo: B, hi: B) -> F64:
        """How much the bound ``sum u + choose(v)`` rises if each free site is forced to the
        other side of ``y`` (``inf`` for fixed sites). Equal capacities: O(m log m)
        closed form; otherwise one :meth:`choose` per free site."""
        free = hi & ~lo
        out = np.full(self.m, math.inf)
        base, _ = self.choose(v, lo, hi)
        if not math.isfinite(base):
            return out
        chosen = y > 0.5
        if self.equal and self.s[0] > 0:
            need = math.ceil((self.total - float(self.s @ lo)) / self.s[0] - 1e-9)
            fv = np.sort(v[free])

            def kth(k: int) -> float:  # the k-th smallest free value (1-based)
                if k < 1:
                    return -math.inf
                return float(fv[k - 1]) if k <= fv.size else math.inf

            opened = v - max(0.0, kth(need))
            closed = max(0.0, kth(need + 1)) - v
            out[free] = np.maximum(np.where(chosen, closed, opened)[free], 0.0)
            return out
        for i in np.flatnonzero(free):
            lo2, hi2 = lo.copy(), hi.copy()
            if chosen[i]:
                hi2[i] = False
            else:
                lo2[i] = True
            value, _ = self.choose(v, lo2, hi2)
            out[i] = max(0.0, value - base)
        return out

    def ascent(
        self,
        u: F64,
        lo: B,
        hi: B,
        schedule: AscentSchedule,
        *,
        target: float,
        cutoff: float = math.inf,
        deadline: float = math.inf,
    ) -> Ascent:
        """Subgradient ascent with Polyak steps towards ``target`` from ``u`` (an infinite
        target: 1 % above the best bound so far, for the first ascent without a plan).

        Stops at ``cutoff`` (the bound proves what the caller needs), when ``schedule`` ends
        (its iterations used, or its step factor too small), or at ``deadline`` (a
        ``time.perf_counter`` value; at least one iteration runs).
        O(iterations * (m n + k log k)).
        """
        iterations, step = schedule.iterations, schedule.step
        stall_limit, min_step = schedule.stall_limit, schedule.min_step
        best = -math.inf
        best_u, best_v = u, self.f
        best_y = np.zeros(self.m)
        avg = np.zeros(self.m)
        stall = 0
        it = 0
        while it < iterations:
            it += 1
            knap = self.evaluate(u, hi)
            value, y = self.choose(knap.v, lo, hi)
            if not math.isfinite(value):
                return Ascent(math.inf, u, knap.v, y, y, it)
            bound = float(u.sum()) + value
            avg = y if it == 1 else 0.8 * avg + 0.2 * y
            if bound > best + 1e-12 * abs(bound):
                best, best_u, best_v, best_y, stall = bound, u, knap.v, y, 0
            else:
                stall += 1
                if stall >= stall_limit:
                    step /= 2.0
                    stall = 0
            if best >= cutoff or step < min_step or time.perf_counter() > deadline:
                break
            g = 1.0 - np.bincount(knap.park, weights=knap.frac * y[knap.site], minlength=self.n)
            norm = float(g @ g)
            if norm < 1e-12:
                break  # the relaxed plan serves every park exactly: the bound is its cost
            goal = target if math.isfinite(target) else best + 0.01 * abs(best)
            u = u + step * max(goal - bound, 1e-9 * abs(bound)) / norm * g
        return Ascent(best, best_u, best_v, best_y, avg, it)
