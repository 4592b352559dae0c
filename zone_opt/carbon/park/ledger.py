"""Integer grams per entity, hour, scope and source, and the tables made from them: the
rows (sealed in a Merkle tree), the reconciliation and the KPIs."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from zone_opt.carbon.allocation import allocate_pro_rata_pooled
from zone_opt.carbon.audit import PackedRows, canonical_row
from zone_opt.carbon.park.config import ParkCarbonConfig
from zone_opt.carbon.park.inputs import Grids

__all__ = [
    "EXPORT",
    "LANDLORD",
    "ROWS_SCHEMA",
    "Ledger",
    "flat_split",
    "kpis",
    "pack_rows",
    "sha",
    "split_rows",
    "table_digest",
    "wide",
]


LANDLORD = "landlord"


EXPORT = "export"


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


def wide(cells: npt.NDArray[np.int32] | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Scope 2's (N, H) results as int64 (the engine returns int32 where values fit)."""
    return np.asarray(cells, dtype=np.int64)


def flat_split(total: int, hours: int) -> npt.NDArray[np.int64]:
    """``total`` spread over ``hours`` as evenly as integers allow (the first hours get the
    remainder)."""
    base, extra = divmod(total, hours)
    out = np.full(hours, base, dtype=np.int64)
    out[:extra] += 1
    return out


def split_rows(
    total_g: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Largest-remainder split of hourly totals over rows of weights (tenants, hours), with
    the hours nobody used returned as the pool."""
    r = allocate_pro_rata_pooled(total_g, weights)
    return r.alloc_g, r.unallocated_g


class Ledger:
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

    def rows(self, park_id: str, period_s: npt.NDArray[np.int64]) -> tuple[pa.Table, PackedRows]:
        """Every non-zero cell as a row (tenants then landlord/export, each (scope,
        source) block tenant-major) and the same rows in canonical form. O(cells)."""
        entities, scopes, sources, hour_idx, grams, groups = [], [], [], [], [], []
        start = 0
        for scope, source, grid in self.grids:
            nz_t, nz_h = np.nonzero(grid)
            if nz_t.size == 0:
                continue
            bounds = np.flatnonzero(np.diff(nz_t)) + 1
            for a, b in zip(np.r_[0, bounds], np.r_[bounds, nz_t.size], strict=True):
                groups.append((start + int(a), start + int(b)))
            entities.append(np.array(self.tenants, dtype=object)[nz_t])
            scopes.append(np.full(nz_t.size, scope, dtype=object))
            sources.append(np.full(nz_t.size, source, dtype=object))
            hour_idx.append(nz_h)
            grams.append(grid[nz_t, nz_h])
            start += nz_t.size
        for name, scope, source, vector in self.entity:
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
        ent, sco, src = cat_objects(entities), cat_objects(scopes), cat_objects(sources)
        hidx, g = cat_ints(hour_idx), cat_ints(grams)
        hours_s = period_s[hidx] if hidx.size else np.zeros(0, dtype=np.int64)
        table = pa.table(
            {
                "park_id": pa.array(np.full(len(g), park_id, dtype=object), pa.string()),
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
        packed = pack_rows(
            park_id,
            entities=ent,
            hours_s=hours_s,
            scopes=sco,
            sources=src,
            grams=g,
            groups=groups,
        )
        return table, packed

    def reconciliation(self) -> pa.Table:
        """Per method and source: the inventory and tenants + landlord + export."""
        recon = []
        for (method, source), inventory in sorted(self.inventory.items()):
            split_g = self.parts[(method, source)]
            inventory_g = int(inventory.sum())
            parts_g = split_g["tenants"] + split_g[LANDLORD] + split_g[EXPORT]
            recon.append(
                {
                    "method": method,
                    "source": source,
                    "inventory_g": inventory_g,
                    "tenants_g": split_g["tenants"],
                    "landlord_g": split_g[LANDLORD],
                    "export_g": split_g[EXPORT],
                    "balanced": parts_g == inventory_g,
                }
            )
        return pa.Table.from_pylist(recon)

    def hourly(self, period_s: npt.NDArray[np.int64]) -> pa.Table:
        """The park inventory per hour, method and source."""
        keys = sorted(self.inventory)
        hours = len(period_s)
        return pa.table(
            {
                "hour": pa.array(
                    np.repeat(period_s[None, :], len(keys), axis=0).ravel(), pa.timestamp("s")
                ).cast(pa.timestamp("s", tz="Asia/Shanghai")),
                "method": [m for (m, _s) in keys for _ in range(hours)],
                "source": [s for (_m, s) in keys for _ in range(hours)],
                "co2e_g": pa.array(
                    np.concatenate([self.inventory[k] for k in keys])
                    if keys
                    else np.zeros(0, dtype=np.int64),
                    pa.int64(),
                ),
            }
        )


def pack_rows(
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


def cat_objects(parts: list[npt.NDArray[Any]]) -> npt.NDArray[np.object_]:
    return np.concatenate(parts).astype(object) if parts else np.zeros(0, dtype=object)


def cat_ints(parts: list[npt.NDArray[Any]]) -> npt.NDArray[np.int64]:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def table_digest(table: pa.Table | None) -> str | None:
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def kpis(
    config: ParkCarbonConfig, tenants: list[str], grids: Grids, s2: Any, build: Ledger
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
