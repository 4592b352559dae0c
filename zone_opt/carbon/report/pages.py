"""The park report, one printable page per tenant, and the tables exported beside them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from zone_opt.carbon.report import charts, data
from zone_opt.carbon.report.labels import CARBON, method_label, scope_label, source_label
from zone_opt.reports import Kpi, Labels, Lang, Report, Section, Table, number, percent

if TYPE_CHECKING:
    from zone_opt.carbon.park import ParkCarbonResult

__all__ = [
    "EXCEL_ROWS",
    "Context",
    "context",
    "indicators_frame",
    "park_report",
    "tenant_report",
    "write_park_and_tenants",
]

T_DIGITS = 3  # tonnes to the kilogram


@dataclass
class Context:
    """What every page of one run shares: labels, colours and the frames made once."""

    result: ParkCarbonResult
    t: Labels
    lang: Lang
    names: Mapping[str, str]
    colours: dict[str, str]
    indicators: data.Indicators
    totals: pd.DataFrame
    annual: pd.DataFrame
    monthly: pd.DataFrame
    rows: pd.DataFrame
    pages: dict[str, str] = field(default_factory=dict)

    def tenant_name(self, enterprise_id: str) -> str:
        return self.names.get(enterprise_id) or enterprise_id


def context(
    result: ParkCarbonResult, lang: Lang = "en", names: Mapping[str, str] | None = None
) -> Context:
    """The shared frames of a run's reports (O(rows))."""
    t = CARBON.labels(lang)
    sources = sorted(set(result.reconciliation["source"].to_pylist()))
    return Context(
        result=result,
        t=t,
        lang=lang,
        names=dict(names or {}),
        colours=charts.source_colours(t, sources),
        indicators=data.indicators(result),
        totals=data.park_totals(result),
        annual=result.annual.to_pandas(),
        monthly=data.monthly(result),
        rows=data.local_rows(result),
        pages={e: data.tenant_page(e) for e in data.tenant_ids(result)},
    )


def _factor(factor: Mapping[str, object]) -> str:
    """``MEE-2023 east, 0.5500 kg/kWh``."""
    value = factor.get("co2e_kg_per_kwh")
    kg = f", {number(float(value), 4)} kg/kWh" if isinstance(value, (int, float)) else ""
    return f"{factor.get('factor_set', '')} {factor.get('grid_region', '')}".strip() + kg


def _period_fields(ctx: Context) -> dict[str, object]:
    period = ctx.result.manifest["period"]
    return {"start": str(period["start"]), "hours": number(period["hours"])}


# -- the park report ---------------------------------------------------------------------


def park_report(ctx: Context) -> Report:
    """The park's report: indicators against their thresholds, the footprint by scope and
    source with the export apart, the reconciliation, the tenants and the hours."""
    t, r = ctx.t, ctx.result
    factors = r.manifest["factors"]
    report = Report(
        title=t("park_title", park=r.manifest["park_id"]),
        lang=ctx.lang,
        subtitle=t(
            "park_subtitle",
            tenants=number(len(data.tenant_ids(r))),
            location=_factor(factors["location"]),
            residual=_factor(factors["residual"]),
            **_period_fields(ctx),
        ),
    )
    _indicators_section(ctx, report.section(t("s_indicators")))
    _footprint_section(ctx, report.section(t("s_footprint")))
    _reconciliation_section(ctx, report.section(t("s_reconciliation")))
    _tenants_section(ctx, report.section(t("s_tenants")))
    report.section(t("s_hourly")).chart(
        "hourly", charts.heatmap_chart(data.hourly_grid(r, None, ctx.rows), t), t("c_hourly_park")
    )
    files = report.section(t("s_exports")).paragraph(t("exports_text"))
    if r.rows.num_rows > EXCEL_ROWS:
        files.note(t("rows_too_many", rows=number(r.rows.num_rows)))
    return report


#: Rows a spreadsheet sheet holds below its header.
EXCEL_ROWS = 1_048_575


def _verdict(t: Labels, met: bool) -> str:
    return t("met") if met else t("not_met")


def indicator_kpis(ctx: Context) -> list[Kpi]:
    t, ind = ctx.t, ctx.indicators
    return [
        Kpi(
            t("k_intensity"),
            number(ind.intensity_t_per_tce, 2),
            t("t_per_tce"),
            t(
                "threshold_max",
                value=number(ind.band.max_t_per_tce, 2),
                band=t(ind.band.key),
                verdict=_verdict(t, ind.intensity_met),
            ),
            "good" if ind.intensity_met else "bad",
        ),
        Kpi(
            t("k_clean"),
            percent(ind.clean_share),
            "",
            t(
                "threshold_min",
                value=percent(data.CLEAN_SHARE_MIN, 0),
                verdict=_verdict(t, ind.clean_met),
            ),
            "good" if ind.clean_met else "bad",
        ),
        Kpi(t("k_own"), number(ind.own_market_t, 1), t("t_co2e")),
        Kpi(t("k_own_location"), number(ind.own_location_t, 1), t("t_co2e")),
        Kpi(t("k_exported"), number(ind.exported_t, 1), t("t_co2e")),
        Kpi(
            t("k_energy"),
            number(ind.energy_tce, 1),
            t("tce"),
            t("k_energy_note", annual=number(ind.annual_tce)),
        ),
    ]


def indicators_frame(ctx: Context) -> pd.DataFrame:
    """The two indicators with their thresholds (exported as ``indicators``)."""
    t, ind = ctx.t, ctx.indicators
    return pd.DataFrame(
        {
            "indicator": [
                f"{t('k_intensity')} ({t('t_per_tce')})",
                t("k_clean"),
            ],
            "value": [ind.intensity_t_per_tce, ind.clean_share],
            "threshold": [
                f"≤ {number(ind.band.max_t_per_tce, 2)}",
                f"≥ {percent(data.CLEAN_SHARE_MIN, 0)}",
            ],
            "band": [t(ind.band.key), t("band_all")],
            "met": [ind.intensity_met, ind.clean_met],
        }
    )


def _indicators_section(ctx: Context, s: Section) -> None:
    t, ind = ctx.t, ctx.indicators
    s.paragraph(
        t(
            "indicators_text",
            own=number(ind.own_market_t, 1),
            exported=number(ind.exported_t, 1),
            tce=number(ind.energy_tce, 1),
            hours=number(ind.hours),
            annual=number(ind.annual_tce),
            band=t(ind.band.key),
            threshold=f"≤ {number(ind.band.max_t_per_tce, 2)}",
            value=number(ind.intensity_t_per_tce, 2),
            verdict=_verdict(t, ind.intensity_met),
        )
    )
    if ind.band.key == "band_small":
        s.note(t("small_band_note"))
    s.kpis(indicator_kpis(ctx))
    s.paragraph(
        t(
            "clean_text",
            coefficient=number(ind.electricity_kgce_per_kwh, 4),
            clean=number(ind.clean_tce, 1),
            tce=number(ind.energy_tce, 1),
            share=percent(ind.clean_share),
            electricity_share=percent(ind.clean_electricity_share),
        )
    )
    s.table(
        Table(
            "indicators",
            t("t_indicators"),
            indicators_frame(ctx),
            titles={
                "indicator": t("indicator"),
                "value": t("value"),
                "threshold": t("threshold"),
                "band": t("band"),
                "met": t("met_col"),
            },
            digits={"value": 3},
        )
    )
    s.paragraph(t("thresholds_source"))


def _shown(ctx: Context, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with method, scope and source ids replaced by their names."""
    t = ctx.t
    out = frame.copy()
    if "method" in out:
        out["method"] = [method_label(t, m) for m in out["method"]]
    if "scope" in out:
        out["scope"] = [scope_label(t, s) for s in out["scope"]]
    if "source" in out:
        out["source"] = [source_label(t, s) for s in out["source"]]
    return out


def _tonne_titles(t: Labels) -> dict[str, str]:
    return {
        "method": t("method"),
        "scope": t("scope"),
        "source": t("source"),
        "month": t("month"),
        "own_t": t("own"),
        "exported_t": t("exported"),
        "inventory_t": t("inventory"),
        "tenants_t": t("tenants"),
        "landlord_t": t("landlord"),
        "export_t": t("exported"),
        "co2e_t": t("emissions"),
        "balanced": t("balanced"),
    }


def _tonne_table(ctx: Context, name: str, caption: str, frame: pd.DataFrame) -> Table:
    tonnes = [c for c in frame.columns if str(c).endswith("_t")]
    return Table(
        name,
        caption,
        _shown(ctx, frame),
        titles=_tonne_titles(ctx.t),
        units=dict.fromkeys(tonnes, ctx.t("t_co2e")),
        digits=dict.fromkeys(tonnes, T_DIGITS),
    )


def _footprint_section(ctx: Context, s: Section) -> None:
    t, ind = ctx.t, ctx.indicators
    s.paragraph(
        t("footprint_text", own=number(ind.own_market_t, 1), exported=number(ind.exported_t, 1))
    )
    s.chart(
        "footprint",
        charts.footprint_chart(charts.footprint_frame(ctx.totals, t), ctx.colours, t),
        t("c_footprint"),
    )
    s.chart(
        "sources",
        charts.sources_chart(charts.sources_frame(ctx.totals, t), ctx.colours, t),
        t("c_sources"),
    )
    s.table(_tonne_table(ctx, "totals", t("t_totals"), ctx.totals))


def _reconciliation_section(ctx: Context, s: Section) -> None:
    t = ctx.t
    recon = data.reconciliation(ctx.result)
    s.paragraph(
        t(
            "reconciliation_text",
            balanced=number(int(recon["balanced"].sum())),
            rows=number(len(recon)),
        )
    )
    s.table(_tonne_table(ctx, "reconciliation", t("t_reconciliation"), recon))


def _tenants_section(ctx: Context, s: Section) -> None:
    t = ctx.t
    summary = data.tenant_summary(ctx.result, dict(ctx.names))
    s.paragraph(
        t(
            "tenants_text",
            tenants=number(len(summary)),
            tenant_t=number(float(summary["co2e_market_t"].sum()), 1),
        )
    )
    s.chart(
        "tenants",
        charts.tenants_chart(
            charts.tenants_frame(ctx.annual, t, dict(ctx.names), ctx.pages), ctx.colours, t
        ),
        t("c_tenants"),
    )
    s.table(
        Table(
            "tenants",
            t("t_tenants"),
            summary,
            titles={
                "enterprise_id": "ID",
                "name": t("name"),
                "co2e_location_t": t("location_t"),
                "co2e_market_t": t("market_t"),
                "energy_tce": t("energy"),
                "co2e_market_t_per_tce": t("per_tce"),
                "co2e_market_t_per_10k_cny": t("per_output"),
                "clean_electricity_share": t("clean_electricity"),
                "page": t("page"),
            },
            units={
                "co2e_location_t": t("t_co2e"),
                "co2e_market_t": t("t_co2e"),
                "energy_tce": t("tce"),
                "co2e_market_t_per_tce": t("t_per_tce"),
                "co2e_market_t_per_10k_cny": t("t_per_10k"),
            },
            digits={
                "co2e_location_t": T_DIGITS,
                "co2e_market_t": T_DIGITS,
                "energy_tce": 2,
                "co2e_market_t_per_tce": 2,
                "co2e_market_t_per_10k_cny": 4,
            },
            percent=["clean_electricity_share"],
        )
    )


# -- a tenant's page -----------------------------------------------------------------------


def tenant_report(ctx: Context, enterprise_id: str) -> Report:
    """One tenant's printable page: its key figures, monthly and hourly charts, and its
    rows of the allocation (annual and per month)."""
    t, r = ctx.t, ctx.result
    kpis = {row["enterprise_id"]: row for row in r.kpis.to_pylist()}[enterprise_id]
    report = Report(
        title=t("tenant_title", tenant=ctx.tenant_name(enterprise_id)),
        lang=ctx.lang,
        subtitle=t(
            "tenant_subtitle", park=r.manifest["park_id"], id=enterprise_id, **_period_fields(ctx)
        ),
    )
    s = report.section(t("s_tenant_kpis"))
    s.paragraph(
        t(
            "tenant_kpis_text",
            location=number(kpis["co2e_location_t"], 2),
            market=number(kpis["co2e_market_t"], 2),
            tce=number(kpis["energy_tce"], 2),
        )
    )
    s.kpis(tenant_kpis(ctx, kpis))
    monthly = ctx.monthly[ctx.monthly["enterprise_id"] == enterprise_id]
    s = report.section(t("s_monthly"))
    s.chart(
        "monthly",
        charts.monthly_chart(charts.monthly_frame(monthly, t), ctx.colours, t),
        t("c_monthly"),
    )
    s.table(
        _tonne_table(
            ctx, "monthly", t("t_monthly"), monthly[["month", "scope", "source", "co2e_t"]]
        )
    )
    report.section(t("s_hourly")).chart(
        "hourly",
        charts.heatmap_chart(data.hourly_grid(r, enterprise_id, ctx.rows), t),
        t("c_hourly_tenant"),
    )
    annual = ctx.annual[ctx.annual["enterprise_id"] == enterprise_id]
    allocation = pd.DataFrame(
        {
            "scope": annual["scope"],
            "source": annual["source"],
            "co2e_t": annual["co2e_g"] / data.G_PER_T,
        }
    ).reset_index(drop=True)
    report.section(t("s_allocation")).table(
        _tonne_table(ctx, "allocation", t("t_allocation"), allocation)
    )
    return report


def tenant_kpis(ctx: Context, kpis: Mapping[str, float]) -> list[Kpi]:
    t, ind = ctx.t, ctx.indicators
    intensity = float(kpis["co2e_market_t_per_tce"])
    return [
        Kpi(t("k_location"), number(kpis["co2e_location_t"], 2), t("t_co2e")),
        Kpi(t("k_market"), number(kpis["co2e_market_t"], 2), t("t_co2e")),
        Kpi(
            t("k_intensity"),
            number(intensity, 2),
            t("t_per_tce"),
            t("tenant_vs_park", value=number(ind.band.max_t_per_tce, 2)),
        ),
        Kpi(t("k_energy"), number(kpis["energy_tce"], 2), t("tce")),
        Kpi(t("k_per_output"), number(kpis["co2e_market_t_per_10k_cny"], 4), t("t_per_10k")),
        Kpi(t("k_clean_electricity"), percent(kpis["clean_electricity_share"])),
        Kpi(t("k_matching"), percent(kpis["hourly_matching_score"])),
    ]


def write_park_and_tenants(
    ctx: Context, out: Path, *, png: bool = True, tenant_png: bool = False
) -> list[Path]:
    """``report.html`` / ``.md`` (and ``charts/report-<chart>.png`` with ``png``) in ``out``;
    ``tenants/<id>.html`` / ``.md`` per tenant, whose charts are drawn in the page (PNGs
    too with ``tenant_png``: a vl-convert drawing per chart and tenant)."""
    written = park_report(ctx).write(out, "report", png=png)
    for enterprise_id, page in ctx.pages.items():
        stem = Path(page).stem
        report = tenant_report(ctx, enterprise_id)
        written += report.write(out / "tenants", stem, png=tenant_png)
    return written
