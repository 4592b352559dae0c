"""The park's assets, tariffs and carbon terms as typed, immutable data.

Units: power MW (electric ``_mw``, thermal ``_mwth``, fuel input ``_mw_fuel``), energy MWh,
money CNY, emissions tCO2, time in hours (converted to steps by the model's resolution).
Profiles (capacity factors, loads, prices, carbon intensity, process windows) are not held
here: they are columns of the scenario's profile table, named by ``*_column`` fields.
Validation of values happens once, in :func:`zone_opt.optimise.dispatch.validate.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Battery",
    "Boiler",
    "Carbon",
    "Chp",
    "Grid",
    "Park",
    "Renewable",
    "ShiftableProcess",
    "Slack",
    "Tariff",
    "UnitState",
]


@dataclass(frozen=True)
class Renewable:
    """A PV plant or wind farm: output ``0 <= p_t <= capacity_mw * cf_t`` (curtailable, free)."""

    name: str
    capacity_mw: float
    cf_column: str
    kind: str = "pv"
    """``pv`` or ``wind``: only used for labelling and charts."""


@dataclass(frozen=True)
class Battery:
    """A battery station: power and energy limits, efficiencies, SoC bounds and end state.

    ``soc_t = soc_{t-1}·(1 - loss·dt) + eta_charge·dt·ch_t - dt/eta_discharge·dis_t``
    (``loss`` = ``standing_loss_per_h``).
    One-shot runs are cyclic (``soc_{-1} = soc_{T-1}``) when ``cyclic``; otherwise, and in
    every rolling window, ``soc_{-1}`` is ``initial_soc_mwh`` (or the carried state) and the
    end is free above ``end_soc_min_mwh``.
    """

    name: str
    energy_mwh: float
    charge_mw: float
    discharge_mw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    soc_min_mwh: float = 0.0
    soc_max_mwh: float | None = None
    """Upper SoC bound (None: ``energy_mwh``)."""
    initial_soc_mwh: float = 0.0
    cyclic: bool = False
    end_soc_min_mwh: float | None = None
    standing_loss_per_h: float = 0.0
    discharge_cost_cny_per_mwh: float = 0.0
    """Degradation cost per MWh discharged."""

    @property
    def soc_upper_mwh(self) -> float:
        return self.energy_mwh if self.soc_max_mwh is None else self.soc_max_mwh


@dataclass(frozen=True)
class UnitState:
    """A committable unit's status before the horizon starts.

    ``is_on``: status in the step before the horizon; ``steps_in_state``: how many steps it has
    been in that status (>= the min up/down time means no carry-over constraint);
    ``output_mw_fuel``: fuel input in the step before (None: no ramp limit at t = 0, the
    one-shot LP convention; a unit that is off is at 0).
    """

    is_on: bool = False
    steps_in_state: int = 10**6
    output_mw_fuel: float | None = None


@dataclass(frozen=True)
class Chp:
    """A gas CHP (or gas engine with ``eta_heat = 0``), modelled on its fuel input ``g``.

    Electric output ``eta_electric·g``, heat ``eta_heat·g`` (fixed heat-to-power ratio
    ``eta_heat/eta_electric``). Rated fuel input ``P = electric_mw / eta_electric``. When
    ``committable``: ``p_min_pu·P·u <= g <= P·u`` with binary status ``u``, min up/down times,
    start-up cost and the start-up/shut-down ramp limits; otherwise ``0 <= g <= P``.
    ``ramp_pu_per_h`` (per unit of P per hour; None: no limit) applies in both cases.
    """

    name: str
    electric_mw: float
    eta_electric: float
    eta_heat: float
    fuel_cost_cny_per_mwh: float
    """Per MWh of fuel input (LHV)."""
    emission_t_per_mwh: float
    """tCO2 per MWh of fuel input."""
    committable: bool = False
    p_min_pu: float = 0.0
    min_up_h: float = 1.0
    min_down_h: float = 1.0
    startup_cost_cny: float = 0.0
    shutdown_cost_cny: float = 0.0
    ramp_pu_per_h: float | None = None
    startup_ramp_pu: float = 1.0
    shutdown_ramp_pu: float = 1.0
    initial: UnitState = field(default_factory=UnitState)

    @property
    def fuel_max_mw(self) -> float:
        return self.electric_mw / self.eta_electric


@dataclass(frozen=True)
class Boiler:
    """A gas boiler: heat ``eta·b`` from fuel input ``0 <= b <= heat_mwth / eta``."""

    name: str
    heat_mwth: float
    eta: float
    fuel_cost_cny_per_mwh: float
    emission_t_per_mwh: float

    @property
    def fuel_max_mw(self) -> float:
        return self.heat_mwth / self.eta


@dataclass(frozen=True)
class ShiftableProcess:
    """A flexible industrial load: ``energy_mwh`` per calendar day, at ``0..power_mw``,
    only in steps where ``window_column`` is > 0 (its value scales the power: a profile).

    A horizon that covers only part of a day is asked for the share of the day's energy
    equal to the share of the day's window it covers.
    """

    name: str
    energy_mwh_per_day: float
    power_mw: float
    window_column: str


@dataclass(frozen=True)
class Tariff:
    """Grid energy price: ``price_column`` of the profiles (CNY/MWh), or, when that is None,
    the time-of-use calendar ``periods`` (hour ranges -> price) with a critical peak."""

    price_column: str | None = None
    periods: tuple[tuple[int, int, float], ...] = ()
    """(start hour, end hour exclusive, CNY/MWh), covering 0..24."""
    critical_peak_months: tuple[int, ...] = ()
    critical_peak_hours: tuple[int, int] | None = None
    critical_peak_factor: float = 1.2
    """Critical-peak price = factor x the period price at those hours."""
    demand_charge_cny_per_mw: float = 0.0
    """Charged on the horizon's (each window's) peak import."""


@dataclass(frozen=True)
class Grid:
    """Grid connection: import and export limits and the export price."""

    import_max_mw: float
    export_max_mw: float
    export_price_cny_per_mwh: float = 0.0
    tariff: Tariff = field(default_factory=Tariff)


@dataclass(frozen=True)
class Carbon:
    """Carbon accounting: hourly grid intensity column (tCO2/MWh), a price and an optional cap.

    The cap (tCO2 over the horizon) is split across rolling windows in proportion to hours.
    """

    intensity_column: str
    price_cny_per_t: float = 0.0
    cap_t: float | None = None


@dataclass(frozen=True)
class Slack:
    """Penalised unserved electricity and heat, and heat venting."""

    unserved_cost_cny_per_mwh: float = 20000.0
    unserved_max_mw: float = 1000.0
    vent_max_mwth: float = 1000.0
    vent_cost_cny_per_mwh: float = 0.0


@dataclass(frozen=True)
class Park:
    """Everything about one park microgrid except the profiles."""

    name: str
    load_column: str
    heat_load_column: str | None
    grid: Grid
    carbon: Carbon
    renewables: tuple[Renewable, ...] = ()
    batteries: tuple[Battery, ...] = ()
    chps: tuple[Chp, ...] = ()
    boilers: tuple[Boiler, ...] = ()
    processes: tuple[ShiftableProcess, ...] = ()
    slack: Slack = field(default_factory=Slack)

    @property
    def is_mip(self) -> bool:
        return any(c.committable for c in self.chps)
