"""Park dispatch on SIP-PARK-1: objectives against the reference (PyPSA 1.4 / pyomo,
shared/reference/dispatch.md §4), schedule properties checked independently of the model,
rolling vs monolithic, pyomo vs matrix builder, infeasibility diagnosis."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zone_opt.optimise import HighsSolver, SolveOptions, SolveStatus
from zone_opt.optimise.dispatch import (
    DispatchOptions,
    DispatchResult,
    DispatchState,
    Scenario,
    dispatch,
    load_scenario,
)
from zone_opt.optimise.dispatch.build import build
from zone_opt.optimise.dispatch.pyomo_model import solve_pyomo
from zone_opt.optimise.dispatch.results import extract_blocks
from zone_opt.optimise.dispatch.scenario import tou_price
from zone_opt.optimise.dispatch.solve import next_state

DATA = Path(__file__).resolve().parent.parent / "datasets" / "sip_park_1"

# Reference objectives (CNY), PyPSA 1.4 = pyomo = highspy to 1e-14 (reference §4). Our
# profiles are the reference's CSV, rounded to 6 decimals: agreement is ~1e-7.
REF = {
    ("lp", 24): 474_481.4396,
    ("lp", 168): 3_225_743.6090,
    ("milp", 24): 509_734.5808,
    ("roll-lp", 672): 15_325_515.4738,
}
REL = 1e-6


@pytest.fixture(scope="module")
def lp() -> Scenario:
    return load_scenario(DATA / "lp.yaml")


@pytest.fixture(scope="module")
def milp() -> Scenario:
    return load_scenario(DATA / "milp.yaml")


# ---- independent checks of a returned schedule ------------------------------------------


def check_schedule(scenario: Scenario, result: DispatchResult, *, cyclic: bool) -> None:
    """Every physical rule, from the time series alone (not from the model's rows)."""
    park, ts, tol = scenario.park, result.timeseries, 1e-6
    dt = 1.0
    # Electricity and heat balances.
    supply = sum(ts[f"{r.name}.output_mw"] for r in park.renewables) + ts["grid.import_mw"]
    supply += sum(ts[f"{c.name}.electric_mw"] for c in park.chps)
    supply += sum(ts[f"{b.name}.discharge_mw"] - ts[f"{b.name}.charge_mw"] for b in park.batteries)
    supply += ts["unserved.electricity_mw"] - ts["grid.export_mw"]
    demand = ts["load_mw"] + sum(ts[f"{p.name}.power_mw"] for p in park.processes)
    assert np.abs(supply - demand).max() < 1e-5
    heat = sum(ts[f"{c.name}.heat_mwth"] for c in park.chps)
    heat += sum(ts[f"{b.name}.heat_mwth"] for b in park.boilers)
    heat += ts["unserved.heat_mwth"] - ts["heat.vent_mwth"]
    assert np.abs(heat - ts["heat_load_mwth"]).max() < 1e-5
    # Renewables within availability, grid within limits.
    for r in park.renewables:
        assert (ts[f"{r.name}.output_mw"] <= ts[f"{r.name}.available_mw"] + tol).all()
    assert (ts["grid.import_mw"] <= park.grid.import_max_mw + tol).all()
    assert (ts["grid.export_mw"] <= park.grid.export_max_mw + tol).all()
    # Battery: SoC bounds, power bounds, and the SoC recursion.
    for b in park.batteries:
        soc = ts[f"{b.name}.soc_mwh"].to_numpy()
        ch, dis = ts[f"{b.name}.charge_mw"].to_numpy(), ts[f"{b.name}.discharge_mw"].to_numpy()
        assert soc.min() >= b.soc_min_mwh - tol
        assert soc.max() <= b.soc_upper_mwh + tol
        assert ch.max() <= b.charge_mw + tol
        assert dis.max() <= b.discharge_mw + tol
        prev = np.concatenate([[soc[-1] if cyclic else b.initial_soc_mwh], soc[:-1]])
        expect = prev + b.eta_charge * dt * ch - dt / b.eta_discharge * dis
        assert np.abs(expect - soc).max() < 1e-5
    # Shiftable processes: zero outside the window, within power, daily energy met.
    for p in park.processes:
        power = ts[f"{p.name}.power_mw"]
        assert (power[ts[f"{p.name}.window"] == 0].abs() < tol).all()
        assert (power <= p.power_mw + tol).all()
        daily = power.groupby(ts.index.normalize()).sum() * dt
        assert np.allclose(daily, p.energy_mwh_per_day, atol=1e-5)
    # CHPs: capacity, ramps, min up/down (run lengths), start-up ramp.
    for c in park.chps:
        g = ts[f"{c.name}.fuel_mw"].to_numpy()
        cap = c.fuel_max_mw
        assert g.min() >= -tol
        assert g.max() <= cap + tol
        dg = np.diff(g)
        if not c.committable:
            if c.ramp_pu_per_h is not None:
                assert np.abs(dg).max() <= c.ramp_pu_per_h * cap + 1e-6
            continue
        on = ts[f"{c.name}.on"].to_numpy().astype(int)
        assert set(np.unique(on)) <= {0, 1}
        assert (g[on == 0] < tol).all()
        assert (g[on == 1] >= c.p_min_pu * cap - 1e-6).all()
        # run lengths: every on-run that starts and ends inside lasts >= min_up, every
        # off-run >= min_down (the first run continues the initial state: off for 24 h).
        runs = np.split(on, np.flatnonzero(np.diff(on)) + 1)
        for k, run in enumerate(runs):
            if k == len(runs) - 1:
                continue  # cut by the horizon's end
            if run[0] == 1:
                assert len(run) >= c.min_up_h
            elif k > 0:
                assert len(run) >= c.min_down_h
        # ramps while on for two steps: |dg| <= R P; at start-up g <= SU P.
        both = (on[1:] == 1) & (on[:-1] == 1)
        assert np.abs(dg[both]).max(initial=0.0) <= c.ramp_pu_per_h * cap + 1e-6  # type: ignore[operator]
        starts = np.flatnonzero((on[1:] == 1) & (on[:-1] == 0)) + 1
        assert (g[starts] <= c.startup_ramp_pu * cap + 1e-6).all()
        # start-up variables equal the 0->1 transitions (integral at the optimum)
        su = ts[f"{c.name}.startup"].to_numpy()
        first = np.concatenate([[on[0]], np.diff(on)]).clip(min=0)
        assert np.allclose(su, first, atol=1e-6)
    # Costs recomputed from the series equal the objective.
    assert sum(result.cost_breakdown().values()) == pytest.approx(result.objective_cny, rel=1e-8)


# ---- objectives against the reference ---------------------------------------------------


@pytest.mark.parametrize("hours", [24, 168])
def test_lp_objective_matches_reference(lp: Scenario, hours: int) -> None:
    result = dispatch(lp, "2025-07-14", hours)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective_cny == pytest.approx(REF[("lp", hours)], rel=REL)
    check_schedule(lp, result, cyclic=True)
    # LP duals: the balance rows are tight with non-zero prices, so they are not listed
    # (equalities) but the ramps of a CHP or the grid peak may be; the report is well-formed.
    assert all(b.binding_rows <= b.total_rows for b in result.binding)


def test_milp_24h_objective_and_schedule(milp: Scenario) -> None:
    result = dispatch(milp, "2025-07-14", 24, options=DispatchOptions(mip_rel_gap=1e-6))
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective_cny == pytest.approx(REF[("milp", 24)], rel=REL)
    check_schedule(milp, result, cyclic=True)
    assert result.timeseries["CHP1.on"].sum() > 0  # the CHPs do commit


def test_rolling_lp_matches_reference_and_fresh_builds(lp: Scenario) -> None:
    rolled = dispatch(lp, "2025-01-01", 672, rolling_h=168)
    assert rolled.status is SolveStatus.OPTIMAL
    assert len(rolled.windows) == 4
    assert rolled.objective_cny == pytest.approx(REF[("roll-lp", 672)], rel=REL)
    check_schedule(lp, rolled, cyclic=False)
    # The in-place-updated model gives what four freshly built windows give, state carried.
    state = DispatchState.initial(lp.park, one_shot=False)
    total = 0.0
    for w in range(4):
        start = pd.Timestamp("2025-01-01") + pd.Timedelta(hours=168 * w)
        inputs = lp.horizon(start, 168)
        structure, model = build(lp.park, inputs, state)
        sol = HighsSolver(model).solve(SolveOptions())
        assert sol.x is not None
        total += sol.objective
        state = next_state(lp.park, structure, extract_blocks(structure, sol.x), state)
    assert rolled.objective_cny == pytest.approx(total, rel=1e-9)
    # Speculative parallel windows change nothing.
    spec = dispatch(lp, "2025-01-01", 672, rolling_h=168, options=DispatchOptions(workers=2))
    assert spec.objective_cny == pytest.approx(rolled.objective_cny, rel=1e-9)


def test_rolling_with_one_window_is_monolithic(lp: Scenario) -> None:
    one = dispatch(lp, "2025-07-14", 48)
    rolled = dispatch(lp, "2025-07-14", 48, rolling_h=48)
    assert rolled.objective_cny == pytest.approx(one.objective_cny, rel=1e-12)


def test_rolling_milp_carries_commitment_state(milp: Scenario) -> None:
    result = dispatch(
        milp, "2025-07-14", 72, rolling_h=24, options=DispatchOptions(mip_rel_gap=1e-6)
    )
    assert result.status is SolveStatus.OPTIMAL
    assert len(result.windows) == 3
    # Min up/down and ramps hold across window boundaries (checked on the whole series).
    check_schedule(milp, result, cyclic=False)


def test_pyomo_reference_gives_the_same_optimum(lp: Scenario, milp: Scenario) -> None:
    for sc, mode in ((lp, "lp"), (milp, "milp")):
        inputs = sc.horizon("2025-07-14", 24)
        state = DispatchState.initial(sc.park, one_shot=True)
        ref = solve_pyomo(sc.park, inputs, state, mip_rel_gap=1e-6)
        ours = dispatch(sc, "2025-07-14", 24, options=DispatchOptions(mip_rel_gap=1e-6))
        assert ref.objective_cny == pytest.approx(ours.objective_cny, rel=1e-6), mode
        plain = solve_pyomo(sc.park, inputs, state, mip_rel_gap=1e-6, plain=True)
        assert plain.objective_cny == pytest.approx(ours.objective_cny, rel=1e-6), mode


def test_tou_calendar_reproduces_the_price_profile(lp: Scenario) -> None:
    frame = lp.profiles
    assert lp.park.grid.tariff.price_column is None
    price = tou_price(lp.park.grid.tariff, pd.DatetimeIndex(frame.index))
    np.testing.assert_allclose(price, frame["price"].to_numpy(), atol=1e-9)


def test_fifteen_minute_resolution_scales_energy(lp: Scenario) -> None:
    # Without ramp limits, an LP with hourly-constant data has the same optimum at 15 min
    # (average a 15-min schedule over each hour: feasible hourly, same cost; repeat an hourly
    # one: feasible at 15 min). So every dt factor (energy, SoC, costs) is checked at once.
    chps = tuple(replace(c, ramp_pu_per_h=None) for c in lp.park.chps)
    park = replace(lp.park, chps=chps)
    hourly = dispatch(Scenario.create(park, lp.profiles), "2025-07-14", 24)
    fine = dispatch(Scenario.create(park, lp.profiles, resolution_min=15), "2025-07-14", 24)
    assert len(fine.timeseries) == 96
    assert fine.objective_cny == pytest.approx(hourly.objective_cny, rel=1e-9)
    daily = fine.timeseries["Process.power_mw"].sum() * 0.25
    assert daily == pytest.approx(120.0, rel=1e-9)


def test_carbon_cap_and_demand_charge(lp: Scenario) -> None:
    base = dispatch(lp, "2025-07-14", 24)
    emitted = sum(base.emissions_breakdown().values())
    park = replace(lp.park, carbon=replace(lp.park.carbon, cap_t=emitted * 0.95))
    capped = dispatch(Scenario.create(park, lp.profiles), "2025-07-14", 24)
    assert capped.status is SolveStatus.OPTIMAL
    assert sum(capped.emissions_breakdown().values()) <= emitted * 0.95 + 1e-6
    assert capped.objective_cny >= base.objective_cny
    tariff = replace(lp.park.grid.tariff, demand_charge_cny_per_mw=5000.0)
    park = replace(lp.park, grid=replace(lp.park.grid, tariff=tariff))
    charged = dispatch(Scenario.create(park, lp.profiles), "2025-07-14", 24)
    peak = charged.timeseries["grid.import_mw"].max()
    assert peak <= base.timeseries["grid.import_mw"].max() + 1e-6
    assert sum(charged.cost_breakdown().values()) == pytest.approx(charged.objective_cny, rel=1e-8)


def test_infeasible_reports_conflicting_constraints(lp: Scenario) -> None:
    # No grid, no slack and a CHP-less park cannot meet the load at night.
    park = replace(
        lp.park,
        grid=replace(lp.park.grid, import_max_mw=0.0),
        slack=replace(lp.park.slack, unserved_max_mw=0.0),
        chps=(),
    )
    result = dispatch(Scenario.create(park, lp.profiles), "2025-07-14", 24)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.infeasibility
    assert any("balance.electricity" in name for name in result.infeasibility)
    assert any(c.constraint == "unserved.electricity" for c in result.conflicts)


def test_results_export(lp: Scenario, tmp_path: Path) -> None:
    result = dispatch(lp, "2025-07-14", 24)
    paths = result.write(tmp_path)
    back = pd.read_parquet(paths["timeseries"])
    assert len(back) == 24
    assert back["grid.import_mw"].to_numpy() == pytest.approx(
        result.timeseries["grid.import_mw"].to_numpy()
    )
    balance = result.energy_balance()
    assert abs(sum(balance["electricity_mwh"].values())) < 1e-4
    assert abs(sum(balance["heat_mwh"].values())) < 1e-4
