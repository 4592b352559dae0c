"""Dispatch results: per-asset time series, cost and emission breakdowns, energy balance,
binding constraints, window reports and Parquet/JSON export.

The breakdowns are recomputed from the time series and the tariff, not read from the
solver's objective, so ``sum(costs) == objective`` is a check of the model, not a tautology.
Units: columns end in ``_mw``/``_mwth``/``_mwh``/``_cny``/``_t``; time is naive local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zone_opt.optimise.dispatch.assets import Park
from zone_opt.optimise.dispatch.diagnose import Conflict
from zone_opt.optimise.dispatch.inputs import HorizonInputs
from zone_opt.optimise.dispatch.structure import Structure
from zone_opt.optimise.solver import SolveStatus
from zone_opt.reports.exports import write_json

__all__ = ["BindingConstraint", "DispatchResult", "WindowReport", "extract_blocks"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class WindowReport:
    """One solve (the whole run, or one rolling window)."""

    index: int
    start: str
    hours: float
    status: SolveStatus
    objective_cny: float
    mip_gap: float
    build_s: float
    """Time outside HiGHS: cutting inputs, filling/updating the model, reading the solution."""
    solve_s: float
    """HiGHS's own run time."""
    speculative: bool = False
    """Solved in parallel from a predicted initial state that proved exact."""


@dataclass(frozen=True)
class BindingConstraint:
    """A constraint block with rows at a bound: how many, and the mean |dual| (LP only)."""

    name: str
    binding_rows: int
    total_rows: int
    mean_abs_dual: float | None


@dataclass
class DispatchResult:
    """The schedule of one run (monolithic or rolling) and what it costs and emits."""

    park: Park
    status: SolveStatus
    objective_cny: float
    mip_gap: float
    build_s: float
    solve_s: float
    wall_s: float
    timeseries: pd.DataFrame
    windows: list[WindowReport]
    binding: list[BindingConstraint] = field(default_factory=list)
    infeasibility: list[str] = field(default_factory=list)
    """When infeasible: one English sentence per conflict (never empty then)."""
    conflicts: list[Conflict] = field(default_factory=list)
    """When infeasible: the conflicting constraints with the data behind them."""
    message: str = ""

    @property
    def dt_h(self) -> float:
        idx = self.timeseries.index
        return float((idx[1] - idx[0]) / pd.Timedelta(hours=1)) if len(idx) > 1 else 1.0

    def cost_breakdown(self) -> dict[str, float]:
        """CNY per component over the run; sums to the objective (start-ups included)."""
        ts, park, dt = self.timeseries, self.park, self.dt_h
        if ts.empty or "grid.import_mw" not in ts:
            return {}
        cp = park.carbon.price_cny_per_t
        out: dict[str, float] = {
            "grid_energy_cny": float((ts["grid.import_mw"] * ts["price_cny_per_mwh"]).sum() * dt),
            "grid_carbon_cny": float(
                (ts["grid.import_mw"] * ts["intensity_t_per_mwh"]).sum() * dt * cp
            ),
            "export_revenue_cny": -float(
                (ts["grid.export_mw"] * ts["export_price_cny_per_mwh"]).sum() * dt
            ),
        }
        for c in park.chps:
            fuel = float(ts[f"{c.name}.fuel_mw"].sum() * dt)
            out[f"{c.name}.fuel_cny"] = fuel * c.fuel_cost_cny_per_mwh
            out[f"{c.name}.carbon_cny"] = fuel * c.emission_t_per_mwh * cp
            if c.committable:
                out[f"{c.name}.startup_cny"] = float(
                    ts[f"{c.name}.startup"].sum() * c.startup_cost_cny
                    + ts[f"{c.name}.shutdown"].sum() * c.shutdown_cost_cny
                )
        for b in park.boilers:
            fuel = float(ts[f"{b.name}.fuel_mw"].sum() * dt)
            out[f"{b.name}.fuel_cny"] = fuel * b.fuel_cost_cny_per_mwh
            out[f"{b.name}.carbon_cny"] = fuel * b.emission_t_per_mwh * cp
        for bat in park.batteries:
            out[f"{bat.name}.degradation_cny"] = float(
                ts[f"{bat.name}.discharge_mw"].sum() * dt * bat.discharge_cost_cny_per_mwh
            )
        s = park.slack
        out["unserved_cny"] = float(
            (ts["unserved.electricity_mw"].sum() + ts["unserved.heat_mwth"].sum())
            * dt
            * s.unserved_cost_cny_per_mwh
        )
        out["vent_cny"] = float(ts["heat.vent_mwth"].sum() * dt * s.vent_cost_cny_per_mwh)
        charge = park.grid.tariff.demand_charge_cny_per_mw
        if charge > 0:
            peaks = [
                float(ts["grid.import_mw"].iloc[_window_slice(w, ts)].max()) for w in self.windows
            ]
            out["demand_charge_cny"] = charge * sum(peaks)
        return out

    def emissions_breakdown(self) -> dict[str, float]:
        """tCO2 per source over the run."""
        ts, park, dt = self.timeseries, self.park, self.dt_h
        if ts.empty or "grid.import_mw" not in ts:
            return {}
        out = {"grid_t": float((ts["grid.import_mw"] * ts["intensity_t_per_mwh"]).sum() * dt)}
        for c in park.chps:
            out[f"{c.name}_t"] = float(ts[f"{c.name}.fuel_mw"].sum() * dt * c.emission_t_per_mwh)
        for b in park.boilers:
            out[f"{b.name}_t"] = float(ts[f"{b.name}.fuel_mw"].sum() * dt * b.emission_t_per_mwh)
        return out

    def energy_balance(self) -> dict[str, dict[str, float]]:
        """MWh (electricity) and MWh_th (heat) per source (+) and sink (-) over the run;
        each carrier's entries sum to zero up to solver tolerance."""
        ts, park, dt = self.timeseries, self.park, self.dt_h
        if ts.empty or "grid.import_mw" not in ts:
            return {}
        e: dict[str, float] = {}
        h: dict[str, float] = {}
        for r in park.renewables:
            e[r.name] = float(ts[f"{r.name}.output_mw"].sum() * dt)
        e["grid_import"] = float(ts["grid.import_mw"].sum() * dt)
        e["grid_export"] = -float(ts["grid.export_mw"].sum() * dt)
        for c in park.chps:
            e[c.name] = float(ts[f"{c.name}.electric_mw"].sum() * dt)
            h[c.name] = float(ts[f"{c.name}.heat_mwth"].sum() * dt)
        for b in park.boilers:
            h[b.name] = float(ts[f"{b.name}.heat_mwth"].sum() * dt)
        for bat in park.batteries:
            e[f"{bat.name}_discharge"] = float(ts[f"{bat.name}.discharge_mw"].sum() * dt)
            e[f"{bat.name}_charge"] = -float(ts[f"{bat.name}.charge_mw"].sum() * dt)
        for p in park.processes:
            e[p.name] = -float(ts[f"{p.name}.power_mw"].sum() * dt)
        e["unserved"] = float(ts["unserved.electricity_mw"].sum() * dt)
        e["load"] = -float(ts["load_mw"].sum() * dt)
        h["vent"] = -float(ts["heat.vent_mwth"].sum() * dt)
        h["unserved"] = float(ts["unserved.heat_mwth"].sum() * dt)
        h["load"] = -float(ts["heat_load_mwth"].sum() * dt)
        return {"electricity_mwh": e, "heat_mwh": h}

    def summary(self) -> dict[str, Any]:
        """The run's headline figures as JSON-able values (what ``summary.json`` holds)."""
        return {
            "park": self.park.name,
            "status": str(self.status),
            "objective_cny": self.objective_cny,
            "mip_gap": self.mip_gap,
            "build_s": self.build_s,
            "solve_s": self.solve_s,
            "wall_s": self.wall_s,
            "steps": len(self.timeseries),
            "windows": len(self.windows),
            "speculative_windows": sum(w.speculative for w in self.windows),
            "costs_cny": self.cost_breakdown(),
            "emissions_t": self.emissions_breakdown(),
            "energy_balance": self.energy_balance(),
            "binding_constraints": [b.__dict__ for b in self.binding],
            "infeasibility": self.infeasibility,
            "conflicts": [{**c.__dict__, "text": c.describe("en")} for c in self.conflicts],
            "message": self.message,
            "window_reports": [{**w.__dict__, "status": str(w.status)} for w in self.windows],
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``timeseries.parquet`` and ``summary.json`` into ``out``; returns the paths."""
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"timeseries": d / "timeseries.parquet", "summary": d / "summary.json"}
        frame = self.timeseries.copy()
        frame.index.name = "time"
        frame.to_parquet(paths["timeseries"])
        write_json(paths["summary"], self.summary())
        return paths


def _window_slice(w: WindowReport, ts: pd.DataFrame) -> slice:
    pos = int(ts.index.searchsorted(pd.Timestamp(w.start)))
    dt = (ts.index[1] - ts.index[0]) / pd.Timedelta(hours=1) if len(ts) > 1 else 1.0
    return slice(pos, pos + round(w.hours / dt))


def extract_blocks(structure: Structure, x: F64) -> dict[str, F64]:
    """Column values per named block (copies). O(columns)."""
    return {name: x[b.start : b.start + b.size].copy() for name, b in structure.cols.items()}


def timeseries(park: Park, inputs: HorizonInputs, blocks: dict[str, F64]) -> pd.DataFrame:
    """The per-step table of a run from its concatenated blocks and inputs."""
    n = inputs.n_steps
    cols: dict[str, F64] = {
        "load_mw": inputs.load_mw,
        "heat_load_mwth": inputs.heat_load_mwth,
        "price_cny_per_mwh": inputs.price_cny_per_mwh,
        "export_price_cny_per_mwh": inputs.export_price_cny_per_mwh,
        "intensity_t_per_mwh": inputs.intensity_t_per_mwh,
    }
    for k, r in enumerate(park.renewables):
        cols[f"{r.name}.available_mw"] = r.capacity_mw * inputs.cf[k]
        cols[f"{r.name}.output_mw"] = blocks[f"{r.name}.output"]
    cols["grid.import_mw"] = blocks["grid.import"]
    cols["grid.export_mw"] = blocks["grid.export"]
    for c in park.chps:
        g = blocks[f"{c.name}.fuel"]
        cols[f"{c.name}.fuel_mw"] = g
        cols[f"{c.name}.electric_mw"] = c.eta_electric * g
        cols[f"{c.name}.heat_mwth"] = c.eta_heat * g
        if c.committable:
            cols[f"{c.name}.on"] = np.round(blocks[f"{c.name}.on"])
            cols[f"{c.name}.startup"] = np.round(blocks[f"{c.name}.startup"], 9)
            cols[f"{c.name}.shutdown"] = np.round(blocks[f"{c.name}.shutdown"], 9)
    for b in park.boilers:
        cols[f"{b.name}.fuel_mw"] = blocks[f"{b.name}.fuel"]
        cols[f"{b.name}.heat_mwth"] = b.eta * blocks[f"{b.name}.fuel"]
    for bat in park.batteries:
        cols[f"{bat.name}.charge_mw"] = blocks[f"{bat.name}.charge"]
        cols[f"{bat.name}.discharge_mw"] = blocks[f"{bat.name}.discharge"]
        cols[f"{bat.name}.soc_mwh"] = blocks[f"{bat.name}.soc"]
    for k, p in enumerate(park.processes):
        cols[f"{p.name}.power_mw"] = blocks[f"{p.name}.power"]
        cols[f"{p.name}.window"] = inputs.window[k]
    cols["unserved.electricity_mw"] = blocks["unserved.electricity"]
    cols["unserved.heat_mwth"] = blocks["unserved.heat"]
    cols["heat.vent_mwth"] = blocks["heat.vent"]
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64)[:n] for k, v in cols.items()})
    frame.index = pd.DatetimeIndex(inputs.time, name="time")
    return frame


def binding_constraints(
    structure: Structure,
    row_activity: F64,
    row_lower: F64,
    row_upper: F64,
    row_dual: F64 | None,
    *,
    tol: float = 1e-7,
) -> list[BindingConstraint]:
    """Inequality row blocks with rows at a bound (equality blocks are always binding and
    skipped). With LP duals, a row counts only if its dual is non-zero. O(rows)."""
    out: list[BindingConstraint] = []
    for name, b in structure.rows.items():
        sl = slice(b.start, b.start + b.size)
        lo, hi, act = row_lower[sl], row_upper[sl], row_activity[sl]
        if np.array_equal(lo, hi):
            continue
        scale = 1.0 + np.abs(act)
        at = (np.abs(act - lo) <= tol * scale) | (np.abs(act - hi) <= tol * scale)
        dual = None
        if row_dual is not None:
            d = np.abs(row_dual[sl])
            at &= d > 1e-9
            dual = float(d[at].mean()) if at.any() else 0.0
        out.append(BindingConstraint(name, int(at.sum()), b.size, dual))
    return out
