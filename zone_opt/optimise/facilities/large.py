"""Large splittable instances (10^5 arcs and more): Lagrangian branch and bound.

With ``x_a <= y_i`` for every arc the root LP of capa/capb/capc (100 sites x 1000 parks)
has 10^5 rows and is the bottleneck (``shared/reference/facilities.md`` §3.3: no tool
proved one in 3 minutes). This backend never solves that LP: one-type splittable problems
go to the Lagrangian branch and bound on the sites (:mod:`.lagbb`: subgradient bounds on
per-site knapsacks, numpy only; transportation LPs and local search for plans), and the
best plan is read back through one HiGHS LP over its open sites.

Multi-type problems (and, as a fallback, problems without any plan) use the weak model's
LP with violated linking rows added in rounds, then branch and bound from that LP.

Measured figures are in ``bench/results/facilities-full.md``.
"""

from __future__ import annotations

import time
from dataclasses import replace

import highspy
import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import InvalidInputError, SolverError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.lagbb import lagrangian_branch_and_bound
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.results import FacilityPlan, decode_plan
from zone_opt.optimise.solver import HighsSolver, Solution, SolveOptions, SolveStatus

__all__ = ["solve_decomposed"]


def solve_decomposed(problem: FacilityProblem, options: SolveOptions) -> FacilityPlan:
    """Lagrangian reduction + HiGHS (one type, splittable), else lazy linking rows."""
    if problem.single_source:
        raise InvalidInputError.single(
            "single_source", None, "the decomposition backend handles splittable demand only"
        )
    if problem.num_types != 1:
        return solve_lazy_linking(problem, options)
    return _solve_lagrangian(problem, options)


def _transport(
    problem: FacilityProblem, sites: NDArray[np.bool_]
) -> tuple[FacilityMatrix, Solution] | None:
    """Cheapest service with exactly ``sites`` open (the matrix of the sites kept and its
    LP solution); None if they cannot serve all."""
    rows = np.flatnonzero(sites)
    sub = problem.restrict_sites(rows).with_options(budget_cny=None)
    fm = build_matrix(sub, linking=False)
    solver = HighsSolver(replace(fm.model, integer=None))
    solver.set_col_bounds(np.arange(rows.size), 1.0, 1.0)
    sol = solver.solve(SolveOptions(threads=1))
    if sol.x is None or sol.status is not SolveStatus.OPTIMAL:
        return None
    if (
        problem.budget_cny is not None
        and float(problem.fixed_cost_cny[rows].sum()) > problem.budget_cny
    ):
        return None
    return fm, sol


def _solve_lagrangian(problem: FacilityProblem, options: SolveOptions) -> FacilityPlan:
    started = time.perf_counter()
    search = lagrangian_branch_and_bound(problem, options)
    if search.sites is None:
        # No plan (infeasible, or none found in time): the LP-based path reports it with
        # its own status (and a diagnosable model).
        left = None
        if options.time_limit_s is not None:
            left = max(0.1, options.time_limit_s - (time.perf_counter() - started))
        return solve_lazy_linking(problem, replace(options, time_limit_s=left))
    found = _transport(problem, search.sites)
    if found is None:  # cannot happen for a plan the search solved; kept as a guard
        raise SolverError("the transportation LP of the best plan did not solve")
    fm, sol = found
    objective = sol.objective
    bound = min(search.bound, objective)
    gap = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    status = search.status
    if status is SolveStatus.OPTIMAL and gap > options.mip_rel_gap * (1 + 1e-9):
        status = SolveStatus.FEASIBLE  # HiGHS's LP value differs from the search's by more
    message = (
        f"Lagrangian branch and bound: {search.nodes} nodes, {search.transport_lps} "
        f"transportation LPs; root bound {search.root_bound:.3f}, first plan "
        f"{search.first_objective:.3f} after {search.heuristic_s:.1f} s; {search.status}"
    )
    outcome = replace(
        sol,
        status=status,
        bound=bound,
        gap=gap,
        solve_s=time.perf_counter() - started,
        nodes=search.nodes,
        message=message,
    )
    return decode_plan(fm, outcome, backend="decompose", build_s=0.0)


def solve_lazy_linking(
    problem: FacilityProblem,
    options: SolveOptions,
    *,
    rows_per_round: int = 20000,
    violation_tol: float = 1e-6,
) -> FacilityPlan:
    """Lazy-linking LP rounds, then HiGHS branch and bound (splittable demand only)."""
    if problem.single_source:
        raise InvalidInputError.single(
            "single_source", None, "the decomposition backend handles splittable demand only"
        )
    started = time.perf_counter()
    deadline = None if options.time_limit_s is None else started + options.time_limit_s
    fm = build_matrix(problem, linking=False)
    build_s = time.perf_counter() - started
    solver = HighsSolver(replace(fm.model, integer=None))
    m = fm.num_sites
    lp_opts = replace(options, presolve=False, progress=None, time_limit_s=None, extra={})
    added = np.zeros(fm.num_arcs, dtype=bool)
    rounds = 0
    lp_bound = float("-inf")
    while True:
        if deadline is not None:
            lp_opts = replace(lp_opts, time_limit_s=max(0.1, deadline - time.perf_counter()))
        sol = solver.solve(lp_opts)
        rounds += 1
        if sol.x is None or sol.status is not SolveStatus.OPTIMAL:
            failed = replace(
                sol,
                objective=float("nan"),
                bound=float("-inf"),
                gap=float("inf"),
                x=None,
                solve_s=time.perf_counter() - started,
                message=f"LP round {rounds}: {sol.message}",
            )
            return decode_plan(fm, failed, backend="decompose", build_s=build_s)
        lp_bound = sol.objective
        x, y = sol.x[m:], sol.x[:m]
        violation = x - y[fm.arc_site]
        candidates = np.flatnonzero((violation > violation_tol) & ~added)
        if candidates.size == 0:
            break
        order = np.argsort(-violation[candidates])[:rows_per_round]
        arcs = candidates[order]
        added[arcs] = True
        lo, hi, starts, index, value = fm.link_rows(arcs)
        solver.add_rows(lo, hi, starts, index, value)
        if deadline is not None and time.perf_counter() > deadline:
            break
    lp_s = time.perf_counter() - started
    h = solver.highs
    h.changeColsIntegrality(
        m, np.arange(m, dtype=np.int32), np.full(m, highspy.HighsVarType.kInteger)
    )
    solver._is_mip = True
    remaining = None if deadline is None else max(0.1, deadline - time.perf_counter())
    mip = solver.solve(replace(options, time_limit_s=remaining))
    elapsed = time.perf_counter() - started
    message = (
        f"{rounds} LP rounds added {int(added.sum())} of {fm.num_arcs} linking rows in "
        f"{lp_s:.1f} s (strong LP bound {lp_bound:.3f}); {mip.message}"
    )
    final = replace(
        mip,
        bound=max(mip.bound, lp_bound) if np.isfinite(mip.bound) else lp_bound,
        solve_s=elapsed,
        message=message,
    )
    return decode_plan(fm, final, backend="decompose", build_s=build_s)
