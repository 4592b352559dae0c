"""Large splittable instances (10^5 arcs and more): Lagrangian reduction, then HiGHS.

With ``x_a <= y_i`` for every arc the root LP of capa/capb/capc (100 sites x 1000 parks)
has 10^5 rows and is the bottleneck (``shared/reference/facilities.md`` §3.3: no tool
proved one in 3 minutes). This backend avoids that LP:

1. Lagrangian bound (:mod:`.lagrange`): subgradient ascent, numpy only, a few seconds;
2. primal plans: for each site set the relaxation opened, a transportation LP with those
   sites open gives an upper bound UB;
3. reduction: every site whose forced opposite value lifts the Lagrangian bound above UB
   is fixed (typically 75-90 of 100 sites closed), valid for all plans cheaper than UB;
4. HiGHS solves the reduced MILP (strong linking rows only for the remaining sites),
   started from the best plan; global bound = max(Lagrangian, min(UB, reduced bound)).

Multi-type or single-source problems use the fallback: the weak model's LP with violated
linking rows added in rounds, then branch and bound from that LP.

Measured figures are in ``bench/results/facilities-full.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import highspy
import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.lagrange import fix_sites, lagrangian_bound
from zone_opt.optimise.facilities.plan import FacilityPlan, decode_plan
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.solver import HighsSolver, SolveOptions, SolveStatus

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
) -> tuple[float, FacilityMatrix, NDArray[np.float64]] | None:
    """Cheapest service with exactly ``sites`` open (an LP); None if they cannot serve all."""
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
    return sol.objective, fm, sol.x


def _solve_lagrangian(problem: FacilityProblem, options: SolveOptions) -> FacilityPlan:
    started = time.perf_counter()
    gap = options.mip_rel_gap
    lb = lagrangian_bound(problem, math.inf, iterations=400)
    best: tuple[float, FacilityMatrix, NDArray[np.float64]] | None = None
    order = np.argsort(lb.site_value, kind="stable")
    tried: list[NDArray[np.bool_]] = []
    for cand in lb.candidates:
        for more in (0, 1, 2, 4):
            sites = cand.copy()
            sites[order[~cand[order]][:more]] = True
            if any(np.array_equal(sites, t) for t in tried):
                continue
            tried.append(sites)
            found = _transport(problem, sites)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
    ub = best[0] if best is not None else math.inf
    lag_s = time.perf_counter() - started
    if best is None:
        return solve_lazy_linking(problem, options)
    # Rounds with a target T: fix the sites no plan cheaper than T can change, solve the
    # reduced MILP. Every plan cheaper than T lies in the reduced space, so the global bound
    # is at least min(T, reduced bound); if the reduced optimum meets it, it is optimal.
    # Otherwise T grows (doubling the margin above the Lagrangian bound) up to the best UB.
    plan_fm, plan_x = best[1], best[2]
    bound = lb.bound_cny
    margin = min(max((ub - bound) / max(abs(bound), 1e-9), 1e-6), 0.001)
    rounds: list[str] = []
    build_s = 0.0
    while True:
        target = min(ub, bound + margin * abs(lb.bound_cny)) if margin else ub
        final = target >= ub
        limit = target * (1 - gap) if final else target
        closed, opened = fix_sites(problem, lb, limit, 0.0)
        keep = np.flatnonzero(~closed)
        t0 = time.perf_counter()
        fm = build_matrix(problem.restrict_sites(keep))
        build_s += time.perf_counter() - t0
        solver = HighsSolver(fm.model)
        forced = np.flatnonzero(opened[keep])
        if forced.size:
            solver.set_col_bounds(forced, 1.0, 1.0)
        start = _map_start(plan_fm, plan_x, fm)
        if start is not None:
            solver.set_start(start)
        remaining = None
        if options.time_limit_s is not None:
            remaining = options.time_limit_s - (time.perf_counter() - started)
            if remaining <= 0.2:
                break
        extra = dict(options.extra)
        if not final:
            extra["objective_bound"] = target  # prune nodes that cannot beat the target
        mip = solver.solve(replace(options, time_limit_s=remaining, extra=extra))
        if mip.x is not None and mip.objective < ub:
            ub, plan_fm, plan_x = mip.objective, fm, mip.x
        reduced = mip.bound if mip.status is not SolveStatus.INFEASIBLE else math.inf
        if mip.status in (SolveStatus.OPTIMAL, SolveStatus.INFEASIBLE) or final:
            bound = max(bound, min(limit, reduced))
        rounds.append(
            f"T={target:.3f}: {int(closed.sum())} closed, {int(opened.sum())} open, "
            f"{fm.model.num_cols} cols, {mip.status}"
        )
        if (ub - bound) / max(abs(ub), 1e-9) <= gap * (1 + 1e-9) or final:
            break
        if mip.status not in (SolveStatus.OPTIMAL, SolveStatus.INFEASIBLE):
            break  # out of time inside a round
        margin *= 2.0
    elapsed = time.perf_counter() - started
    objective = ub
    bound = min(bound, objective)
    gap_now = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    status = SolveStatus.OPTIMAL if gap_now <= gap * (1 + 1e-9) else SolveStatus.FEASIBLE
    message = (
        f"Lagrangian bound {lb.bound_cny:.3f} in {lag_s:.1f} s, first UB {best[0]:.3f}; "
        + "; ".join(rounds)
    )
    return decode_plan(
        plan_fm,
        plan_x,
        status=status,
        objective=objective,
        bound=bound,
        gap=gap_now,
        backend="decompose",
        build_s=build_s,
        solve_s=elapsed,
        message=message,
    )


def _map_start(
    src: FacilityMatrix, x: NDArray[np.float64], dst: FacilityMatrix
) -> NDArray[np.float64] | None:
    """Carry a plan between two matrices of the same parks over different site sets."""
    src_ids = src.problem.site_ids
    dst_index = {s: i for i, s in enumerate(dst.problem.site_ids)}
    if any(s not in dst_index for s in src_ids):
        return None
    site_map = np.array([dst_index[s] for s in src_ids], dtype=np.int64)
    n_types = dst.problem.num_types
    m_dst = dst.num_sites
    key_dst = (dst.arc_demand * m_dst + dst.arc_site) * n_types + dst.arc_type
    key_src = (src.arc_demand * m_dst + site_map[src.arc_site]) * n_types + src.arc_type
    order = np.argsort(key_dst)
    pos = np.searchsorted(key_dst[order], key_src)
    pos = np.clip(pos, 0, key_dst.size - 1)
    if not np.all(key_dst[order][pos] == key_src):
        return None
    out = np.zeros(dst.model.num_cols)
    out[site_map] = np.round(x[: src.num_sites])
    out[dst.num_sites + order[pos]] = x[src.num_sites :]
    return out


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
            return decode_plan(
                fm,
                None,
                status=sol.status,
                objective=float("nan"),
                bound=float("-inf"),
                gap=float("inf"),
                backend="decompose",
                build_s=build_s,
                solve_s=time.perf_counter() - started,
                message=f"LP round {rounds}: {sol.message}",
            )
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
    return decode_plan(
        fm,
        mip.x,
        status=mip.status,
        objective=mip.objective,
        bound=max(mip.bound, lp_bound) if np.isfinite(mip.bound) else lp_bound,
        gap=mip.gap,
        backend="decompose",
        build_s=build_s,
        solve_s=elapsed,
        message=message,
    )
