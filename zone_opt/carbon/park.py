"""Park-level carbon accounting over the foundation tables: every gram, hour by hour, per
tenant, scope and source, reconciled with the park inventory and sealed in a Merkle tree.

:func:`allocate_park` reads ``meters`` (per enterprise and hour: electricity kWh, heat GJ,
gas m3), optionally ``tenancies`` + ``spaces`` (who is a tenant of the park),
``park_assets`` (the PV capacity) and ``grid_factors`` (default: the bundled MEE factor
sets), and a :class:`ParkCarbonConfig` (usually a YAML file, :func:`load_park_config`).
It produces:

- ``rows``: one row per entity x hour x scope x source with non-zero grams
  (``enterprise_id`` is a tenant, ``"landlord"`` or ``"export"``), where scope is
  ``scope1`` (direct: natural gas), ``scope2-location`` / ``scope2-market`` (grid
  electricity, its losses, heat from the park CHP) or ``scope3`` (shared facilities);
- ``annual``: totals per entity, scope and source;
- ``kpis``: per tenant and for the park: t CO2e, energy in tce, t CO2e per tce (the
  零碳园区 core indicator), t CO2e per 10k CNY of output, clean-electricity share (on-site
  PV + hourly-matched green power over consumption) and the matching scores;
- ``reconciliation``: per method (location / market) and source, the park inventory and
  the sum of tenants + landlord + export, **exactly equal** (integer grams);
- the method manifest, the SHA-256 digests of every input, the Merkle root of ``rows``
  and the head chained to the previous head of the same park (:func:`chain_head`).

The rules per source:

- **grid electricity**: :func:`zone_opt.carbon.scope2_hourly` (PV shared hour by hour,
  contracts matched hour by hour, both methods), meters in kWh rounded to integer Wh;
  distribution losses (``grid.loss_pct`` of the tenants' grid draw, i.e. a gate meter)
  kept by the landlord or grossed up;
- **natural gas** (scope 1): ``round(m3 * g_per_m3)`` per tenant-hour;
- **CHP heat**: the park CHP makes the heat the tenants meter (plus network losses) and
  power in a fixed ratio; its fuel emissions are split between heat and power by
  :func:`zone_opt.carbon.chp_split`, the heat part divided by metered GJ with the losses'
  share to the landlord (largest remainder), the power part exported;
- **shared facilities** (wastewater plant, energy station): each hour's emissions are
  split among products (by energy, exergy or fixed shares), then each product among
  tenants by its allocation key (volume, COD, N, ...); a product nobody uses stays with
  the landlord.

Everything is integer grams with largest-remainder splits, so for every method, source
and hour ``tenants + landlord + export == inventory`` exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from zone_opt.carbon.allocation import allocate_pro_rata_pooled
from zone_opt.carbon.audit import (
    GENESIS,
    MerkleProof,
    PackedRows,
    canonical_row,
    chain_head,
    merkle_root,
    proof,
)
from zone_opt.carbon.chp import ChpMethod, chp_split
from zone_opt.carbon.scope2 import grid_factor, scope2_hourly
from zone_opt.datasets.grid_factors import grid_factors_table
from zone_opt.datasets.solar import pv_profile_kw_per_kwp
from zone_opt.errors import InvalidInputError

__all__ = [
    "EXPORT",
    "LANDLORD",
    "ParkCarbonConfig",
    "ParkCarbonResult",
    "allocate_park",
    "load_park_config",
]

LANDLORD = "landlord"
EXPORT = "export"
_HOUR_S = 3600

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

ROWS_SCHEMA = pa.schema(
    [
        pa.field("park_id", pa.string(), nullable=False),
        pa.field("enterprise_id", pa.string(), nullable=False),
        pa.field("hour", pa.timestamp("s", tz="Asia/Shanghai"), nullable=False),
        pa.field("scope", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("co2e_g", pa.int64(), nullable=False),
    ]
)


def _wide(cells: npt.NDArray[np.int32] | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Scope 2's (N, H) results as int64 (the engine returns int32 where values fit)."""
    return np.asarray(cells, dtype=np.int64)


def _bad(field_: str, row: int | None, reason: str) -> InvalidInputError:
    return InvalidInputError.single(field_, row, reason)


def _get(mapping: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = mapping.get(key, default)
    if value is None and default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _bad(f"{where}.{key}", None, f"must be {kind.__name__}, got {value!r}")
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
        losses: ``landlord`` or ``gross-up``.
        pv_kwp: on-site PV capacity (default: the park's ``pv`` assets in ``park_assets``).
        pv_sharing, pv_shares, pv_priority: the PV key and its parameters (enterprise ids).
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
    losses: str = "landlord"
    pv_kwp: float | None = None
    pv_sharing: str = "pro-rata"
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
            raise _bad("park", None, "the park configuration must be a mapping")
        grid = raw.get("grid", {})
        pv = raw.get("pv", {}) or {}
        kpi = raw.get("kpi", {}) or {}
        contracts = []
        for k, c in enumerate(raw.get("contracts", []) or []):
            holders = c.get("holders", {})
            if not holders or any(not isinstance(v, int) or v < 0 for v in holders.values()):
                raise _bad("park.contracts.holders", k, "needs non-negative integer parts")
            profile = c.get("profile", "flat")
            if profile not in ("flat", "solar"):
                raise _bad("park.contracts.profile", k, f"{profile!r} is not flat or solar")
            contracts.append(
                Contract(
                    contract_id=str(c.get("id", f"contract-{k}")),
                    annual_mwh=float(_get(c, "annual_mwh", float, None, "park.contracts")),
                    profile=profile,
                    holders={str(e): int(v) for e, v in holders.items()},
                )
            )
        facilities = []
        for k, f in enumerate(raw.get("facilities", []) or []):
            split_by = f.get("split_by", "fixed")
            if split_by not in ("energy", "exergy", "fixed"):
                raise _bad(
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
                raise _bad("park.facilities.products", k, "a facility needs products")
            facilities.append(
                Facility(
                    facility_id=str(f.get("id", f"facility-{k}")),
                    annual_co2e_t=float(_get(f, "annual_co2e_t", float, None, "park.facilities")),
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
                raise _bad(f"park.{name}", None, "is required")
        return cls(
            park_id=str(raw["park_id"]),
            start=str(raw["start"]),
            hours=int(_get(raw, "hours", int, 8760, "park")),
            factor_set=str(grid.get("factor_set", "MEE-2023")),
            grid_region=str(grid.get("grid_region", "national")),
            residual_factor_set=str(grid.get("residual_factor_set", "MEE-2023-residual")),
            loss_pct=float(grid.get("loss_pct", 0.0)),
            losses=str(grid.get("losses", "landlord")),
            pv_kwp=float(pv["kwp"]) if pv.get("kwp") is not None else None,
            pv_sharing=str(pv.get("sharing", "pro-rata")),
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
        return json.dumps(_plain(self), sort_keys=True, ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def load_park_config(path: str | Path) -> ParkCarbonConfig:
    """Read a park YAML file (see ``datasets/carbon_demo/park.yaml``)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _bad("park", None, f"cannot read {path}: {exc}") from None
    config = ParkCarbonConfig.from_dict(raw)
    base = Path(path).parent
    tables = {k: str((base / v).resolve()) for k, v in config.tables.items()}
    return replace(config, tables=tables)


@dataclass(frozen=True)
class ParkCarbonResult:
    """The result of :func:`allocate_park` (see the module documentation).

    Attributes:
        rows: Arrow table (park_id, enterprise_id, hour, scope, source, co2e_g).
        annual: Arrow table (enterprise_id, scope, source, co2e_g).
        kpis: Arrow table, one row per tenant and one for the park (``enterprise_id ==
            "park"``).
        reconciliation: Arrow table (method, source, inventory_g, tenants_g, landlord_g,
            export_g, balanced).
        hourly: Arrow table (hour, method, source, co2e_g): the park inventory per hour.
        manifest: methods, parameters, factor sets and input digests.
        audit_root: Merkle root of the canonical rows (:meth:`canonical_row`).
        previous_head, audit_head: the park's previous head and this run's chained head.
    """

    rows: pa.Table
    annual: pa.Table
    kpis: pa.Table
    reconciliation: pa.Table
    hourly: pa.Table
    manifest: dict[str, Any]
    audit_root: bytes
    previous_head: bytes
    audit_head: bytes
    packed: PackedRows

    def canonical_row(self, index: int) -> bytes:
        """Row ``index`` of :attr:`rows` in canonical form: ``canonical_row(park_id,
        enterprise_id, scope, source, hour (Unix s), co2e_g)``."""
        if not 0 <= index < len(self.packed):
            raise _bad("row", None, f"{index} is outside the {len(self.packed)} rows")
        return self.packed[index]

    def proof(self, index: int) -> tuple[bytes, MerkleProof]:
        """Row ``index`` in canonical form and its inclusion proof under
        :attr:`audit_root`; check it with :func:`zone_opt.carbon.verify`. O(rows)."""
        return self.canonical_row(index), proof(self.packed, index)


def _period(config: ParkCarbonConfig) -> npt.NDArray[np.int64]:
    """Unix seconds of each hour of the period (Asia/Shanghai is UTC+8, no DST since 1991)."""
    try:
        local = np.datetime64(config.start, "s")
    except ValueError as exc:
        raise _bad("park.start", None, f"{config.start!r} is not a date: {exc}") from None
    first = int(local.astype(np.int64)) - 8 * _HOUR_S
    return first + _HOUR_S * np.arange(config.hours, dtype=np.int64)


def _tenants(
    config: ParkCarbonConfig,
    meters: pa.Table,
    tenancies: pa.Table | None,
    spaces: pa.Table | None,
    period_s: npt.NDArray[np.int64],
) -> list[str]:
    if config.tenants:
        return sorted(set(config.tenants))
    if tenancies is not None and spaces is not None:
        in_park = set(
            spaces.filter(pc.equal(spaces["park_id"], config.park_id))["space_id"].to_pylist()
        )
        first_day = np.datetime64(int(period_s[0]), "s").astype("datetime64[D]")
        last_day = np.datetime64(int(period_s[-1]), "s").astype("datetime64[D]")
        found = set()
        for e, s, a, b in zip(
            tenancies["enterprise_id"].to_pylist(),
            tenancies["space_id"].to_pylist(),
            tenancies["start"].to_pylist(),
            tenancies["end"].to_pylist(),
            strict=True,
        ):
            if (
                s in in_park
                and np.datetime64(a) <= last_day
                and (b is None or np.datetime64(b) >= first_day)
            ):
                found.add(e)
        return sorted(found)
    return sorted(set(meters["enterprise_id"].to_pylist()))


@dataclass
class _Grids:
    """Meters as tenants x hours grids."""

    electricity_wh: npt.NDArray[np.int64]
    heat_gj: npt.NDArray[np.float64]
    gas_m3: npt.NDArray[np.float64]


def _meter_grids(meters: pa.Table, tenants: list[str], period_s: npt.NDArray[np.int64]) -> _Grids:
    """Validate and scatter the meters of ``tenants`` into grids; errors name
    ``meters.<column>`` and the row."""
    for name in ("enterprise_id", "hour", "electricity_kwh", "heat_gj", "gas_m3"):
        if name not in meters.column_names:
            raise _bad(f"meters.{name}", None, "column is missing")
    index = {e: i for i, e in enumerate(tenants)}
    ids = meters["enterprise_id"].to_pylist()
    who = np.array([index.get(e, -1) for e in ids], dtype=np.int64)
    hour_s = pc.cast(meters["hour"], pa.timestamp("s", tz="UTC")).cast(pa.int64())
    hours_s = hour_s.to_numpy(zero_copy_only=False)
    if hour_s.null_count:
        row = int(np.flatnonzero(pc.is_null(hour_s).to_numpy(zero_copy_only=False))[0])
        raise _bad("meters.hour", row, "is null")
    h = (hours_s - period_s[0]) // _HOUR_S
    mine = who >= 0
    off_grid = mine & ((hours_s - period_s[0]) % _HOUR_S != 0)
    outside = mine & ((h < 0) | (h >= len(period_s)))
    for mask, reason in (
        (off_grid, "is not the start of an hour"),
        (outside, f"is outside the accounting period ({len(period_s)} hours)"),
    ):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            stamp = np.datetime64(int(hours_s[row]), "s")
            raise _bad("meters.hour", row, f"{stamp} UTC {reason}")
    n, hours = len(tenants), len(period_s)
    cell = who * hours + h
    rows = np.flatnonzero(mine)
    _, first, counts = np.unique(cell[rows], return_index=True, return_counts=True)
    if (counts > 1).any():
        dup_cell = cell[rows][np.sort(first[counts > 1])[0]]
        dup_rows = rows[cell[rows] == dup_cell]
        raise _bad(
            "meters.hour",
            int(dup_rows[1]),
            f"duplicates row {int(dup_rows[0])} (same enterprise, hour)",
        )
    grids = []
    for name in ("electricity_kwh", "heat_gj", "gas_m3"):
        column = meters[name]
        values = pc.fill_null(column, np.nan).to_numpy(zero_copy_only=False).astype(np.float64)
        bad = np.flatnonzero(mine & ~(np.isfinite(values) & (values >= 0)))
        if bad.size:
            row = int(bad[0])
            raise _bad(f"meters.{name}", row, f"{values[row]} must be finite and non-negative")
        grid = np.zeros(n * hours, dtype=np.float64)
        grid[cell[rows]] = values[rows]
        grids.append(grid.reshape(n, hours))
    electricity_wh = np.rint(grids[0] * 1000.0).astype(np.int64)
    return _Grids(electricity_wh, grids[1], grids[2])


def _pv_wh(
    config: ParkCarbonConfig, park_assets: pa.Table | None, period_s: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], float]:
    kwp = config.pv_kwp
    if kwp is None and park_assets is not None:
        mask = pc.and_(
            pc.equal(park_assets["park_id"], config.park_id), pc.equal(park_assets["kind"], "pv")
        )
        kwp = float(pc.sum(park_assets.filter(mask)["power_kw"]).as_py() or 0.0)
    kwp = kwp or 0.0
    profile = pv_profile_kw_per_kwp([config.lat], [config.lon], period_s)[0]
    return np.rint(profile * kwp * 1000.0).astype(np.int64), kwp


def _flat_split(total: int, hours: int) -> npt.NDArray[np.int64]:
    """``total`` spread over ``hours`` as evenly as integers allow (the first hours get the
    remainder)."""
    base, extra = divmod(total, hours)
    out = np.full(hours, base, dtype=np.int64)
    out[:extra] += 1
    return out


def _split_rows(
    total_g: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Largest-remainder split of hourly totals over rows of weights (tenants, hours), with
    the hours nobody used returned as the pool."""
    r = allocate_pro_rata_pooled(total_g, weights)
    return r.alloc_g, r.unallocated_g


class _Builder:
    """Collects tenant-hour grids and landlord / export hourly vectors per (scope, source)
    and per method's inventory."""

    def __init__(self, tenants: list[str], hours: int) -> None:
        self.tenants = tenants
        self.hours = hours
        self.grids: list[tuple[str, str, npt.NDArray[np.int64]]] = []
        self.entity: list[tuple[str, str, str, npt.NDArray[np.int64]]] = []
        self.inventory: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
        self.parts: dict[tuple[str, str], dict[str, int]] = {}

    def add(
        self,
        methods: tuple[str, ...],
        scope: str,
        source: str,
        tenants_g: npt.NDArray[np.int64] | None,
        *,
        landlord_g: npt.NDArray[np.int64] | None = None,
        export_g: npt.NDArray[np.int64] | None = None,
        inventory_g: npt.NDArray[np.int64] | None = None,
    ) -> None:
        if tenants_g is not None:
            self.grids.append((scope, source, tenants_g))
        for name, vector in ((LANDLORD, landlord_g), (EXPORT, export_g)):
            if vector is not None:
                self.entity.append((name, scope, source, vector))
        zero = np.zeros(self.hours, dtype=np.int64)
        total = (
            (tenants_g.sum(axis=0) if tenants_g is not None else zero)
            + (landlord_g if landlord_g is not None else zero)
            + (export_g if export_g is not None else zero)
        )
        for method in methods:
            key = (method, source)
            self.inventory[key] = self.inventory.get(key, zero) + (
                inventory_g if inventory_g is not None else total
            )
            parts = self.parts.setdefault(key, {"tenants": 0, LANDLORD: 0, EXPORT: 0})
            parts["tenants"] += int(tenants_g.sum()) if tenants_g is not None else 0
            parts[LANDLORD] += int(landlord_g.sum()) if landlord_g is not None else 0
            parts[EXPORT] += int(export_g.sum()) if export_g is not None else 0


def _pack_rows(
    park_id: str,
    *,
    entities: npt.NDArray[np.object_],
    hours_s: npt.NDArray[np.int64],
    scopes: npt.NDArray[np.object_],
    sources: npt.NDArray[np.object_],
    grams: npt.NDArray[np.int64],
    groups: list[tuple[int, int]],
) -> PackedRows:
    """Canonical rows, vectorised per group of rows sharing entity, scope and source."""
    datas: list[npt.NDArray[np.uint8]] = []
    lengths: list[npt.NDArray[np.int64]] = []
    for a, b in groups:
        prefix = canonical_row(park_id, str(entities[a]), str(scopes[a]), str(sources[a]))
        layout = np.dtype(
            [("p", f"S{len(prefix)}"), ("hi", "S1"), ("h", ">i8"), ("gi", "S1"), ("g", ">i8")]
        )
        block = np.empty(b - a, dtype=layout)
        block["p"], block["hi"], block["gi"] = prefix, b"i", b"i"
        block["h"], block["g"] = hours_s[a:b], grams[a:b]
        datas.append(np.frombuffer(block.tobytes(), dtype=np.uint8))
        lengths.append(np.full(b - a, layout.itemsize, dtype=np.int64))
    data = np.concatenate(datas) if datas else np.zeros(0, dtype=np.uint8)
    sizes = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return PackedRows(offsets, data)


def _cat_objects(parts: list[npt.NDArray[Any]]) -> npt.NDArray[np.object_]:
    return np.concatenate(parts).astype(object) if parts else np.zeros(0, dtype=object)


def _cat_ints(parts: list[npt.NDArray[Any]]) -> npt.NDArray[np.int64]:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def _table_digest(table: pa.Table | None) -> str | None:
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def allocate_park(
    config: ParkCarbonConfig,
    meters: pa.Table,
    *,
    tenancies: pa.Table | None = None,
    spaces: pa.Table | None = None,
    park_assets: pa.Table | None = None,
    grid_factors: pa.Table | None = None,
    previous_head: bytes = GENESIS,
) -> ParkCarbonResult:
    """Account a park's emissions for its period; see the module documentation.

    Raises:
        InvalidInputError: naming ``meters.<column>`` and the row (negative or missing
            values, hours outside the period or not on the hour, duplicate enterprise-hours),
            ``factor_set`` / ``grid_region`` (unknown factor set), ``park.<key>`` for a bad
            configuration, or the Scope 2 engine's fields.

    Complexity: O(meter rows + tenants x hours x sources), the heavy parts in the Rust core.
    """
    if config.hours <= 0:
        raise _bad("park.hours", None, f"{config.hours} must be positive")
    factors = grid_factors if grid_factors is not None else grid_factors_table()
    location = grid_factor(config.factor_set, config.grid_region, factors)
    residual = grid_factor(config.residual_factor_set, "national", factors)
    period_s = _period(config)
    tenants = _tenants(config, meters, tenancies, spaces, period_s)
    n, hours = len(tenants), config.hours
    grids = _meter_grids(meters, tenants, period_s)
    index = {e: i for i, e in enumerate(tenants)}
    build = _Builder(tenants, hours)
    both = ("location", "market")
    methods: dict[str, Any] = {}

    # Electricity: Scope 2, both methods.
    pv, kwp = _pv_wh(config, park_assets, period_s)
    contract_wh = np.zeros((len(config.contracts), hours), dtype=np.int64)
    contract_share = np.zeros((len(config.contracts), n), dtype=np.int64)
    sun = np.maximum(pv.astype(np.float64), 0.0)
    for c, contract in enumerate(config.contracts):
        shape = sun if contract.profile == "solar" and sun.sum() > 0 else np.ones(hours)
        total_wh = round(contract.annual_mwh * 1e6 * hours / 8760.0)
        contract_wh[c] = allocate_pro_rata_pooled(
            np.array([total_wh], dtype=np.int64), shape[:, None]
        ).alloc_g[:, 0]
        for e, parts in contract.holders.items():
            if e not in index:
                raise _bad("park.contracts.holders", c, f"{e} is not a tenant of the park")
            contract_share[c, index[e]] = parts
    pv_kwargs: dict[str, Any] = {"pv_sharing": config.pv_sharing}
    if config.pv_sharing == "contract-share":
        pv_kwargs["pv_share"] = np.array([config.pv_shares.get(e, 0) for e in tenants])
    elif config.pv_sharing == "priority":
        missing = [e for e in config.pv_priority if e not in index]
        if missing:
            raise _bad("park.pv.priority", None, f"{missing[0]} is not a tenant of the park")
        listed = [index[e] for e in config.pv_priority]
        pv_kwargs["pv_priority"] = listed + [i for i in range(n) if i not in set(listed)]
    common = {
        "location_factor": location,
        "residual_factor": residual,
        "contract_wh": contract_wh,
        "contract_share": contract_share,
        **pv_kwargs,
    }
    first = scope2_hourly(grids.electricity_wh, pv, detail=False, **common)
    draw = grids.electricity_wh.sum(axis=0) - (pv - first.export_wh)
    gate = draw + np.rint(draw * config.loss_pct / 100.0).astype(np.int64)
    s2 = scope2_hourly(
        grids.electricity_wh, pv, gate_import_wh=gate, losses=config.losses, detail=True, **common
    )
    build.add(("location",), "scope2-location", "grid-electricity", _wide(s2.location_g))
    build.add(("market",), "scope2-market", "grid-electricity", _wide(s2.market_g))
    for method, cells, landlord in (
        ("location", s2.loss_location_g, s2.landlord_location_g),
        ("market", s2.loss_market_g, s2.landlord_market_g),
    ):
        share = None if cells is None else _wide(cells)
        total = s2.loss_location_total_g if method == "location" else s2.loss_market_total_g
        build.add(
            (method,), f"scope2-{method}", "grid-losses", share, landlord_g=landlord,
            inventory_g=total,
        )  # fmt: skip
    methods["electricity"] = {**s2.manifest, "pv_kwp": kwp, "loss_pct": config.loss_pct}

    # Natural gas: scope 1 per tenant-hour.
    gas_g = np.floor(grids.gas_m3 * config.gas_g_per_m3 + 0.5).astype(np.int64)
    build.add(both, "scope1", "natural-gas", gas_g)
    methods["natural_gas"] = {
        "rule": "round(m3 x g/m3) per tenant-hour",
        "g_per_m3": config.gas_g_per_m3,
    }

    # CHP: fuel emissions split heat / power, heat by metered GJ, losses to the landlord.
    if config.chp is not None:
        chp = config.chp
        loss = float(chp.get("network_loss_pct", 5.0)) / 100.0
        if not 0 <= loss < 1:
            raise _bad("park.chp.network_loss_pct", None, "must be in [0, 100)")
        delivered = grids.heat_gj.sum(axis=0)
        gate_heat = delivered / (1.0 - loss)
        power_gj = gate_heat * float(chp.get("power_to_heat", 0.6))
        fuel_gj = (gate_heat + power_gj) / float(chp.get("fuel_efficiency", 0.8))
        total_g = np.floor(fuel_gj * float(chp.get("fuel_co2e_kg_per_gj", 56.1)) * 1000 + 0.5)
        method = ChpMethod(str(chp.get("method", "efficiency")))
        steam = chp.get("steam_temperature_c")
        split = chp_split(
            total_g.astype(np.int64),
            power_gj,
            gate_heat,
            method=method,
            heat_efficiency=float(chp.get("heat_efficiency", 0.80)),
            power_efficiency=float(chp.get("power_efficiency", 0.35)),
            steam_temperature_c=float(steam) if steam is not None else None,
        )
        weights = np.vstack([grids.heat_gj, (gate_heat - delivered)[None, :]])
        heat_alloc, pool = _split_rows(split.heat_g, weights)
        for m in both:
            build.add(
                (m,),
                f"scope2-{m}",
                "chp",
                heat_alloc[:n],
                landlord_g=heat_alloc[n] + pool,
                export_g=split.power_g,
                inventory_g=total_g.astype(np.int64),
            )
        methods["chp"] = {
            "split": method.value,
            **{k: v for k, v in chp.items() if k != "method"},
            "heat_rule": "by metered GJ; network losses to the landlord; power exported",
        }

    # Shared facilities: products, then keys.
    for k, facility in enumerate(config.facilities):
        total = _flat_split(round(facility.annual_co2e_t * 1e6 * hours / 8760.0), hours)
        if facility.split_by == "energy":
            weight = [p.energy_gj for p in facility.products]
        elif facility.split_by == "exergy":
            weight = [p.energy_gj * p.exergy_factor for p in facility.products]
        else:
            weight = [p.share for p in facility.products]
        if not any(w > 0 for w in weight) or any(w < 0 for w in weight):
            raise _bad("park.facilities.products", k, "product weights must be >= 0, some > 0")
        by_product = allocate_pro_rata_pooled(
            total, np.repeat(np.array(weight, dtype=np.float64)[:, None], hours, axis=1)
        ).alloc_g
        for p, product in enumerate(facility.products):
            keys = np.array(
                [facility.keys.get(e, {}).get(product.key, 0.0) for e in tenants], dtype=np.float64
            )
            bad = np.flatnonzero(~(np.isfinite(keys) & (keys >= 0)))
            if bad.size:
                raise _bad("park.facilities.keys", k, f"{tenants[bad[0]]}: {product.key} < 0")
            alloc, pool = _split_rows(by_product[p], np.repeat(keys[:, None], hours, axis=1))
            build.add(
                both, "scope3", f"{facility.facility_id}/{product.name}", alloc,
                landlord_g=pool, inventory_g=by_product[p],
            )  # fmt: skip
        methods[f"facility:{facility.facility_id}"] = {
            "annual_co2e_t": facility.annual_co2e_t,
            "split_by": facility.split_by,
            "products": [_plain(p) for p in facility.products],
            "rule": "even over hours, products by weight, then each product by its key "
            "(largest remainder); unused products to the landlord",
        }

    # Rows: tenants then landlord/export, each (scope, source) block tenant-major.
    entities, scopes, sources, hour_idx, grams, groups = [], [], [], [], [], []
    start = 0
    for scope, source, grid in build.grids:
        nz_t, nz_h = np.nonzero(grid)
        if nz_t.size == 0:
            continue
        bounds = np.flatnonzero(np.diff(nz_t)) + 1
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, nz_t.size], strict=True):
            groups.append((start + int(a), start + int(b)))
        entities.append(np.array(tenants, dtype=object)[nz_t])
        scopes.append(np.full(nz_t.size, scope, dtype=object))
        sources.append(np.full(nz_t.size, source, dtype=object))
        hour_idx.append(nz_h)
        grams.append(grid[nz_t, nz_h])
        start += nz_t.size
    for name, scope, source, vector in build.entity:
        nz_h = np.flatnonzero(vector)
        if nz_h.size == 0:
            continue
        groups.append((start, start + nz_h.size))
        entities.append(np.full(nz_h.size, name, dtype=object))
        scopes.append(np.full(nz_h.size, scope, dtype=object))
        sources.append(np.full(nz_h.size, source, dtype=object))
        hour_idx.append(nz_h)
        grams.append(vector[nz_h])
        start += nz_h.size
    ent, sco, src = _cat_objects(entities), _cat_objects(scopes), _cat_objects(sources)
    hidx, g = _cat_ints(hour_idx), _cat_ints(grams)
    hours_s = period_s[hidx] if hidx.size else np.zeros(0, dtype=np.int64)
    rows = pa.table(
        {
            "park_id": pa.array(np.full(len(g), config.park_id, dtype=object), pa.string()),
            "enterprise_id": pa.array(ent, pa.string()),
            "hour": pa.array(hours_s, pa.timestamp("s")).cast(
                pa.timestamp("s", tz="Asia/Shanghai")
            ),
            "scope": pa.array(sco, pa.string()),
            "source": pa.array(src, pa.string()),
            "co2e_g": pa.array(g, pa.int64()),
        },
        schema=ROWS_SCHEMA,
    )
    packed = _pack_rows(
        config.park_id,
        entities=ent,
        hours_s=hours_s,
        scopes=sco,
        sources=src,
        grams=g,
        groups=groups,
    )
    root = merkle_root(packed)
    head = chain_head(previous_head, root)

    annual = (
        rows.group_by(["enterprise_id", "scope", "source"])
        .aggregate([("co2e_g", "sum")])
        .rename_columns(["enterprise_id", "scope", "source", "co2e_g"])
        .sort_by([("enterprise_id", "ascending"), ("scope", "ascending"), ("source", "ascending")])
    )
    recon = []
    for (method, source), inventory in sorted(build.inventory.items()):
        split_g = build.parts[(method, source)]
        inventory_g = int(inventory.sum())
        recon.append(
            {
                "method": method,
                "source": source,
                "inventory_g": inventory_g,
                "tenants_g": split_g["tenants"],
                "landlord_g": split_g[LANDLORD],
                "export_g": split_g[EXPORT],
                "balanced": split_g["tenants"] + split_g[LANDLORD] + split_g[EXPORT] == inventory_g,
            }
        )
    reconciliation = pa.Table.from_pylist(recon)
    hourly = pa.table(
        {
            "hour": pa.array(
                np.repeat(period_s[None, :], len(build.inventory), axis=0).ravel(),
                pa.timestamp("s"),
            ).cast(pa.timestamp("s", tz="Asia/Shanghai")),
            "method": [m for (m, _s) in sorted(build.inventory) for _ in range(hours)],
            "source": [s for (_m, s) in sorted(build.inventory) for _ in range(hours)],
            "co2e_g": pa.array(
                np.concatenate([build.inventory[k] for k in sorted(build.inventory)])
                if build.inventory
                else np.zeros(0, dtype=np.int64),
                pa.int64(),
            ),
        }
    )
    kpis = _kpis(config, tenants, grids, s2, build)
    manifest = {
        "park_id": config.park_id,
        "period": {"start": config.start, "hours": hours, "first_hour_unix_s": int(period_s[0])},
        "tenants": n,
        "factors": {
            "location": _plain(location),
            "residual": _plain(residual),
        },
        "methods": methods,
        "kpi": {
            "tce": config.tce,
            "clean_share": "(on-site PV + hourly matched green) / electricity",
        },
        "rows": {
            "count": rows.num_rows,
            "canonical": "canonical_row(park_id, enterprise_id, scope, source, hour (Unix s), "
            "co2e_g)",
            "order": "tenant grids by (scope, source) tenant-major, then landlord/export",
        },
        "inputs_sha256": {
            "meters": _table_digest(meters),
            "tenancies": _table_digest(tenancies),
            "spaces": _table_digest(spaces),
            "park_assets": _table_digest(park_assets),
            "grid_factors": _table_digest(factors),
            "config": _sha(config.canonical()),
        },
        "audit": {
            "merkle_root": root.hex(),
            "previous_head": previous_head.hex(),
            "head": head.hex(),
        },
    }
    return ParkCarbonResult(
        rows=rows,
        annual=annual,
        kpis=kpis,
        reconciliation=reconciliation,
        hourly=hourly,
        manifest=manifest,
        audit_root=root,
        previous_head=previous_head,
        audit_head=head,
        packed=packed,
    )


def _kpis(
    config: ParkCarbonConfig, tenants: list[str], grids: _Grids, s2: Any, build: _Builder
) -> pa.Table:
    n = len(tenants)
    per: dict[str, npt.NDArray[np.int64]] = {
        "location": np.zeros(n, dtype=np.int64),
        "market": np.zeros(n, dtype=np.int64),
    }
    for scope, _source, grid in build.grids:
        totals = grid.sum(axis=1)
        if scope in ("scope1", "scope3"):
            per["location"] += totals
            per["market"] += totals
        else:
            per[scope.removeprefix("scope2-")] += totals
    park = {m: sum(int(v.sum()) for (mm, _s), v in build.inventory.items() if mm == m) for m in per}
    elec_kwh = grids.electricity_wh.sum(axis=1) / 1000.0
    heat = grids.heat_gj.sum(axis=1)
    gas = grids.gas_m3.sum(axis=1)
    tce = (
        elec_kwh * config.tce["electricity_kgce_per_kwh"] / 1000.0
        + heat * config.tce["heat_tce_per_gj"]
        + gas * config.tce["gas_kgce_per_m3"] / 1000.0
    )
    clean_kwh = (s2.tenant_pv_wh + s2.tenant_matched_wh) / 1000.0
    output = np.array([config.output_cny.get(e, np.nan) for e in tenants])
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = {
            "enterprise_id": [*tenants, "park"],
            "co2e_location_t": [*(per["location"] / 1e6), park["location"] / 1e6],
            "co2e_market_t": [*(per["market"] / 1e6), park["market"] / 1e6],
            "energy_tce": [*tce, float(tce.sum())],
            "electricity_kwh": [*elec_kwh, float(elec_kwh.sum())],
            "co2e_market_t_per_tce": [
                *(per["market"] / 1e6 / tce),
                park["market"] / 1e6 / float(tce.sum()) if tce.sum() else np.nan,
            ],
            "co2e_market_t_per_10k_cny": [
                *(per["market"] / 1e6 / (output / 1e4)),
                park["market"] / 1e6 / (np.nansum(output) / 1e4) if np.nansum(output) else np.nan,
            ],
            "clean_electricity_share": [
                *(clean_kwh / elec_kwh),
                float(clean_kwh.sum() / elec_kwh.sum()) if elec_kwh.sum() else np.nan,
            ],
            "hourly_matching_score": [
                *s2.hourly_matching_score,
                float(
                    (s2.tenant_pv_wh.sum() + s2.tenant_matched_wh.sum())
                    / max(1, s2.tenant_load_wh.sum())
                ),
            ],
            "annual_matching_score": [
                *s2.annual_matching_score,
                float(
                    (s2.tenant_pv_wh.sum() + s2.tenant_annual_matched_wh.sum())
                    / max(1, s2.tenant_load_wh.sum())
                ),
            ],
        }
    return pa.table(rows)
