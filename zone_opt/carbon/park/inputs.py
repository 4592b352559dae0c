"""The inputs of a run as grids: the period's hours, the park's tenants, their meters
(tenants x hours) and the on-site PV."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.carbon.park.config import ParkCarbonConfig, invalid
from zone_opt.datasets.solar import pv_profile_kw_per_kwp
from zone_opt.schemas import METERS

__all__ = ["HOUR_S", "Grids", "meter_grids", "park_tenants", "period_s_of", "pv_wh"]


HOUR_S = 3600


def period_s_of(config: ParkCarbonConfig) -> npt.NDArray[np.int64]:
    """Unix seconds of each hour of the period (Asia/Shanghai is UTC+8, no DST since 1991)."""
    try:
        local = np.datetime64(config.start, "s")
    except ValueError as exc:
        raise invalid("park.start", None, f"{config.start!r} is not a date: {exc}") from None
    first = int(local.astype(np.int64)) - 8 * HOUR_S
    return first + HOUR_S * np.arange(config.hours, dtype=np.int64)


def park_tenants(
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
class Grids:
    """Meters as tenants x hours grids."""

    electricity_wh: npt.NDArray[np.int64]
    heat_gj: npt.NDArray[np.float64]
    gas_m3: npt.NDArray[np.float64]


def meter_grids(meters: pa.Table, tenants: list[str], period_s: npt.NDArray[np.int64]) -> Grids:
    """Validate and scatter the meters of ``tenants`` into grids; errors name
    ``meters.<column>`` and the row."""
    for name in ("enterprise_id", "hour", "electricity_kwh", "heat_gj", "gas_m3"):
        if name not in meters.column_names:
            raise invalid(f"meters.{name}", None, "column is missing")
    index = {e: i for i, e in enumerate(tenants)}
    ids = meters["enterprise_id"].to_pylist()
    who = np.array([index.get(e, -1) for e in ids], dtype=np.int64)
    hour_s = pc.cast(meters["hour"], pa.timestamp("s", tz="UTC")).cast(pa.int64())
    hours_s = hour_s.to_numpy(zero_copy_only=False)
    if hour_s.null_count:
        row = int(np.flatnonzero(pc.is_null(hour_s).to_numpy(zero_copy_only=False))[0])
        raise invalid("meters.hour", row, "is null")
    h = (hours_s - period_s[0]) // HOUR_S
    mine = who >= 0
    off_grid = mine & ((hours_s - period_s[0]) % HOUR_S != 0)
    outside = mine & ((h < 0) | (h >= len(period_s)))
    for mask, reason in (
        (off_grid, "is not the start of an hour"),
        (outside, f"is outside the accounting period ({len(period_s)} hours)"),
    ):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            stamp = np.datetime64(int(hours_s[row]), "s")
            raise invalid("meters.hour", row, f"{stamp} UTC {reason}")
    n, hours = len(tenants), len(period_s)
    cell = who * hours + h
    rows = np.flatnonzero(mine)
    _, first, counts = np.unique(cell[rows], return_index=True, return_counts=True)
    if (counts > 1).any():
        dup_cell = cell[rows][np.sort(first[counts > 1])[0]]
        dup_rows = rows[cell[rows] == dup_cell]
        raise invalid(
            "meters.hour",
            int(dup_rows[1]),
            f"duplicates row {int(dup_rows[0])} (same enterprise, hour)",
        )
    grids = []
    for name, unit in (("electricity_kwh", "kWh"), ("heat_gj", "GJ"), ("gas_m3", "m3")):
        column = meters[name]
        values = pc.fill_null(column, np.nan).to_numpy(zero_copy_only=False).astype(np.float64)
        bad = np.flatnonzero(mine & ~(np.isfinite(values) & (values >= 0)))
        if bad.size:
            row = int(bad[0])
            raise invalid(f"meters.{name}", row, f"{values[row]} must be finite and non-negative")
        # The meters table's own ceiling (zone_opt.schemas.METERS), in the user's units,
        # before any conversion to integer Wh could overflow.
        ceiling = METERS.ranges[name].high
        over = np.flatnonzero(mine & (values > (np.inf if ceiling is None else ceiling)))
        if over.size:
            row = int(over[0])
            raise invalid(
                f"meters.{name}", row, f"{values[row]:g} {unit} in one hour is above {ceiling:g}"
            )
        grid = np.zeros(n * hours, dtype=np.float64)
        grid[cell[rows]] = values[rows]
        grids.append(grid.reshape(n, hours))
    electricity_wh = np.rint(grids[0] * 1000.0).astype(np.int64)
    return Grids(electricity_wh, grids[1], grids[2])


def pv_wh(
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
