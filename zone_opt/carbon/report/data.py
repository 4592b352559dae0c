"""The frames the carbon reports show and export, computed from a
:class:`~zone_opt.carbon.park.ParkCarbonResult` alone, and the zero-carbon park indicators
against their thresholds.

The park's *own* footprint is its inventory less what leaves with the CHP's exported
power (the ``export`` entity): the grams stay integer until they are shown in tonnes, so
every total here is the sum of the result's integer grams divided once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from zone_opt.carbon.park.ledger import EXPORT, LANDLORD
from zone_opt.reports import slug

if TYPE_CHECKING:
    from zone_opt.carbon.park import ParkCarbonResult

__all__ = [
    "CLEAN_SHARE_MIN",
    "EXPORT_SOURCE",
    "G_PER_T",
    "INTENSITY_BANDS",
    "Band",
    "Indicators",
    "hourly_grid",
    "indicators",
    "local_rows",
    "monthly",
    "park_totals",
    "reconciliation",
    "scopes_of",
    "tenant_ids",
    "tenant_page",
    "tenant_summary",
]

#: The series id of the CHP's exported share (shown apart from the park's footprint).
EXPORT_SOURCE = "chp-export"
HOURS_PER_YEAR = 8760
_FILE_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
G_PER_T = 1_000_000


@dataclass(frozen=True)
class Band:
    """A band of annual energy use (tce a year, ``low <= x < high``) and its ceiling on
    t CO2 per tce; ``key`` names it in the labels."""

    key: str
    low_tce: float
    high_tce: float
    max_t_per_tce: float


#: 单位能耗碳排放 thresholds by the park's annual energy use (docs/carbon.md, reference
#: "零碳园区 policy"): 0.20 t/tce for 200k-1M tce a year, 0.30 from 1M. Below 200k the
#: policy sets no band; the stricter 0.20 is applied and the report says so.
INTENSITY_BANDS: tuple[Band, ...] = (
    Band("band_small", 0.0, 200_000.0, 0.20),
    Band("band_mid", 200_000.0, 1_000_000.0, 0.20),
    Band("band_large", 1_000_000.0, math.inf, 0.30),
)
#: 清洁能源消费占比 threshold (fraction of the park's energy use in tce).
CLEAN_SHARE_MIN = 0.90


@dataclass(frozen=True)
class Indicators:
    """The park's zero-carbon indicators. Tonnes CO2e, tce, fractions."""

    own_market_t: float
    own_location_t: float
    exported_t: float
    energy_tce: float
    annual_tce: float
    hours: int
    band: Band
    intensity_t_per_tce: float
    intensity_met: bool
    clean_tce: float
    clean_share: float
    clean_electricity_share: float
    clean_met: bool
    electricity_kgce_per_kwh: float


def _park_kpis(result: ParkCarbonResult) -> dict[str, float]:
    park = [r for r in result.kpis.to_pylist() if r["enterprise_id"] == "park"]
    return dict(park[-1])


def band_of(annual_tce: float) -> Band:
    """The band a park using ``annual_tce`` tce a year falls in."""
    for band in INTENSITY_BANDS:
        if band.low_tce <= annual_tce < band.high_tce:
            return band
    return INTENSITY_BANDS[0]  # NaN or negative: the strictest


def _exported_g(result: ParkCarbonResult, method: str) -> int:
    recon = result.reconciliation.to_pandas()
    return int(recon.loc[recon["method"] == method, "export_g"].sum())


def _inventory_g(result: ParkCarbonResult, method: str) -> int:
    recon = result.reconciliation.to_pandas()
    return int(recon.loc[recon["method"] == method, "inventory_g"].sum())


def indicators(result: ParkCarbonResult) -> Indicators:
    """The core indicator (t CO2 per tce, market-based, the park's own footprint) and the
    clean-energy share of consumption, each against its threshold."""
    park = _park_kpis(result)
    hours = int(result.manifest["period"]["hours"])
    coefficient = float(result.manifest["kpi"]["tce"]["electricity_kgce_per_kwh"])
    exported_g = _exported_g(result, "market")
    own_market_g = _inventory_g(result, "market") - exported_g
    own_location_g = _inventory_g(result, "location") - _exported_g(result, "location")
    energy_tce = float(park["energy_tce"])
    annual_tce = energy_tce * HOURS_PER_YEAR / hours
    band = band_of(annual_tce)
    intensity = own_market_g / G_PER_T / energy_tce if energy_tce > 0 else math.nan
    clean_electricity_share = float(park["clean_electricity_share"])
    clean_kwh = clean_electricity_share * float(park["electricity_kwh"])
    clean_tce = clean_kwh * coefficient / 1000.0 if math.isfinite(clean_kwh) else 0.0
    clean_share = clean_tce / energy_tce if energy_tce > 0 else math.nan
    return Indicators(
        own_market_t=own_market_g / G_PER_T,
        own_location_t=own_location_g / G_PER_T,
        exported_t=exported_g / G_PER_T,
        energy_tce=energy_tce,
        annual_tce=annual_tce,
        hours=hours,
        band=band,
        intensity_t_per_tce=intensity,
        intensity_met=bool(intensity <= band.max_t_per_tce),
        clean_tce=clean_tce,
        clean_share=clean_share,
        clean_electricity_share=clean_electricity_share,
        clean_met=bool(clean_share >= CLEAN_SHARE_MIN),
        electricity_kgce_per_kwh=coefficient,
    )


def scopes_of(result: ParkCarbonResult) -> dict[tuple[str, str], str]:
    """(method, source) -> scope, from the annual rows."""
    out: dict[tuple[str, str], str] = {}
    for scope, source in zip(
        result.annual["scope"].to_pylist(), result.annual["source"].to_pylist(), strict=True
    ):
        methods = (
            (scope.removeprefix("scope2-"),)
            if scope.startswith("scope2-")
            else ("location", "market")
        )
        for method in methods:
            out[(method, source)] = scope
    return out


def reconciliation(result: ParkCarbonResult) -> pd.DataFrame:
    """The result's reconciliation in tonnes with each line's scope; ``balanced`` as given
    (it compares the integer grams)."""
    recon = result.reconciliation.to_pandas()
    scopes = scopes_of(result)
    frame = pd.DataFrame(
        {
            "method": recon["method"],
            "scope": [
                scopes.get((m, s), "")
                for m, s in zip(recon["method"], recon["source"], strict=True)
            ],
            "source": recon["source"],
            "tenants_t": recon["tenants_g"] / G_PER_T,
            "landlord_t": recon["landlord_g"] / G_PER_T,
            "export_t": recon["export_g"] / G_PER_T,
            "inventory_t": recon["inventory_g"] / G_PER_T,
            "balanced": recon["balanced"].astype(bool),
        }
    )
    return frame.sort_values(["method", "scope", "source"], kind="stable").reset_index(drop=True)


def park_totals(result: ParkCarbonResult) -> pd.DataFrame:
    """Per method, scope and source: the park's own footprint and the exported part."""
    recon = reconciliation(result)
    return pd.DataFrame(
        {
            "method": recon["method"],
            "scope": recon["scope"],
            "source": recon["source"],
            "own_t": recon["inventory_t"] - recon["export_t"],
            "exported_t": recon["export_t"],
            "inventory_t": recon["inventory_t"],
        }
    )


def tenant_ids(result: ParkCarbonResult) -> list[str]:
    """The park's tenants in the result's order (the KPI rows without the park's)."""
    return [e for e in result.kpis["enterprise_id"].to_pylist() if e != "park"]


def local_rows(result: ParkCarbonResult) -> pd.DataFrame:
    """The result's rows with their hours in Asia/Shanghai (pandas)."""
    rows = result.rows.select(["enterprise_id", "hour", "scope", "source", "co2e_g"]).to_pandas()
    rows["hour"] = pd.DatetimeIndex(rows["hour"]).tz_convert("Asia/Shanghai")
    return rows


def monthly(result: ParkCarbonResult) -> pd.DataFrame:
    """Per tenant, month (Asia/Shanghai), scope and source: integer grams and tonnes."""
    rows = local_rows(result)
    rows = rows[~rows["enterprise_id"].isin([LANDLORD, EXPORT])]
    rows = rows.assign(month=rows["hour"].dt.strftime("%Y-%m"))
    grouped = (
        rows.groupby(["enterprise_id", "month", "scope", "source"], sort=True)["co2e_g"]
        .sum()
        .reset_index()
    )
    grouped["co2e_g"] = grouped["co2e_g"].astype(np.int64)
    grouped["co2e_t"] = grouped["co2e_g"] / G_PER_T
    return grouped


def _period(result: ParkCarbonResult) -> pd.DatetimeIndex:
    first = pd.Timestamp(int(result.manifest["period"]["first_hour_unix_s"]), unit="s", tz="UTC")
    hours = int(result.manifest["period"]["hours"])
    return pd.date_range(first, periods=hours, freq="h").tz_convert("Asia/Shanghai")


def hourly_grid(
    result: ParkCarbonResult, enterprise_id: str | None, rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Market-based kg CO2e per hour of the period (every hour, zeros included) with its
    day and hour of day: one tenant's, or the park's own (``None``: the inventory less the
    export). ``rows``: :func:`local_rows` of the result, when already made."""
    period = _period(result)
    rows = local_rows(result) if rows is None else rows
    if enterprise_id is None:
        hourly = result.hourly.to_pandas()
        hourly = hourly[hourly["method"] == "market"]
        total = hourly.groupby("hour")["co2e_g"].sum()
        export = rows[(rows["enterprise_id"] == EXPORT) & (rows["scope"] == "scope2-market")]
        total = total.sub(export.groupby("hour")["co2e_g"].sum(), fill_value=0)
    else:
        mine = rows[
            (rows["enterprise_id"] == enterprise_id)
            & rows["scope"].isin(["scope1", "scope2-market", "scope3"])
        ]
        total = mine.groupby("hour")["co2e_g"].sum()
    total.index = pd.DatetimeIndex(total.index).tz_convert("Asia/Shanghai")
    grams = total.reindex(period, fill_value=0)
    return pd.DataFrame(
        {
            "day": period.strftime("%m-%d"),
            "hour_of_day": period.hour,
            "co2e_kg": grams.to_numpy(dtype=np.float64) / 1000.0,
        }
    )


def tenant_page(enterprise_id: str) -> str:
    """The tenant page's path relative to the park report: ``tenants/<id>.html`` (an id
    that is not file-safe is made so)."""
    safe = enterprise_id if _FILE_SAFE.fullmatch(enterprise_id) else slug(enterprise_id)
    return f"tenants/{safe}.html"


def tenant_summary(result: ParkCarbonResult, names: dict[str, str]) -> pd.DataFrame:
    """The tenants' KPI rows (largest market-based footprint first) with their names and
    the relative path of their page."""
    kpis = result.kpis.to_pandas()
    kpis = kpis[kpis["enterprise_id"] != "park"]
    frame = pd.DataFrame(
        {
            "enterprise_id": kpis["enterprise_id"],
            "name": [names.get(e, "") for e in kpis["enterprise_id"]],
            "co2e_location_t": kpis["co2e_location_t"],
            "co2e_market_t": kpis["co2e_market_t"],
            "energy_tce": kpis["energy_tce"],
            "co2e_market_t_per_tce": kpis["co2e_market_t_per_tce"],
            "co2e_market_t_per_10k_cny": kpis["co2e_market_t_per_10k_cny"],
            "clean_electricity_share": kpis["clean_electricity_share"],
            "page": [tenant_page(e) for e in kpis["enterprise_id"]],
        }
    )
    if not any(frame["name"]):
        frame = frame.drop(columns="name")
    return frame.sort_values("co2e_market_t", ascending=False, kind="stable").reset_index(drop=True)
