"""The Lagrangian branch and bound (decompose backend) against independent solvers: its
bounds lie below HiGHS's optima, its penalties below the optima with a site forced, its
transportation plans are feasible at their stated cost, and its optima are HiGHS's."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from zone_opt.errors import CancelledError
from zone_opt.optimise import SolveOptions, SolveStatus
from zone_opt.optimise.facilities import (
    FacilityProblem,
    build_matrix,
    read_orlib_cap,
    read_orlib_optima,
)
from zone_opt.optimise.facilities.lagbb import lagrangian_branch_and_bound
from zone_opt.optimise.facilities.lagrange import AscentSchedule, SiteRelaxation
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.transport import Transport
from zone_opt.optimise.solver import HighsSolver, Progress

sys.path.insert(0, str(Path(__file__).parent))
from facilities_data import ORLIB, random_problem

OPTIMA = read_orlib_optima(ORLIB / "capopt.txt")
GAP = SolveOptions(mip_rel_gap=1e-9)


def _highs_optimum(
    problem: FacilityProblem, *, open_: int | None = None, closed: int | None = None
) -> float:
    """The strong MILP's optimum by HiGHS, optionally with one site forced open / closed."""
    fm = build_matrix(problem)
    solver = HighsSolver(fm.model)
    if open_ is not None:
        solver.set_col_bounds([open_], 1.0, 1.0)
    if closed is not None:
        solver.set_col_bounds([closed], 0.0, 0.0)
    sol = solver.solve(highs_options(GAP))
    if sol.status is SolveStatus.INFEASIBLE:
        return math.inf
    assert sol.status is SolveStatus.OPTIMAL
    return sol.objective


def _single_type(seed: int, **rules: bool) -> FacilityProblem:
    return random_problem(seed, parks=12, sites=7, types=1, **rules)


RANDOM = [(s, r) for s in range(3) for r in ({}, {"budget": True}, {"max_distance": True})]


@pytest.mark.parametrize(("seed", "rules"), RANDOM)
def test_transport_plan_is_feasible_at_its_cost(seed: int, rules: dict[str, bool]) -> None:
    problem = _single_type(seed, **rules)
    rel = SiteRelaxation(problem)
    tr = Transport(rel, problem.budget_cny)
    tr.nearest = 2  # force the pricing loop to add columns
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(6):
        sites = rng.random(problem.num_sites) < 0.6
        sites[0] = True
        plan = tr.solve(sites)
        # Independent: the HiGHS LP of the full model with exactly these sites open.
        fm = build_matrix(problem)
        solver = HighsSolver(fm.model)
        solver.set_col_bounds(np.arange(fm.num_sites), sites.astype(float), sites.astype(float))
        ref = solver.solve(highs_options(GAP))
        within_budget = problem.budget_cny is None or float(
            problem.fixed_cost_cny @ sites
        ) <= problem.budget_cny * (1 + 1e-12)
        if ref.status is not SolveStatus.OPTIMAL or not within_budget:
            assert plan is None
            continue
        assert plan is not None
        checked += 1
        x = plan.x  # (open sites, parks with demand)
        rows = np.flatnonzero(sites)
        d = problem.demand[rel.parks, 0]
        assert np.all(x >= -1e-9)
        np.testing.assert_allclose(x.sum(axis=0), 1.0, atol=1e-7)
        assert np.all(x @ d <= problem.capacity[rows, 0] * (1 + 1e-9) + 1e-7)
        reach = problem.reachable()[rel.parks][:, rows].T
        assert np.all(x[~reach] <= 1e-9)
        per_unit = (
            problem.transport_cost_cny_per_unit[rel.parks][:, rows]
            + problem.operating[rows, 0][None, :]
        )
        cost = float(problem.fixed_cost_cny[rows].sum()) + float(
            np.sum(x * (per_unit * d[:, None]).T)
        )
        assert plan.cost == pytest.approx(cost, rel=1e-9)
        assert plan.cost == pytest.approx(ref.objective, rel=1e-7)
    assert checked >= 1


@pytest.mark.parametrize("name", ["cap41", "cap64", "cap91", "cap113", "cap124"])
def test_lagrangian_bound_is_below_the_optimum(name: str) -> None:
    problem = read_orlib_cap(ORLIB / f"{name}.txt")
    known = OPTIMA[(name, None)]
    rel = SiteRelaxation(problem)
    lo = np.zeros(rel.m, dtype=bool)
    hi = np.ones(rel.m, dtype=bool)
    schedule = AscentSchedule(iterations=300, step=2.0, stall_limit=10)
    asc = rel.ascent(rel.start(), lo, hi, schedule, target=known)
    assert asc.bound <= known * (1 + 1e-9)
    assert asc.bound >= 0.9 * known  # a bound worth having, not just any number below
    # Any multipliers give a bound, e.g. random ones around the ascent's.
    rng = np.random.default_rng(0)
    for _ in range(5):
        u = asc.u * rng.uniform(0.5, 1.5, size=asc.u.shape)
        value, _ = rel.choose(rel.evaluate(u, hi).v, lo, hi)
        assert float(u.sum()) + value <= known * (1 + 1e-9)


@pytest.mark.parametrize(("seed", "unequal"), [(s, u) for s in range(3) for u in (False, True)])
def test_penalties_are_below_the_optimum_with_the_site_forced(seed: int, unequal: bool) -> None:
    problem = _single_type(seed)
    if not unequal:
        cap = float(problem.demand.sum()) / 3.0
        problem = problem.with_options(capacity=np.full((problem.num_sites, 1), cap))
    rel = SiteRelaxation(problem)
    assert rel.equal is not unequal
    lo = np.zeros(rel.m, dtype=bool)
    hi = np.ones(rel.m, dtype=bool)
    schedule = AscentSchedule(iterations=200, step=2.0, stall_limit=10)
    asc = rel.ascent(rel.start(), lo, hi, schedule, target=math.inf)
    pen = rel.penalties(asc.v, asc.y, lo, hi)
    assert (pen > 0).any()  # the check below is not vacuous
    for i in range(rel.m):
        chosen = asc.y[i] > 0.5
        forced = _highs_optimum(problem, closed=i) if chosen else _highs_optimum(problem, open_=i)
        assert asc.bound + pen[i] <= forced * (1 + 1e-9) + 1e-6


@pytest.mark.parametrize("name", ["cap41", "cap64", "cap74", "cap94", "cap113", "cap124", "cap134"])
def test_branch_and_bound_reaches_the_published_optimum(name: str) -> None:
    problem = read_orlib_cap(ORLIB / f"{name}.txt")
    known = OPTIMA[(name, None)]
    out = lagrangian_branch_and_bound(problem, GAP)
    assert out.status is SolveStatus.OPTIMAL
    assert out.objective == pytest.approx(known, rel=1e-9)
    assert out.bound <= known * (1 + 1e-9)
    assert out.objective - out.bound <= 1e-9 * out.objective * (1 + 1e-6)


@pytest.mark.parametrize(("seed", "rules"), RANDOM)
def test_branch_and_bound_agrees_with_the_highs_mip(seed: int, rules: dict[str, bool]) -> None:
    problem = _single_type(seed, **rules)
    mip = HighsSolver(build_matrix(problem).model).solve(highs_options(GAP))
    out = lagrangian_branch_and_bound(problem, GAP)
    assert out.status is mip.status
    if mip.status is SolveStatus.OPTIMAL:
        assert out.sites is not None
        assert out.objective == pytest.approx(mip.objective, rel=1e-7)
        assert out.bound <= mip.objective * (1 + 1e-7)
        if problem.budget_cny is not None:
            assert float(problem.fixed_cost_cny @ out.sites) <= problem.budget_cny * (1 + 1e-9)


def test_infeasible_capacity_is_reported() -> None:
    problem = _single_type(0)
    short = problem.with_options(
        capacity=np.full((problem.num_sites, 1), float(problem.demand.sum()) / 10.0)
    )
    out = lagrangian_branch_and_bound(short, GAP)
    assert out.status is SolveStatus.INFEASIBLE
    assert out.sites is None


def test_time_limit_keeps_a_valid_bound() -> None:
    problem = read_orlib_cap(ORLIB / "capb.txt", capacity=7000.0)
    known = OPTIMA[("capb", 7000.0)]
    out = lagrangian_branch_and_bound(problem, SolveOptions(mip_rel_gap=1e-9, time_limit_s=0.0))
    assert out.status is SolveStatus.FEASIBLE
    assert out.sites is not None
    assert out.bound <= known * (1 + 1e-9) <= out.objective * (1 + 2e-9)


def test_progress_reports_valid_bounds_and_cancel_before_start() -> None:
    problem = read_orlib_cap(ORLIB / "capb.txt", capacity=6000.0)
    known = OPTIMA[("capb", 6000.0)]
    seen: list[Progress] = []
    out = lagrangian_branch_and_bound(
        problem, SolveOptions(mip_rel_gap=1e-4, progress=seen.append, time_limit_s=120.0)
    )
    assert out.status is SolveStatus.OPTIMAL
    assert seen
    assert seen[-1].incumbent == pytest.approx(out.objective)
    incumbents = [p.incumbent for p in seen]
    assert incumbents == sorted(incumbents, reverse=True)
    assert all(p.bound <= known * (1 + 1e-9) <= p.incumbent * (1 + 1e-9) for p in seen)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        lagrangian_branch_and_bound(problem, SolveOptions(cancel=cancel))


def test_unreachable_park_is_infeasible_like_highs() -> None:
    base = _single_type(1)
    dist = np.array(base.distance_km, copy=True)
    dist[3] = 1000.0  # park 3 beyond every site's reach
    problem = base.with_options(distance_km=dist, max_distance_km=150.0)
    mip = HighsSolver(build_matrix(problem).model).solve(highs_options(GAP))
    assert mip.status is SolveStatus.INFEASIBLE
    out = lagrangian_branch_and_bound(problem, GAP)
    assert out.status is SolveStatus.INFEASIBLE
    assert out.sites is None
