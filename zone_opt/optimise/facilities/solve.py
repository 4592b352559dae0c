"""Solve a facility problem with one of the backends and return a typed plan."""

from __future__ import annotations

import enum
import time

from zone_opt.optimise.facilities.build import build_matrix
from zone_opt.optimise.facilities.diagnose import diagnose_infeasible
from zone_opt.optimise.facilities.large import solve_decomposed
from zone_opt.optimise.facilities.options import DEFAULT_OPTIONS, PRESOLVE_RULE_OFF, highs_options
from zone_opt.optimise.facilities.plan import FacilityPlan, UnmetDemand, decode_plan
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.ortools_adapter import solve_ortools
from zone_opt.optimise.solver import HighsSolver, Solution, SolveOptions, SolveStatus

__all__ = ["DEFAULT_OPTIONS", "PRESOLVE_RULE_OFF", "Backend", "highs_options", "solve_facilities"]


class Backend(enum.StrEnum):
    """Which solver runs the matrix model."""

    HIGHS = "highs"
    """HiGHS through :mod:`zone_opt.optimise.solver` (default; fastest here)."""
    SCIP = "scip"
    """SCIP through OR-Tools' pywraplp (:mod:`zone_opt.optimise.ortools_adapter`)."""
    DECOMPOSE = "decompose"
    """HiGHS with Lagrangian bounds and lazily added linking rows, for large splittable
    instances (:mod:`zone_opt.optimise.facilities.large`)."""


def solve_facilities(
    problem: FacilityProblem,
    *,
    backend: Backend | str = Backend.HIGHS,
    options: SolveOptions | None = None,
    diagnose: bool = True,
) -> FacilityPlan:
    """Find the least-cost plan (fixed + transport + operating cost, CNY).

    Infeasible is a result: the plan's status is INFEASIBLE and ``plan.unmet`` names the
    demand that cannot be met (``diagnose=False`` skips that extra MILP). Deadline and
    cancellation come with ``options`` (default :data:`DEFAULT_OPTIONS`).
    """
    which = Backend(backend)
    opts = options or DEFAULT_OPTIONS
    if which is Backend.DECOMPOSE:
        return solve_decomposed(problem, highs_options(opts))
    started = time.perf_counter()
    fm = build_matrix(problem)
    build_s = time.perf_counter() - started
    sol: Solution
    if which is Backend.SCIP:
        sol = solve_ortools(fm.model, opts)
    else:
        sol = HighsSolver(fm.model).solve(highs_options(opts))
    unmet: tuple[UnmetDemand, ...] = ()
    if sol.status is SolveStatus.INFEASIBLE and diagnose:
        unmet = diagnose_infeasible(fm)
    return decode_plan(
        fm,
        sol.x,
        status=sol.status,
        objective=sol.objective,
        bound=sol.bound,
        gap=sol.gap,
        backend=str(which),
        build_s=build_s,
        solve_s=sol.solve_s,
        message=sol.message,
        unmet=unmet,
    )
