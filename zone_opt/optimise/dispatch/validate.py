"""The dispatch layer's input rules, checked once at its edge.

:func:`validate_park` checks the assets against each other and the profile table (columns
present, numeric, finite and within the bounds of their kind,
``zone_opt.formats.dispatch.PROFILE_RULES``, naming column, row and time; capacities
finite and non-negative; efficiencies in (0, 1]; consistent
SoC bounds and unit states). :func:`validate_horizon` checks one horizon's arrays (lengths,
each shiftable process's daily energy fits its window). Every problem becomes a
``Violation`` naming the field (``chps[0].p_min_pu``, ``profiles.pv_cf``) and, for
per-step or per-day problems, the row. O(assets + profile cells).
"""

from __future__ import annotations

import difflib
import math
from typing import Any

import numpy as np
import pandas as pd

from zone_opt.errors import InvalidInputError, Violation, bounded
from zone_opt.formats.dispatch import PROFILE_RULES
from zone_opt.optimise.dispatch.assets import Battery, Chp, Park
from zone_opt.optimise.dispatch.inputs import HorizonInputs

__all__ = ["validate_horizon", "validate_park"]


def _nonneg(out: list[Violation], field: str, value: float | None) -> None:
    if value is not None and not (
        isinstance(value, int | float) and math.isfinite(value) and value >= 0
    ):
        out.append(Violation(field, None, f"must be a finite number >= 0, got {value!r}"))


def _eff(out: list[Violation], field: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0 < value <= 1):
        out.append(Violation(field, None, f"efficiency must be in (0, 1], got {value!r}"))


def _column(
    out: list[Violation],
    profiles: pd.DataFrame,
    field: str,
    column: str | None,
) -> None:
    """The profile column ``column`` (named by ``field``) exists, is numeric and every value
    is finite and within the bounds of its kind (:data:`PROFILE_RULES`)."""
    if column is None:
        return
    if column not in profiles.columns:
        names = [str(c) for c in profiles.columns]
        close = difflib.get_close_matches(str(column), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; columns: {', '.join(names)}"
        out.append(Violation(field, None, f"profile column {column!r} not in the profiles{hint}"))
        return
    rule = PROFILE_RULES[field.rsplit(".", 1)[-1]]
    raw = profiles[column]
    values: Any = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    text = np.isnan(values) & raw.notna().to_numpy()
    bad = ~np.isfinite(values) | (values < rule.low) | (values > rule.high)
    if not bad.any():
        return
    row = int(np.argmax(bad))
    at = f" at {profiles.index[row]}"
    more = int(bad.sum()) - 1
    also = f" ({more} more rows)" if more else ""
    if text[row]:
        reason = f"{bounded(repr(raw.iloc[row]), 40)}{at} is not a number"
    elif not np.isfinite(values[row]):
        reason = f"{values[row]}{at} is not a finite number"
    else:
        reason = f"{values[row]:g}{at} is outside {rule.describe()}"
    out.append(Violation(f"profiles.{column}", row, reason + also))


def validate_park(park: Park, profiles: pd.DataFrame) -> None:
    """Raise InvalidInputError listing every problem of ``park`` against ``profiles``."""
    out: list[Violation] = []
    _column(out, profiles, "load_column", park.load_column)
    _column(out, profiles, "heat_load_column", park.heat_load_column)
    _check_grid(out, park, profiles)
    _column(out, profiles, "carbon.intensity_column", park.carbon.intensity_column)
    _nonneg(out, "carbon.price_cny_per_t", park.carbon.price_cny_per_t)
    _nonneg(out, "carbon.cap_t", park.carbon.cap_t)
    _check_names(out, park)
    for i, r in enumerate(park.renewables):
        _nonneg(out, f"renewables[{i}].capacity_mw", r.capacity_mw)
        _column(out, profiles, f"renewables[{i}].cf_column", r.cf_column)
    for i, b in enumerate(park.batteries):
        _check_battery(out, f"batteries[{i}]", b)
    for i, c in enumerate(park.chps):
        _check_chp(out, f"chps[{i}]", c)
    for i, bo in enumerate(park.boilers):
        f = f"boilers[{i}]"
        for key in _BOILER_NONNEG:
            _nonneg(out, f"{f}.{key}", getattr(bo, key))
        _eff(out, f"{f}.eta", bo.eta)
    for i, p in enumerate(park.processes):
        f = f"processes[{i}]"
        _nonneg(out, f"{f}.energy_mwh_per_day", p.energy_mwh_per_day)
        _nonneg(out, f"{f}.power_mw", p.power_mw)
        _column(out, profiles, f"{f}.window_column", p.window_column)
    for key in _SLACK_NONNEG:
        _nonneg(out, f"slack.{key}", getattr(park.slack, key))
    err = InvalidInputError.collect(out)
    if err is not None:
        raise err


_BATTERY_NONNEG = (
    "energy_mwh",
    "charge_mw",
    "discharge_mw",
    "soc_min_mwh",
    "initial_soc_mwh",
    "standing_loss_per_h",
    "discharge_cost_cny_per_mwh",
)
_CHP_NONNEG = (
    "electric_mw",
    "fuel_cost_cny_per_mwh",
    "emission_t_per_mwh",
    "startup_cost_cny",
    "shutdown_cost_cny",
    "min_up_h",
    "min_down_h",
)
_BOILER_NONNEG = ("heat_mwth", "fuel_cost_cny_per_mwh", "emission_t_per_mwh")
_SLACK_NONNEG = (
    "unserved_cost_cny_per_mwh",
    "unserved_max_mw",
    "vent_max_mwth",
    "vent_cost_cny_per_mwh",
)


def _check_grid(out: list[Violation], park: Park, profiles: pd.DataFrame) -> None:
    """Grid limits and the tariff: a price column, or time-of-use periods covering the day."""
    g = park.grid
    _nonneg(out, "grid.import_max_mw", g.import_max_mw)
    _nonneg(out, "grid.export_max_mw", g.export_max_mw)
    _nonneg(out, "grid.tariff.demand_charge_cny_per_mw", g.tariff.demand_charge_cny_per_mw)
    if g.tariff.price_column is not None:
        _column(out, profiles, "grid.tariff.price_column", g.tariff.price_column)
        return
    covered = np.zeros(24, dtype=int)
    for h0, h1, _ in g.tariff.periods:
        if not 0 <= h0 < h1 <= 24:
            out.append(Violation("grid.tariff.periods", None, f"bad hours {h0}..{h1}"))
            continue
        covered[h0:h1] += 1
    if (covered != 1).any():
        out.append(Violation("grid.tariff.periods", None, "periods must cover 0..24 exactly once"))


def _check_names(out: list[Violation], park: Park) -> None:
    """Asset names are unique across every kind of asset."""
    names: list[str] = [
        a.name  # type: ignore[attr-defined]
        for a in (*park.renewables, *park.batteries, *park.chps, *park.boilers, *park.processes)
    ]
    for name in {n for n in names if names.count(n) > 1}:
        out.append(Violation("name", None, f"asset name {name!r} used twice"))


def _check_battery(out: list[Violation], f: str, b: Battery) -> None:
    """Non-negative sizes and costs, efficiencies, and consistent SoC bounds."""
    for key in _BATTERY_NONNEG:
        _nonneg(out, f"{f}.{key}", getattr(b, key))
    _eff(out, f"{f}.eta_charge", b.eta_charge)
    _eff(out, f"{f}.eta_discharge", b.eta_discharge)
    if not b.soc_min_mwh <= b.soc_upper_mwh <= max(b.energy_mwh, 0):
        out.append(Violation(f"{f}.soc_max_mwh", None, "need soc_min <= soc_max <= energy"))
    if not b.soc_min_mwh <= b.initial_soc_mwh <= b.soc_upper_mwh:
        out.append(Violation(f"{f}.initial_soc_mwh", None, "outside the SoC bounds"))
    if b.end_soc_min_mwh is not None and b.end_soc_min_mwh > b.soc_upper_mwh:
        out.append(Violation(f"{f}.end_soc_min_mwh", None, "above the SoC upper bound"))


def _check_chp(out: list[Violation], f: str, c: Chp) -> None:
    """Non-negative sizes, costs and times, efficiencies, minimum output, ramps, initial state."""
    for key in _CHP_NONNEG:
        _nonneg(out, f"{f}.{key}", getattr(c, key))
    _eff(out, f"{f}.eta_electric", c.eta_electric)
    if not (c.eta_heat >= 0 and c.eta_electric + c.eta_heat <= 1.0 + 1e-9):
        out.append(Violation(f"{f}.eta_heat", None, "need eta_heat >= 0, eta_e + eta_h <= 1"))
    if not 0 <= c.p_min_pu <= 1:
        out.append(Violation(f"{f}.p_min_pu", None, "must be in [0, 1]"))
    if c.p_min_pu > 0 and not c.committable:
        out.append(Violation(f"{f}.p_min_pu", None, "a minimum output needs committable"))
    _nonneg(out, f"{f}.ramp_pu_per_h", c.ramp_pu_per_h)
    _nonneg(out, f"{f}.startup_ramp_pu", c.startup_ramp_pu)
    _nonneg(out, f"{f}.shutdown_ramp_pu", c.shutdown_ramp_pu)
    s = c.initial
    if s.steps_in_state < 0:
        out.append(Violation(f"{f}.initial.steps_in_state", None, "must be >= 0"))
    if s.output_mw_fuel is not None and not 0 <= s.output_mw_fuel <= c.fuel_max_mw * (
        1 if s.is_on else 0
    ):
        out.append(Violation(f"{f}.initial.output_mw_fuel", None, "outside 0..P (0 if off)"))


def validate_horizon(park: Park, inputs: HorizonInputs) -> None:
    """Raise InvalidInputError if a horizon's arrays disagree in length or a process's daily
    energy cannot fit its window (row = the day's index within the horizon)."""
    out: list[Violation] = []
    n = inputs.n_steps
    arrays = {
        "heat_load_mwth": inputs.heat_load_mwth,
        "price_cny_per_mwh": inputs.price_cny_per_mwh,
        "export_price_cny_per_mwh": inputs.export_price_cny_per_mwh,
        "intensity_t_per_mwh": inputs.intensity_t_per_mwh,
        "period": inputs.period,
    }
    for name, arr in arrays.items():
        if arr.shape != (n,):
            out.append(Violation(f"profiles.{name}", None, f"length {arr.shape}, expected {n}"))
    if inputs.cf.shape != (len(park.renewables), n):
        out.append(Violation("profiles.cf", None, f"shape {inputs.cf.shape}"))
    if inputs.window.shape != (len(park.processes), n):
        out.append(Violation("profiles.window", None, f"shape {inputs.window.shape}"))
    if not np.isfinite(inputs.price_cny_per_mwh).all():
        out.append(
            Violation(
                "grid.tariff",
                int(np.argmin(np.isfinite(inputs.price_cny_per_mwh))),
                "no price for this step",
            )
        )
    if out:
        raise InvalidInputError(None, out)
    for k, p in enumerate(park.processes):
        room = np.bincount(
            inputs.period,
            weights=p.power_mw * inputs.window[k] * inputs.dt_h,
            minlength=inputs.n_periods,
        )
        need = p.energy_mwh_per_day * inputs.period_share[k]
        short = np.flatnonzero(room < need - 1e-9)
        for d in short[:10]:
            out.append(
                Violation(
                    f"processes[{k}].window_column",
                    int(d),
                    f"window allows {room[d]:g} MWh on day {d} of the horizon, "
                    f"the process needs {need[d]:g} MWh",
                )
            )
    err = InvalidInputError.collect(out)
    if err is not None:
        raise err
