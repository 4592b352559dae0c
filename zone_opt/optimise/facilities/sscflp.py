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
   aggregate capacity cut ``sum_i s_i y_i >= D``: by its LP in the first ascent (which
   feeds the plans of step 2), with y binary (a 0-1 cover knapsack, DP) in a second one
   from the first's best multipliers, for the bound and the fixing (unequal capacities
   only: with equal ones the LP is exact; :mod:`.sscflp_bound`).
   ``L(u) = sum_j u_j + that minimum`` bounds the optimum from below for every ``u``; a
   subgradient ascent (Polyak steps towards the incumbent) maximises it. The 0-1 knapsack
   makes it stronger than the LP bound; where the DP table would be too large
   (capa/b/c: 100 x 1000 x 14001 cells) the continuous knapsack is used (the LP bound).
2. **Plans.** Every few ascent steps the relaxed solution is repaired into a plan (keep the
   relaxation's open sites, give each customer one of the sites whose knapsack took it, place
   the rest by regret) and improved by an iterated tabu search in the Rust core (shifts of
   one customer and swaps of two, through overloaded plans at an oscillating price per unit
   of overload, and a site closed, opened or swapped when it stalls: Ho 2015, Delmaire et
   al. 1999); the best plan of the ascent then gets a longer search of its own.
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
import os
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import CancelledError, InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.lagrange import SiteRelaxation
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.sscflp_bound import _ascent, _cutoff, _penalty_fixing
from zone_opt.optimise.facilities.sscflp_lp import (
    _arc_customers,
    _column_vector,
    _Guide,
    _kernel,
    _proven,
    _root_lp,
)
from zone_opt.optimise.facilities.sscflp_plans import Elite, SideSearch, _Knapsacks, _Plans
from zone_opt.optimise.solver import HighsSolver, Progress, Solution, SolveOptions, SolveStatus

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
SEARCH_SHARE = 0.2
"""Share of the time limit (of 50 s without one) for one long tabu search from the best
plan of the ascent (its repaired plans get short ones)."""
SEARCH_ITERATIONS = 200_000
"""Move budget of that search (its time share usually binds first)."""
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
    rel = SiteRelaxation(problem)
    fm = build_matrix(problem)
    setup = _Setup(fm, rel, options, _integral(rel), started, limit)
    gap, integral = setup.gap, setup.integral
    fits = np.isfinite(rel.cost) & (rel.s[:, None] >= rel.d[None, :])
    if not fits.any(axis=0).all():
        return _infeasible(fm, rel, options, started, 0)  # a customer no site takes whole
    knap = _Knapsacks(rel)
    inc = _Incumbent(_Plans(rel), options, started)

    # --- 1+2. subgradient ascent with periodic repair + local search ---------------------
    lp = None if setup.large else _root_lp(fm, rel, options, setup.lag_deadline)
    lag = _ascent(setup, knap, inc, lp)
    if not lag.feasible:
        return _infeasible(fm, rel, options, started, lag.iterations)
    if not rel.equal and not _proven(inc.ub, lag.bound, gap, integral):
        lag = _ascent(setup, knap, inc, lp, sharpen=lag)  # equal capacities: already exact
    lagrangian = lag.bound if lp is None else max(lag.bound, lp.value - 1e-9 * abs(lp.value))
    if integral and math.isfinite(lagrangian):
        lagrangian = math.ceil(lagrangian - 1e-6)
    lag_s = time.perf_counter() - started
    run = _Run(fm, rel, options, gap, integral, lagrangian, inc.ub, 0.0, lag_s, lag.iterations)
    best_a = inc.best_a
    if best_a is None:
        # No plan yet: the HiGHS MIP on the whole model decides (it may be infeasible).
        return _finish(
            run, None, ub=math.inf, cutoff=math.inf, fixing=None, deadline=setup.deadline
        )
    # A plan within the gap of the bound would end the solve: the searches stop there.
    target = lagrangian + gap * abs(lagrangian)
    proven = _proven(inc.ub, lagrangian, gap, integral)
    side = None if proven else _side_search(inc, best_a, setup, target)
    if not proven and not (options.cancel is not None and options.cancel.is_set()):
        search_end = time.perf_counter() + SEARCH_SHARE * (limit if math.isfinite(limit) else 50.0)
        found = inc.plans.improve(
            best_a, search_end, iterations=SEARCH_ITERATIONS, stop_at_cost=target
        )
        inc.offer(found, lag.bound)
        best_a = inc.best_a if inc.best_a is not None else best_a
        if side is not None:
            inc.offer(side.best(), lag.bound)
            best_a = inc.best_a if inc.best_a is not None else best_a
            side.offer(best_a)
    if not _proven(inc.ub, lagrangian, gap, integral) and not (
        options.cancel is not None and options.cancel.is_set()
    ):
        kernel_end = time.perf_counter() + KERNEL_SHARE * (limit if math.isfinite(limit) else 100.0)
        y_avg = lag.y_avg if lp is None else np.maximum(lag.y_avg, lp.y)
        guide = _Guide(red=rel.cost - lag.u[None, :], y_avg=y_avg, lp=lp)
        inc.offer(_kernel(fm, rel, best_a, guide, options=options, end=kernel_end), lag.bound)
        if inc.best_a is not None:
            best_a = inc.best_a
    if side is not None:
        inc.offer(side.best(), lag.bound)
        best_a = inc.best_a if inc.best_a is not None else best_a
    run = replace(run, heuristic=inc.ub)
    if _proven(inc.ub, lagrangian, gap, integral):
        if side is not None:
            side.stop()
        return _outcome(
            run,
            _column_vector(fm, rel, best_a),
            objective=inc.ub,
            bound=min(lagrangian, inc.ub),
            status=SolveStatus.OPTIMAL,
            mip_s=0.0,
            message="proved by the Lagrangian bound",
        )

    # --- 3. penalty fixing with the best multipliers -------------------------------------
    cutoff = _cutoff(inc.ub, gap, integral)
    fixing = _penalty_fixing(setup, knap, lag.u, best_a, lp=lp, cutoff=cutoff)

    # --- 4. the exact finish on what survives -------------------------------------------
    run = replace(run, fixed_share=float(fixing[0].mean()))
    result = _finish(run, best_a, ub=inc.ub, cutoff=cutoff, fixing=fixing, deadline=setup.deadline)
    if side is None:
        return result
    return _with_side_plan(run, result, side.stop(), inc.plans)


def _side_search(
    inc: _Incumbent, start: I64 | None, setup: _Setup, target: float
) -> SideSearch | None:
    """A :class:`SideSearch` where the caller allows more than one thread, the machine has
    two cores and the solve has a deadline (without one the exact finish decides)."""
    if start is None or setup.options.threads == 1 or (os.cpu_count() or 1) < 2:
        return None
    if not math.isfinite(setup.deadline):
        return None
    return SideSearch(
        inc.plans, start, setup.deadline, target, iterations=SEARCH_ITERATIONS, elite=inc.elite
    )


def _with_side_plan(
    run: _Run, result: SingleSourceResult, plan: I64, plans: _Plans
) -> SingleSourceResult:
    """``result`` with the side search's plan if it costs less than the finish's."""
    cost = plans.cost(plan)
    if result.x is not None and not cost < result.objective:
        return result
    if result.status in (SolveStatus.CANCELLED, SolveStatus.INFEASIBLE):
        return result
    bound = min(result.bound, cost)
    x = _column_vector(run.fm, run.rel, plan)
    status = _final_status(run, x, cost, bound, cancelled=False)
    return _outcome(
        run,
        x,
        objective=cost,
        bound=bound,
        status=status,
        mip_s=result.mip_s,
        message=result.message + "; the plan from the side search",
    )


@dataclass(frozen=True)
class _Setup:
    """A run's fixed context: the model, its relaxation, the options and the time budget."""

    fm: FacilityMatrix
    rel: SiteRelaxation
    options: SolveOptions
    integral: bool
    started: float
    limit: float
    """The time limit in seconds (``inf``: none)."""

    @property
    def gap(self) -> float:
        return self.options.mip_rel_gap

    @property
    def deadline(self) -> float:
        return self.started + self.limit

    @property
    def large(self) -> bool:
        """Above :data:`LP_ARCS` arcs: no root LP, a longer ascent."""
        return self.fm.num_arcs > LP_ARCS

    @property
    def lag_deadline(self) -> float:
        """When the Lagrangian phase (ascent and local search) ends."""
        share = LAGRANGE_SHARE_LARGE if self.large else LAGRANGE_SHARE
        return self.started + share * self.limit if math.isfinite(self.limit) else math.inf


class _Incumbent:
    """The best plan so far (a site per customer) and its cost; reports improvements."""

    def __init__(self, plans: _Plans, options: SolveOptions, started: float) -> None:
        self.plans = plans
        self.options = options
        self.started = started
        self.best_a: I64 | None = None
        self.ub = math.inf
        self.elite = Elite()

    def offer(self, a: I64 | None, bound: float) -> None:
        """Keep plan ``a`` if it is better (and among the elite if its open sites are new
        or it is cheaper); ``bound`` is the best bound for the progress report."""
        if a is None:
            return
        ub = self.ub
        value = self.plans.cost(a)
        self.elite.offer(a, value)
        if value < ub - 1e-9 * max(1.0, abs(ub) if math.isfinite(ub) else 1.0):
            self.best_a, self.ub = a.copy(), value
            if self.options.progress is not None:
                self.options.progress(
                    Progress(
                        incumbent=value,
                        bound=bound,
                        gap=max(0.0, (value - bound) / max(abs(value), 1e-9)),
                        elapsed_s=time.perf_counter() - self.started,
                        nodes=0,
                    )
                )


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
    solver = HighsSolver(fm.model)
    if fixing is not None:
        _apply_fixing(solver, run, fixing)
    x: F64 | None = None
    if a is not None:
        x = _column_vector(fm, rel, a)
        solver.set_start(x)
    objective, bound = ub, run.lagrangian
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
        if sol.status is SolveStatus.INFEASIBLE and a is None:
            return _outcome(
                run,
                None,
                objective=math.nan,
                bound=math.inf,
                status=SolveStatus.INFEASIBLE,
                mip_s=time.perf_counter() - mip_started,
                message=message,
            )
        cancelled = sol.status is SolveStatus.CANCELLED
        # Every plan below the cutoff survives the fixing: min(cutoff, its bound) is valid.
        bound = max(bound, min(cutoff, _mip_bound(sol)))
    if run.integral and math.isfinite(bound):
        bound = math.ceil(bound - 1e-6)
    if x is not None:
        bound = min(bound, objective)
    status = _final_status(run, x, objective, bound, cancelled)
    mip_s = time.perf_counter() - mip_started
    return _outcome(
        run, x, objective=objective, bound=bound, status=status, mip_s=mip_s, message=message
    )


def _apply_fixing(solver: HighsSolver, run: _Run, fixing: tuple[B, B, B]) -> None:
    """Fix the removed arcs and sites to 0 and the forced sites to 1."""
    fm = run.fm
    arc_out, site_out, site_in = fixing
    local, ok = _arc_customers(fm, run.rel)
    drop = arc_out[fm.arc_site, np.maximum(local, 0)] & ok
    if drop.any():
        solver.set_col_bounds(fm.num_sites + np.flatnonzero(drop), 0.0, 0.0)
    if site_out.any():
        solver.set_col_bounds(np.flatnonzero(site_out), 0.0, 0.0)
    if site_in.any():
        solver.set_col_bounds(np.flatnonzero(site_in), 1.0, 1.0)


def _mip_bound(sol: Solution) -> float:
    """HiGHS's bound on the plans that survived the fixing (``inf``: there are none)."""
    if sol.status is SolveStatus.INFEASIBLE:
        return math.inf  # no plan below the cutoff
    if sol.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.TIME_LIMIT):
        return sol.bound if math.isfinite(sol.bound) else -math.inf
    return -math.inf


def _final_status(
    run: _Run, x: F64 | None, objective: float, bound: float, cancelled: bool
) -> SolveStatus:
    if cancelled:
        return SolveStatus.CANCELLED
    if x is None:
        return SolveStatus.TIME_LIMIT
    if _proven(objective, bound, run.gap, run.integral):
        return SolveStatus.OPTIMAL
    return SolveStatus.FEASIBLE


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
