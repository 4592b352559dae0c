"""The matching report: its tables, charts, exports and summary.json say what the result says.

One optimal run on the bundled sample region (6 parks with Chinese names, 1 000 spaces,
2 000 enterprises) is written once in English through the library and once in Chinese
through ``zone-opt match --lang zh``; the tests compare what was written with the result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser
from report_browser import SCREENSHOTS, open_report

from zone_opt.cli import main
from zone_opt.datasets import read_region
from zone_opt.matching import REASONS, MatchOptions, MatchResult, match
from zone_opt.matching.domain import UNMATCHED_REASONS
from zone_opt.matching.report import (
    EXPORT_STEM,
    Caps,
    ReportOptions,
    Written,
    build_report,
    top_matches,
    write_match_outputs,
)
from zone_opt.matching.report_charts import (
    components_by_park_data,
    industry_data,
    park_data,
    spread_data,
)
from zone_opt.matching.report_labels import LABELS, REASON_TEXT, SPACE_REASONS, reason_keys
from zone_opt.matching.report_tables import MatchInputs, MatchTables, match_tables
from zone_opt.reports import read_csv, read_xlsx

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "datasets" / "sample"
NOW = dt.date(2026, 1, 1)
CJK = re.compile(r"[\u4e00-\u9fff]")
SHENZHEN = "深圳物流产业园1号"


@dataclass(frozen=True)
class Run:
    result: MatchResult
    inputs: MatchInputs
    written: Written
    out: Path

    @property
    def tables(self) -> MatchTables:
        assert self.written.tables is not None
        return self.written.tables


def _pandas(table: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """A frame of the table, dictionary-encoded text as plain text."""
    if isinstance(table, pd.DataFrame):
        return table
    plain = [
        pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c
        for c in table.columns
    ]
    return pa.table(plain, names=table.column_names).to_pandas()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    region = read_region(SAMPLE)
    result = match(
        region.spaces,
        region.enterprises,
        parks=region.parks,
        tenancies=region.tenancies,
        options=MatchOptions(now=NOW),
    )
    inputs = MatchInputs(region.spaces, region.enterprises, region.parks)
    out = tmp_path_factory.mktemp("match-en")
    written = write_match_outputs(result, inputs, out, ReportOptions(lang="en"))
    return Run(result, inputs, written, out)


@pytest.fixture(scope="module")
def zh_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("match-zh") / "out"
    argv = ["match", "--now", NOW.isoformat(), "--out", str(out), "--no-progress"]
    for name in ("spaces", "enterprises", "parks", "tenancies"):
        argv += [f"--{name}", str(SAMPLE / f"{name}.parquet")]
    assert main([*argv, "--lang", "zh"]) == 0
    return out


def _area_of_spaces(run: Run) -> pd.Series:
    spaces = run.inputs.spaces.select(["space_id", "area_m2"]).to_pandas()
    return spaces.set_index("space_id")["area_m2"]


def test_matched_area_per_park_sums_the_assignments_areas(run: Run) -> None:
    assignments = run.result.assignments.to_pandas()
    area = assignments["space_id"].map(_area_of_spaces(run))
    expected = area.groupby(assignments["park_id"]).sum()
    by_park = run.tables.by_park.set_index("park_id")
    assert len(by_park) == run.inputs.parks.num_rows
    got = by_park["matched_area_m2"]
    pd.testing.assert_series_equal(
        got.loc[expected.index], expected, check_names=False, check_exact=False
    )
    assert got.drop(expected.index).sum() == 0
    # idle area: the offered spaces of each park
    t = run.result.matcher.tables
    offered = pd.Series(t.space_area_m2[run.result.space_active])
    park_of = t.park_ids.take(t.space_park[run.result.space_active]).to_numpy()
    idle = offered.groupby(park_of).sum()
    assert np.allclose(by_park.loc[idle.index, "idle_area_m2"], idle)
    # the report's table is the same frame, park names as given
    shown = run.written.report.tables["by_park"] if run.written.report else None
    assert shown is not None
    assert shown["matched_area_m2"].sum() == pytest.approx(area.sum())
    assert SHENZHEN in set(shown["park_name"])


def test_unmatched_counts_by_reason_equal_the_unmatched_table(run: Run) -> None:
    unmatched = run.result.unmatched.to_pandas()
    codes = unmatched["constraint"].fillna(unmatched["reason"])
    expected = codes.value_counts().to_dict()
    shown = run.written.report.tables["reasons"] if run.written.report else None
    assert shown is not None
    t = LABELS.labels("en")
    enterprise_rows = shown.loc[shown["applies_to"] == t("side.enterprise")]
    assert dict(zip(enterprise_rows["reason_code"], enterprise_rows["count"], strict=True)) == (
        expected
    )
    assert expected["NO_PARK_IN_RADIUS"] > 0  # the sample's leading reason: not vacuous
    space_rows = shown.loc[shown["applies_to"] == t("side.space")]
    s = run.result.summary
    assert space_rows["count"].sum() == s.n_spaces_offered - s.n_matched
    assert set(space_rows["reason_code"]) <= set(SPACE_REASONS)
    # a NOT_CHOSEN space was on someone's shortlist, a NO_SEEKER one on nobody's
    spaces = _pandas(run.tables.unmatched_spaces)
    shortlisted = np.bincount(run.result.graph.cols, minlength=run.result.space_active.size)
    rows = run.result.matcher.space_rows(spaces["space_id"], "space_id")
    assert ((shortlisted[rows] > 0) == (spaces["reason_code"] == "NOT_CHOSEN")).all()


def _every_code() -> list[str]:
    return [*REASONS[1:], *UNMATCHED_REASONS[1:], *SPACE_REASONS]


@pytest.mark.parametrize("code", _every_code())
def test_every_reason_code_is_explained_in_both_languages(code: str) -> None:
    for key in reason_keys(code):
        en, zh = LABELS.entries[key]
        assert en.strip()
        assert zh.strip()
        assert en != zh
        assert not CJK.search(en)
        assert CJK.search(zh)


def test_the_codes_shown_are_explained_in_the_reports_language(run: Run, zh_out: Path) -> None:
    en = run.tables.by_reason
    assert set(en["reason_code"]) <= set(REASON_TEXT)
    for row in en.itertuples():
        assert row.explanation == REASON_TEXT[row.reason_code][1][0]
    zh = read_csv(zh_out / f"{EXPORT_STEM}-unmatched_enterprises.csv")
    for code, why in zip(zh["reason_code"], zh["explanation"], strict=True):
        assert why == REASON_TEXT[code][1][1]


def test_key_figures_follow_the_summary(run: Run) -> None:
    f, s = run.tables.figures, run.result.summary
    assert (f.matched, f.seekers, f.idle_spaces) == (s.n_matched, s.n_seekers, s.n_spaces_offered)
    assert f.total_score == s.total_score == run.result.assignments["score"].to_numpy().sum()
    assert f.demand_share == pytest.approx(s.n_matched / s.n_seekers)
    assert 0 < f.area_share < 1
    html = (run.out / "report.html").read_text(encoding="utf-8")
    assert f"{s.n_matched:,} of {s.n_seekers:,} seeking enterprises" in html
    area = run.result.assignments.to_pandas()["space_id"].map(_area_of_spaces(run))
    per_park = area.groupby(run.result.assignments["park_id"].to_numpy()).sum()
    parks = run.inputs.parks.to_pandas().set_index("park_id")["name"]
    most = parks[per_park.idxmax()]
    assert f"{most} let the most space: {per_park.max():,.0f} m²" in html


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_summary_json_is_strict_and_keeps_its_keys(run: Run) -> None:
    summary = _strict((run.out / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(summary, dict)
    old = dataclasses.asdict(run.result.summary)
    assert {k: summary[k] for k in old} == json.loads(json.dumps(old))
    assert summary["matched_area_m2"] == pytest.approx(run.tables.figures.matched_area_m2)
    unmatched = run.result.unmatched.to_pandas()
    assert sum(summary["unmatched_enterprises_by_reason"].values()) == len(unmatched)


def test_a_run_with_no_match_writes_null_not_nan(run: Run, tmp_path: Path) -> None:
    offered = run.result.matcher.tables.space_ids.to_numpy()[run.result.space_active]
    empty = run.result.rematch(taken_space_ids=offered)
    assert empty.summary.n_matched == 0
    written = write_match_outputs(empty, run.inputs, tmp_path, ReportOptions(png=False))
    summary = _strict(written.summary.read_text(encoding="utf-8"))
    assert isinstance(summary, dict)
    assert summary["matched_area_share"] is None
    assert summary["mean_fit_pct"] is None
    assert (tmp_path / "report.html").exists()


def _codes_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas' readers take the code "01" for the number 1: compare codes as numbers (the
    workbook itself keeps them as text, see below)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        numeric = pd.api.types.is_numeric_dtype(values)
        code = not numeric and values.astype(str).str.fullmatch(r"\d+").all()
        if code or (numeric and not pd.api.types.is_bool_dtype(values)):
            out[column] = values.astype(np.float64)
    return out


def test_exports_read_back_to_the_same_tables(run: Run) -> None:
    tables = run.tables.exports()
    sheets = read_xlsx(run.out / f"{EXPORT_STEM}.xlsx")
    assert list(sheets) == list(tables)
    for name, table in tables.items():
        expected = _pandas(table).reset_index(drop=True)
        pd.testing.assert_frame_equal(_codes_as_numbers(sheets[name]), _codes_as_numbers(expected))
        back = read_csv(run.out / f"{EXPORT_STEM}-{name}.csv")
        pd.testing.assert_frame_equal(_codes_as_numbers(back), _codes_as_numbers(expected))
    assert len(sheets["assignments"]) == run.result.summary.n_matched
    header = (
        (run.out / f"{EXPORT_STEM}-by_park.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    )
    assert "idle_area_m2 (m²)" in header
    book = openpyxl.load_workbook(run.out / f"{EXPORT_STEM}.xlsx", read_only=True)
    codes = [row[0] for row in book["by_industry"].iter_rows(min_row=2, values_only=True)]
    assert codes == list(tables["by_industry"]["industry_code"])  # "01" stays text


def test_chart_data_match_the_result(run: Run) -> None:
    tables, caps = run.tables, Caps()
    t = LABELS.labels("en")
    parks = park_data(tables, t, caps)
    matched = parks.loc[parks["state"] == t("matched"), "area_m2"].sum()
    assert matched == pytest.approx(tables.figures.matched_area_m2)
    assert parks["area_m2"].sum() == pytest.approx(tables.figures.idle_area_m2)
    industries = industry_data(tables, t, caps)
    assert industries.loc[industries["state"] == t("placed"), "enterprises"].sum() == (
        run.result.summary.n_matched
    )
    assert industries["enterprises"].sum() == run.result.summary.n_seekers
    weights = run.result.matcher.weights.as_tuple()
    points = components_by_park_data(tables, weights, t, caps).groupby("park")["points"].sum()
    mean_fit = tables.by_park.set_index("park_name")["mean_fit_pct"]
    assert np.allclose(points, mean_fit.loc[points.index], atol=1e-3)
    spread = spread_data(tables, t).set_index("component")
    for name in ("distance", "chain"):
        assert spread.loc[t(f"comp.{name}"), "median"] == pytest.approx(
            np.median(run.result.assignments[name].to_numpy())
        )
    report = run.written.report
    assert report is not None
    assert [c.name for c in report.charts] == [
        "parks", "industries", "unmatched-enterprises", "unmatched-spaces", "fit-by-park",
        "components",
    ]  # fmt: skip
    for chart in report.charts:  # aggregated rows only, never one per match
        rows = sum(len(v) for v in chart.spec.get("datasets", {}).values())
        assert 0 < rows <= 2 * (caps.parks + 1) + caps.parks + 1


def test_caps_keep_totals_and_the_best_matches(run: Run) -> None:
    tables = run.tables
    caps = Caps(parks=2, industries=3, top_parks=2, top_per_park=2)
    t = LABELS.labels("en")
    parks = park_data(tables, t, caps)
    assert parks["park"].nunique() == 3
    assert t("other_parks") in set(parks["park"])
    assert parks["area_m2"].sum() == pytest.approx(tables.figures.idle_area_m2)
    assert industry_data(tables, t, caps)["industry"].nunique() == 4
    top = top_matches(tables, caps)
    assert len(top) == 4
    assignments = _pandas(tables.assignments)
    for park, rows in top.groupby("park_name"):
        best = assignments.loc[assignments["park_name"] == park, "fit_pct"].nlargest(2)
        assert np.allclose(sorted(rows["fit_pct"], reverse=True), best.to_numpy())
    report = build_report(run.result, tables, ReportOptions(caps=caps))
    assert len(report.tables["by_park"]) == 2
    assert len(report.tables["top_matches"]) == 4


def test_top_matches_are_real_assignments(run: Run) -> None:
    shown = run.written.report.tables["top_matches"] if run.written.report else None
    assert shown is not None
    assert len(shown) > 0
    assignments = _pandas(run.tables.assignments).set_index("space_id")
    for row in shown.itertuples():
        assert assignments.loc[row.space_id, "enterprise_name"] == row.enterprise_name
        assert assignments.loc[row.space_id, "fit_pct"] == pytest.approx(row.fit_pct)


def test_a_chinese_park_name_is_in_the_page_and_the_png_spec(run: Run) -> None:
    html = (run.out / "report.html").read_text(encoding="utf-8")
    assert SHENZHEN in html
    report = run.written.report
    assert report is not None
    chart = next(c for c in report.charts if c.name == "parks")
    spec = json.dumps(report._spec(chart), ensure_ascii=False)
    assert SHENZHEN in spec
    png = run.out / "charts" / "report-parks.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lang_zh_gives_chinese_headings(zh_out: Path) -> None:
    html = (zh_out / "report.html").read_text(encoding="utf-8")
    for heading in ("概览", "各园区闲置空间匹配情况", "未匹配的原因", "匹配明细：谁落位在哪里"):
        assert f"<h2>{heading}</h2>" in html
    assert "At a glance" not in html
    assert '<html lang="zh-CN">' in html
    md = (zh_out / "report.md").read_text(encoding="utf-8")
    assert "## 概览" in md
    assert pq.read_table(zh_out / "assignments.parquet").num_rows > 0


def test_no_report_writes_the_parquet_files_and_summary_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["match", "--now", NOW.isoformat(), "--out", str(out), "--no-progress", "--no-report"]
    for name in ("spaces", "enterprises", "parks", "tenancies"):
        argv += [f"--{name}", str(SAMPLE / f"{name}.parquet")]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "assignments.parquet", "summary.json", "unmatched.parquet",
    ]  # fmt: skip
    summary = _strict((out / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(summary, dict)
    assert "matched_area_share" in summary


def test_the_reports_open_in_a_browser(browser: Browser, run: Run, zh_out: Path) -> None:
    for html, name in ((run.out, "matching-report"), (zh_out, "matching-report-zh")):
        opened = open_report(browser, html / "report.html", SCREENSHOTS / f"{name}.png")
        assert opened.errors == []
        assert opened.charts == 6
        assert opened.tables == 4
        assert opened.screenshot.stat().st_size > 0


def test_a_table_above_the_sheet_cap_is_in_its_csv_file_only(run: Run, tmp_path: Path) -> None:
    cap = 50
    options = ReportOptions(png=False, sheet_rows=cap)
    written = write_match_outputs(run.result, run.inputs, tmp_path, options)
    assert written.tables is not None
    exports = written.tables.exports()
    long = [name for name, table in exports.items() if len(table) > cap]
    assert "unmatched_enterprises" in long
    assert "by_park" not in long  # the cap splits the tables: not vacuous
    sheets = read_xlsx(tmp_path / f"{EXPORT_STEM}.xlsx")
    assert list(sheets) == [*(name for name in exports if name not in long), "csv_only"]
    listed = sheets["csv_only"]
    assert list(listed["table"]) == long
    assert list(listed["rows"]) == [len(exports[name]) for name in long]
    assert list(listed["csv_file"]) == [f"{EXPORT_STEM}-{name}.csv" for name in long]
    for name in long:  # the full table, every row, in its CSV file
        back = read_csv(tmp_path / f"{EXPORT_STEM}-{name}.csv")
        expected = _pandas(exports[name])
        pd.testing.assert_frame_equal(_codes_as_numbers(back), _codes_as_numbers(expected))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"had more than {cap} rows: they are in their CSV files only" in html
    assert all(name in html for name in long)


def test_no_report_gives_the_same_figures_without_the_tables(run: Run, tmp_path: Path) -> None:
    written = write_match_outputs(run.result, run.inputs, tmp_path, ReportOptions(report=False))
    assert written.tables is None
    assert written.figures == run.tables.figures
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_the_tables_follow_the_ids_not_the_row_order(run: Run) -> None:
    rng = np.random.default_rng(7)

    def shuffled(table: pa.Table) -> pa.Table:
        return table.take(pa.array(rng.permutation(table.num_rows)))

    inputs = MatchInputs(
        shuffled(run.inputs.spaces), shuffled(run.inputs.enterprises), shuffled(run.inputs.parks)
    )
    tables = match_tables(run.result, inputs)
    assert tables.assignments.equals(run.tables.assignments)
    assert tables.unmatched_enterprises.equals(run.tables.unmatched_enterprises)
    assert tables.unmatched_spaces.equals(run.tables.unmatched_spaces)
    pd.testing.assert_frame_equal(tables.by_park, run.tables.by_park)
    pd.testing.assert_frame_equal(tables.by_industry, run.tables.by_industry)
    assert tables.figures == run.tables.figures
