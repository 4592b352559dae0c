"""The carbon reports' charts (Altair): the park's footprint with the export apart, each
source with its value, the tenants, the monthly bars and the day x hour heatmaps.

Every colour comes from :func:`source_colours`, made once per result, so a source has
the same colour on the park page, every tenant page and in the PNGs.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from zone_opt.carbon.report.data import EXPORT_SOURCE
from zone_opt.carbon.report.labels import method_label, scope_label, source_label
from zone_opt.reports import Labels, colour_scale, number, series_colours

__all__ = [
    "LABEL_LIMIT",
    "TENANT_BARS",
    "footprint_chart",
    "footprint_frame",
    "heatmap_chart",
    "monthly_chart",
    "monthly_frame",
    "source_colours",
    "source_kind",
    "sources_chart",
    "sources_frame",
    "tenants_chart",
    "tenants_frame",
]

#: Widest axis label before it is cut, px (tenant names, "Scope 2 · Grid losses ...").
LABEL_LIMIT = 360
#: Tenants drawn in the park's tenant chart (the largest; the table lists them all).
TENANT_BARS = 40
BAR_PX = 22
#: Room around a chart, px; the left one keeps long axis labels whole in browsers that
#: measure them before the page's font has loaded.
PADDING = {"left": 64, "top": 5, "right": 5, "bottom": 5}
_SCOPE_ORDER = {"scope1": 0, "scope2-location": 1, "scope2-market": 1, "scope3": 2}
_SOURCE_ORDER = {"natural-gas": 0, "grid-electricity": 1, "grid-losses": 2, "chp": 3}


def source_kind(source: str) -> str:
    """The colour kind of a source id (:data:`zone_opt.reports.KIND_COLOURS`)."""
    if source in ("grid-electricity", "grid-losses"):
        return "electricity"
    if source == "natural-gas":
        return "natural_gas"
    if source == "chp":
        return "chp_heat"
    if source == EXPORT_SOURCE:
        return "exported_heat"
    if "/" in source:
        return "shared_facility"
    return source


def _source_rank(source: str) -> tuple[int, str]:
    if source == EXPORT_SOURCE:
        return (9, source)
    return (_SOURCE_ORDER.get(source, 5), source)


def source_colours(t: Labels, sources: Sequence[str]) -> dict[str, str]:
    """Shown source name -> colour for every source of the run and the export, in legend
    order (Scope 1, grid, CHP, shared facilities, the export last)."""
    ordered = sorted({*sources, EXPORT_SOURCE}, key=_source_rank)
    return series_colours([(source_label(t, s), source_kind(s)) for s in ordered])


def _colour(t: Labels, colours: dict[str, str], present: Sequence[str]) -> alt.Color:
    """A colour encoding holding only the sources ``present`` (shown names)."""
    shown = {k: v for k, v in colours.items() if k in set(present)}
    return alt.Color(
        "source_label:N",
        title=t("source"),
        scale=alt.Scale(**colour_scale(shown)),
        sort=list(shown),
        legend=alt.Legend(orient="bottom", columns=3, labelLimit=LABEL_LIMIT),
    )


def _layer(bars: alt.Chart, text: alt.Chart, step: int) -> alt.LayerChart:
    """Bars with their value labels, one band of ``step`` px per bar."""
    layered = alt.LayerChart(layer=[bars, text])
    return layered.properties(height=alt.Step(step), padding=PADDING)


def footprint_frame(totals: pd.DataFrame, t: Labels) -> pd.DataFrame:
    """One bar per method (the park's own footprint, stacked by source) and one for the
    export: columns ``bar``, ``source``, ``source_label``, ``co2e_t``, ``rank``."""
    parts = []
    for method in ("location", "market"):
        mine = totals[(totals["method"] == method) & (totals["own_t"] != 0)]
        for source, value in mine.groupby("source")["own_t"].sum().items():
            parts.append(
                {
                    "bar": t("bar_own", method=method_label(t, method)),
                    "source": source,
                    "source_label": source_label(t, str(source)),
                    "co2e_t": float(value),
                    "rank": _source_rank(str(source))[0],
                }
            )
    exported = float(totals.loc[totals["method"] == "market", "exported_t"].sum())
    if exported:
        parts.append(
            {
                "bar": t("bar_exported"),
                "source": EXPORT_SOURCE,
                "source_label": t(EXPORT_SOURCE),
                "co2e_t": exported,
                "rank": _source_rank(EXPORT_SOURCE)[0],
            }
        )
    return pd.DataFrame(parts, columns=["bar", "source", "source_label", "co2e_t", "rank"])


def _total_labels(frame: pd.DataFrame, by: str, unit: str) -> pd.DataFrame:
    totals = frame.groupby(by, sort=False)["co2e_t"].sum().reset_index()
    totals["label"] = [f"{number(v, 1)} {unit}" for v in totals["co2e_t"]]
    return totals


def footprint_chart(frame: pd.DataFrame, colours: dict[str, str], t: Labels) -> alt.LayerChart:
    bars_order = list(dict.fromkeys(frame["bar"]))
    y = alt.Y("bar:N", title=None, sort=bars_order, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    bars = (
        alt.Chart(frame)
        .mark_bar(height=BAR_PX + 6)
        .encode(
            x=alt.X("sum(co2e_t):Q", title=t("t_co2e"), stack="zero"),
            y=y,
            color=_colour(t, colours, list(frame["source_label"])),
            order=alt.Order("rank:Q"),
            tooltip=[
                alt.Tooltip("bar:N", title=t("part")),
                alt.Tooltip("source_label:N", title=t("source")),
                alt.Tooltip("co2e_t:Q", title=t("t_co2e"), format=",.1f"),
            ],
        )
    )
    text = (
        alt.Chart(_total_labels(frame, "bar", t("t_co2e")))
        .mark_text(align="left", dx=6, fontSize=12)
        .encode(x="co2e_t:Q", y=y, text="label:N")
    )
    return _layer(bars, text, BAR_PX * 2)


def sources_frame(totals: pd.DataFrame, t: Labels) -> pd.DataFrame:
    """One row per source of the park's own footprint; a Scope 2 source whose value
    differs by method gets a row per method. Columns ``label``, ``source``,
    ``source_label``, ``co2e_t``, ``text``."""
    rows = []
    keyed = totals[totals["own_t"] != 0]
    for (scope_key, source), group in keyed.groupby(
        [keyed["scope"].map(lambda s: _SCOPE_ORDER.get(s, 3)), "source"], sort=True
    ):
        values = dict(zip(group["method"], group["own_t"], strict=True))
        scope = str(group["scope"].iloc[0]).removesuffix("-location").removesuffix("-market")
        scope_name = t(scope) if scope in ("scope1", "scope2", "scope3") else scope
        same = len(set(values.values())) == 1
        for method, value in sorted(values.items()):
            suffix = "" if same else f" ({method_label(t, method)})"
            rows.append(
                {
                    "label": f"{scope_name} · {source_label(t, str(source))}{suffix}",
                    "source": source,
                    "source_label": source_label(t, str(source)),
                    "co2e_t": float(value),
                    "text": f"{number(value, 1)} {t('t_co2e')}",
                    "order": scope_key,
                }
            )
            if same:
                break
    return pd.DataFrame(
        rows, columns=["label", "source", "source_label", "co2e_t", "text", "order"]
    )


def sources_chart(frame: pd.DataFrame, colours: dict[str, str], t: Labels) -> alt.LayerChart:
    y = alt.Y(
        "label:N", title=None, sort=list(frame["label"]), axis=alt.Axis(labelLimit=LABEL_LIMIT)
    )
    base = alt.Chart(frame).encode(y=y)
    bars = base.mark_bar(height=BAR_PX - 4).encode(
        x=alt.X("co2e_t:Q", title=t("t_co2e")),
        color=_colour(t, colours, list(frame["source_label"])),
        tooltip=[
            alt.Tooltip("label:N", title=t("source")),
            alt.Tooltip("text:N", title=t("emissions")),
        ],
    )
    text = base.mark_text(align="left", dx=6, fontSize=11).encode(x="co2e_t:Q", text="text:N")
    return _layer(bars, text, BAR_PX)


def tenants_frame(
    annual: pd.DataFrame, t: Labels, names: dict[str, str], pages: dict[str, str]
) -> pd.DataFrame:
    """Market-based grams per tenant and source (Scope 1, Scope 2 market, Scope 3), the
    :data:`TENANT_BARS` largest tenants: ``tenant``, ``enterprise_id``, ``source``,
    ``source_label``, ``co2e_t``, ``page``."""
    mine = annual[annual["enterprise_id"].isin(pages) & (annual["scope"] != "scope2-location")]
    by = mine.groupby(["enterprise_id", "source"])["co2e_g"].sum().reset_index()
    totals = by.groupby("enterprise_id")["co2e_g"].sum().sort_values(ascending=False, kind="stable")
    keep = list(totals.index[:TENANT_BARS])
    by = by[by["enterprise_id"].isin(keep)]
    return pd.DataFrame(
        {
            "tenant": [names.get(e) or e for e in by["enterprise_id"]],
            "enterprise_id": by["enterprise_id"],
            "source": by["source"],
            "source_label": [source_label(t, s) for s in by["source"]],
            "co2e_t": by["co2e_g"] / 1e6,
            "rank": [_source_rank(s)[0] for s in by["source"]],
            "page": [pages[e] for e in by["enterprise_id"]],
            "order": [keep.index(e) for e in by["enterprise_id"]],
        }
    ).sort_values(["order", "rank"], kind="stable")


def tenants_chart(frame: pd.DataFrame, colours: dict[str, str], t: Labels) -> alt.LayerChart:
    order = list(dict.fromkeys(frame["tenant"]))
    y = alt.Y("tenant:N", title=None, sort=order, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    bars = (
        alt.Chart(frame)
        .mark_bar(height=BAR_PX - 6, cursor="pointer")
        .encode(
            x=alt.X("sum(co2e_t):Q", title=t("t_co2e")),
            y=y,
            color=_colour(t, colours, list(frame["source_label"])),
            order=alt.Order("rank:Q"),
            href="page:N",
            tooltip=[
                alt.Tooltip("tenant:N", title=t("tenant")),
                alt.Tooltip("enterprise_id:N", title="ID"),
                alt.Tooltip("source_label:N", title=t("source")),
                alt.Tooltip("co2e_t:Q", title=t("t_co2e"), format=",.2f"),
            ],
        )
    )
    text = (
        alt.Chart(_total_labels(frame, "tenant", "t"))
        .mark_text(align="left", dx=4, fontSize=10)
        .encode(x="co2e_t:Q", y=y, text="label:N")
    )
    return _layer(bars, text, BAR_PX - 2)


def monthly_frame(monthly: pd.DataFrame, t: Labels) -> pd.DataFrame:
    """One tenant's monthly rows per Scope 2 method: Scope 1 and 3 count under both."""
    parts = []
    for method in ("location", "market"):
        mine = monthly[monthly["scope"].isin(["scope1", f"scope2-{method}", "scope3"])]
        parts.append(
            pd.DataFrame(
                {
                    "method": method_label(t, method),
                    "month": mine["month"],
                    "scope": [scope_label(t, s) for s in mine["scope"]],
                    "source": mine["source"],
                    "source_label": [source_label(t, s) for s in mine["source"]],
                    "co2e_t": mine["co2e_t"],
                    "rank": [_source_rank(s)[0] for s in mine["source"]],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def monthly_chart(frame: pd.DataFrame, colours: dict[str, str], t: Labels) -> alt.FacetChart:
    months = sorted(set(frame["month"]))
    width = max(180, min(340, 60 * len(months)))
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("month:O", title=t("month"), sort=months, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("sum(co2e_t):Q", title=t("t_co2e")),
            color=_colour(t, colours, list(frame["source_label"])),
            order=alt.Order("rank:Q"),
            tooltip=[
                alt.Tooltip("month:O", title=t("month")),
                alt.Tooltip("scope:N", title=t("scope")),
                alt.Tooltip("source_label:N", title=t("source")),
                alt.Tooltip("co2e_t:Q", title=t("t_co2e"), format=",.3f"),
            ],
        )
        .properties(width=width, height=240)
    )
    methods = [method_label(t, "location"), method_label(t, "market")]
    faceted: alt.FacetChart = bars.facet(column=alt.Column("method:N", title=None, sort=methods))
    return faceted


def heatmap_chart(frame: pd.DataFrame, t: Labels) -> alt.Chart:
    """Day (x) by hour of day (y), coloured by kg CO2e in the hour."""
    days = list(dict.fromkeys(frame["day"]))
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X(
                "day:O",
                title=t("day_of_period"),
                sort=days,
                axis=alt.Axis(labelAngle=0, labelOverlap="parity"),
            ),
            y=alt.Y("hour_of_day:O", title=t("hour_of_day"), sort="ascending"),
            color=alt.Color(
                "co2e_kg:Q",
                title=t("kg_co2e_h"),
                scale=alt.Scale(scheme="orangered", zero=True),
                legend=alt.Legend(orient="right", gradientLength=220),
            ),
            tooltip=[
                alt.Tooltip("day:O", title=t("day_of_period")),
                alt.Tooltip("hour_of_day:O", title=t("hour_of_day")),
                alt.Tooltip("co2e_kg:Q", title=t("kg_co2e_h"), format=",.1f"),
            ],
        )
        .properties(width=alt.Step(max(3, min(80, 720 // max(1, len(days))))), height=alt.Step(11))
    )
    return chart
