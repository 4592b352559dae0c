"""The dispatch model written in pyomo: the readable reference and the users' extension point.

Same variables, constraints and objective as :mod:`zone_opt.optimise.dispatch.build`,
one named pyomo component per concern, built in the fixed order data -> variables ->
constraints -> objective. Add your own constraints to the returned ``ConcreteModel`` before
calling :func:`solve_pyomo`. Building is O(steps x assets) pyomo objects: fine for a week,
slow for a year (that is what the matrix builder is for).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from zone_opt.optimise.dispatch.assets import Park, UnitState
from zone_opt.optimise.dispatch.inputs import DispatchState, HorizonInputs
from zone_opt.optimise.dispatch.structure import _steps

__all__ = ["PyomoRun", "build_pyomo", "solve_pyomo"]


def build_pyomo(
    park: Park, inputs: HorizonInputs, state: DispatchState, *, plain: bool = False
) -> pyo.ConcreteModel:
    """A pyomo ``ConcreteModel`` of the dispatch over ``inputs`` from ``state``.

    ``plain``: the textbook unit commitment the reference's pyomo model uses (start-up and
    shut-down binary, transitions as two inequalities) instead of the tight 3-bin form
    (only ``u`` binary, ``u_t - u_{t-1} = su_t - sd_t``); same optimum, slower MILP.
    """
    m = pyo.ConcreteModel(name=park.name)
    m.T = pyo.RangeSet(0, inputs.n_steps - 1)
    _variables(m, park, inputs, plain)
    _balances(m, park, inputs)
    _storage(m, park, inputs, state)
    _processes(m, park, inputs)
    # CHPs: ramps (non-committable) and unit commitment (3-bin, only u integer).
    m.ramp = pyo.ConstraintList()
    m.uc = pyo.ConstraintList()
    for k, c in enumerate(park.chps):
        if c.committable:
            _unit_commitment(m, park, k, inputs.dt_h, state.units[k], plain=plain)
        elif c.ramp_pu_per_h is not None:
            _chp_ramp(m, k, c.ramp_pu_per_h * c.fuel_max_mw * inputs.dt_h, state.units[k])
    if inputs.carbon_cap_t is not None:
        _carbon_cap(m, park, inputs, inputs.carbon_cap_t)
    _objective(m, park, inputs)
    return m


def _committable(park: Park) -> list[int]:
    return [k for k, c in enumerate(park.chps) if c.committable]


def _variables(m: Any, park: Park, inputs: HorizonInputs, plain: bool) -> None:
    """Every variable with its bounds (and the demand charge's peak with its definition)."""
    n = inputs.n_steps
    bat_i = range(len(park.batteries))
    uc_i = _committable(park)
    m.ren = pyo.Var(
        range(len(park.renewables)),
        m.T,
        bounds=lambda _, r, t: (0, park.renewables[r].capacity_mw * inputs.cf[r, t]),
    )
    m.imp = pyo.Var(m.T, bounds=(0, park.grid.import_max_mw))
    m.exp = pyo.Var(m.T, bounds=(0, park.grid.export_max_mw))
    m.g = pyo.Var(range(len(park.chps)), m.T, bounds=lambda _, k, t: (0, park.chps[k].fuel_max_mw))
    m.b = pyo.Var(
        range(len(park.boilers)), m.T, bounds=lambda _, k, t: (0, park.boilers[k].fuel_max_mw)
    )
    m.ch = pyo.Var(bat_i, m.T, bounds=lambda _, k, t: (0, park.batteries[k].charge_mw))
    m.dis = pyo.Var(bat_i, m.T, bounds=lambda _, k, t: (0, park.batteries[k].discharge_mw))

    def soc_bounds(_: Any, k: int, t: int) -> tuple[float, float]:
        b = park.batteries[k]
        lo = b.soc_min_mwh
        if t == n - 1 and b.end_soc_min_mwh is not None:
            lo = max(lo, b.end_soc_min_mwh)
        return (lo, b.soc_upper_mwh)

    m.soc = pyo.Var(bat_i, m.T, bounds=soc_bounds)
    m.proc = pyo.Var(
        range(len(park.processes)),
        m.T,
        bounds=lambda _, k, t: (0, park.processes[k].power_mw * inputs.window[k, t]),
    )
    m.shed_e = pyo.Var(m.T, bounds=(0, park.slack.unserved_max_mw))
    m.shed_h = pyo.Var(m.T, bounds=(0, park.slack.unserved_max_mw))
    m.vent = pyo.Var(m.T, bounds=(0, park.slack.vent_max_mwth))
    m.u = pyo.Var(uc_i, m.T, within=pyo.Binary)
    m.su = pyo.Var(uc_i, m.T, within=pyo.Binary if plain else pyo.UnitInterval)
    m.sd = pyo.Var(uc_i, m.T, within=pyo.Binary if plain else pyo.UnitInterval)
    if park.grid.tariff.demand_charge_cny_per_mw > 0:
        m.peak = pyo.Var(bounds=(0, None))
        m.peak_def = pyo.Constraint(m.T, rule=lambda m, t: m.imp[t] <= m.peak)


def _balances(m: Any, park: Park, inputs: HorizonInputs) -> None:
    """Electricity and heat balances per step."""
    chp_i = range(len(park.chps))
    bat_i = range(len(park.batteries))
    m.balance_e = pyo.Constraint(
        m.T,
        rule=lambda m, t: (
            sum(m.ren[r, t] for r in range(len(park.renewables)))
            + m.imp[t]
            - m.exp[t]
            + sum(park.chps[k].eta_electric * m.g[k, t] for k in chp_i)
            + sum(m.dis[k, t] - m.ch[k, t] for k in bat_i)
            - sum(m.proc[k, t] for k in range(len(park.processes)))
            + m.shed_e[t]
            == float(inputs.load_mw[t])
        ),
    )
    m.balance_h = pyo.Constraint(
        m.T,
        rule=lambda m, t: (
            sum(park.chps[k].eta_heat * m.g[k, t] for k in chp_i)
            + sum(park.boilers[k].eta * m.b[k, t] for k in range(len(park.boilers)))
            - m.vent[t]
            + m.shed_h[t]
            == float(inputs.heat_load_mwth[t])
        ),
    )


def _storage(m: Any, park: Park, inputs: HorizonInputs, state: DispatchState) -> None:
    """Battery state of charge, from the carried SoC or cyclic."""
    n, dt = inputs.n_steps, inputs.dt_h

    def soc_rule(m: Any, k: int, t: int) -> Any:
        b = park.batteries[k]
        keep = 1.0 - b.standing_loss_per_h * dt
        if t > 0:
            prev = keep * m.soc[k, t - 1]
        elif state.is_cyclic(k):
            prev = keep * m.soc[k, n - 1]
        else:
            prev = keep * state.soc_mwh[k]
        return (
            m.soc[k, t]
            == prev + b.eta_charge * dt * m.ch[k, t] - dt / b.eta_discharge * m.dis[k, t]
        )

    m.storage = pyo.Constraint(range(len(park.batteries)), m.T, rule=soc_rule)


def _processes(m: Any, park: Park, inputs: HorizonInputs) -> None:
    """Shiftable processes: daily energy."""
    dt = inputs.dt_h
    m.D = pyo.RangeSet(0, inputs.n_periods - 1)
    m.process_energy = pyo.Constraint(
        range(len(park.processes)),
        m.D,
        rule=lambda m, k, d: (
            sum(dt * m.proc[k, t] for t in np.flatnonzero(inputs.period == d).tolist())
            == park.processes[k].energy_mwh_per_day * float(inputs.period_share[k, d])
        ),
    )


def _chp_ramp(m: Any, k: int, ramp_mw: float, init: UnitState) -> None:
    """A free-running CHP's ramp limits, the first relative to the carried output (if any)."""
    for t in m.T:
        prev = m.g[k, t - 1] if t > 0 else init.output_mw_fuel
        if prev is not None:
            m.ramp.add(pyo.inequality(-ramp_mw, m.g[k, t] - prev, ramp_mw))


def _unit_commitment(
    m: Any, park: Park, k: int, dt: float, init: UnitState, *, plain: bool
) -> None:
    """Capacity, transitions, minimum up/down times and ramps of committable CHP ``k``."""
    c = park.chps[k]
    cap = c.fuel_max_mw
    u_prev = 1.0 if init.is_on else 0.0
    g_prev = init.output_mw_fuel if init.is_on else 0.0
    mu, md = _steps(c.min_up_h, dt), _steps(c.min_down_h, dt)
    for t in m.T:
        up = m.u[k, t - 1] if t > 0 else u_prev
        m.uc.add(m.g[k, t] >= c.p_min_pu * cap * m.u[k, t])
        m.uc.add(m.g[k, t] <= cap * m.u[k, t])
        if plain:
            m.uc.add(m.su[k, t] >= m.u[k, t] - up)
            m.uc.add(m.sd[k, t] >= up - m.u[k, t])
        else:
            m.uc.add(m.u[k, t] - up == m.su[k, t] - m.sd[k, t])
        hist_up = 1 if (init.is_on and t < mu - init.steps_in_state) else 0
        hist_dn = 1 if (not init.is_on and t < md - init.steps_in_state) else 0
        m.uc.add(sum(m.su[k, t - j] for j in range(mu) if t - j >= 0) + hist_up <= m.u[k, t])
        m.uc.add(sum(m.sd[k, t - j] for j in range(md) if t - j >= 0) + hist_dn <= 1 - m.u[k, t])
        if c.ramp_pu_per_h is not None:
            r = c.ramp_pu_per_h * cap * dt
            gp = m.g[k, t - 1] if t > 0 else g_prev
            if gp is None:
                continue
            m.ramp.add(m.g[k, t] - gp <= r * up + c.startup_ramp_pu * cap * (m.u[k, t] - up))
            m.ramp.add(
                m.g[k, t] - gp >= -r * m.u[k, t] - c.shutdown_ramp_pu * cap * (up - m.u[k, t])
            )


def _carbon_cap(m: Any, park: Park, inputs: HorizonInputs, cap_t: float) -> None:
    """Emissions of grid import, CHPs and boilers over the horizon at most ``cap_t``."""
    n, dt = inputs.n_steps, inputs.dt_h
    m.carbon_cap = pyo.Constraint(
        expr=(
            sum(dt * float(inputs.intensity_t_per_mwh[t]) * m.imp[t] for t in range(n))
            + sum(
                dt * park.chps[k].emission_t_per_mwh * m.g[k, t]
                for k in range(len(park.chps))
                for t in range(n)
            )
            + sum(
                dt * park.boilers[k].emission_t_per_mwh * m.b[k, t]
                for k in range(len(park.boilers))
                for t in range(n)
            )
            <= cap_t
        )
    )


def _objective(m: Any, park: Park, inputs: HorizonInputs) -> None:
    """Cost (CNY): energy, fuel and carbon, storage wear, penalties, start-ups, demand charge."""
    n, dt = inputs.n_steps, inputs.dt_h
    cp = park.carbon.price_cny_per_t
    s = park.slack
    charge = park.grid.tariff.demand_charge_cny_per_mw
    m.cost = pyo.Objective(
        expr=(
            sum(
                dt
                * (float(inputs.price_cny_per_mwh[t]) + cp * float(inputs.intensity_t_per_mwh[t]))
                * m.imp[t]
                for t in range(n)
            )
            - sum(dt * float(inputs.export_price_cny_per_mwh[t]) * m.exp[t] for t in range(n))
            + sum(
                dt * (c.fuel_cost_cny_per_mwh + cp * c.emission_t_per_mwh) * m.g[k, t]
                for k, c in enumerate(park.chps)
                for t in range(n)
            )
            + sum(
                dt * (b.fuel_cost_cny_per_mwh + cp * b.emission_t_per_mwh) * m.b[k, t]
                for k, b in enumerate(park.boilers)
                for t in range(n)
            )
            + sum(
                dt * b.discharge_cost_cny_per_mwh * m.dis[k, t]
                for k, b in enumerate(park.batteries)
                for t in range(n)
            )
            + sum(dt * s.unserved_cost_cny_per_mwh * (m.shed_e[t] + m.shed_h[t]) for t in range(n))
            + sum(dt * s.vent_cost_cny_per_mwh * m.vent[t] for t in range(n))
            + sum(
                park.chps[k].startup_cost_cny * m.su[k, t]
                + park.chps[k].shutdown_cost_cny * m.sd[k, t]
                for k in _committable(park)
                for t in range(n)
            )
            + (charge * m.peak if charge > 0 else 0)
        ),
        sense=pyo.minimize,
    )


@dataclass(frozen=True)
class PyomoRun:
    """Objective (CNY), termination condition and timings of a pyomo solve."""

    objective_cny: float
    termination: str
    build_s: float
    solve_s: float
    model: pyo.ConcreteModel


def solve_pyomo(
    park: Park,
    inputs: HorizonInputs,
    state: DispatchState,
    *,
    mip_rel_gap: float = 1e-4,
    threads: int = 1,
    plain: bool = False,
) -> PyomoRun:
    """Build with :func:`build_pyomo` and solve with pyomo's HiGHS interface."""
    t0 = time.perf_counter()
    m = build_pyomo(park, inputs, state, plain=plain)
    t1 = time.perf_counter()
    solver = pyo.SolverFactory("highs")
    res = solver.solve(
        m, options={"mip_rel_gap": mip_rel_gap, "threads": threads, "random_seed": 1}
    )
    t2 = time.perf_counter()
    return PyomoRun(
        objective_cny=float(pyo.value(m.cost)),
        termination=str(res.solver.termination_condition),
        build_s=t1 - t0,
        solve_s=t2 - t1,
        model=m,
    )
