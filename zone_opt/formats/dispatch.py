"""The dispatch scenario file (``datasets/sip_park_1/lp.yaml``): a park microgrid's assets,
grid tariff, carbon terms and the profile table they read.

Units are in the key names: power MW (``_mw``, thermal ``_mwth``, fuel input
``_mw_fuel``), energy MWh, money CNY, emissions tCO2, times in hours. The profile table
(CSV or Parquet, named by ``profiles``) is checked column by column against
:data:`PROFILE_RULES` when the scenario is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import model_validator
from pydantic_core import CoreSchema, core_schema

from zone_opt.formats.base import (
    MAX_CNY,
    MAX_MW,
    MAX_MWH,
    MAX_PRICE_CNY_PER_MWH,
    Choice,
    Flag,
    Format,
    Model,
    Quantity,
    Text,
    fail,
    show,
)

__all__ = ["DISPATCH", "PROFILE_RULES", "ProfileRule", "ScenarioFile"]

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _month_hint(value: object) -> str | None:
    """``'July' is not a month number; write 7`` for month names."""
    text = str(value).strip().lower()
    for number, name in enumerate(_MONTHS, start=1):
        if len(text) >= 3 and name.startswith(text):
            return f"{show(value)} is not a month number; write {number} ({name.title()})"
    return None


class _Shape:
    """A fixed-length list such as ``[0, 8, 300]``: the wrong length is one error saying
    what the items are, not one per missing item."""

    def __init__(self, items: str) -> None:
        self.items = items
        self.length = items.count(",") + 1

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        def check(value: object) -> object:
            if not isinstance(value, list | tuple) or len(value) != self.length:
                raise fail(f"must be [{self.items}], got {show(value)}")
            return value

        return core_schema.no_info_before_validator_function(check, handler(source))


Name = Annotated[str, Text(max_length=200)]
Column = Annotated[str, Text(max_length=200)]
Mw = Annotated[float, Quantity("MW", ge=0, le=MAX_MW)]
Mwth = Annotated[float, Quantity("MWth", ge=0, le=MAX_MW)]
FuelMw = Annotated[float, Quantity("MW fuel", ge=0, le=100 * MAX_MW)]
Mwh = Annotated[float, Quantity("MWh", ge=0, le=MAX_MWH)]
Price = Annotated[float, Quantity("CNY/MWh", ge=-MAX_PRICE_CNY_PER_MWH, le=MAX_PRICE_CNY_PER_MWH)]
Cost = Annotated[float, Quantity("CNY/MWh", ge=0, le=MAX_PRICE_CNY_PER_MWH)]
Cny = Annotated[float, Quantity("CNY", ge=0, le=MAX_CNY)]
Efficiency = Annotated[float, Quantity(gt=0, le=1)]
PerUnit = Annotated[float, Quantity("pu", ge=0, le=1)]
Hours = Annotated[float, Quantity("h", ge=0, le=8784)]
Emission = Annotated[float, Quantity("tCO2/MWh", ge=0, le=10)]
HourOfDay = Annotated[int, Quantity("h", ge=0, le=24, integer=True)]
Month = Annotated[int, Quantity(ge=1, le=12, integer=True, hint=_month_hint)]
Period = Annotated[
    tuple[HourOfDay, HourOfDay, Price], _Shape("start hour, end hour, price CNY/MWh")
]
HourRange = Annotated[tuple[HourOfDay, HourOfDay], _Shape("start hour, end hour")]


class UnitStateFile(Model):
    """A committable unit's status before the horizon starts."""

    is_on: Flag = False
    """On in the step before the horizon."""
    steps_in_state: Annotated[int, Quantity("steps", ge=0, le=10**9, integer=True)] = 10**6
    """Steps the unit has been in that status (>= the min up/down time: no carry-over)."""
    output_mw_fuel: FuelMw | None = None
    """Fuel input in the step before (null: no ramp limit at the first step)."""


class RenewableFile(Model):
    """A PV plant or wind farm (curtailable, free)."""

    name: Name
    """Unique asset name."""
    capacity_mw: Mw
    """Installed capacity."""
    cf_column: Column
    """Profile column of its capacity factor (0-1 per step)."""
    kind: Annotated[Literal["pv", "wind"], Choice()] = "pv"
    """Used for labels and charts only."""


class BatteryFile(Model):
    """A battery station."""

    name: Name
    """Unique asset name."""
    energy_mwh: Mwh
    """Usable energy capacity."""
    charge_mw: Mw
    """Largest charging power."""
    discharge_mw: Mw
    """Largest discharging power."""
    eta_charge: Efficiency = 0.95
    """Charging efficiency, in (0, 1]."""
    eta_discharge: Efficiency = 0.95
    """Discharging efficiency, in (0, 1]."""
    soc_min_mwh: Mwh = 0.0
    """Lowest state of charge."""
    soc_max_mwh: Mwh | None = None
    """Highest state of charge (null: energy_mwh)."""
    initial_soc_mwh: Mwh = 0.0
    """State of charge before the horizon (rolling runs start here)."""
    cyclic: Flag = False
    """One-shot runs end where they start."""
    end_soc_min_mwh: Mwh | None = None
    """Lowest state of charge at the end of a non-cyclic run."""
    standing_loss_per_h: Annotated[float, Quantity("1/h", ge=0, le=1)] = 0.0
    """Share of the stored energy lost per hour."""
    discharge_cost_cny_per_mwh: Cost = 0.0
    """Degradation cost per MWh discharged."""


class ChpFile(Model):
    """A gas CHP (or a gas engine with eta_heat 0), modelled on its fuel input."""

    name: Name
    """Unique asset name."""
    electric_mw: Mw
    """Rated electric output."""
    eta_electric: Efficiency
    """Electric efficiency, in (0, 1]."""
    eta_heat: PerUnit
    """Heat efficiency; eta_electric + eta_heat <= 1."""
    fuel_cost_cny_per_mwh: Cost
    """Per MWh of fuel input (LHV)."""
    emission_t_per_mwh: Emission
    """tCO2 per MWh of fuel input."""
    committable: Flag = False
    """Unit commitment (binary on/off, minimum output, up/down times)."""
    p_min_pu: PerUnit = 0.0
    """Minimum fuel input when on, per unit of rated fuel input (needs committable)."""
    min_up_h: Hours = 1.0
    """Minimum time on once started."""
    min_down_h: Hours = 1.0
    """Minimum time off once stopped."""
    startup_cost_cny: Cny = 0.0
    """Cost of each start."""
    shutdown_cost_cny: Cny = 0.0
    """Cost of each stop."""
    ramp_pu_per_h: Annotated[float, Quantity("pu/h", ge=0, le=60)] | None = None
    """Largest change of fuel input per hour, per unit of rated input (null: no limit)."""
    startup_ramp_pu: PerUnit = 1.0
    """Largest fuel input in the step a unit starts, per unit."""
    shutdown_ramp_pu: PerUnit = 1.0
    """Largest fuel input in the step before a unit stops, per unit."""
    initial: UnitStateFile | None = None
    """Status before the horizon (default: off for a long time)."""


class BoilerFile(Model):
    """A gas boiler."""

    name: Name
    """Unique asset name."""
    heat_mwth: Mwth
    """Rated heat output."""
    eta: Efficiency
    """Efficiency, in (0, 1]."""
    fuel_cost_cny_per_mwh: Cost
    """Per MWh of fuel input."""
    emission_t_per_mwh: Emission
    """tCO2 per MWh of fuel input."""


class ProcessFile(Model):
    """A flexible industrial load with a daily energy need inside a time window."""

    name: Name
    """Unique asset name."""
    energy_mwh_per_day: Mwh
    """Energy needed each calendar day."""
    power_mw: Mw
    """Largest power."""
    window_column: Column
    """Profile column of the allowed power share (0-1 per step; 0: not allowed)."""


class TariffFile(Model):
    """Grid energy price: a profile column, or a time-of-use calendar."""

    price_column: Column | None = None
    """Profile column of the price, CNY/MWh (overrides periods)."""
    periods: tuple[Period, ...] = ()
    """[start hour, end hour (exclusive), price CNY/MWh] covering 0-24 exactly once."""
    critical_peak_months: tuple[Month, ...] = ()
    """Months (1-12) with a critical peak."""
    critical_peak_hours: HourRange | None = None
    """[start hour, end hour] of the critical peak."""
    critical_peak_factor: Annotated[float, Quantity("x", ge=0, le=10)] = 1.2
    """Critical-peak price = factor x the period price."""
    demand_charge_cny_per_mw: Annotated[float, Quantity("CNY/MW", ge=0, le=1e7)] = 0.0
    """Charged on each horizon's (window's) peak import."""

    @model_validator(mode="after")
    def _hours_in_order(self) -> TariffFile:
        hours = self.critical_peak_hours
        if hours is not None and not hours[0] < hours[1]:
            raise fail(
                f"[{hours[0]}, {hours[1]}]: the start hour must be before the end hour",
                "critical_peak_hours",
            )
        return self


class GridFile(Model):
    """The grid connection."""

    import_max_mw: Mw
    """Largest import."""
    export_max_mw: Mw
    """Largest export."""
    export_price_cny_per_mwh: Price = 0.0
    """Paid for exported energy (negative: the park pays)."""
    tariff: TariffFile | None = None
    """The import price."""


class CarbonFile(Model):
    """Carbon accounting of the dispatch."""

    intensity_column: Column
    """Profile column of the grid's carbon intensity, tCO2/MWh."""
    price_cny_per_t: Annotated[float, Quantity("CNY/t", ge=0, le=1e5)] = 0.0
    """Carbon price."""
    cap_t: Annotated[float, Quantity("t", ge=0, le=1e9)] | None = None
    """Emission cap over the horizon (split across rolling windows by hours)."""


class SlackFile(Model):
    """Penalised unserved energy and heat venting."""

    unserved_cost_cny_per_mwh: Cost = 20000.0
    """Penalty per MWh of electricity or heat not served."""
    unserved_max_mw: Mw = 1000.0
    """Largest unserved power per step."""
    vent_max_mwth: Mwth = 1000.0
    """Largest heat vented per step."""
    vent_cost_cny_per_mwh: Cost = 0.0
    """Cost per MWh of heat vented."""


class ScenarioFile(Model):
    """A dispatch scenario: one park microgrid and its profile table."""

    name: Name | None = None
    """Scenario name (default: the file name)."""
    description: Annotated[str, Text(max_length=2000)] | None = None
    """Free text."""
    profiles: Annotated[str, Text(max_length=1000)] | None = None
    """The profile table, CSV (time first) or Parquet, relative to this file (required
    when the scenario is read from a file)."""
    resolution_min: Annotated[Literal[60, 15], Choice()] = 60
    """Model step, minutes (hourly profiles are repeated to 15 minutes)."""
    timezone: Annotated[str, Text(max_length=64)] | None = None
    """Time zone of the profile table's naive local times (informative)."""
    load_column: Column
    """Profile column of the electric load, MW."""
    heat_load_column: Column | None = None
    """Profile column of the heat load, MWth."""
    grid: GridFile
    """The grid connection and tariff."""
    carbon: CarbonFile
    """Carbon intensity, price and cap."""
    slack: SlackFile | None = None
    """Penalties of unserved energy and venting."""
    renewables: list[RenewableFile] | None = None
    """PV plants and wind farms."""
    batteries: list[BatteryFile] | None = None
    """Battery stations."""
    chps: list[ChpFile] | None = None
    """Gas CHPs."""
    boilers: list[BoilerFile] | None = None
    """Gas boilers."""
    processes: list[ProcessFile] | None = None
    """Shiftable industrial processes."""


class ProfileRule:
    """The bounds and unit of the profile columns a key names."""

    def __init__(self, low: float, high: float, unit: str, what: str) -> None:
        self.low, self.high, self.unit, self.what = low, high, unit, what

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.what}, [{self.low:g}, {self.high:g}]{unit}"


#: The bounds of each kind of profile column, by the key that names it.
PROFILE_RULES: dict[str, ProfileRule] = {
    "load_column": ProfileRule(-MAX_MW, MAX_MW, "MW", "electric load"),
    "heat_load_column": ProfileRule(0.0, MAX_MW, "MWth", "heat load"),
    "cf_column": ProfileRule(0.0, 1.0, "", "capacity factor"),
    "window_column": ProfileRule(0.0, 1.0, "", "process window"),
    "price_column": ProfileRule(
        -MAX_PRICE_CNY_PER_MWH, MAX_PRICE_CNY_PER_MWH, "CNY/MWh", "energy price"
    ),
    "intensity_column": ProfileRule(0.0, 10.0, "tCO2/MWh", "grid carbon intensity"),
}

#: The dispatch scenario format.
DISPATCH: Format[ScenarioFile] = Format(
    name="dispatch-scenario",
    model=ScenarioFile,
    title="dispatch scenario",
    label="scenario",
    example="datasets/sip_park_1/lp.yaml",
)
