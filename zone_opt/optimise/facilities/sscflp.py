"""Single-source CFLP: Lagrangian bound, local search, penalty fixing, then an exact HiGHS finish.

Why this method (and not plain HiGHS, kernel search or branch and price)
------------------------------------------------------------------------
Handing the single-source model to the HiGHS MIP fails in two ways on the public sets
(Holmberg et al. 1999, Yang et al. 2012, OR-Library capa/b/c): the incumbents are poor
(capa 8000 at 41.9 M against 19.24 M after 60 s; Yang 80x400 p1 +6 %), and on the large
instances the LP over all ``m n`` arcs and linking rows eats the budget. Both are what a
Lagrangian relaxation of the assignment rows does well (Holmberg, Ronnqvist & Yuan 1999;
Diaz & Fernandez 2002), and what it does poorly (closing the last fraction of a percent) is
what a MIP solver does well on a *small* model. So the method is a hybrid:

1. **Bound.** Relax ``sum_i x_ij = 1`` with multipliers ``u_j``. The problem splits by site:
   site i, if open, solves the 0-1 knapsack ``min sum_j (c_ij - u_j) x_ij`` s.t.
   ``sum_j d_j x_ij <= s_i``, solved **exactly** by dynamic programming over the capacity
   (integer data; vectorised over all sites at once, one pass per customer), worth
   ``v_i = f_i + K_i(s_i)``; the open sites then solve ``min sum_i v_i y_i`` with the
   aggregate capacity cut ``sum_i s_i y_i >= D`` (its LP: still a relaxation).
   ``L(u) = sum_j u_j + that minimum`` bounds the optimum from below for every ``u``; a
   subgradient ascent (Polyak steps towards the incumbent) maximises it. The 0-1 knapsack
   makes it stronger than the LP bound; where the DP table would be too large
   (capa/b/c: 100 x 1000 x 14001 cells) the continuous knapsack is used (the LP bound).
2. **Plans.** Every few ascent steps the relaxed solution is repaired into a plan (keep the
   relaxation's open sites, give each customer one of the sites whose knapsack took it, place
   the rest by regret) and improved by local search: best-improvement shifts of one customer,
   swaps of two customers between sites, and closing a site whose customers fit elsewhere.
3. **Fixing.** With the best multipliers, forcing customer j onto site i costs at least
   ``L_ij = sum u + f_i + (c_ij - u_j) + K_i(s_i - d_j) + R_i`` (``K_i(c)``: the knapsack at
   capacity c, read from the same DP row; ``R_i``: the rest of the site choice with i open),
   a valid bound on every plan that uses arc (i, j). Arcs with ``L_ij`` at or above the
   cutoff (the incumbent less the requested gap, less 1 when all data are integral) cannot
   be in a better plan and are removed; so are sites whose opening (closing) alone lifts the
   bound past the cutoff. On these sets this removes 80-99 % of the arcs.
4. **Exact finish.** The strong single-source MILP over the surviving arcs goes to HiGHS
   with the incumbent as its start and the time left. Every plan better than the cutoff
   survives the fixing, so ``min(cutoff, HiGHS's bound)`` is a proven lower bound on the
   whole problem, and an optimal HiGHS run proves the plan optimal.

Kernel search (Guastaroba & Speranza 2014) is a heuristic without a bound of its own, and
cut-and-solve (Yang et al. 2012; Gadegaard et al. 2018) relies on a commercial solver's cuts
over the full model each round; branch and price would need a pricing DP per node in Python.
The hybrid keeps the Python part to numpy passes and lets HiGHS do the branching it is good at.

The bound reported is ``max(L*, min(cutoff, HiGHS bound))`` (rounded up when all costs are
integers), so ``OPTIMAL`` means the requested relative gap is proven.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import CancelledError, InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.lagrange import SiteRelaxation
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.solver import HighsSolver, Progress, SolveOptions, SolveStatus

__all__ = ["SingleSourceResult", "solve_single_source"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

LP_ARCS = 40_000
"""Largest arc count for which the strong LP is solved first (its duals start the ascent,
its reduced costs fix arcs, its support seeds the kernel); capa/b/c (10^5 arcs, minutes of
LP on two cores) go without it."""
DP_CELLS = 60_000_000
"""Largest ``customers x sites x (capacity + 1)`` for the exact 0-1 knapsack DP (its
decision table is that many bytes); larger instances use the continuous knapsack."""
LAGRANGE_SHARE = 0.2
"""Share of the time limit the subgradient ascent (with its local search) may use."""
FINISH_HEURISTIC_EFFORT = 0.01
"""HiGHS's ``mip_heuristic_effort`` in the exact finish (its default is 0.05): the start is
already good, the time is better spent on the bound."""
LAGRANGE_SHARE_LARGE = 0.5
"""The same for models above :data:`LP_ARCS` arcs, which start the ascent cold (no LP) and
whose MIP finish rarely gets past the root on two cores: the ascent is worth more there."""
KERNEL_SHARE = 0.2
"""Share of the time limit (of 100 s without one) for the kernel sub-MIP heuristic."""
KERNEL_ARCS = 6
"""Arcs per customer in the kernel: its cheapest by reduced cost among the kernel sites."""


@dataclass(frozen=True)
class SingleSourceResult:
    """The outcome of :func:`solve_single_source`.

    ``status`` OPTIMAL (gap proven), FEASIBLE (time limit with a plan), INFEASIBLE,
    TIME_LIMIT (no plan) or CANCELLED. ``assign`` (n,) the site serving each customer with
    demand (-1 for none: customers without demand), ``x`` the column vector of
    ``matrix.model`` for that plan, ``objective`` its cost, ``bound`` a proven lower bound.
    ``lagrangian_bound`` is ``L*`` alone; ``fixed_arcs`` the share of arcs removed before the
    MIP; ``heuristic_objective`` the best plan before the MIP; times in seconds.
    """

    status: SolveStatus
    objective: float
    bound: float
    gap: float
    x: F64 | None
    matrix: FacilityMatrix
    lagrangian_bound: float
    heuristic_objective: float
    fixed_arcs: float
    lagrange_s: float
    mip_s: float
    iterations: int
    message: str


class _Knapsacks:
    """The per-site knapsacks of the relaxation, exact (DP) or continuous."""

    def __init__(self, rel: SiteRelaxation) -> None:
        self.rel = rel
        self.m, self.n = rel.m, rel.n
        d, s = rel.d, rel.s
        integral = bool(np.all(d == np.round(d)) and np.all(s == np.round(s)))
        self.cap = int(s.max()) if integral else 0
        self.exact = integral and self.n * self.m * (self.cap + 1) <= DP_CELLS
        if self.exact:
            self.di = np.round(d).astype(np.int64)
            self.si = np.round(s).astype(np.int64)
            self.take = np.zeros((self.n, self.m, self.cap + 1), dtype=bool)
        self.table: F64 | None = None  # (m, cap+1) DP values of the last evaluation
        self._sorted: list[tuple[F64, F64]] = []  # continuous: per site cumulative (w, value)

    def evaluate(self, u: F64) -> tuple[F64, F64]:
        """``(v, x)``: each site's value ``f_i + K_i(s_i)`` and its knapsack (m, n), 0/1
        when exact, fractional otherwise. O(n m cap) exact, O(m n log n) continuous."""
        red = self.rel.cost - u[None, :]  # inf where unreachable
        if self.exact:
            return self._dp(red)
        return self._continuous(red)

    def _dp(self, red: F64) -> tuple[F64, F64]:
        m, cap = self.m, self.cap
        table = np.zeros((m, cap + 1))
        take = self.take
        take.fill(False)  # only the entries of customers with a negative reduced cost are set
        neg = red < 0
        for j in range(self.n):
            rows = np.flatnonzero(neg[:, j])
            dj = int(self.di[j])
            if rows.size == 0 or dj > cap:
                continue
            cur = table[rows, dj:]
            cand = table[rows, : cap + 1 - dj] + red[rows, j, None]
            better = cand < cur
            table[rows, dj:] = np.where(better, cand, cur)
            take[j, rows, dj:] = better
        x = np.zeros((m, self.n))
        c = self.si.copy()
        ar = np.arange(m)
        for j in range(self.n - 1, -1, -1):
            t = take[j, ar, c]
            if t.any():
                x[t, j] = 1.0
                c[t] -= self.di[j]
        self.table = table
        v = self.rel.f + table[ar, self.si]
        return v, x

    def _continuous(self, red: F64) -> tuple[F64, F64]:
        d, s = self.rel.d, self.rel.s
        x = np.zeros((self.m, self.n))
        v = self.rel.f.copy()
        self._sorted = []
        for i in range(self.m):
            items = np.flatnonzero(red[i] < 0)
            order = items[np.argsort(red[i, items] / d[items], kind="stable")]
            w = np.concatenate(([0.0], np.cumsum(d[order])))
            val = np.concatenate(([0.0], np.cumsum(red[i, order])))
            self._sorted.append((w, val))
            before = w[:-1]
            frac = np.clip((s[i] - before) / d[order], 0.0, 1.0)
            x[i, order] = frac
            v[i] += float(frac @ red[i, order])
        return v, x

    def at_capacity(self, c: F64) -> F64:
        """``K_i(c_ij)`` for a (m, n) array of capacities (``inf`` below 0), from the last
        evaluation: the knapsack of site i with capacity ``c_ij`` instead of ``s_i``."""
        out = np.full(c.shape, math.inf)
        ok = c >= 0
        if self.exact:
            assert self.table is not None
            ci = np.where(ok, np.floor(c + 1e-9), 0).astype(np.int64)
            rows = np.broadcast_to(np.arange(self.m)[:, None], c.shape)
            out[ok] = self.table[rows[ok], np.minimum(ci[ok], self.cap)]
            return out
        for i, (w, val) in enumerate(self._sorted):
            good = ok[i]
            out[i, good] = np.interp(c[i, good], w, val)
        return out


class _Plans:
    """Assignments, repair and local search. A plan is ``a`` (n,) site per customer."""

    def __init__(self, rel: SiteRelaxation) -> None:
        self.c = rel.cost  # (m, n), inf where unreachable
        self.d, self.s, self.f = rel.d, rel.s, rel.f
        self.m, self.n = rel.m, rel.n
        self.cols = np.arange(self.n)

    def cost(self, a: I64) -> float:
        load = np.bincount(a, weights=self.d, minlength=self.m)
        return float(self.f[load > 0].sum() + self.c[a, self.cols].sum())

    def repair(self, x: F64, y: F64) -> I64 | None:
        """A plan from a relaxed solution: customers taken by an open site's knapsack go to
        the cheapest such site with room, the rest by largest demand first to the cheapest
        site with room (opening one if needed). None if some customer cannot be placed."""
        c, d = self.c, self.d
        opened = y > 1e-9
        res = self.s.copy()
        a = np.full(self.n, -1, dtype=np.int64)
        score = np.where((x > 0.5) & opened[:, None], c, math.inf)
        first = np.argmin(score, axis=0)
        has = np.isfinite(score[first, self.cols])
        for j in np.flatnonzero(has)[np.argsort(-d[has], kind="stable")]:
            i = int(first[j])
            if res[i] >= d[j]:
                a[j] = i
                res[i] -= d[j]
        for j in np.flatnonzero(a < 0)[np.argsort(-d[a < 0], kind="stable")]:
            fits = res >= d[j]
            cand = np.where(fits, c[:, j] + np.where(opened, 0.0, self.f), math.inf)
            i = int(np.argmin(cand))
            if not math.isfinite(cand[i]):
                return None
            a[j] = i
            res[i] -= d[j]
            opened[i] = True
        return a

    def improve(self, a: I64, deadline: float) -> I64:
        """Local search to a local optimum (or the deadline): shifts, swaps, site closing."""
        a = a.copy()
        while time.perf_counter() < deadline:
            if self._shift(a) or self._swap(a) or self._close(a) or self._open(a):
                continue
            break
        return a

    def _load(self, a: I64) -> F64:
        return np.asarray(np.bincount(a, weights=self.d, minlength=self.m), dtype=np.float64)

    def _shift(self, a: I64) -> bool:
        c, d, f = self.c, self.d, self.f
        load = self._load(a)
        res = self.s - load
        here = c[a, self.cols]
        leaving = np.where(np.abs(load[a] - d) <= 1e-9, f[a], 0.0)  # a_j closes if j leaves
        delta = c - here[None, :] + np.where(load <= 1e-9, f, 0.0)[:, None] - leaving[None, :]
        delta[(res[:, None] < d[None, :] - 1e-9) | (np.arange(self.m)[:, None] == a[None, :])] = (
            math.inf
        )
        best_i = np.argmin(delta, axis=0)
        best = delta[best_i, self.cols]
        moved = False
        for j in np.flatnonzero(best < -1e-9)[np.argsort(best[best < -1e-9], kind="stable")]:
            i, k = int(best_i[j]), int(a[j])
            # Re-check against the loads changed by earlier moves of this pass.
            if res[i] < d[j] - 1e-9:
                continue
            gain = c[i, j] - c[k, j] + (f[i] if load[i] <= 1e-9 else 0.0)
            gain -= f[k] if abs(load[k] - d[j]) <= 1e-9 else 0.0
            if gain >= -1e-9:
                continue
            a[j] = i
            load[i] += d[j]
            load[k] -= d[j]
            res[i] -= d[j]
            res[k] += d[j]
            moved = True
        return moved

    def _swap(self, a: I64) -> bool:
        """Improving swaps of two customers between sites: all candidate pairs scored at
        once, then applied best first, each re-checked against the loads it finds."""
        c, d = self.c, self.d
        load = self._load(a)
        res = self.s - load
        here = c[a, self.cols]
        cross = c[a]  # cross[j2, j1] = c[a_j2, j1]: j1 moved to j2's site
        delta = cross + cross.T - here[None, :] - here[:, None]
        r = res[a]
        ok = (r[:, None] + d[:, None] - d[None, :] >= -1e-9) & (
            r[None, :] + d[None, :] - d[:, None] >= -1e-9
        )
        ok &= a[:, None] != a[None, :]
        ok &= delta < -1e-9
        j2s, j1s = np.nonzero(np.triu(ok))
        if j2s.size == 0:
            return False
        order = np.argsort(delta[j2s, j1s], kind="stable")[: 4 * self.n]
        touched = np.zeros(self.n, dtype=bool)
        moved = False
        for j2, j1 in zip(j2s[order].tolist(), j1s[order].tolist(), strict=True):
            if touched[j1] or touched[j2]:
                continue
            i1, i2 = int(a[j1]), int(a[j2])
            if res[i1] + d[j1] - d[j2] < -1e-9 or res[i2] + d[j2] - d[j1] < -1e-9:
                continue
            a[j1], a[j2] = i2, i1
            res[i1] += d[j1] - d[j2]
            res[i2] += d[j2] - d[j1]
            touched[j1] = touched[j2] = True
            moved = True
        return moved

    def _open(self, a: I64) -> bool:
        """Open the closed site whose opening pays most: it takes the customers it saves
        most on (best saving per unit of demand first, within its capacity), and sites
        left empty close."""
        c, d, f = self.c, self.d, self.f
        load = self._load(a)
        here = c[a, self.cols]
        best_gain, best_moves = -1e-9, np.empty(0, dtype=np.int64)
        best_i = -1
        for i in np.flatnonzero(load <= 1e-9):
            save = here - c[i]
            cand = np.flatnonzero(save > 0)
            if cand.size == 0:
                continue
            cand = cand[np.argsort(-save[cand] / d[cand], kind="stable")]
            fits = np.cumsum(d[cand]) <= self.s[i] + 1e-9
            take = cand[fits]
            if take.size == 0:
                continue
            gain = float(save[take].sum()) - f[i]
            left = load - np.bincount(a[take], weights=d[take], minlength=self.m)
            gain += float(f[(load > 1e-9) & (left <= 1e-9)].sum())
            if gain > best_gain:
                best_gain, best_moves, best_i = gain, take, int(i)
        if best_i < 0:
            return False
        a[best_moves] = best_i
        return True

    def _close(self, a: I64) -> bool:
        c, d, f = self.c, self.d, self.f
        load = self._load(a)
        for i in np.flatnonzero(load > 0)[np.argsort(-f[load > 0], kind="stable")]:
            members = np.flatnonzero(a == i)
            res = self.s - load
            res[i] = -math.inf
            gain = -f[i]
            moves: list[tuple[int, int]] = []
            for j in members[np.argsort(-d[members], kind="stable")]:
                cand = np.where((res >= d[j]) & (load > 0), c[:, j], math.inf)
                k = int(np.argmin(cand))
                if not math.isfinite(cand[k]):
                    break
                gain += cand[k] - c[i, j]
                res[k] -= d[j]
                moves.append((int(j), k))
            else:
                if gain < -1e-9:
                    for j, k in moves:
                        a[j] = k
                    return True
        return False


def _integral(rel: SiteRelaxation) -> bool:
    """Whether every finite cost is an integer (up to float noise): optima are then integers."""
    finite = rel.cost[np.isfinite(rel.cost)]
    values = np.concatenate([finite, rel.f])
    return bool(np.all(np.abs(values - np.round(values)) <= 1e-9 * np.maximum(1.0, np.abs(values))))


def _cutoff(ub: float, gap: float, integral: bool) -> float:
    """Plans at or above this value need not be found: within the gap of ``ub``, or (all
    costs integral) not at least 1 better."""
    cut = ub - gap * abs(ub)
    if integral:
        cut = min(cut, ub - 1.0 + 1e-4)
    return cut


def solve_single_source(problem: FacilityProblem, options: SolveOptions) -> SingleSourceResult:
    """Solve a one-type single-source problem (no budget) to ``options.mip_rel_gap``.

    Honours ``time_limit_s`` (default: none), ``cancel`` and ``progress`` (called on every
    improved plan of the Lagrangian phase; HiGHS reports its own). ``threads`` is passed to
    HiGHS. See the module docstring for the method and the bound's validity.
    """
    if problem.num_types != 1 or not problem.single_source or problem.budget_cny is not None:
        raise InvalidInputError.single(
            "problem", None, "solve_single_source needs one type, single_source and no budget"
        )
    if options.cancel is not None and options.cancel.is_set():
        raise CancelledError("solve cancelled before it started")
    started = time.perf_counter()
    limit = math.inf if options.time_limit_s is None else float(options.time_limit_s)
    deadline = started + limit
    gap = options.mip_rel_gap
    rel = SiteRelaxation(problem)
    fm = build_matrix(problem)
    integral = _integral(rel)
    fits = np.isfinite(rel.cost) & (rel.s[:, None] >= rel.d[None, :])
    if not fits.any(axis=0).all():
        return _infeasible(fm, rel, options, started, 0)  # a customer no site takes whole
    knap = _Knapsacks(rel)
    plans = _Plans(rel)
    m, n = rel.m, rel.n

    best_a: I64 | None = None
    ub = math.inf

    def offer(a: I64 | None) -> None:
        nonlocal best_a, ub
        if a is None:
            return
        value = plans.cost(a)
        if value < ub - 1e-9 * max(1.0, abs(ub) if math.isfinite(ub) else 1.0):
            best_a, ub = a.copy(), value
            if options.progress is not None:
                options.progress(
                    Progress(
                        incumbent=ub,
                        bound=best_bound,
                        gap=max(0.0, (ub - best_bound) / max(abs(ub), 1e-9)),
                        elapsed_s=time.perf_counter() - started,
                        nodes=0,
                    )
                )

    # --- 1+2. subgradient ascent with periodic repair + local search ---------------------
    lo = np.zeros(m, dtype=bool)
    hi = np.ones(m, dtype=bool)
    large = fm.num_arcs > LP_ARCS
    share = LAGRANGE_SHARE_LARGE if large else LAGRANGE_SHARE
    lag_deadline = started + share * limit if math.isfinite(limit) else math.inf
    lp = None if large else _root_lp(fm, rel, options, lag_deadline)
    repair_every = 25 if large else 10
    u = rel.start() if lp is None else lp.u
    best_bound, best_u = -math.inf, u
    y_avg = np.zeros(m) if lp is None else lp.y.copy()
    step, stall, it = (2.0, 0, 0) if lp is None else (0.5, 0, 0)
    max_iter = 3000
    while it < max_iter:
        it += 1
        if options.cancel is not None and options.cancel.is_set():
            break
        v, x = knap.evaluate(u)
        value, y = rel.choose(v, lo, hi)
        if not math.isfinite(value):
            return _infeasible(fm, rel, options, started, it)
        bound = float(u.sum()) + value
        y_avg = y if it == 1 and lp is None else 0.9 * y_avg + 0.1 * y
        if bound > best_bound + 1e-9 * abs(bound):
            best_bound, best_u, stall = bound, u, 0
        else:
            stall += 1
            if stall >= 12:
                step /= 2.0
                stall = 0
        if it <= 3 or it % repair_every == 0:
            a = plans.repair(x, y)
            if a is not None:
                offer(plans.improve(a, min(deadline, lag_deadline + 1.0)))
        now = time.perf_counter()
        if step < 2e-3 or now > lag_deadline:
            break
        if math.isfinite(ub) and best_bound >= _cutoff(ub, gap, integral):
            break
        g = 1.0 - (x * y[:, None]).sum(axis=0)
        norm = float(g @ g)
        if norm < 1e-12:
            break
        target = ub if math.isfinite(ub) else best_bound + 0.02 * abs(best_bound)
        u = u + step * max(target - bound, 1e-6 * abs(bound)) / norm * g
    lagrangian = best_bound if lp is None else max(best_bound, lp.value - 1e-9 * abs(lp.value))
    if integral and math.isfinite(lagrangian):
        lagrangian = math.ceil(lagrangian - 1e-6)
    lag_s = time.perf_counter() - started
    run = _Run(fm, rel, options, gap, integral, lagrangian, ub, 0.0, lag_s, it)
    if best_a is None:
        # No plan yet: the HiGHS MIP on the whole model decides (it may be infeasible).
        return _finish(run, None, ub=math.inf, cutoff=math.inf, fixing=None, deadline=deadline)
    if not _proven(ub, lagrangian, gap, integral) and not (
        options.cancel is not None and options.cancel.is_set()
    ):
        kernel_end = time.perf_counter() + KERNEL_SHARE * (limit if math.isfinite(limit) else 100.0)
        if lp is not None:
            y_avg = np.maximum(y_avg, lp.y)
        red = rel.cost - best_u[None, :]
        offer(
            _kernel(fm, rel, best_a, red=red, y_avg=y_avg, lp=lp, options=options, end=kernel_end)
        )
    run = replace(run, heuristic=ub)
    if _proven(ub, lagrangian, gap, integral):
        x_best = _column_vector(fm, rel, best_a)
        return _outcome(
            run,
            x_best,
            objective=ub,
            bound=min(lagrangian, ub),
            status=SolveStatus.OPTIMAL,
            mip_s=0.0,
            message="proved by the Lagrangian bound",
        )

    # --- 3. penalty fixing with the best multipliers -------------------------------------
    v, x = knap.evaluate(best_u)
    cutoff = _cutoff(ub, gap, integral)
    base = float(best_u.sum())
    rest = np.empty(m)  # R_i: the site choice with i open, its own value left out
    close = np.empty(m)  # bound with site i closed
    for i in range(m):
        lo_i = lo.copy()
        lo_i[i] = True
        vv = v.copy()
        vv[i] = 0.0
        rest[i], _ = rel.choose(vv, lo_i, hi)
        hi_i = hi.copy()
        hi_i[i] = False
        close[i], _ = rel.choose(v, lo, hi_i)
    red = rel.cost - best_u[None, :]
    k_at = knap.at_capacity(rel.s[:, None] - rel.d[None, :])
    arc_bound = base + rel.f[:, None] + red + k_at + rest[:, None]
    open_bound = base + v + rest
    used = np.zeros((m, n), dtype=bool)
    used[best_a, np.arange(n)] = True
    in_plan = used.any(axis=1)
    site_out = open_bound >= cutoff
    site_in = base + close >= cutoff
    arc_out = (arc_bound >= cutoff) | ~np.isfinite(rel.cost)
    if lp is not None:
        # LP reduced-cost fixing: moving a column off its bound costs at least |rc|.
        z = lp.value - 1e-7 * max(1.0, abs(lp.value))
        arc_out |= (lp.x <= 1e-9) & (z + lp.x_reduced >= cutoff)
        site_out |= (lp.y <= 1e-9) & (z + lp.y_reduced >= cutoff)
        site_in |= (lp.y >= 1 - 1e-9) & (z - lp.y_reduced >= cutoff)
    site_out &= ~in_plan
    arc_out = (arc_out | site_out[:, None]) & ~used

    # --- 4. the exact finish on what survives -------------------------------------------
    run = replace(run, fixed_share=float(arc_out.mean()))
    fixing = (arc_out, site_out, site_in)
    return _finish(run, best_a, ub=ub, cutoff=cutoff, fixing=fixing, deadline=deadline)


@dataclass(frozen=True)
class _RootLp:
    """The strong LP relaxation: its value, the demand rows' duals (multipliers), the
    sites' and arcs' values and reduced costs, arcs as (m, n) arrays (``inf``/0 off-model)."""

    value: float
    u: F64
    y: F64
    y_reduced: F64
    x: F64
    x_reduced: F64


def _root_lp(
    fm: FacilityMatrix, rel: SiteRelaxation, options: SolveOptions, end: float
) -> _RootLp | None:
    """Solve the strong LP with HiGHS (None if it does not finish by ``end``)."""
    left = end - time.perf_counter()
    if left < 0.05:
        return None
    solver = HighsSolver(replace(fm.model, integer=None))
    sol = solver.solve(
        replace(options, time_limit_s=left if math.isfinite(left) else None, progress=None)
    )
    if (
        sol.status is not SolveStatus.OPTIMAL
        or sol.x is None
        or sol.row_dual is None
        or sol.col_dual is None
    ):
        return None
    m = fm.num_sites
    local, ok = _arc_customers(fm, rel)
    x = np.zeros((m, rel.n))
    rc = np.full((m, rel.n), math.inf)
    x[fm.arc_site[ok], local[ok]] = sol.x[m:][ok]
    rc[fm.arc_site[ok], local[ok]] = sol.col_dual[m:][ok]
    # Demand rows come first, one per customer with demand, in customer order.
    u = np.asarray(sol.row_dual[: rel.n], dtype=np.float64)
    return _RootLp(sol.objective, u, sol.x[:m].copy(), sol.col_dual[:m].copy(), x, rc)


def _proven(ub: float, bound: float, gap: float, integral: bool) -> bool:
    if not (math.isfinite(ub) and math.isfinite(bound)):
        return False
    return ub - bound <= gap * abs(ub) or (integral and ub - bound < 1.0 - 1e-6)


def _kernel(
    fm: FacilityMatrix,
    rel: SiteRelaxation,
    a: I64,
    *,
    red: F64,
    y_avg: F64,
    lp: _RootLp | None,
    options: SolveOptions,
    end: float,
) -> I64 | None:
    """A better plan from HiGHS on a small restricted MIP (a kernel, after Guastaroba &
    Speranza 2014): the incumbent's sites plus those the relaxation kept opening, and per
    customer its :data:`KERNEL_ARCS` cheapest arcs by reduced cost there plus its incumbent
    arc. A heuristic: it proves nothing about the whole problem. None if no better plan."""
    left = end - time.perf_counter()
    if left < 0.05:
        return None
    m, n = rel.m, rel.n
    sites = (y_avg > 0.02) | np.isin(np.arange(m), a)
    score = np.where(sites[:, None] & np.isfinite(rel.cost), red, math.inf)
    k = min(KERNEL_ARCS, int(sites.sum()))
    keep = np.zeros((m, n), dtype=bool)
    near = np.argpartition(score, k - 1, axis=0)[:k]
    keep[near, np.arange(n)[None, :]] = True
    keep &= np.isfinite(score)
    if lp is not None:
        keep |= lp.x > 1e-6
    keep[a, np.arange(n)] = True
    solver = HighsSolver(fm.model)
    local, ok = _arc_customers(fm, rel)
    drop = ~(keep[fm.arc_site, np.maximum(local, 0)] & ok)
    solver.set_col_bounds(fm.num_sites + np.flatnonzero(drop), 0.0, 0.0)
    closed = np.flatnonzero(~sites)
    if closed.size:
        solver.set_col_bounds(closed, 0.0, 0.0)
    solver.set_start(_column_vector(fm, rel, a))
    sol = solver.solve(
        highs_options(replace(options, time_limit_s=left, progress=None, mip_rel_gap=1e-6))
    )
    if sol.x is None or not sol.status.has_solution:
        return None
    return _assignment(fm, rel, sol.x)


def _arc_customers(fm: FacilityMatrix, rel: SiteRelaxation) -> tuple[I64, B]:
    """Each model arc's customer index in the relaxation (and whether it has one)."""
    park_of = -np.ones(fm.problem.num_demand, dtype=np.int64)
    park_of[rel.parks] = np.arange(rel.n)
    local = park_of[fm.arc_demand]
    return local, local >= 0


def _assignment(fm: FacilityMatrix, rel: SiteRelaxation, x: F64) -> I64 | None:
    """The plan (site per customer) of a model column vector; None if some customer is not
    served by exactly one arc."""
    local, ok = _arc_customers(fm, rel)
    on = (x[fm.num_sites :] > 0.5) & ok
    a = np.full(rel.n, -1, dtype=np.int64)
    a[local[on]] = fm.arc_site[on]
    if (a < 0).any() or np.bincount(local[on], minlength=rel.n).max() != 1:
        return None
    return a


def _column_vector(fm: FacilityMatrix, rel: SiteRelaxation, a: I64) -> F64:
    """The model's column vector of plan ``a`` (sites open iff used)."""
    m = fm.num_sites
    xcol = np.zeros(m + fm.num_arcs)
    park_of = -np.ones(fm.problem.num_demand, dtype=np.int64)
    park_of[rel.parks] = np.arange(rel.n)
    local = park_of[fm.arc_demand]
    hit = (local >= 0) & (a[np.maximum(local, 0)] == fm.arc_site)
    xcol[m:][hit] = 1.0
    xcol[np.unique(a)] = 1.0
    return xcol


@dataclass(frozen=True)
class _Run:
    """What the finishing steps need to know about a run."""

    fm: FacilityMatrix
    rel: SiteRelaxation
    options: SolveOptions
    gap: float
    integral: bool
    lagrangian: float
    heuristic: float
    fixed_share: float
    lagrange_s: float
    iterations: int


def _finish(
    run: _Run,
    a: I64 | None,
    *,
    ub: float,
    cutoff: float,
    fixing: tuple[B, B, B] | None,
    deadline: float,
) -> SingleSourceResult:
    """HiGHS on the model with the fixings applied, from plan ``a``; the bound is
    ``max(L*, min(cutoff, HiGHS bound))`` (see the module docstring)."""
    fm, rel, options = run.fm, run.rel, run.options
    m = fm.num_sites
    solver = HighsSolver(fm.model)
    if fixing is not None:
        arc_out, site_out, site_in = fixing
        local, ok = _arc_customers(fm, rel)
        drop = arc_out[fm.arc_site, np.maximum(local, 0)] & ok
        if drop.any():
            solver.set_col_bounds(m + np.flatnonzero(drop), 0.0, 0.0)
        if site_out.any():
            solver.set_col_bounds(np.flatnonzero(site_out), 0.0, 0.0)
        if site_in.any():
            solver.set_col_bounds(np.flatnonzero(site_in), 1.0, 1.0)
    x: F64 | None = None
    if a is not None:
        x = _column_vector(fm, rel, a)
        solver.set_start(x)
    objective, bound = ub, run.lagrangian
    status = SolveStatus.FEASIBLE if a is not None else SolveStatus.TIME_LIMIT
    message = "Lagrangian phase only"
    mip_started = time.perf_counter()
    left = deadline - mip_started
    cancelled = options.cancel is not None and options.cancel.is_set()
    if left > 0.05 and not cancelled:
        extra = {"mip_heuristic_effort": FINISH_HEURISTIC_EFFORT, **options.extra}
        limit = None if not math.isfinite(left) else left
        sol = solver.solve(highs_options(replace(options, time_limit_s=limit, extra=extra)))
        message = f"HiGHS on the reduced model: {sol.message}, {sol.nodes} nodes"
        if sol.x is not None and sol.status.has_solution and sol.objective < objective:
            objective, x = sol.objective, sol.x
        # Every plan below the cutoff survives the fixing: min(cutoff, its bound) is valid.
        if sol.status is SolveStatus.INFEASIBLE:
            mip_bound = math.inf  # no plan below the cutoff
            if a is None:
                return _outcome(
                    run,
                    None,
                    objective=math.nan,
                    bound=math.inf,
                    status=SolveStatus.INFEASIBLE,
                    mip_s=time.perf_counter() - mip_started,
                    message=message,
                )
        elif sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT):
            mip_bound = sol.bound if math.isfinite(sol.bound) else -math.inf
        else:
            mip_bound = -math.inf
        cancelled = sol.status is SolveStatus.CANCELLED
        bound = max(bound, min(cutoff, mip_bound))
    if run.integral and math.isfinite(bound):
        bound = math.ceil(bound - 1e-6)
    if x is not None:
        bound = min(bound, objective)
        if cancelled:
            status = SolveStatus.CANCELLED
        elif _proven(objective, bound, run.gap, run.integral):
            status = SolveStatus.OPTIMAL
        else:
            status = SolveStatus.FEASIBLE
    elif cancelled:
        status = SolveStatus.CANCELLED
    mip_s = time.perf_counter() - mip_started
    return _outcome(
        run, x, objective=objective, bound=bound, status=status, mip_s=mip_s, message=message
    )


def _outcome(
    run: _Run,
    x: F64 | None,
    *,
    objective: float,
    bound: float,
    status: SolveStatus,
    mip_s: float,
    message: str,
) -> SingleSourceResult:
    has = x is not None
    gap = max(0.0, (objective - bound) / max(abs(objective), 1e-9)) if has else math.inf
    return SingleSourceResult(
        status=status,
        objective=objective if has else math.nan,
        bound=bound,
        gap=gap,
        x=x,
        matrix=run.fm,
        lagrangian_bound=run.lagrangian,
        heuristic_objective=run.heuristic,
        fixed_arcs=run.fixed_share,
        lagrange_s=run.lagrange_s,
        mip_s=mip_s,
        iterations=run.iterations,
        message=message,
    )


def _infeasible(
    fm: FacilityMatrix, rel: SiteRelaxation, options: SolveOptions, started: float, it: int
) -> SingleSourceResult:
    run = _Run(
        fm, rel, options, 0.0, False, math.inf, math.inf, 0.0, time.perf_counter() - started, it
    )
    return _outcome(
        run,
        None,
        objective=math.nan,
        bound=math.inf,
        status=SolveStatus.INFEASIBLE,
        mip_s=0.0,
        message="no plan: a customer fits no reachable site, or too little capacity",
    )
