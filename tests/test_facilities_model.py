"""Facility location: OR-Library optima, pyomo vs the matrix builder, backends, bad input."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from zone_opt.cli import main
from zone_opt.errors import CancelledError, InvalidInputError
from zone_opt.optimise import SolveOptions, SolveStatus
from zone_opt.optimise.facilities import (
    FacilityProblem,
    build_matrix,
    read_orlib_cap,
    read_orlib_optima,
    solve_facilities,
)
from zone_opt.optimise.facilities.options import DEFAULT_OPTIONS, highs_options
from zone_opt.optimise.facilities.pyomo_model import build_pyomo, solve_pyomo
from zone_opt.optimise.facilities.scenario import load_scenarios
from zone_opt.optimise.solver import HighsSolver

sys.path.insert(0, str(Path(__file__).parent))
from facilities_data import ORLIB, random_problem

OPTIMA = read_orlib_optima(ORLIB / "capopt.txt")


def test_optima_file_parsed() -> None:
    assert len(OPTIMA) == 37 + 12
    assert OPTIMA[("cap41", None)] == 1040444.375
    assert OPTIMA[("capc", 7250.0)] == 11505767.394


@pytest.mark.parametrize("name", ["cap41", "cap64", "cap71", "cap92", "cap131"])
@pytest.mark.parametrize("backend", ["highs", "scip"])
def test_orlib_split_optimum(name: str, backend: str) -> None:
    problem = read_orlib_cap(ORLIB / f"{name}.txt")
    plan = solve_facilities(problem, backend=backend)
    known = OPTIMA[(name, None)]
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.objective_cny == pytest.approx(known, rel=1e-9)
    assert plan.cost is not None
    assert plan.cost.total_cny == pytest.approx(plan.objective_cny, rel=1e-9)
    _check_plan_feasible(problem, plan.open_sites, plan.assignments)


@pytest.mark.parametrize(
    ("name", "optimum"), [("cap64", 1053197.438), ("cap92", 858109.325), ("cap131", 793439.562)]
)
def test_orlib_single_source_optimum(name: str, optimum: float) -> None:
    # Full-precision single-source optima (published to 7 digits by Guastaroba & Speranza).
    problem = read_orlib_cap(ORLIB / f"{name}.txt", single_source=True)
    plan = solve_facilities(problem)
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.objective_cny == pytest.approx(optimum, rel=1e-6)
    served = {(a.demand_id, a.facility_type) for a in plan.assignments}
    assert len(served) == len(plan.assignments) == problem.num_demand  # one site each


def test_single_source_infeasible_names_the_demand() -> None:
    problem = read_orlib_cap(ORLIB / "cap41.txt", single_source=True)
    plan = solve_facilities(problem)
    assert plan.status is SolveStatus.INFEASIBLE
    too_big = {problem.demand_ids[j] for j in np.flatnonzero(problem.demand[:, 0] > 5000)}
    assert {u.demand_id for u in plan.unmet} == too_big
    assert all("single sourcing" in u.reason for u in plan.unmet)


def test_capacity_shortage_reports_unmet_units() -> None:
    p = random_problem(3, types=1)
    short = p.with_options(capacity=p.capacity * 0 + p.demand.sum() / (2 * p.num_sites))
    plan = solve_facilities(short)
    assert plan.status is SolveStatus.INFEASIBLE
    unmet = sum(u.unmet_units for u in plan.unmet)
    assert unmet == pytest.approx(p.demand.sum() / 2, rel=1e-6)  # half the demand fits
    assert all("total capacity" in u.reason for u in plan.unmet)


def test_distance_limit_names_unreachable_park() -> None:
    p = random_problem(5, types=1)
    far = p.distance_km.copy()  # type: ignore[union-attr]
    far[2] = 500.0
    limited = p.with_options(distance_km=far, max_distance_km=200.0)
    plan = solve_facilities(limited)
    assert plan.status is SolveStatus.INFEASIBLE
    assert [u.demand_id for u in plan.unmet] == ["p2"]


@pytest.mark.parametrize("seed", range(6))
def test_pyomo_and_matrix_builder_agree(seed: int) -> None:
    problem = random_problem(
        seed, single_source=seed % 2 == 1, budget=seed % 3 == 0, max_distance=seed % 3 == 1
    )
    plan = solve_facilities(problem, options=SolveOptions(mip_rel_gap=1e-9))
    if plan.status is SolveStatus.INFEASIBLE:
        with pytest.raises(Exception, match="no solution"):
            solve_pyomo(build_pyomo(problem), mip_rel_gap=1e-9)
        return
    assert plan.status is SolveStatus.OPTIMAL
    objective, _ = solve_pyomo(build_pyomo(problem), mip_rel_gap=1e-9)
    assert plan.objective_cny == pytest.approx(objective, rel=1e-7)
    scip = solve_facilities(problem, backend="scip", options=SolveOptions(mip_rel_gap=1e-9))
    assert scip.objective_cny == pytest.approx(objective, rel=1e-7)
    _check_plan_feasible(problem, plan.open_sites, plan.assignments)


def _check_plan_feasible(problem: FacilityProblem, open_sites, assignments) -> None:  # type: ignore[no-untyped-def]
    """Plain re-check: demand met, capacity kept, only open sites used, limits kept."""
    site = {s: i for i, s in enumerate(problem.site_ids)}
    park = {d: j for j, d in enumerate(problem.demand_ids)}
    typ = {t: k for k, t in enumerate(problem.facility_types)}
    served = np.zeros_like(problem.demand)
    load = np.zeros_like(problem.capacity)
    for a in assignments:
        assert a.site_id in open_sites
        served[park[a.demand_id], typ[a.facility_type]] += a.amount
        load[site[a.site_id], typ[a.facility_type]] += a.amount
    assert np.allclose(served, problem.demand, rtol=1e-6, atol=1e-6)
    assert np.all(load <= problem.capacity * (1 + 1e-9) + 1e-6)
    if problem.budget_cny is not None:
        fixed = sum(problem.fixed_cost_cny[site[s]] for s in open_sites)
        assert fixed <= problem.budget_cny + 1e-6


def test_matrix_builder_shapes() -> None:
    problem = random_problem(1, max_distance=True)
    fm = build_matrix(problem)
    reach = problem.reachable()
    expected = sum(
        1
        for j in range(problem.num_demand)
        for i in range(problem.num_sites)
        for t in range(problem.num_types)
        if problem.demand[j, t] > 0 and problem.capacity[i, t] > 0 and reach[j, i]
    )
    assert fm.num_arcs == expected
    assert fm.model.num_cols == problem.num_sites + expected


def _base(**changes: object) -> FacilityProblem:
    return random_problem(0).with_options(**changes)


def test_negative_demand_names_the_field() -> None:
    demand = random_problem(0).demand.copy()
    demand[3, 1] = -1.0
    with pytest.raises(InvalidInputError) as err:
        _base(demand=demand)
    assert [(v.field, v.row) for v in err.value.violations] == [("demand", 3)]


def test_type_without_capacity_names_the_field() -> None:
    capacity = random_problem(0).capacity.copy()
    capacity[:, 1] = 0.0
    with pytest.raises(InvalidInputError) as err:
        _base(capacity=capacity)
    assert err.value.violations[0].field == "capacity"
    assert "'t1'" in err.value.violations[0].reason


def test_duplicate_ids_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as err:
        _base(site_ids=("s0", "s1", "s2", "s1", "s4"))
    assert [(v.field, v.row) for v in err.value.violations] == [("site_ids", 3)]


def test_shape_and_distance_rules() -> None:
    with pytest.raises(InvalidInputError) as err:
        _base(fixed_cost_cny=np.ones(3), distance_km=None, max_distance_km=10.0)
    assert {v.field for v in err.value.violations} == {"fixed_cost_cny", "distance_km"}


def test_reader_rejects_bad_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "cap.txt"
    bad.write_text("2 1\n10 5\n10 5\n3 1.0\n")
    with pytest.raises(InvalidInputError, match="tokens"):
        read_orlib_cap(bad)
    with pytest.raises(InvalidInputError, match="capacity="):
        read_orlib_cap(ORLIB / "capa.txt")


def test_cancel_before_start_and_time_limit() -> None:
    problem = read_orlib_cap(ORLIB / "cap41.txt")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        solve_facilities(problem, options=SolveOptions(cancel=cancel))
    with pytest.raises(CancelledError):
        solve_facilities(problem, backend="scip", options=SolveOptions(cancel=cancel))


def test_highs_presolve_workaround() -> None:
    """highspy 1.14's parallel-columns presolve rule returns a wrong optimum here; the
    facility layer switches it off. SCIP is the independent reference."""
    example = Path(__file__).resolve().parents[1] / "datasets/facilities/example_scenario.yaml"
    _, scenarios = load_scenarios(example)
    (within,) = [s for s in scenarios if s.name == "within 15 km"]
    ours = solve_facilities(within.problem)
    scip = solve_facilities(within.problem, backend="scip")
    assert ours.objective_cny == pytest.approx(scip.objective_cny, rel=1e-6)
    # The HiGHS MIP itself (the splittable path only reaches it past the site search's node
    # limit) with the workaround options.
    mip = HighsSolver(build_matrix(within.problem).model).solve(highs_options(DEFAULT_OPTIONS))
    assert mip.objective == pytest.approx(scip.objective_cny, rel=1e-6)
    objective, _ = solve_pyomo(build_pyomo(within.problem))
    assert objective == pytest.approx(scip.objective_cny, rel=1e-6)


@pytest.mark.parametrize("name", ["cap113", "cap131"])
def test_decomposition_backend_reaches_the_optimum(name: str) -> None:
    problem = read_orlib_cap(ORLIB / f"{name}.txt")
    plan = solve_facilities(problem, backend="decompose")
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.objective_cny == pytest.approx(OPTIMA[(name, None)], rel=1e-9)
    assert plan.bound_cny <= plan.objective_cny * (1 + 1e-12)
    _check_plan_feasible(problem, plan.open_sites, plan.assignments)


def test_decomposition_fallback_for_several_types() -> None:
    problem = random_problem(2, parks=9, sites=6, types=2)
    direct = solve_facilities(problem, options=SolveOptions(mip_rel_gap=1e-9))
    lazy = solve_facilities(problem, backend="decompose", options=SolveOptions(mip_rel_gap=1e-9))
    assert lazy.objective_cny == pytest.approx(direct.objective_cny, rel=1e-7)


@pytest.mark.parametrize("command", [["facilities"], ["plan", "facilities"]])
def test_cli_writes_the_report(
    tmp_path: Path, command: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    example = Path(__file__).resolve().parents[1] / "datasets/facilities/example_scenario.yaml"
    assert main([*command, str(example), "--out", str(tmp_path)]) == 0
    deprecated = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(deprecated) == (command[0] == "plan")  # the old spelling warns, once
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    _, scenarios = load_scenarios(example)
    for sc in scenarios:
        assert f"## {sc.name}" in md
    assert "## joint plan: cost shares" in md
    assert "Recommended: " in md
    assert "Demand that cannot be met" in md  # the too-small budget scenario
    # charts are Vega-Lite specs drawn by the page (no hand-written SVG): the scenario costs,
    # and a map and the cost shares per scenario with a plan
    assert page.count('<div id="chart-') == 1 + 2 * 3
    assert "<svg" not in re.sub(r"<script\b.*?</script>", "", page, flags=re.S)
    assert len(list((tmp_path / "charts").glob("report-*.png"))) == 1 + 2 * 3
    assert (tmp_path / "facilities.xlsx").is_file()
