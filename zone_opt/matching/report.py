"""The matching report a regional planner reads at a glance, its exports and summary.json.

:func:`write_match_outputs` writes, next to the Parquet results of ``zone-opt match``:

* ``summary.json``: the run's :class:`~zone_opt.matching.MatchSummary` (same keys as
  before) plus the planner's figures (idle and matched area, shares, counts per reason),
  strict JSON;
* ``report.html`` (self-contained), ``report.md`` and ``charts/report-*.png``: key figures,
  matched area per park, placed enterprises per industry, unmatched enterprises and spaces
  per reason with what each reason means, what the matches scored on, and the best
  matches of each park;
* ``matching-<table>.csv`` and ``matching.xlsx``: the per-park, per-industry and
  per-reason summaries, every assignment and every unmatched enterprise and space with its
  reason code and explanation. Every table is in its CSV file in full; the workbook has a
  sheet per table of at most :data:`SHEET_ROWS` rows (longer ones are listed on its
  ``csv_only`` sheet and in the report).

Labels are English or Chinese (``lang``); park and enterprise names are printed as given.
Charts and the report's tables read aggregated rows only (capped by :class:`Caps`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc

from zone_opt.matching.domain import MatchResult
from zone_opt.matching.report_charts import (
    Caps,
    busiest_parks,
    components_by_park_chart,
    components_by_park_data,
    industry_chart,
    industry_data,
    matches_in,
    park_chart,
    park_data,
    reason_chart,
    spread_chart,
    spread_data,
)
from zone_opt.matching.report_labels import LABELS
from zone_opt.matching.report_tables import (
    Figures,
    MatchInputs,
    MatchRows,
    MatchTables,
    match_figures,
    match_tables,
)
from zone_opt.matching.scoring import COMPONENTS
from zone_opt.reports import (
    EXCEL_MAX_ROWS,
    Kpi,
    Labels,
    Lang,
    Report,
    Table,
    export_plan,
    number,
    percent,
    prepare_bundle,
    write_json,
    write_tables,
)

__all__ = [
    "EXCEL_MAX_ROWS",
    "EXPORT_STEM",
    "REPORT_STEM",
    "SHEET_ROWS",
    "Caps",
    "ReportOptions",
    "Written",
    "build_report",
    "summary_json",
    "write_match_outputs",
]

REPORT_STEM = "report"
EXPORT_STEM = "matching"
#: Rows a table may have to get a sheet in ``matching.xlsx``; a longer one (the matches
#: and unmatched enterprises of a city-wide run) is in its CSV file only (UTF-8 with a BOM:
#: it opens in Excel as it is), and the workbook's ``csv_only`` sheet says so. The
#: workbook is for reading and filtering; openpyxl writes about 10^4 rows a second, so
#: a sheet of 10^5 rows would cost the run as much as the matching itself.
SHEET_ROWS = 10_000


@dataclass(frozen=True)
class ReportOptions:
    """What :func:`write_match_outputs` writes.

    Attributes:
        lang: language of labels, headings and explanations.
        report: write the HTML/Markdown report, its PNGs and the exports (``False``:
            ``summary.json`` only, e.g. for ``--no-report`` on very large runs).
        png: draw a PNG per chart (the slow part of the report: ~0.3 s a chart).
        caps: rows kept in charts and the report's tables.
        sheet_rows: the most rows of a table written to the workbook (see
            :data:`SHEET_ROWS`); every table is in its CSV file in full.
    """

    lang: Lang = "en"
    report: bool = True
    png: bool = True
    caps: Caps = field(default_factory=Caps)
    sheet_rows: int = SHEET_ROWS


@dataclass(frozen=True)
class Written:
    """The files written and the tables they came from (``tables`` and ``report`` are
    ``None`` when only ``summary.json`` was written)."""

    summary: Path
    files: list[Path]
    figures: Figures
    tables: MatchTables | None
    report: Report | None


def summary_json(result: MatchResult, figures: Figures) -> dict[str, Any]:
    """The summary's keys unchanged, then the planner's figures (areas m2, shares 0-1)."""
    f = figures
    return {
        **asdict(result.summary),
        "n_spaces_matched": f.matched,
        "idle_area_m2": f.idle_area_m2,
        "matched_area_m2": f.matched_area_m2,
        "matched_area_share": f.area_share,
        "matched_space_share": f.space_share,
        "matched_demand_share": f.demand_share,
        "requested_area_m2": f.wanted_area_m2,
        "placed_requested_area_m2": f.placed_wanted_area_m2,
        "mean_fit_pct": f.mean_fit_pct,
        "unmatched_enterprises_by_reason": f.enterprise_reasons,
        "unmatched_spaces_by_reason": f.space_reasons,
    }


def write_match_outputs(
    result: MatchResult, inputs: MatchInputs, out: Path, options: ReportOptions | None = None
) -> Written:
    """Write ``summary.json`` and (unless ``options.report`` is off) the exports and the
    report into ``out``. O(spaces + enterprises + assignments): summary.json needs the
    figures only; tables above ``options.sheet_rows`` rows go to CSV, not the workbook."""
    options = options or ReportOptions()
    out.mkdir(parents=True, exist_ok=True)
    rows = MatchRows(result, inputs)
    if not options.report:
        figures = match_figures(rows)
        summary = write_json(out / "summary.json", summary_json(result, figures))
        return Written(summary=summary, files=[summary], figures=figures, tables=None, report=None)
    prepare_bundle()  # the page's script, built while the tables are
    tables = match_tables(result, inputs, options.lang, rows)
    summary = write_json(out / "summary.json", summary_json(result, tables.figures))
    exports = tables.exports()
    plan = export_plan(exports, EXPORT_STEM, options.sheet_rows)
    files = FileNotes(
        xlsx=plan.xlsx,
        csv=list(plan.csv.values()),
        csv_only=list(plan.csv_only),
        sheet_rows=options.sheet_rows,
    )
    # The exports (Arrow's CSV writer releases the GIL) are written while the report is
    # built and its charts drawn: the files are named by the plan, so the report need not
    # wait for them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="match-exports") as pool:
        exporting = pool.submit(
            write_tables,
            exports,
            out,
            EXPORT_STEM,
            units={name: {"fit_pct": "of 100"} for name in exports},
            sheet_rows=options.sheet_rows,
        )
        report = build_report(result, tables, options, files)
        written = report.write(out, REPORT_STEM, png=options.png)
        exported = exporting.result()
    return Written(
        summary=summary,
        files=[summary, exported.xlsx, *exported.csv.values(), *written],
        figures=tables.figures,
        tables=tables,
        report=report,
    )


@dataclass(frozen=True)
class FileNotes:
    """The export files the report points to, and the tables left out of the workbook."""

    xlsx: str
    csv: list[str]
    csv_only: list[str] = field(default_factory=list)
    sheet_rows: int = SHEET_ROWS


def build_report(
    result: MatchResult,
    tables: MatchTables,
    options: ReportOptions | None = None,
    files: FileNotes | None = None,
) -> Report:
    """The report of one matching run (nothing written yet)."""
    options = options or ReportOptions()
    t = LABELS.labels(options.lang)
    f = tables.figures
    report = Report(
        title=t("title"),
        lang=options.lang,
        subtitle=t(
            "subtitle",
            mode=t(f"mode.{result.summary.mode}"),
            date=result.matcher.now.isoformat(),
            seekers=number(f.seekers),
            spaces=number(f.idle_spaces),
            parks=number(len(tables.by_park)),
        ),
    )
    _glance(report, result, tables, t)
    _parks(report, tables, t, options.caps)
    _industries(report, tables, t, options.caps)
    _reasons(report, tables, t)
    _scores(report, result, tables, t, options.caps)
    _top_matches(report, tables, t, options.caps)
    if files is not None:
        _files(report, files, t)
    return report


def _glance(report: Report, result: MatchResult, tables: MatchTables, t: Labels) -> None:
    f, s = tables.figures, result.summary
    section = report.section(t("sec.glance"))
    section.kpis(
        [
            Kpi(
                t("kpi.area_share"),
                percent(f.area_share),
                note=t(
                    "kpi.area_note",
                    matched=number(f.matched_area_m2),
                    idle=number(f.idle_area_m2),
                ),
            ),
            Kpi(
                t("kpi.space_share"),
                percent(f.space_share),
                note=t("kpi.space_note", matched=number(f.matched), idle=number(f.idle_spaces)),
            ),
            Kpi(
                t("kpi.demand_share"),
                percent(f.demand_share),
                note=t("kpi.demand_note", matched=number(f.matched), seekers=number(f.seekers)),
            ),
            Kpi(
                t("kpi.demand_area_share"),
                percent(f.demand_area_share),
                note=t(
                    "kpi.demand_area_note",
                    matched=number(f.placed_wanted_area_m2),
                    wanted=number(f.wanted_area_m2),
                ),
            ),
            Kpi(
                t("kpi.matches"),
                number(f.matched),
                note=t("kpi.matches_note", edges=number(f.n_edges)),
            ),
            Kpi(
                t("kpi.total_score"),
                number(f.total_score),
                note=t("kpi.total_note", fit=number(f.mean_fit_pct, 1)),
            ),
        ]
    )
    section.paragraph(
        t(
            "glance.text",
            matched=number(f.matched),
            seekers=number(f.seekers),
            area=number(f.matched_area_m2),
            idle=number(f.idle_area_m2),
            share=percent(f.area_share),
            no_cand=number(s.n_no_candidates),
            outcompeted=number(s.n_outcompeted),
        )
    )
    if f.matched == 0:
        section.note(t("glance.none"))


def _parks(report: Report, tables: MatchTables, t: Labels, caps: Caps) -> None:
    section = report.section(t("sec.parks"))
    by_park = tables.by_park
    if tables.figures.matched > 0:
        most = by_park.loc[by_park["matched_area_m2"].idxmax()]
        section.paragraph(
            t(
                "parks.text",
                most=most["park_name"],
                area=number(most["matched_area_m2"]),
                share=percent(most["matched_area_share"]),
            )
        )
    if len(by_park) > caps.parks:
        section.note(t("parks.capped", n=caps.parks, other=t("other_parks")))
    section.chart("parks", park_chart(park_data(tables, t, caps), t), t("parks.caption"))
    columns = ["park_name", "idle_spaces", "matched_spaces", "idle_area_m2", "matched_area_m2"]
    columns += ["matched_area_share", "mean_fit_pct"]
    section.table(
        Table(
            name="by_park",
            caption=t("parks.table"),
            frame=by_park[columns].head(caps.parks).reset_index(drop=True),
            titles={
                "park_name": t("park"),
                "idle_spaces": t("idle_spaces"),
                "matched_spaces": t("matched_spaces"),
                "idle_area_m2": t("idle_area"),
                "matched_area_m2": t("matched_area"),
                "matched_area_share": t("matched_share"),
                "mean_fit_pct": t("mean_fit"),
            },
            units={"idle_area_m2": "m²", "matched_area_m2": "m²"},
            digits={"mean_fit_pct": 1},
            percent=["matched_area_share"],
        )
    )


def _industries(report: Report, tables: MatchTables, t: Labels, caps: Caps) -> None:
    section = report.section(t("sec.industries"))
    section.paragraph(t("industries.text"))
    if len(tables.by_industry) > caps.industries:
        section.note(t("industries.capped", n=caps.industries, other=t("other_industries")))
    chart = industry_chart(industry_data(tables, t, caps), t)
    section.chart("industries", chart, t("industries.caption"))
    columns = ["industry", "seekers", "placed", "placed_share", "placed_area_m2"]
    section.table(
        Table(
            name="by_industry",
            caption=t("industries.table"),
            frame=tables.by_industry[columns].head(caps.industries).reset_index(drop=True),
            titles={
                "industry": t("industry"),
                "seekers": t("seekers"),
                "placed": t("placed_count"),
                "placed_share": t("placed_share"),
                "placed_area_m2": t("placed_area"),
            },
            units={"placed_area_m2": "m²"},
            percent=["placed_share"],
        )
    )


def _reasons(report: Report, tables: MatchTables, t: Labels) -> None:
    section = report.section(t("sec.reasons"))
    section.paragraph(t("reasons.text"))
    by_reason = tables.by_reason
    sides = (
        ("enterprise", "unmatched", "count_enterprises", "reasons.enterprises_caption"),
        ("space", "unmatched", "count_spaces", "reasons.spaces_caption"),
    )
    for side, kind, x_title, caption in sides:
        rows = by_reason.loc[by_reason["applies_to"] == t(f"side.{side}")]
        if rows.empty:
            continue
        chart = reason_chart(rows, t, kind=kind, x_title=t(x_title))
        section.chart(f"unmatched-{side}s", chart, t(caption))
    section.table(
        Table(
            name="reasons",
            caption=t("reasons.table"),
            frame=by_reason,
            titles={
                "applies_to": t("applies_to"),
                "reason_code": t("reason_code"),
                "reason_label": t("reason"),
                "count": t("count"),
                "explanation": t("explanation"),
            },
        )
    )


def _weights_text(weights: tuple[float, ...], t: Labels) -> str:
    total = sum(weights)
    return t("list_sep").join(
        f"{t(f'comp.{name}')} {percent(w / total, 0)}"
        for name, w in zip(COMPONENTS, weights, strict=True)
    )


def _scores(
    report: Report, result: MatchResult, tables: MatchTables, t: Labels, caps: Caps
) -> None:
    section = report.section(t("sec.scores"))
    weights = result.matcher.weights.as_tuple()
    section.paragraph(t("scores.text", weights=_weights_text(weights, t)))
    if tables.assignments.num_rows == 0:
        section.note(t("no_matches"))
        return
    by_park = components_by_park_data(tables, weights, t, caps)
    chart = components_by_park_chart(by_park, t)
    section.chart("fit-by-park", chart, t("scores.by_park_caption"))
    section.chart("components", spread_chart(spread_data(tables, t), t), t("scores.spread_caption"))


def top_matches(tables: MatchTables, caps: Caps) -> pd.DataFrame:
    """The best ``caps.top_per_park`` matches by fit of the ``caps.top_parks`` parks with
    the most matches, parks in the order of the per-park table."""
    columns = ["park_name", "enterprise_name", "industry_code", "space_id", "kind", "area_m2"]
    columns += ["fit_pct", "distance_km"]
    parks = busiest_parks(tables, caps.top_parks)
    chosen = matches_in(tables, parks, [*columns, "score", "enterprise_id"])
    order = {name: i for i, name in enumerate(tables.by_park["park_name"])}
    chosen["_park"] = chosen["park_name"].map(order)
    chosen = chosen.sort_values(["_park", "score", "enterprise_id"], ascending=[True, False, True])
    best = chosen.groupby("_park", sort=False).head(caps.top_per_park)
    return best[columns].reset_index(drop=True)


def _top_matches(report: Report, tables: MatchTables, t: Labels, caps: Caps) -> None:
    section = report.section(t("sec.top"))
    if tables.assignments.num_rows == 0:
        section.note(t("no_matches"))
        return
    parks = min(caps.top_parks, pc.count_distinct(tables.assignments.column("park_name")).as_py())
    section.paragraph(t("top.text", n=caps.top_per_park, parks=parks))
    frame = top_matches(tables, caps)
    frame["kind"] = frame["kind"].map(lambda k: t(f"kind.{k}"))
    section.table(
        Table(
            name="top_matches",
            caption=t("top.table"),
            frame=frame,
            titles={
                "park_name": t("park"),
                "enterprise_name": t("enterprise"),
                "industry_code": t("industry_code"),
                "space_id": t("space"),
                "kind": t("kind"),
                "area_m2": t("area"),
                "fit_pct": t("fit"),
                "distance_km": t("distance"),
            },
            units={"area_m2": "m²", "distance_km": "km"},
            digits={"fit_pct": 1, "distance_km": 1},
        )
    )


def _files(report: Report, files: FileNotes, t: Labels) -> None:
    section = report.section(t("sec.files"))
    section.paragraph(t("files.text", xlsx=files.xlsx, csv=t("list_sep").join(files.csv)))
    if files.csv_only:
        names = t("list_sep").join(files.csv_only)
        section.note(t("files.csv_only", names=names, rows=number(files.sheet_rows)))
