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
from zone_opt.optimise.facilities.sscflp_lp import (
    _arc_customers,
    _column_vector,
    _kernel,
    _proven,
    _root_lp,
)
from zone_opt.optimise.facilities.sscflp_plans import _Knapsacks, _Plans
from zone_opt.optimise.solver import HighsSolver, Progress, SolveOptions, SolveStatus

__all__ = ["SingleSourceResult", "solve_single_source"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

LP_ARCS = 40_000
"""Largest arc count for which the strong LP is solved first (its duals start the ascent,
its reduced costs fix arcs, its support seeds the kernel); capa/b/c (10^5 arcs, minutes of
LP on two cores) go without it."""
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
