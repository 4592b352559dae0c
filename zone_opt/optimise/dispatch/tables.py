"""Dispatch results as tables for people and spreadsheets: the hourly schedule, energy and
cost per day or month, costs and emissions by component, and the series the charts draw.

Every table is computed from :attr:`DispatchResult.timeseries` with the same formulas as
:meth:`DispatchResult.cost_breakdown`, so the daily and monthly sums equal the hourly
schedule's and the cost table equals the breakdown (tests check both). Energy columns end
in ``_mwh`` (heat too: MWh thermal), money in ``_cny``, emissions in ``_t`` (t CO2e).
O(steps x series).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zone_opt.optimise.dispatch.results import DispatchResult

__all__ = [
    "Series",
    "cost_table",
    "duration_curves",
    "energy_by_period",
    "heat_series",
    "hourly_costs",
    "power_series",
    "schedule",
]


@dataclass(frozen=True)
class Series:
    """One drawn flow: its time-series ``column``, a colour ``kind``, and its side.

    ``sign`` is +1 for supply (drawn above zero) and -1 for demand besides the load (drawn
    below zero); ``asset`` is the user's name, or "" for park-wide flows whose label comes
    from the report's catalogue under ``label``.
    """

    column: str
    kind: str
    sign: int
    asset: str = ""
    label: str = ""

    @property
    def energy_column(self) -> str:
        return energy_name(self.column)


def energy_name(column: str) -> str:
    """``"PV.output_mw"`` -> ``"PV.output_mwh"``; ``"CHP1.heat_mwth"`` -> ``"CHP1.heat_mwh"``."""
    if column.endswith("_mwth"):
        return column[: -len("_mwth")] + "_mwh"
    return column[: -len("_mw")] + "_mwh"


def power_series(result: DispatchResult) -> list[Series]:
    """Electricity flows: supply above zero, charging/export/processes below (legend order)."""
    park = result.park
    out = [Series(f"{r.name}.output_mw", r.kind, 1, r.name) for r in park.renewables]
    out += [Series(f"{c.name}.electric_mw", "chp", 1, c.name) for c in park.chps]
    out += [
        Series(f"{b.name}.discharge_mw", "battery_discharge", 1, b.name) for b in park.batteries
    ]
    out.append(Series("grid.import_mw", "grid_import", 1, label="grid_import"))
    out.append(Series("unserved.electricity_mw", "unserved", 1, label="unserved"))
    out += [Series(f"{b.name}.charge_mw", "battery_charge", -1, b.name) for b in park.batteries]
    out.append(Series("grid.export_mw", "grid_export", -1, label="grid_export"))
    out += [Series(f"{p.name}.power_mw", "process", -1, p.name) for p in park.processes]
    return out


def heat_series(result: DispatchResult) -> list[Series]:
    """Heat flows: CHP heat and boilers above zero, venting below (the model has no heat
    storage)."""
    park = result.park
    out = [Series(f"{c.name}.heat_mwth", "chp_heat", 1, c.name) for c in park.chps if c.eta_heat]
    out += [Series(f"{b.name}.heat_mwth", "boiler", 1, b.name) for b in park.boilers]
    out.append(Series("unserved.heat_mwth", "unserved", 1, label="unserved_heat"))
    out.append(Series("heat.vent_mwth", "heat_venting", -1, label="venting"))
    return out


def schedule(result: DispatchResult) -> pd.DataFrame:
    """The hourly schedule with ``time`` as a column (what the CSV and Excel hold)."""
    frame = result.timeseries.reset_index()
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M")
    return frame


def _energy_columns(ts: pd.DataFrame) -> list[str]:
    return [
        c
        for c in ts.columns
        if (c.endswith("_mw") or c.endswith("_mwth")) and not c.endswith(".available_mw")
    ]


def hourly_costs(result: DispatchResult) -> pd.DataFrame:
    """CNY per step and cost component, keyed like :meth:`DispatchResult.cost_breakdown`
    (its ``demand_charge_cny``, billed on each window's peak, has no hour and is left out)."""
    ts, park, dt = result.timeseries, result.park, result.dt_h
    cp = park.carbon.price_cny_per_t
    cols: dict[str, pd.Series] = {
        "grid_energy_cny": ts["grid.import_mw"] * ts["price_cny_per_mwh"] * dt,
        "grid_carbon_cny": ts["grid.import_mw"] * ts["intensity_t_per_mwh"] * dt * cp,
        "export_revenue_cny": -ts["grid.export_mw"] * ts["export_price_cny_per_mwh"] * dt,
    }
    for c in park.chps:
        fuel = ts[f"{c.name}.fuel_mw"] * dt
        cols[f"{c.name}.fuel_cny"] = fuel * c.fuel_cost_cny_per_mwh
        cols[f"{c.name}.carbon_cny"] = fuel * c.emission_t_per_mwh * cp
        if c.committable:
            cols[f"{c.name}.startup_cny"] = (
                ts[f"{c.name}.startup"] * c.startup_cost_cny
                + ts[f"{c.name}.shutdown"] * c.shutdown_cost_cny
            )
    for b in park.boilers:
        fuel = ts[f"{b.name}.fuel_mw"] * dt
        cols[f"{b.name}.fuel_cny"] = fuel * b.fuel_cost_cny_per_mwh
        cols[f"{b.name}.carbon_cny"] = fuel * b.emission_t_per_mwh * cp
    for bat in park.batteries:
        cols[f"{bat.name}.degradation_cny"] = (
            ts[f"{bat.name}.discharge_mw"] * dt * bat.discharge_cost_cny_per_mwh
        )
    s = park.slack
    unserved = ts["unserved.electricity_mw"] + ts["unserved.heat_mwth"]
    cols["unserved_cny"] = unserved * dt * s.unserved_cost_cny_per_mwh
    cols["vent_cny"] = ts["heat.vent_mwth"] * dt * s.vent_cost_cny_per_mwh
    return pd.DataFrame(cols, index=ts.index)


def energy_by_period(result: DispatchResult, freq: str) -> pd.DataFrame:
    """MWh per flow and CNY per cost component, per day (``freq="D"``) or month (``"MS"``).

    The first column, ``date`` or ``month``, names the period (``2025-01-06``, ``2025-01``).
    """
    ts, dt = result.timeseries, result.dt_h
    energy = ts[_energy_columns(ts)] * dt
    energy.columns = [energy_name(c) for c in energy.columns]
    frame = pd.concat([energy, hourly_costs(result)], axis=1)
    grouped = frame.groupby(ts.index.to_period("D" if freq == "D" else "M")).sum()
    name = "date" if freq == "D" else "month"
    grouped.index = grouped.index.astype(str)
    return grouped.rename_axis(name).reset_index()


def cost_table(result: DispatchResult) -> pd.DataFrame:
    """``item`` (the breakdown's key), ``cost_cny`` and ``co2e_t`` (emissions the item
    prices: grid carbon, each unit's fuel carbon) for every cost component."""
    costs = result.cost_breakdown()
    emissions = result.emissions_breakdown()
    co2: dict[str, float] = {"grid_carbon_cny": emissions.get("grid_t", 0.0)}
    for name in [u.name for u in result.park.chps] + [u.name for u in result.park.boilers]:
        co2[f"{name}.carbon_cny"] = emissions.get(f"{name}_t", 0.0)
    return pd.DataFrame(
        {
            "item": list(costs),
            "cost_cny": [float(v) for v in costs.values()],
            "co2e_t": [co2.get(k, np.nan) for k in costs],
        }
    )


def duration_curves(result: DispatchResult, points: int = 400) -> pd.DataFrame:
    """Load, grid import and net load (load minus renewables) sorted from highest to lowest,
    sampled to at most ``points`` per curve (always keeping the highest and the lowest):
    ``curve``, ``hours`` (hours at or above the value) and ``mw``."""
    ts, park, dt = result.timeseries, result.park, result.dt_h
    renewables = sum(
        (ts[f"{r.name}.output_mw"] for r in park.renewables), start=pd.Series(0.0, index=ts.index)
    )
    curves = {
        "load": ts["load_mw"],
        "grid_import": ts["grid.import_mw"],
        "net_load": ts["load_mw"] - renewables,
    }
    parts = []
    for name, values in curves.items():
        ordered = np.sort(values.to_numpy(dtype=np.float64))[::-1]
        n = ordered.size
        keep = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
        parts.append(pd.DataFrame({"curve": name, "hours": (keep + 1) * dt, "mw": ordered[keep]}))
    return pd.concat(parts, ignore_index=True)
