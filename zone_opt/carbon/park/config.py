"""The park file: contracts, products, shared facilities and every parameter of a run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from zone_opt.carbon.scope2 import LossPolicy, PvSharing
from zone_opt.errors import InvalidInputError
from zone_opt.formats.carbon_park import (
    CARBON_PARK,
    ChpSection,
    ContractEntry,
    FacilityEntry,
    GridSection,
    KpiSection,
    ParkFile,
    PvSection,
)

__all__ = [
    "DEFAULT_GAS_G_PER_M3",
    "DEFAULT_TCE",
    "Contract",
    "Facility",
    "ParkCarbonConfig",
    "Product",
    "invalid",
    "load_park_config",
    "parse_park_config",
    "plain",
]


#: Default conversion to tonnes of standard coal equivalent (GB/T 2589-2020 [M]):
#: electricity at its equivalent value 0.1229 kgce/kWh, heat 0.03412 tce/GJ, natural gas
#: 1.2143 kgce/m3. Configurable under ``kpi``.
DEFAULT_TCE = {
    "electricity_kgce_per_kwh": 0.1229,
    "heat_tce_per_gj": 0.03412,
    "gas_kgce_per_m3": 1.2143,
}


#: Natural gas combustion, g CO2 per m3 (about 38.9 MJ/m3 x 56.1 g/MJ x 0.99) [M].
DEFAULT_GAS_G_PER_M3 = 2162.0


def invalid(field_: str, row: int | None, reason: str) -> InvalidInputError:
    """An error naming one field of the park file or of the inputs."""
    return InvalidInputError.single(field_, row, reason)


@dataclass(frozen=True)
class Contract:
    """A green-power contract: ``annual_mwh`` shaped ``flat`` or ``solar`` over the period,
    held by tenants in integer ``parts``."""

    contract_id: str
    annual_mwh: float
    profile: str
    holders: dict[str, int]


@dataclass(frozen=True)
class Product:
    """One product of a shared facility and its allocation key."""

    name: str
    key: str
    energy_gj: float = 0.0
    exergy_factor: float = 1.0
    share: float = 0.0


@dataclass(frozen=True)
class Facility:
    """A shared facility: ``annual_co2e_t`` spread evenly over the hours, split among
    ``products`` by ``split_by`` (energy, exergy or fixed), then by each product's key."""

    facility_id: str
    annual_co2e_t: float
    split_by: str
    products: tuple[Product, ...]
    keys: dict[str, dict[str, float]]


@dataclass(frozen=True)
class ParkCarbonConfig:
    """The park's accounting set-up (see ``datasets/carbon_demo/park.yaml``).

    Attributes:
        park_id: the park (``parks.park_id``).
        start: first hour of the accounting period (ISO date or datetime, Asia/Shanghai).
        hours: length of the period, hours.
        factor_set, grid_region: location-based factor (``grid_factors``).
        residual_factor_set: market-based residual factor (``grid_factors``, national).
        loss_pct: distribution losses as a percentage of the tenants' grid draw.
        losses: ``landlord`` or ``gross-up`` (:attr:`Scope2Options.losses`).
        pv_kwp: on-site PV capacity (default: the park's ``pv`` assets in ``park_assets``).
        pv_sharing, pv_shares, pv_priority: the PV key (:attr:`Scope2Options.pv_sharing`)
            and its parameters (enterprise ids).
        contracts: green-power contracts.
        chp: CHP parameters (``None``: heat is not accounted).
        facilities: shared facilities.
        gas_g_per_m3: natural-gas factor.
        tce: energy-to-tce coefficients (:data:`DEFAULT_TCE`).
        output_cny: annual output per tenant, CNY (for the intensity KPI).
        tenants: explicit tenant list (default: from tenancies + spaces, else the meters).
        lat, lon: the park's position (for the PV profile), degrees.
        tables: paths of the other foundation tables (``tenancies``, ``spaces``,
            ``park_assets``, ``grid_factors``), relative to the YAML file once loaded.
    """

    park_id: str
    start: str
    hours: int
    factor_set: str
    grid_region: str
    residual_factor_set: str
    loss_pct: float = 0.0
    losses: LossPolicy = "landlord"
    pv_kwp: float | None = None
    pv_sharing: PvSharing = "pro-rata"
    pv_shares: dict[str, int] = field(default_factory=dict)
    pv_priority: tuple[str, ...] = ()
    contracts: tuple[Contract, ...] = ()
    chp: dict[str, float | str] | None = None
    facilities: tuple[Facility, ...] = ()
    gas_g_per_m3: float = DEFAULT_GAS_G_PER_M3
    tce: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TCE))
    output_cny: dict[str, float] = field(default_factory=dict)
    tenants: tuple[str, ...] = ()
    lat: float = 31.3
    lon: float = 120.6
    tables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ParkCarbonConfig:
        """Build from a parsed YAML mapping, checked against the park format
        (:data:`zone_opt.formats.carbon_park.CARBON_PARK`); errors name the key
        (``park.<key path>``)."""
        return cls.from_file(CARBON_PARK.from_data(raw))

    @classmethod
    def from_file(cls, file: ParkFile) -> ParkCarbonConfig:
        """Build from a validated park file."""
        grid = file.grid if file.grid is not None else GridSection()
        pv = file.pv if file.pv is not None else PvSection()
        kpi = file.kpi if file.kpi is not None else KpiSection()
        return cls(
            park_id=file.park_id,
            start=file.start,
            hours=int(file.hours),
            factor_set=grid.factor_set,
            grid_region=grid.grid_region,
            residual_factor_set=grid.residual_factor_set,
            loss_pct=float(grid.loss_pct),
            losses=grid.losses,
            pv_kwp=float(pv.kwp) if pv.kwp is not None else None,
            pv_sharing=pv.sharing,
            pv_shares={e: int(v) for e, v in pv.shares.items()},
            pv_priority=tuple(pv.priority),
            contracts=tuple(_contract(k, c) for k, c in enumerate(file.contracts or ())),
            chp=_chp(file.chp),
            facilities=tuple(_facility(k, f) for k, f in enumerate(file.facilities or ())),
            gas_g_per_m3=float(file.gas_g_per_m3),
            tce={**DEFAULT_TCE, **{k: float(v) for k, v in kpi.tce.items()}},
            output_cny={e: float(v) for e, v in kpi.output_cny.items()},
            tenants=tuple(file.tenants or ()),
            lat=float(file.lat),
            lon=float(file.lon),
            tables={str(k): v for k, v in file.tables.items()},
        )

    def canonical(self) -> bytes:
        """Canonical JSON of the configuration (for the input digest)."""
        return json.dumps(plain(self), sort_keys=True, ensure_ascii=False).encode()


def plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _contract(k: int, c: ContractEntry) -> Contract:
    return Contract(
        contract_id=c.id if c.id is not None else f"contract-{k}",
        annual_mwh=float(c.annual_mwh),
        profile=c.profile,
        holders={e: int(v) for e, v in c.holders.items()},
    )


def _facility(k: int, f: FacilityEntry) -> Facility:
    return Facility(
        facility_id=f.id if f.id is not None else f"facility-{k}",
        annual_co2e_t=float(f.annual_co2e_t),
        split_by=f.split_by,
        products=tuple(
            Product(
                name=p.name,
                key=p.key,
                energy_gj=float(p.energy_gj),
                exergy_factor=float(p.exergy_factor),
                share=float(p.share),
            )
            for p in f.products
        ),
        keys={e: {a: float(b) for a, b in v.items()} for e, v in f.keys.items()},
    )


def _chp(chp: ChpSection | None) -> dict[str, float | str] | None:
    """The keys the file gives, as it gives them (they feed the manifest); an empty
    section means no CHP."""
    if chp is None or not chp.model_fields_set:
        return None
    return {k: getattr(chp, k) for k in type(chp).model_fields if k in chp.model_fields_set}


def parse_park_config(text: str) -> ParkCarbonConfig:
    """A park file from YAML text (a request's field); problems name ``park.<key path>``
    with the line at the end of the reason. Table paths are kept as written."""
    file, _ = CARBON_PARK.parse(text)
    return ParkCarbonConfig.from_file(file)


def load_park_config(path: str | Path) -> ParkCarbonConfig:
    """Read a park YAML file (see ``datasets/carbon_demo/park.yaml`` and the reference
    ``docs/formats/carbon-park.md``); table paths are resolved against its folder.

    Raises:
        InvalidInputError: naming the file, the line, the key path and the rule of every
            problem.
    """
    file, _ = CARBON_PARK.load(Path(path))
    config = ParkCarbonConfig.from_file(file)
    base = Path(path).parent
    tables = {k: str((base / v).resolve()) for k, v in config.tables.items()}
    return replace(config, tables=tables)
