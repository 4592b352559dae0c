"""The shared-facilities report: scenarios compared, a map and the cost shares per scenario.

``write_report(region, results, out)`` writes, through :mod:`zone_opt.reports`,
``report.html`` (self-contained page: charts, real tables), ``report.md`` (its Markdown
twin), ``charts/report-<chart>.png`` and the result tables as ``facilities-<table>.csv`` and
``facilities.xlsx`` (one sheet per table, units in the headers). Per scenario the page shows
the plan on a labelled km map (or, when no plan exists, the reason and the demand that cannot
be met), who is served where, the open sites, each park's share under every cost-sharing
method against its stand-alone cost, one sentence per method on its stability (the group of
parks closest to leaving and by how much), and the recommended split
(:mod:`zone_opt.optimise.facilities.advice`). Labels in English or Chinese (``lang``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from zone_opt.optimise.facilities.advice import in_core, recommend
from zone_opt.optimise.facilities.report_charts import (
    MapLabels,
    ShareLabels,
    costs_chart,
    map_chart,
    shares_chart,
)
from zone_opt.optimise.facilities.report_text import (
    LABELS,
    coalition,
    epsilon_sentence,
    infeasible_reasons,
    method_name,
    recommendation_sentence,
    stability_sentence,
)
from zone_opt.optimise.facilities.scenario import ScenarioResult
from zone_opt.optimise.facilities.sharing import ShareMethod
from zone_opt.reports import (
    Exported,
    Kpi,
    Labels,
    Lang,
    Report,
    Section,
    Table,
    category_colours,
    number,
    percent,
    write_tables,
)

__all__ = ["ReportFiles", "build_report", "export_tables", "write_report"]

#: Stem of the CSV and Excel exports.
EXPORT_STEM = "facilities"


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    markdown: Path
    charts: tuple[Path, ...]
    exports: Exported


def _saving(r: ScenarioResult) -> float | None:
    if r.standalone_total_cny is None or r.plan.cost is None:
        return None
    return r.standalone_total_cny - r.plan.cost.total_cny


# --- tables: the result data, one frame per table, plain column names with units -------------


def scenarios_frame(results: Sequence[ScenarioResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        c = r.plan.cost
        saving = _saving(r)
        rows.append(
            {
                "scenario": r.scenario.name,
                "status": r.plan.status.value,
                "total_cny": c.total_cny if c else None,
                "fixed_cny": c.fixed_cny if c else None,
                "transport_cny": c.transport_cny if c else None,
                "operating_cny": c.operating_cny if c else None,
                "standalone_cny": r.standalone_total_cny,
                "saving_cny": saving,
                "saving_fraction": None
                if saving is None or not r.standalone_total_cny
                else saving / r.standalone_total_cny,
                "open_sites": ", ".join(r.plan.open_sites) or None,
                "gap_fraction": r.plan.gap if r.plan.feasible else None,
            }
        )
    return pd.DataFrame(rows)


def assignments_frame(r: ScenarioResult) -> pd.DataFrame:
    p = r.scenario.problem
    at = {s: i for i, s in enumerate(p.site_ids)}
    park = {d: j for j, d in enumerate(p.demand_ids)}
    rows = [
        {
            "park": a.demand_id,
            "facility_type": a.facility_type,
            "site": a.site_id,
            "amount_units": a.amount,
            "need_fraction": a.fraction,
            "distance_km": float(p.distance_km[park[a.demand_id], at[a.site_id]])
            if p.distance_km is not None
            else None,
            "transport_cny": a.transport_cost_cny,
            "operating_cny": a.operating_cost_cny,
        }
        for a in r.plan.assignments
    ]
    columns = ["park", "facility_type", "site", "amount_units", "need_fraction"]
    columns += ["distance_km", "transport_cny", "operating_cny"]
    return pd.DataFrame(rows, columns=columns)


def open_sites_frame(r: ScenarioResult) -> pd.DataFrame:
    p = r.scenario.problem
    rows = []
    for i, site in enumerate(p.site_ids):
        if site not in r.plan.open_sites:
            continue
        served = [a for a in r.plan.assignments if a.site_id == site]
        row: dict[str, object] = {"site": site, "fixed_cny": float(p.fixed_cost_cny[i])}
        for t in p.facility_types:
            row[f"{t}_units"] = sum(a.amount for a in served if a.facility_type == t)
        row["parks"] = ", ".join(dict.fromkeys(a.demand_id for a in served))
        rows.append(row)
    return pd.DataFrame(rows)


def shares_frame(r: ScenarioResult) -> pd.DataFrame:
    """One row per park: its stand-alone cost and its share under each method (wide)."""
    if not r.shares:
        return pd.DataFrame()
    first = r.shares[0]
    frame = pd.DataFrame(
        {
            "park": [s.park for s in first.shares],
            "standalone_cny": [s.standalone_cny for s in first.shares],
        }
    )
    for split in r.shares:
        frame[f"{split.method.value}_cny"] = [s.share_cny for s in split.shares]
        if any(s.std_error_cny is not None for s in split.shares):
            frame[f"{split.method.value}_std_error_cny"] = [s.std_error_cny for s in split.shares]
    return frame


def stability_frame(r: ScenarioResult) -> pd.DataFrame:
    rows = [
        {
            "method": s.method.value,
            "in_core": in_core(s),
            "worst_coalition": coalition(s.worst_coalition),
            "worst_excess_cny": s.worst_excess_cny,
            "least_core_epsilon_cny": s.least_core_epsilon_cny,
        }
        for s in r.shares
    ]
    return pd.DataFrame(rows)


def unmet_frame(r: ScenarioResult) -> pd.DataFrame:
    rows = [
        {
            "park": u.demand_id,
            "facility_type": u.facility_type,
            "unmet_units": u.unmet_units,
            "reason": u.reason,
        }
        for u in r.plan.unmet
    ]
    return pd.DataFrame(rows, columns=["park", "facility_type", "unmet_units", "reason"])


def export_tables(results: Sequence[ScenarioResult]) -> dict[str, pd.DataFrame]:
    """Every result table across scenarios (a ``scenario`` column first): scenarios,
    assignments, open_sites, shares (long: scenario, method, park), stability, unmet."""

    def stacked(make: object) -> pd.DataFrame:
        assert callable(make)
        parts = [make(r).assign(scenario=r.scenario.name) for r in results]
        parts = [f for f in parts if len(f)]
        if not parts:
            return pd.DataFrame({"scenario": []})
        out = pd.concat(parts, ignore_index=True)
        return out[["scenario", *[c for c in out.columns if c != "scenario"]]]

    shares = [
        {
            "scenario": r.scenario.name,
            "method": split.method.value,
            "park": s.park,
            "share_cny": s.share_cny,
            "standalone_cny": s.standalone_cny,
            "saving_cny": s.saving_cny,
            "std_error_cny": s.std_error_cny,
        }
        for r in results
        for split in r.shares
        for s in split.shares
    ]
    return {
        "scenarios": scenarios_frame(results),
        "assignments": stacked(assignments_frame),
        "open_sites": stacked(open_sites_frame),
        "shares": pd.DataFrame(shares).astype({"std_error_cny": float}),
        "stability": stacked(stability_frame),
        "unmet": stacked(unmet_frame),
    }


# --- the page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Look:
    """What every section needs: labels and the report's colours (one per category)."""

    t: Labels
    colours: dict[str, str]
    methods: dict[str, str]


def _look(results: Sequence[ScenarioResult], lang: Lang) -> _Look:
    t = LABELS.labels(lang)
    types = list(dict.fromkeys(ft for r in results for ft in r.scenario.problem.facility_types))
    methods = {m.value: method_name(t, m.value) for m in ShareMethod}
    components = [t("fixed"), t("transport"), t("operating")]
    colours = category_colours([*types, *methods.values(), *components])
    return _Look(t, colours, methods)


def _status(t: Labels, r: ScenarioResult) -> str:
    return t(f"status_{r.plan.status.value}")


def _overview(report: Report, look: _Look, results: Sequence[ScenarioResult]) -> None:
    t = look.t
    s = report.section(t("overview")).paragraph(t("overview_text"))
    feasible = [r for r in results if r.plan.cost is not None]
    if feasible:
        best = min(feasible, key=lambda r: r.plan.cost.total_cny if r.plan.cost else 0.0)
        saving = _saving(best)
        if saving is not None and best.plan.cost is not None and best.standalone_total_cny:
            s.paragraph(
                t(
                    "best",
                    scenario=best.scenario.name,
                    total=number(best.plan.cost.total_cny),
                    saving=number(saving),
                    pct=percent(saving / best.standalone_total_cny),
                )
            )
    frame = scenarios_frame(results)
    frame["status"] = [_status(t, r) for r in results]
    s.table(
        Table(
            "scenarios",
            t("scenarios_caption"),
            frame,
            titles={
                "scenario": t("scenario"),
                "status": t("status"),
                "total_cny": t("total_cny"),
                "fixed_cny": t("fixed"),
                "transport_cny": t("transport"),
                "operating_cny": t("operating"),
                "standalone_cny": t("standalone_total"),
                "saving_cny": t("saving"),
                "saving_fraction": t("saving_share"),
                "open_sites": t("open_sites"),
                "gap_fraction": t("gap"),
            },
            units={c: "CNY" for c in frame.columns if c.endswith("_cny")},
            percent=("saving_fraction", "gap_fraction"),
            digits={"gap_fraction": 2},
        )
    )
    s.chart(
        "scenario-costs",
        costs_chart(
            results, t, {k: look.colours[t(k)] for k in ("fixed", "transport", "operating")}
        ),
        t("costs_chart"),
    )


def _choosing(report: Report, look: _Look) -> None:
    t = look.t
    report.section(t("choosing")).paragraph(t("choosing_text")).bullets(
        [t("rule_1"), t("rule_2"), t("rule_3")]
    )


def _plan(report: Report, look: _Look, r: ScenarioResult, k: int) -> None:
    t = look.t
    s = report.section(r.scenario.name)
    plan, cost = r.plan, r.plan.cost
    if not plan.feasible or cost is None:
        _no_plan(s, look, r, k)
        return
    summary = {
        "sites": ", ".join(plan.open_sites) or t("none"),
        "total": number(cost.total_cny),
        "fixed": number(cost.fixed_cny),
        "transport": number(cost.transport_cny),
        "operating": number(cost.operating_cny),
    }
    saving = _saving(r)
    if saving is None or not r.standalone_total_cny:
        s.paragraph(t("plan_summary_alone_unknown", **summary))
    else:
        pct = percent(saving / r.standalone_total_cny)
        standalone = number(r.standalone_total_cny)
        s.paragraph(
            t("plan_summary", **summary, standalone=standalone, saving=number(saving), pct=pct)
        )
    if plan.status.value != "optimal":
        s.note(t("not_proven", gap=percent(plan.gap, 2)))
    s.kpis(
        [
            Kpi(t("kpi_total"), number(cost.total_cny), t("cny_a_year")),
            Kpi(t("kpi_standalone"), number(r.standalone_total_cny), t("cny_a_year")),
            Kpi(
                t("kpi_saving"),
                number(saving),
                t("cny_a_year"),
                note=percent(saving / r.standalone_total_cny)
                if saving is not None and r.standalone_total_cny
                else "",
                verdict="good" if saving is not None and saving > 0 else "",
            ),
            Kpi(t("kpi_sites"), str(len(plan.open_sites))),
        ]
    )
    if r.scenario.problem.demand_xy_km is not None and r.scenario.problem.site_xy_km is not None:
        s.chart(f"s{k}-map", map_chart(r, _map_labels(t), look.colours), t("map_caption"))
    s.table(
        Table(
            f"s{k}-assignments",
            t("assignments_caption"),
            assignments_frame(r),
            titles={
                "park": t("park"),
                "facility_type": t("facility_type"),
                "site": t("site"),
                "amount_units": t("units"),
                "need_fraction": t("need"),
                "distance_km": t("distance"),
                "transport_cny": t("transport"),
                "operating_cny": t("operating"),
            },
            units={
                "amount_units": t("units_unit"),
                "distance_km": "km",
                "transport_cny": "CNY",
                "operating_cny": "CNY",
            },
            digits={"distance_km": 1},
            percent=("need_fraction",),
        )
    )
    sites = open_sites_frame(r)
    types = r.scenario.problem.facility_types
    s.table(
        Table(
            f"s{k}-open-sites",
            t("open_sites_caption"),
            sites,
            titles={"site": t("site"), "fixed_cny": t("fixed_cost"), "parks": t("parks_served")}
            | {f"{ft}_units": ft for ft in types},
            units={"fixed_cny": "CNY"} | {f"{ft}_units": t("units_unit") for ft in types},
        )
    )


def _no_plan(s: Section, look: _Look, r: ScenarioResult, k: int) -> None:
    t = look.t
    if not r.plan.unmet:
        s.note(t("no_plan_status", status=_status(t, r), message=r.plan.message))
        return
    units = sum(u.unmet_units for u in r.plan.unmet)
    s.note(t("infeasible", units=number(units), why=infeasible_reasons(t, r)))
    s.table(
        Table(
            f"s{k}-unmet",
            t("unmet_caption"),
            unmet_frame(r),
            titles={
                "park": t("park"),
                "facility_type": t("facility_type"),
                "unmet_units": t("unmet_units"),
                "reason": t("unmet_reason"),
            },
            units={"unmet_units": t("units_unit")},
        )
    )


def _map_labels(t: Labels) -> MapLabels:
    return MapLabels(
        east=t("east"),
        north=t("north"),
        park=t("park"),
        open_site=t("open_site"),
        closed_site=t("closed_site"),
        place=t("place"),
        facility_type=t("facility_type"),
        units=f"{t('units')} ({t('units_unit')})",
        km=t("km"),
    )


def _shares(report: Report, look: _Look, r: ScenarioResult, k: int) -> None:
    t = look.t
    rec = recommend(r.shares)
    if rec is None or r.plan.cost is None:
        return
    s = report.section(t("shares_title", scenario=r.scenario.name))
    s.note(recommendation_sentence(t, rec))
    s.paragraph(t("shares_text", total=number(rec.chosen.total_cny)))
    labels = ShareLabels(
        park=t("park"),
        method=t("method"),
        axis=t("shares_axis"),
        reference=t("reference"),
        standalone=t("standalone"),
    )
    s.chart(
        f"s{k}-shares",
        shares_chart(r.shares, labels, look.methods, look.colours),
        t("shares_chart"),
    )
    frame = shares_frame(r)
    titles = {"park": t("park"), "standalone_cny": t("standalone")}
    for split in r.shares:
        titles[f"{split.method.value}_cny"] = look.methods[split.method.value]
        titles[f"{split.method.value}_std_error_cny"] = t("std_error")
    s.table(
        Table(
            f"s{k}-shares",
            t("shares_caption"),
            frame,
            titles=titles,
            units={c: "CNY" for c in frame.columns if c.endswith("_cny")},
        )
    )
    sampled = [split for split in r.shares if split.samples]
    if sampled:
        s.paragraph(t("sampled", samples=number(sampled[0].samples)))
    lines = [stability_sentence(t, split) for split in r.shares]
    if rec.epsilon_cny is not None:
        lines.append(epsilon_sentence(t, rec.epsilon_cny, rec.chosen.total_cny))
    s.bullets(lines)
    stability = stability_frame(r)
    stability["method"] = [look.methods[m] for m in stability["method"]]
    # words, not check marks: the report font has no glyphs for those
    stability["in_core"] = [t("yes") if v else t("no") for v in stability["in_core"]]
    s.table(
        Table(
            f"s{k}-stability",
            t("stability_caption"),
            stability,
            titles={
                "method": t("method"),
                "in_core": t("in_core"),
                "worst_coalition": t("worst_group"),
                "worst_excess_cny": t("excess"),
                "least_core_epsilon_cny": t("epsilon"),
            },
            units={"worst_excess_cny": "CNY", "least_core_epsilon_cny": "CNY"},
        )
    )


def build_report(region: str, results: Sequence[ScenarioResult], lang: Lang = "en") -> Report:
    """The report of one scenario file's results (see the module docstring)."""
    look = _look(results, lang)
    t = look.t
    report = Report(t("title", region=region), lang, t("subtitle", n=len(results)))
    _overview(report, look, results)
    if any(r.shares for r in results):
        _choosing(report, look)
    for k, r in enumerate(results, start=1):
        _plan(report, look, r, k)
        _shares(report, look, r, k)
    return report


def write_report(
    region: str, results: Sequence[ScenarioResult], out_dir: str | Path, *, lang: Lang = "en"
) -> ReportFiles:
    """Write the report and the exports into ``out_dir`` (module docstring)."""
    out = Path(out_dir)
    written = build_report(region, results, lang).write(out, "report")
    exports = write_tables(export_tables(results), out, EXPORT_STEM)
    return ReportFiles(
        html=out / "report.html",
        markdown=out / "report.md",
        charts=tuple(p for p in written if p.suffix == ".png"),
        exports=exports,
    )
