"""Solve a facility problem with one of the backends and return a typed plan."""

from __future__ import annotations

import enum
import time
from dataclasses import replace

from zone_opt.arguments import check_flag
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.build import build_matrix
from zone_opt.optimise.facilities.diagnose import diagnose_infeasible
from zone_opt.optimise.facilities.large import solve_decomposed
from zone_opt.optimise.facilities.options import DEFAULT_OPTIONS, PRESOLVE_RULE_OFF, highs_options
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.results import FacilityPlan, UnmetDemand, decode_plan
from zone_opt.optimise.facilities.sitebb import SiteSearch, branch_on_sites
from zone_opt.optimise.facilities.sscflp import solve_single_source
from zone_opt.optimise.ortools_adapter import solve_ortools
from zone_opt.optimise.solver import HighsSolver, Solution, SolveOptions, SolveStatus

__all__ = ["DEFAULT_OPTIONS", "PRESOLVE_RULE_OFF", "Backend", "highs_options", "solve_facilities"]


class Backend(enum.StrEnum):
    """Which solver runs the matrix model."""

    HIGHS = "highs"
    """HiGHS through :mod:`zone_opt.optimise.solver` (default; fastest here). One-type
    single-source problems without a budget go to :attr:`SINGLE_SOURCE`."""
    HIGHS_MIP = "highs_mip"
    """The matrix model straight to the HiGHS MIP, whatever the problem (the plain anchor)."""
    SINGLE_SOURCE = "single_source"
    """Lagrangian bound, local search, penalty fixing and an exact HiGHS finish on the
    reduced model, for one-type single-source problems without a budget
    (:mod:`zone_opt.optimise.facilities.sscflp`)."""
    SCIP = "scip"
    """SCIP through OR-Tools' pywraplp (:mod:`zone_opt.optimise.ortools_adapter`)."""
    DECOMPOSE = "decompose"
    """Lagrangian branch and bound on the sites with transportation LPs by HiGHS, for large
    splittable one-type instances; lazily added linking rows for several types
    (:mod:`zone_opt.optimise.facilities.large`)."""


SITE_NODE_LIMIT = 2000
"""Nodes the site branch and bound may use before the HiGHS MIP takes over (splittable)."""


def _as_solution(search: SiteSearch, elapsed_s: float) -> Solution:
    objective = search.objective if search.x is not None else float("nan")
    gap = max(0.0, (search.objective - search.bound) / max(abs(search.objective), 1e-9))
    return Solution(
        status=search.status,
        objective=objective,
        bound=search.bound,
        gap=gap if search.x is not None else float("inf"),
        x=search.x,
        row_activity=None,
        row_dual=None,
        col_dual=None,
        solve_s=elapsed_s,
        nodes=search.nodes,
        message=f"site branch and bound: {search.nodes} nodes, {search.status}",
    )


def solve_facilities(
    problem: FacilityProblem,
    *,
    backend: Backend | str = Backend.HIGHS,
    options: SolveOptions | None = None,
    diagnose: bool = True,
) -> FacilityPlan:
    """Find the least-cost plan (fixed + transport + operating cost, CNY).

    Splittable demand is solved by branching on the sites over the strong LP
    (:mod:`.sitebb`), handing over to the HiGHS MIP past :data:`SITE_NODE_LIMIT` nodes;
    one-type single sourcing without a budget by :mod:`.sscflp` (Lagrangian bound, local
    search, fixing, HiGHS on what is left), other single-source problems by the HiGHS MIP.
    Infeasible is a result: the plan's status is INFEASIBLE and ``plan.unmet`` names the
    demand that cannot be met (``diagnose=False`` skips that extra MILP). Deadline,
    cancellation and progress come with ``options`` (default :data:`DEFAULT_OPTIONS`).
    """
    try:
        which = Backend(backend)
    except ValueError:
        known = ", ".join(repr(b.value) for b in Backend)
        raise InvalidInputError.single("backend", None, f"must be one of {known}") from None
    diagnose = check_flag("diagnose", diagnose)
    opts = options or DEFAULT_OPTIONS
    if which is Backend.DECOMPOSE:
        return solve_decomposed(problem, highs_options(opts))
    dedicated = problem.single_source and problem.num_types == 1 and problem.budget_cny is None
    if which is Backend.SINGLE_SOURCE or (which is Backend.HIGHS and dedicated):
        if not dedicated:
            raise InvalidInputError.single(
                "backend", None, "single_source needs one type, single sourcing and no budget"
            )
        return _solve_single_source(problem, opts, diagnose, str(which))
    started = time.perf_counter()
    fm = build_matrix(problem)
    build_s = time.perf_counter() - started
    sol: Solution
    if which is Backend.SCIP:
        sol = solve_ortools(fm.model, opts)
    elif problem.single_source or which is Backend.HIGHS_MIP:
        sol = HighsSolver(fm.model).solve(highs_options(opts))
    else:
        search = branch_on_sites(fm, opts, node_limit=SITE_NODE_LIMIT)
        if search.node_limit_reached or search.status is SolveStatus.ERROR:
            # The HiGHS MIP takes over from the best plan found, within the time left.
            solver = HighsSolver(fm.model)
            if search.x is not None:
                solver.set_start(search.x)
            left = opts.time_limit_s
            if left is not None:
                left = max(0.01, left - (time.perf_counter() - started))
            sol = solver.solve(highs_options(replace(opts, time_limit_s=left)))
        else:
            sol = _as_solution(search, time.perf_counter() - started)
    unmet: tuple[UnmetDemand, ...] = ()
    if sol.status is SolveStatus.INFEASIBLE and diagnose:
        unmet = diagnose_infeasible(fm)
    return decode_plan(fm, sol, backend=str(which), build_s=build_s, unmet=unmet)


def _solve_single_source(
    problem: FacilityProblem, opts: SolveOptions, diagnose: bool, backend: str
) -> FacilityPlan:
    started = time.perf_counter()
    res = solve_single_source(problem, opts)
    unmet: tuple[UnmetDemand, ...] = ()
    if res.status is SolveStatus.INFEASIBLE and diagnose:
        unmet = diagnose_infeasible(res.matrix)
    sol = Solution(
        status=res.status,
        objective=res.objective,
        bound=res.bound,
        gap=res.gap,
        x=res.x,
        row_activity=None,
        row_dual=None,
        col_dual=None,
        solve_s=time.perf_counter() - started,
        nodes=0,
        message=(
            f"{res.message}; Lagrangian bound {res.lagrangian_bound:.6g} in {res.lagrange_s:.2f} s"
            f" ({res.iterations} steps), best plan before the MIP {res.heuristic_objective:.6g},"
            f" {100 * res.fixed_arcs:.1f} % of arcs fixed"
        ),
    )
    return decode_plan(res.matrix, sol, backend=backend, build_s=0.0, unmet=unmet)
