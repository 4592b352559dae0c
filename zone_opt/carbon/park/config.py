"""The park file: contracts, products, shared facilities and every parameter of a run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from zone_opt.arguments import check_choice
from zone_opt.carbon.scope2 import LOSS_POLICIES, PV_SHARING, LossPolicy, PvSharing
from zone_opt.errors import InvalidInputError

__all__ = [
    "DEFAULT_GAS_G_PER_M3",
    "DEFAULT_TCE",
    "Contract",
    "Facility",
    "ParkCarbonConfig",
    "Product",
    "invalid",
    "load_park_config",
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


def typed(mapping: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = mapping.get(key, default)
    if value is None and default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise invalid(f"{where}.{key}", None, f"must be {kind.__name__}, got {value!r}")
    return value


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
        """Build from a parsed YAML mapping; errors name the YAML key (``park.<key>``)."""
        if not isinstance(raw, Mapping):
            raise invalid("park", None, "the park configuration must be a mapping")
        grid = raw.get("grid", {})
        pv = raw.get("pv", {}) or {}
        kpi = raw.get("kpi", {}) or {}
        contracts = []
        for k, c in enumerate(raw.get("contracts", []) or []):
            holders = c.get("holders", {})
            if not holders or any(not isinstance(v, int) or v < 0 for v in holders.values()):
                raise invalid("park.contracts.holders", k, "needs non-negative integer parts")
            profile = c.get("profile", "flat")
            if profile not in ("flat", "solar"):
                raise invalid("park.contracts.profile", k, f"{profile!r} is not flat or solar")
            contracts.append(
                Contract(
                    contract_id=str(c.get("id", f"contract-{k}")),
                    annual_mwh=float(typed(c, "annual_mwh", float, None, "park.contracts")),
                    profile=profile,
                    holders={str(e): int(v) for e, v in holders.items()},
                )
            )
        facilities = []
        for k, f in enumerate(raw.get("facilities", []) or []):
            split_by = f.get("split_by", "fixed")
            if split_by not in ("energy", "exergy", "fixed"):
                raise invalid(
                    "park.facilities.split_by", k, f"{split_by!r} is not energy/exergy/fixed"
                )
            products = tuple(
                Product(
                    name=str(p["name"]),
                    key=str(p["key"]),
                    energy_gj=float(p.get("energy_gj", 0.0)),
                    exergy_factor=float(p.get("exergy_factor", 1.0)),
                    share=float(p.get("share", 0.0)),
                )
                for p in f.get("products", [])
            )
            if not products:
                raise invalid("park.facilities.products", k, "a facility needs products")
            facilities.append(
                Facility(
                    facility_id=str(f.get("id", f"facility-{k}")),
                    annual_co2e_t=float(typed(f, "annual_co2e_t", float, None, "park.facilities")),
                    split_by=split_by,
                    products=products,
                    keys={
                        str(e): {str(a): float(b) for a, b in v.items()}
                        for e, v in (f.get("keys", {}) or {}).items()
                    },
                )
            )
        for name in ("park_id", "start"):
            if name not in raw:
                raise invalid(f"park.{name}", None, "is required")
        return cls(
            park_id=str(raw["park_id"]),
            start=str(raw["start"]),
            hours=int(typed(raw, "hours", int, 8760, "park")),
            factor_set=str(grid.get("factor_set", "MEE-2023")),
            grid_region=str(grid.get("grid_region", "national")),
            residual_factor_set=str(grid.get("residual_factor_set", "MEE-2023-residual")),
            loss_pct=float(grid.get("loss_pct", 0.0)),
            losses=check_choice("park.grid.losses", grid.get("losses", "landlord"), LOSS_POLICIES),
            pv_kwp=float(pv["kwp"]) if pv.get("kwp") is not None else None,
            pv_sharing=check_choice("park.pv.sharing", pv.get("sharing", "pro-rata"), PV_SHARING),
            pv_shares={str(e): int(v) for e, v in (pv.get("shares", {}) or {}).items()},
            pv_priority=tuple(str(e) for e in pv.get("priority", []) or []),
            contracts=tuple(contracts),
            chp=dict(raw["chp"]) if raw.get("chp") else None,
            facilities=tuple(facilities),
            gas_g_per_m3=float(raw.get("gas_g_per_m3", DEFAULT_GAS_G_PER_M3)),
            tce={**DEFAULT_TCE, **{k: float(v) for k, v in kpi.get("tce", {}).items()}},
            output_cny={str(e): float(v) for e, v in (kpi.get("output_cny", {}) or {}).items()},
            tenants=tuple(str(e) for e in raw.get("tenants", []) or []),
            lat=float(raw.get("lat", 31.3)),
            lon=float(raw.get("lon", 120.6)),
            tables={str(k): str(v) for k, v in (raw.get("tables", {}) or {}).items()},
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


def load_park_config(path: str | Path) -> ParkCarbonConfig:
    """Read a park YAML file (see ``datasets/carbon_demo/park.yaml``)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise invalid("park", None, f"cannot read {path}: {exc}") from None
    config = ParkCarbonConfig.from_dict(raw)
    base = Path(path).parent
    tables = {k: str((base / v).resolve()) for k, v in config.tables.items()}
    return replace(config, tables=tables)
