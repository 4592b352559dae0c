"""The carbon park file (``datasets/carbon_demo/park.yaml``): a park's accounting period,
grid factors, on-site PV, green-power contracts, CHP and shared facilities.

Key paths of a park file read from text (a request) start with ``park.``, as do the
errors the accounting raises later about the same keys (``park.contracts.holders``).
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import CoreSchema, core_schema

from zone_opt.formats.base import (
    MAX_CNY,
    MAX_KW,
    MAX_MWH,
    Choice,
    Format,
    Model,
    Quantity,
    Text,
    fail,
    no_entries,
    show,
)

__all__ = [
    "CARBON_PARK",
    "CHP_METHODS",
    "LOSS_POLICIES",
    "PV_SHARING",
    "TABLES",
    "TCE_KEYS",
    "ParkFile",
]

#: Values of ``grid.losses`` (:data:`zone_opt.carbon.scope2.LOSS_POLICIES`).
LOSS_POLICIES = ("landlord", "gross-up")
#: Values of ``pv.sharing`` (:data:`zone_opt.carbon.scope2.PV_SHARING`).
PV_SHARING = ("pro-rata", "contract-share", "priority")
#: Values of ``chp.method`` (:class:`zone_opt.carbon.ChpMethod`).
CHP_METHODS = ("efficiency", "energy_content", "exergy_carnot")
#: Foundation tables a park file may name.
TABLES = ("tenancies", "spaces", "park_assets", "grid_factors")
#: Energy-to-tce coefficients (:data:`zone_opt.carbon.park.DEFAULT_TCE`).
TCE_KEYS = ("electricity_kgce_per_kwh", "heat_tce_per_gj", "gas_kgce_per_m3")


class _Start:
    """An ISO date or date-time (YAML may hand over a date object); kept as its text."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: Any) -> dict[str, Any]:
        return {"type": "string", "examples": ["2025-01-01T00:00", "2025-01-01"]}

    def check(self, value: object) -> str:
        if isinstance(value, dt.date):
            return str(value)
        if isinstance(value, str):
            try:
                dt.datetime.fromisoformat(value.strip())
            except ValueError:
                pass
            else:
                return value
        raise fail(f"{show(value)} is not an ISO date or date-time (e.g. 2025-01-01T00:00)")


Id = Annotated[str, Text(max_length=128)]
Label = Annotated[str, Text(max_length=128)]
Percent = Annotated[float, Quantity("%", ge=0, lt=100)]
Efficiency = Annotated[float, Quantity(gt=0, le=1)]
Parts = Annotated[int, Quantity("parts", ge=0, le=10**9, integer=True)]
Weight = Annotated[float, Quantity(ge=0, le=1e12)]


class GridSection(Model):
    """The grid factors and distribution losses."""

    factor_set: Label = "MEE-2023"
    """Location-based factor set (grid_factors.factor_set)."""
    grid_region: Label = "national"
    """Region of the location-based factor."""
    residual_factor_set: Label = "MEE-2023-residual"
    """Market-based residual factor set (national)."""
    loss_pct: Percent = 0.0
    """Distribution losses, % of the tenants' grid draw."""
    losses: Annotated[Literal["landlord", "gross-up"], Choice()] = "landlord"
    """Who carries the losses: the landlord, or the tenants pro rata (gross-up)."""


class PvSection(Model):
    """On-site PV and how its output is shared."""

    kwp: Annotated[float, Quantity("kWp", ge=0, le=MAX_KW)] | None = None
    """Capacity (default: the park's pv assets in park_assets)."""
    sharing: Annotated[Literal["pro-rata", "contract-share", "priority"], Choice()] = "pro-rata"
    """The PV key: pro rata to load, by contract shares, or by priority."""
    shares: dict[Id, Parts] = no_entries()
    """contract-share: integer parts per enterprise."""
    priority: tuple[Id, ...] = ()
    """priority: enterprises served first, in order."""


class ContractEntry(Model):
    """A green-power contract."""

    id: Id | None = None
    """Contract id (default: contract-<index>)."""
    annual_mwh: Annotated[float, Quantity("MWh/year", ge=0, le=100 * MAX_MWH)]
    """Contracted energy per year (pro rata over the period)."""
    profile: Annotated[Literal["flat", "solar"], Choice()] = "flat"
    """Shape over the hours: flat, or that of the PV profile."""
    holders: dict[Id, Parts]
    """Integer parts per enterprise."""

    @model_validator(mode="after")
    def _some_holder(self) -> ContractEntry:
        if not self.holders or not any(self.holders.values()):
            raise fail("needs at least one holder with parts > 0", "holders")
        return self


class ChpSection(Model):
    """The park CHP (the heat the tenants meter comes from it)."""

    method: Annotated[Literal["efficiency", "energy_content", "exergy_carnot"], Choice()] = (
        "efficiency"
    )
    """How its emissions are split between heat and power."""
    heat_efficiency: Efficiency = 0.8
    """e_H of the efficiency method."""
    power_efficiency: Efficiency = 0.35
    """e_P of the efficiency method."""
    power_to_heat: Annotated[float, Quantity(ge=0, le=10)] = 0.6
    """Power made per unit of heat sent out."""
    fuel_efficiency: Efficiency = 0.8
    """Heat plus power over fuel."""
    fuel_co2e_kg_per_gj: Annotated[float, Quantity("kg/GJ", ge=0, le=1000)] = 56.1
    """Emission factor of the fuel."""
    network_loss_pct: Percent = 5.0
    """Steam network losses, kept by the landlord."""
    steam_temperature_c: Annotated[float, Quantity("°C", gt=25, le=1000)] | None = None
    """Steam temperature (exergy_carnot needs it, above the 25 °C ambient)."""

    @model_validator(mode="after")
    def _steam_for_exergy(self) -> ChpSection:
        if self.method == "exergy_carnot" and self.steam_temperature_c is None:
            raise fail("is required by method exergy_carnot", "steam_temperature_c")
        return self


class ProductEntry(Model):
    """A product of a shared facility and its allocation key."""

    name: Label
    """Product name."""
    key: Label
    """Allocation key (a name under the facility's keys)."""
    energy_gj: Annotated[float, Quantity("GJ", ge=0, le=1e9)] = 0.0
    """Energy of the product (split_by energy or exergy)."""
    exergy_factor: Annotated[float, Quantity(ge=0, le=1)] = 1.0
    """Exergy per unit of energy (split_by exergy)."""
    share: Annotated[float, Quantity(ge=0, le=1e9)] = 0.0
    """Fixed weight (split_by fixed)."""


class FacilityEntry(Model):
    """A shared facility (a wastewater plant, an energy station)."""

    id: Id | None = None
    """Facility id (default: facility-<index>)."""
    annual_co2e_t: Annotated[float, Quantity("t/year", ge=0, le=1e9)]
    """Its emissions per year (spread evenly over the hours)."""
    split_by: Annotated[Literal["energy", "exergy", "fixed"], Choice()] = "fixed"
    """How the emissions are split among the products."""
    products: Annotated[list[ProductEntry], Field(min_length=1)]
    """The products (at least one)."""
    keys: dict[Id, dict[Label, Weight]] = no_entries()
    """Per enterprise, its amount of each allocation key."""

    @model_validator(mode="after")
    def _weights_and_keys(self) -> FacilityEntry:
        weight = {
            "energy": [p.energy_gj for p in self.products],
            "exergy": [p.energy_gj * p.exergy_factor for p in self.products],
            "fixed": [p.share for p in self.products],
        }[self.split_by]
        if not any(w > 0 for w in weight):
            what = {"energy": "energy_gj", "exergy": "energy_gj", "fixed": "share"}
            raise fail(
                f"split_by {self.split_by} needs a product with {what[self.split_by]} > 0",
                "products",
            )
        known = sorted({p.key for p in self.products})
        for tenant, amounts in self.keys.items():
            for key in amounts:
                if key not in known:
                    close = difflib.get_close_matches(key, known, n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(known)}"
                    raise fail(f"no product uses the key {key!r}; {hint}", ("keys", tenant, key))
        return self


class KpiSection(Model):
    """Inputs of the KPIs."""

    tce: dict[
        Annotated[
            Literal["electricity_kgce_per_kwh", "heat_tce_per_gj", "gas_kgce_per_m3"], Choice()
        ],
        Weight,
    ] = no_entries()
    """Energy-to-tce coefficients replacing the defaults (GB/T 2589-2020)."""
    output_cny: dict[Id, Annotated[float, Quantity("CNY/year", ge=0, le=MAX_CNY)]] = no_entries()
    """Annual output per tenant (the intensity KPI)."""


class ParkFile(Model):
    """A park's carbon-accounting set-up."""

    park_id: Id
    """The park (parks.park_id)."""
    start: Annotated[str, _Start()]
    """First hour of the period, ISO date or date-time, Asia/Shanghai."""
    hours: Annotated[int, Quantity("h", ge=1, le=87840, integer=True)] = 8760
    """Length of the period."""
    description: Annotated[str, Text(max_length=2000)] | None = None
    """Free text."""
    lat: Annotated[float, Quantity("°", ge=-90, le=90)] = 31.3
    """Latitude (for the PV profile)."""
    lon: Annotated[float, Quantity("°", ge=-180, le=180)] = 120.6
    """Longitude (for the PV profile)."""
    tables: dict[
        Annotated[Literal["tenancies", "spaces", "park_assets", "grid_factors"], Choice()],
        Annotated[str, Text(max_length=1000)],
    ] = no_entries()
    """Paths of the other foundation tables, relative to this file."""
    grid: GridSection | None = None
    """Grid factors and losses."""
    pv: PvSection | None = None
    """On-site PV."""
    contracts: list[ContractEntry] | None = None
    """Green-power contracts."""
    chp: ChpSection | None = None
    """The park CHP (absent or empty: heat is not accounted)."""
    facilities: list[FacilityEntry] | None = None
    """Shared facilities (Scope 3)."""
    gas_g_per_m3: Annotated[float, Quantity("g/m3", ge=0, le=1e5)] = 2162.0
    """Natural-gas combustion factor, g CO2 per m3."""
    kpi: KpiSection | None = None
    """Inputs of the KPIs."""
    tenants: list[Id] | None = None
    """Explicit tenant list (default: from tenancies + spaces, else the meters)."""


#: The carbon park format.
CARBON_PARK: Format[ParkFile] = Format(
    name="carbon-park",
    model=ParkFile,
    title="carbon park file",
    label="park",
    prefix="park.",
    example="datasets/carbon_demo/park.yaml",
)
