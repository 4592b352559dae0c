"""The park data model: one pyarrow schema per table, the Python source of truth.

Each table is a :class:`TableSpec`: its Arrow schema (with units in the column names and a
description in each field's metadata), its primary key, its references to other tables
and the value rules its columns obey. ``zone_opt.validation`` enforces these rules;
``datasets/README.md`` documents them for people.

Conventions: identifiers are strings; quantities are float64 with their unit in the name;
dates are ``date32``; hourly timestamps are ``timestamp[s, tz=Asia/Shanghai]`` marking the
start of the hour; industry codes are GB/T 4754-2017 divisions (two digits, ``"01"`` to
``"97"``); enterprise ids are unified social credit codes (GB 32100-2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

__all__ = [
    "ENTERPRISES",
    "GRID_FACTORS",
    "GRID_REGIONS",
    "METERS",
    "PARKS",
    "PARK_ASSETS",
    "PARK_ASSET_KINDS",
    "SPACES",
    "SPACE_KINDS",
    "TABLES",
    "TENANCIES",
    "Range",
    "TableSpec",
]

#: Kinds of space a park offers (``spaces.kind``).
SPACE_KINDS: tuple[str, ...] = ("factory_floor", "plot", "office", "warehouse", "lab")
#: China's regional power grids as used by the MEE emission-factor tables.
GRID_REGIONS: tuple[str, ...] = (
    "north",
    "northeast",
    "east",
    "central",
    "northwest",
    "south",
    "southwest",
)
#: Kinds of energy asset (``park_assets.kind``).
PARK_ASSET_KINDS: tuple[str, ...] = (
    "pv",
    "wind",
    "battery",
    "chp",
    "boiler",
    "heat_pump",
    "grid_connection",
)
TIMEZONE = "Asia/Shanghai"
HOUR_TYPE = pa.timestamp("s", tz=TIMEZONE)


@dataclass(frozen=True, slots=True)
class Range:
    """Allowed values of a numeric column: ``low <= x <= high`` (open ends when ``None``).

    NaN is never allowed. ``low_open``/``high_open`` make the bound strict.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False


LATITUDE = Range(low=-90.0, high=90.0)
LONGITUDE = Range(low=-180.0, high=180.0)


def up_to(high: float, *, positive: bool = False) -> Range:
    """``0 <= x <= high`` (``0 < x`` when ``positive``): a physical quantity with a sane
    ceiling. Every quantity has one, so NaN, infinities and absurd magnitudes (1e308 m2)
    are refused at the edge instead of overflowing a score or a solver later."""
    return Range(low=0.0, high=high, low_open=positive)


# Sane ceilings, far above any real park, enterprise or asset but far below where
# arithmetic on them loses meaning (every product of two of them stays below 1e30).
#: A single space or plot: 10 km2.
MAX_AREA_M2 = 1e7
#: Floor live load (heavy industry is 20-50 kN/m2).
MAX_FLOOR_LOAD_KN_M2 = 1e3
#: Clear height or planning height limit (the tallest buildings are below 1 km).
MAX_HEIGHT_M = 1e3
#: Electrical supply or demand of a space, an enterprise or a park connection: 100 GVA.
MAX_POWER_KVA = 1e8
#: Rent per m2 per month.
MAX_RENT_CNY_PER_M2_MONTH = 1e5
#: Radius of search: half the Earth's circumference.
MAX_RADIUS_KM = 2.0e4
#: Annual output value of one enterprise (the largest groups report about 1e13 CNY).
MAX_OUTPUT_CNY = 1e14
#: Annual energy use of one enterprise or park, t coal equivalent.
MAX_ENERGY_TCE = 1e9
#: Annual emissions or carbon budget, t CO2e (China's total is about 1.2e10).
MAX_CO2E_T = 1e11
#: Energy metered in one hour by one enterprise: 100 GWh (a 100 GW load).
MAX_HOURLY_KWH = 1e8
#: Heat metered in one hour, GJ (360 TJ, the heat of the same 100 GW).
MAX_HOURLY_GJ = 4e5
#: Natural gas metered in one hour, standard m3.
MAX_HOURLY_GAS_M3 = 1e7
#: Rated power of one asset, kW (100 GW).
MAX_ASSET_KW = 1e8
#: Storage capacity of one asset, kWh (1 TWh).
MAX_STORAGE_KWH = 1e9
#: Emission factor of grid electricity, kg CO2 per kWh (coal plants are about 1).
MAX_FACTOR_KG_PER_KWH = 10.0


@dataclass(frozen=True)
class TableSpec:
    """A table of the data model and the rules its rows obey.

    Attributes:
        name: table name, used in error messages (``table.column``).
        schema: the Arrow schema; non-nullable fields forbid nulls.
        key: columns whose values must be unique together (the primary key).
        references: ``column -> (table, column)`` foreign keys.
        ranges: numeric column rules.
        choices: columns restricted to a fixed set of strings.
        industry_columns: columns of GB/T 4754-2017 division codes (string or list of string).
        uscc_columns: columns of unified social credit codes.
        ordered: pairs ``(low_col, high_col)`` with ``low_col <= high_col`` in every row.
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    references: dict[str, tuple[str, str]] = field(default_factory=dict)
    ranges: dict[str, Range] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    industry_columns: tuple[str, ...] = ()
    uscc_columns: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str], ...] = ()


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


PARKS = TableSpec(
    name="parks",
    schema=pa.schema(
        [
            _f("park_id", pa.string(), "park identifier"),
            _f("name", pa.string(), "park name"),
            _f("region_code", pa.string(), "GB/T 2260 six-digit administrative division code"),
            _f("lat", pa.float64(), "latitude of the park centre, degrees WGS-84"),
            _f("lon", pa.float64(), "longitude of the park centre, degrees WGS-84"),
            _f(
                "permitted_industries",
                pa.list_(pa.string()),
                "GB/T 4754-2017 divisions the park admits; empty admits every division",
            ),
            _f("power_capacity_kva", pa.float64(), "grid connection capacity, kVA"),
            _f("carbon_budget_co2e_t", pa.float64(), "annual carbon budget, t CO2e per year"),
            _f("grid_region", pa.string(), "regional grid for location-based Scope 2 factors"),
        ]
    ),
    key=("park_id",),
    ranges={
        "lat": LATITUDE,
        "lon": LONGITUDE,
        "power_capacity_kva": up_to(MAX_POWER_KVA),
        "carbon_budget_co2e_t": up_to(MAX_CO2E_T),
    },
    choices={"grid_region": GRID_REGIONS},
    industry_columns=("permitted_industries",),
)

SPACES = TableSpec(
    name="spaces",
    schema=pa.schema(
        [
            _f("space_id", pa.string(), "space identifier"),
            _f("park_id", pa.string(), "park the space belongs to"),
            _f("kind", pa.string(), "factory_floor, plot, office, warehouse or lab"),
            _f("area_m2", pa.float64(), "usable floor or land area, m2"),
            _f("floor_load_kn_m2", pa.float64(), "permitted floor live load, kN/m2"),
            _f("ceiling_height_m", pa.float64(), "clear height, m (plots: planning height limit)"),
            _f("power_kva", pa.float64(), "electrical supply available to the space, kVA"),
            _f("rent_cny_per_m2_month", pa.float64(), "asking rent, CNY per m2 per month"),
            _f("floor", pa.int16(), "storey, 1 = ground; 0 for plots"),
            _f("hazardous_permit", pa.bool_(), "hazardous processes permitted in this space"),
            _f("available_from", pa.date32(), "first day the space can be occupied"),
        ]
    ),
    key=("space_id",),
    references={"park_id": ("parks", "park_id")},
    ranges={
        "area_m2": up_to(MAX_AREA_M2, positive=True),
        "floor_load_kn_m2": up_to(MAX_FLOOR_LOAD_KN_M2),
        "ceiling_height_m": up_to(MAX_HEIGHT_M),
        "power_kva": up_to(MAX_POWER_KVA),
        "rent_cny_per_m2_month": up_to(MAX_RENT_CNY_PER_M2_MONTH),
        "floor": Range(low=0.0, high=200.0),
    },
    choices={"kind": SPACE_KINDS},
)

ENTERPRISES = TableSpec(
    name="enterprises",
    schema=pa.schema(
        [
            _f("enterprise_id", pa.string(), "unified social credit code (GB 32100-2015)"),
            _f("name", pa.string(), "enterprise name"),
            _f("industry_code", pa.string(), "GB/T 4754-2017 division, two digits"),
            _f("space_kinds", pa.list_(pa.string()), "acceptable space kinds; empty accepts any"),
            _f("area_min_m2", pa.float64(), "smallest acceptable area, m2"),
            _f("area_max_m2", pa.float64(), "largest acceptable area, m2"),
            _f("min_floor_load_kn_m2", pa.float64(), "floor load the process needs, kN/m2"),
            _f("min_ceiling_height_m", pa.float64(), "clear height the process needs, m"),
            _f("power_need_kva", pa.float64(), "electrical demand, kVA"),
            _f("max_rent_cny_per_m2_month", pa.float64(), "highest acceptable rent, CNY/m2/month"),
            _f("preferred_lat", pa.float64(), "latitude of the preferred location, degrees"),
            _f("preferred_lon", pa.float64(), "longitude of the preferred location, degrees"),
            _f("radius_km", pa.float64(), "maximum distance from the preferred location, km"),
            _f("hazardous_process", pa.bool_(), "runs a process that needs a hazardous permit"),
            _f("annual_output_cny", pa.float64(), "annual output value, CNY per year"),
            _f("annual_energy_tce", pa.float64(), "annual energy use, t coal equivalent per year"),
            _f("annual_co2e_t", pa.float64(), "annual emissions, t CO2e per year"),
            _f("supplier_industries", pa.list_(pa.string()), "divisions it buys from"),
            _f("customer_industries", pa.list_(pa.string()), "divisions it sells to"),
        ]
    ),
    key=("enterprise_id",),
    ranges={
        "area_min_m2": up_to(MAX_AREA_M2, positive=True),
        "area_max_m2": up_to(MAX_AREA_M2, positive=True),
        "min_floor_load_kn_m2": up_to(MAX_FLOOR_LOAD_KN_M2),
        "min_ceiling_height_m": up_to(MAX_HEIGHT_M),
        "power_need_kva": up_to(MAX_POWER_KVA),
        "max_rent_cny_per_m2_month": up_to(MAX_RENT_CNY_PER_M2_MONTH),
        "preferred_lat": LATITUDE,
        "preferred_lon": LONGITUDE,
        "radius_km": up_to(MAX_RADIUS_KM, positive=True),
        "annual_output_cny": up_to(MAX_OUTPUT_CNY),
        "annual_energy_tce": up_to(MAX_ENERGY_TCE),
        "annual_co2e_t": up_to(MAX_CO2E_T),
    },
    choices={"space_kinds": SPACE_KINDS},
    industry_columns=("industry_code", "supplier_industries", "customer_industries"),
    uscc_columns=("enterprise_id",),
    ordered=(("area_min_m2", "area_max_m2"),),
)

TENANCIES = TableSpec(
    name="tenancies",
    schema=pa.schema(
        [
            _f("enterprise_id", pa.string(), "the tenant"),
            _f("space_id", pa.string(), "the space it occupies"),
            _f("start", pa.date32(), "first day of the lease"),
            _f("end", pa.date32(), "last day of the lease; null while open-ended", nullable=True),
        ]
    ),
    key=("space_id", "start"),
    references={
        "enterprise_id": ("enterprises", "enterprise_id"),
        "space_id": ("spaces", "space_id"),
    },
    uscc_columns=("enterprise_id",),
    ordered=(("start", "end"),),
)

METERS = TableSpec(
    name="meters",
    schema=pa.schema(
        [
            _f("enterprise_id", pa.string(), "metered enterprise"),
            _f("hour", HOUR_TYPE, "start of the metered hour, Asia/Shanghai"),
            _f("electricity_kwh", pa.float64(), "electricity consumed in the hour, kWh"),
            _f("heat_gj", pa.float64(), "heat or steam consumed in the hour, GJ"),
            _f("gas_m3", pa.float64(), "natural gas consumed in the hour, m3 (standard)"),
        ]
    ),
    key=("enterprise_id", "hour"),
    references={"enterprise_id": ("enterprises", "enterprise_id")},
    ranges={
        "electricity_kwh": up_to(MAX_HOURLY_KWH),
        "heat_gj": up_to(MAX_HOURLY_GJ),
        "gas_m3": up_to(MAX_HOURLY_GAS_M3),
    },
    uscc_columns=("enterprise_id",),
)

PARK_ASSETS = TableSpec(
    name="park_assets",
    schema=pa.schema(
        [
            _f("asset_id", pa.string(), "asset identifier"),
            _f("park_id", pa.string(), "park the asset serves"),
            _f("kind", pa.string(), "pv, wind, battery, chp, boiler, heat_pump, grid_connection"),
            _f("power_kw", pa.float64(), "rated electrical (or thermal, for boilers) power, kW"),
            _f("energy_kwh", pa.float64(), "storage energy capacity, kWh (batteries)", True),
            _f("heat_kw", pa.float64(), "rated heat output, kW (CHP, heat pumps)", True),
            _f("efficiency", pa.float64(), "electrical or round-trip efficiency, 0-1", True),
        ]
    ),
    key=("asset_id",),
    references={"park_id": ("parks", "park_id")},
    ranges={
        "power_kw": up_to(MAX_ASSET_KW),
        "energy_kwh": up_to(MAX_STORAGE_KWH),
        "heat_kw": up_to(MAX_ASSET_KW),
        "efficiency": Range(low=0.0, high=1.0, low_open=True),
    },
    choices={"kind": PARK_ASSET_KINDS},
)

GRID_FACTORS = TableSpec(
    name="grid_factors",
    schema=pa.schema(
        [
            _f("factor_set", pa.string(), "versioned set, e.g. MEE-2023"),
            _f("grid_region", pa.string(), "regional grid, or 'national'"),
            _f("year", pa.int16(), "year of the data the factor describes"),
            _f("co2e_kg_per_kwh", pa.float64(), "emission factor, kg CO2 per kWh"),
            _f("source", pa.string(), "publication the value comes from"),
        ]
    ),
    key=("factor_set", "grid_region", "year"),
    ranges={
        "co2e_kg_per_kwh": up_to(MAX_FACTOR_KG_PER_KWH),
        "year": Range(low=1990.0, high=2100.0),
    },
    choices={"grid_region": (*GRID_REGIONS, "national")},
)

#: Every table of the data model, by name.
TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (PARKS, SPACES, ENTERPRISES, TENANCIES, METERS, PARK_ASSETS, GRID_FACTORS)
}
