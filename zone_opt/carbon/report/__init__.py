"""Reports of a park's carbon accounting, in English or Chinese (``lang``).

:func:`write_reports` writes, beside the run's Parquet tables:

- ``report.html`` / ``report.md`` / ``charts/report-<chart>.png``: the zero-carbon park
  indicators against their thresholds (t CO2 per tce by the park's size, the clean-energy
  share), the park's own footprint by scope and source with what leaves with the CHP's
  exported power drawn apart, every source with its value, the reconciliation (tenants +
  landlord + export = inventory, to the gram), the tenants (each bar links to its page)
  and the park's hours;
- ``tenants/<enterprise_id>.html`` / ``.md``: one printable page per tenant with its key
  figures, monthly bars by source (location- and market-based Scope 2 side by side), a
  day x hour heatmap and its rows of the allocation;
- ``carbon-<table>.csv`` and ``carbon.xlsx``: rows (when a sheet holds them), annual,
  kpis, reconciliation, monthly and indicators, units in the headers.

The frames behind every table and chart are computed from the result alone
(:mod:`.data`), so tests compare them with the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from zone_opt.carbon.report.pages import (
    EXCEL_ROWS,
    Context,
    context,
    indicators_frame,
    park_report,
    tenant_report,
    write_park_and_tenants,
)
from zone_opt.reports import Exported, Lang, write_tables

if TYPE_CHECKING:
    from zone_opt.carbon.park import ParkCarbonResult

__all__ = [
    "EXPORT_UNITS",
    "Context",
    "Written",
    "context",
    "export_tables",
    "park_report",
    "tenant_report",
    "write_exports",
    "write_reports",
]

_G, _T = "g CO2e", "t CO2e"
#: Units of the exported columns whose names do not carry them (or carry a misleading
#: suffix, such as ``..._per_tce``).
EXPORT_UNITS: dict[str, dict[str, str]] = {
    "rows": {"co2e_g": _G, "hour": "Asia/Shanghai"},
    "annual": {"co2e_g": _G},
    "kpis": {
        "co2e_location_t": _T,
        "co2e_market_t": _T,
        "co2e_market_t_per_tce": "t CO2e/tce",
        "co2e_market_t_per_10k_cny": "t CO2e/10k CNY",
        "hourly_matching_score": "fraction",
        "annual_matching_score": "fraction",
    },
    "reconciliation": dict.fromkeys(("inventory_g", "tenants_g", "landlord_g", "export_g"), _G),
    "monthly": {"co2e_g": _G, "co2e_t": _T},
}


def export_tables(ctx: Context) -> dict[str, pd.DataFrame]:
    """The tables exported to CSV and Excel. Hours are local (Asia/Shanghai) without a
    zone, as spreadsheets hold them; ``rows`` is left out when a sheet cannot hold it."""
    r = ctx.result
    tables: dict[str, pd.DataFrame] = {}
    if r.rows.num_rows <= EXCEL_ROWS:
        rows = r.rows.to_pandas()
        rows["hour"] = pd.DatetimeIndex(rows["hour"]).tz_convert("Asia/Shanghai").tz_localize(None)
        tables["rows"] = rows
    tables["annual"] = r.annual.to_pandas()
    tables["kpis"] = r.kpis.to_pandas()
    tables["reconciliation"] = r.reconciliation.to_pandas()
    tables["monthly"] = ctx.monthly
    tables["indicators"] = indicators_frame(ctx)
    return tables


def write_exports(ctx: Context, out: Path) -> Exported:
    """``carbon-<table>.csv`` per table of :func:`export_tables` and ``carbon.xlsx``."""
    return write_tables(export_tables(ctx), out, "carbon", units=EXPORT_UNITS)


@dataclass(frozen=True)
class Written:
    """The files :func:`write_reports` wrote."""

    report: Path
    tenants: dict[str, Path]
    files: list[Path]
    exported: Exported


def write_reports(
    result: ParkCarbonResult,
    out: Path,
    *,
    lang: Lang = "en",
    names: Mapping[str, str] | None = None,
    png: bool = True,
    tenant_png: bool = False,
) -> Written:
    """Write the park report, the tenant pages and the exports to ``out`` (see the module
    documentation); ``names`` maps enterprise ids to the names shown; ``png`` draws the
    park report's charts to PNG, ``tenant_png`` the tenant pages' too. O(rows + tenants x
    hours); each page embeds its own font subset (about a second a page)."""
    ctx = context(result, lang, names)
    files = write_park_and_tenants(ctx, out, png=png, tenant_png=tenant_png)
    exported = write_exports(ctx, out)
    tenants = {e: out / page for e, page in ctx.pages.items()}
    return Written(report=out / "report.html", tenants=tenants, files=files, exported=exported)
