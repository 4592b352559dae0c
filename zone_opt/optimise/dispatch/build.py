"""The dispatch model of one window: its structure (:mod:`.structure`) filled with the
numbers that change between windows.

:func:`fill` computes the column bounds, row bounds and costs from the profiles and the
carried :class:`DispatchState`; a :class:`HighsSolver` then takes only the entries that
changed. :func:`build` gives the structure and the filled model of one horizon at once.

Complexity: O(steps x assets) time and memory; no Python loop over steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zone_opt.optimise.dispatch.assets import Park, UnitState
from zone_opt.optimise.dispatch.inputs import DispatchState, HorizonInputs
from zone_opt.optimise.dispatch.structure import (
    F64,
    ModelData,
    Structure,
    build_structure,
)
from zone_opt.optimise.solver import INF, MatrixModel

__all__ = ["build", "fill"]


@dataclass
class _Fill:
    """The bound and cost arrays of a :class:`ModelData` being filled, written by block name."""

    structure: Structure
    cost: F64
    lo: F64
    hi: F64
    rlo: F64
    rhi: F64

    @classmethod
    def empty(cls, structure: Structure) -> _Fill:
        return cls(
            structure,
            cost=np.zeros(structure.num_cols),
            lo=np.zeros(structure.num_cols),
            hi=np.full(structure.num_cols, INF),
            rlo=np.full(structure.num_rows, -INF),
            rhi=np.full(structure.num_rows, INF),
        )

    def put(self, arr: F64, name: str, values: F64 | float) -> None:
        b = self.structure.cols[name]
        arr[b.start : b.start + b.size] = values

    def rput(self, name: str, lower: F64 | float, upper: F64 | float) -> None:
        b = self.structure.rows[name]
        self.rlo[b.start : b.start + b.size] = lower
        self.rhi[b.start : b.start + b.size] = upper

    def row0(self, name: str) -> int:
        """The first row of block ``name`` (the one that carries the initial state)."""
        return self.structure.rows[name].start

    def data(self) -> ModelData:
        return ModelData(
            cost=self.cost,
            col_lower=self.lo,
            col_upper=self.hi,
            row_lower=self.rlo,
            row_upper=self.rhi,
        )


def fill(structure: Structure, inputs: HorizonInputs, state: DispatchState) -> ModelData:
    """Bounds and costs of ``structure`` for ``inputs`` starting from ``state``. O(columns)."""
    f = _Fill.empty(structure)
    park = structure.park
    _fill_supply(f, inputs)
    _fill_batteries(f, state)
    _fill_processes(f, inputs)
    _fill_slack_and_balances(f, inputs)
    for k, c in enumerate(park.chps):
        if c.committable:
            _fill_commitment(f, k, state.units[k])
        elif c.ramp_pu_per_h is not None:
            _fill_ramp(
                f, c.name, c.ramp_pu_per_h * c.fuel_max_mw * f.structure.dt_h, state.units[k]
            )
    if "carbon.cap" in structure.rows and inputs.carbon_cap_t is not None:
        f.rput("carbon.cap", -INF, inputs.carbon_cap_t)
    if "grid.peak" in structure.rows:
        f.rput("grid.peak", -INF, 0.0)
        f.put(f.cost, "grid.peak", park.grid.tariff.demand_charge_cny_per_mw)
    return f.data()


def _fill_supply(f: _Fill, inputs: HorizonInputs) -> None:
    """Renewable availability, grid limits and prices, fuel limits and costs (with carbon)."""
    park, dt = f.structure.park, f.structure.dt_h
    cp = park.carbon.price_cny_per_t
    for k, r in enumerate(park.renewables):
        f.put(f.hi, f"{r.name}.output", r.capacity_mw * inputs.cf[k])
    f.put(f.hi, "grid.import", park.grid.import_max_mw)
    f.put(f.cost, "grid.import", dt * (inputs.price_cny_per_mwh + cp * inputs.intensity_t_per_mwh))
    f.put(f.hi, "grid.export", park.grid.export_max_mw)
    f.put(f.cost, "grid.export", -dt * inputs.export_price_cny_per_mwh)
    for c in park.chps:
        f.put(f.hi, f"{c.name}.fuel", c.fuel_max_mw)
        f.put(f.cost, f"{c.name}.fuel", dt * (c.fuel_cost_cny_per_mwh + cp * c.emission_t_per_mwh))
    for bo in park.boilers:
        f.put(f.hi, f"{bo.name}.fuel", bo.fuel_max_mw)
        f.put(
            f.cost, f"{bo.name}.fuel", dt * (bo.fuel_cost_cny_per_mwh + cp * bo.emission_t_per_mwh)
        )


def _fill_batteries(f: _Fill, state: DispatchState) -> None:
    """Power and SoC limits, the end-of-horizon SoC floor, the initial SoC of acyclic ones."""
    park, n, dt = f.structure.park, f.structure.n_steps, f.structure.dt_h
    for k, b in enumerate(park.batteries):
        f.put(f.hi, f"{b.name}.charge", b.charge_mw)
        f.put(f.hi, f"{b.name}.discharge", b.discharge_mw)
        f.put(f.cost, f"{b.name}.discharge", dt * b.discharge_cost_cny_per_mwh)
        f.put(f.lo, f"{b.name}.soc", b.soc_min_mwh)
        f.put(f.hi, f"{b.name}.soc", b.soc_upper_mwh)
        if b.end_soc_min_mwh is not None:
            f.lo[f.structure.cols[f"{b.name}.soc"].start + n - 1] = max(
                b.soc_min_mwh, b.end_soc_min_mwh
            )
        f.rput(f"{b.name}.soc", 0.0, 0.0)
        if not f.structure.cyclic[k]:
            r0 = f.row0(f"{b.name}.soc")
            init = state.soc_mwh[k] * (1.0 - b.standing_loss_per_h * dt)
            f.rlo[r0] = f.rhi[r0] = init


def _fill_processes(f: _Fill, inputs: HorizonInputs) -> None:
    """Each shiftable process's power window and its energy per day."""
    for k, p in enumerate(f.structure.park.processes):
        f.put(f.hi, f"{p.name}.power", p.power_mw * inputs.window[k])
        energy = p.energy_mwh_per_day * inputs.period_share[k]
        f.rput(f"{p.name}.energy", energy, energy)


def _fill_slack_and_balances(f: _Fill, inputs: HorizonInputs) -> None:
    """Unserved energy and venting (limits, penalties) and the loads the balances meet."""
    s, dt = f.structure.park.slack, f.structure.dt_h
    f.put(f.hi, "unserved.electricity", s.unserved_max_mw)
    f.put(f.hi, "unserved.heat", s.unserved_max_mw)
    f.put(f.cost, "unserved.electricity", dt * s.unserved_cost_cny_per_mwh)
    f.put(f.cost, "unserved.heat", dt * s.unserved_cost_cny_per_mwh)
    f.put(f.hi, "heat.vent", s.vent_max_mwth)
    f.put(f.cost, "heat.vent", dt * s.vent_cost_cny_per_mwh)
    f.rput("balance.electricity", inputs.load_mw, inputs.load_mw)
    f.rput("balance.heat", inputs.heat_load_mwth, inputs.heat_load_mwth)


def _fill_ramp(f: _Fill, name: str, ramp_mw: float, unit: UnitState) -> None:
    """A free-running CHP's ramp rows; the first is relative to the carried output (if any)."""
    f.rput(f"{name}.ramp", -ramp_mw, ramp_mw)
    r0 = f.row0(f"{name}.ramp")
    if unit.output_mw_fuel is None:
        f.rlo[r0], f.rhi[r0] = -INF, INF
    else:
        f.rlo[r0], f.rhi[r0] = unit.output_mw_fuel - ramp_mw, unit.output_mw_fuel + ramp_mw


def _fill_commitment(f: _Fill, k: int, unit: UnitState) -> None:
    """A committable CHP's binaries, start-up/shut-down costs and the rows carrying its
    state before the horizon (on/off, time in that state, last output)."""
    c, n = f.structure.park.chps[k], f.structure.n_steps
    u_prev = 1.0 if unit.is_on else 0.0
    f.put(f.hi, f"{c.name}.on", 1.0)
    f.put(f.hi, f"{c.name}.startup", 1.0)
    f.put(f.hi, f"{c.name}.shutdown", 1.0)
    f.put(f.cost, f"{c.name}.startup", c.startup_cost_cny)
    f.put(f.cost, f"{c.name}.shutdown", c.shutdown_cost_cny)
    f.rput(f"{c.name}.capacity_min", 0.0, INF)
    f.rput(f"{c.name}.capacity_max", -INF, 0.0)
    f.rput(f"{c.name}.transition", 0.0, 0.0)
    r0 = f.row0(f"{c.name}.transition")
    f.rlo[r0] = f.rhi[r0] = u_prev
    t = np.arange(n)
    mu, md = f.structure.min_up_steps[k], f.structure.min_down_steps[k]
    hist_up = (t < mu - unit.steps_in_state) if unit.is_on else np.zeros(n, dtype=bool)
    hist_dn = (t < md - unit.steps_in_state) if not unit.is_on else np.zeros(n, dtype=bool)
    f.rput(f"{c.name}.min_up", -INF, -hist_up.astype(np.float64))
    f.rput(f"{c.name}.min_down", -INF, 1.0 - hist_dn.astype(np.float64))
    if c.ramp_pu_per_h is None:
        return
    cap = c.fuel_max_mw
    ramp = c.ramp_pu_per_h * cap * f.structure.dt_h
    sup, sdn = c.startup_ramp_pu * cap, c.shutdown_ramp_pu * cap
    f.rput(f"{c.name}.ramp_up", -INF, 0.0)
    f.rput(f"{c.name}.ramp_down", 0.0, INF)
    up0, dn0 = f.row0(f"{c.name}.ramp_up"), f.row0(f"{c.name}.ramp_down")
    g_prev = unit.output_mw_fuel if unit.is_on else 0.0
    if g_prev is None:
        f.rhi[up0], f.rlo[dn0] = INF, -INF
    else:
        f.rhi[up0] = g_prev + u_prev * (ramp - sup)
        f.rlo[dn0] = g_prev - sdn * u_prev


def build(park: Park, inputs: HorizonInputs, state: DispatchState) -> tuple[Structure, MatrixModel]:
    """Structure and filled model for one horizon (see :func:`build_structure`, :func:`fill`)."""
    structure = build_structure(park, inputs, state.cyclic or (False,) * len(park.batteries))
    data = fill(structure, inputs, state)
    m = structure.model
    model = MatrixModel(
        cost=data.cost,
        col_lower=data.col_lower,
        col_upper=data.col_upper,
        row_lower=data.row_lower,
        row_upper=data.row_upper,
        a_start=m.a_start,
        a_index=m.a_index,
        a_value=_with_cap(structure, inputs),
        integer=m.integer,
    )
    return structure, model


def _with_cap(structure: Structure, inputs: HorizonInputs) -> F64:
    """The matrix values with the carbon-cap row's import coefficients (data) filled in."""
    m = structure.model
    if "carbon.cap" not in structure.rows:
        return m.a_value
    values = m.a_value.copy()
    row = structure.rows["carbon.cap"].start
    imp = structure.cols["grid.import"]
    for t in range(structure.n_steps):
        j = imp.start + t
        seg = slice(int(m.a_start[j]), int(m.a_start[j + 1]))
        hit = np.flatnonzero(m.a_index[seg] == row)
        if hit.size:
            values[seg.start + int(hit[0])] = inputs.intensity_t_per_mwh[t] * inputs.dt_h
    return values
