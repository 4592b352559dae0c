"""The shared-facilities report: its tables are the results, its sentences name what the
sharing code computed, its numbers read for people, its exports read back, and it draws in a
browser. Built from the bundled example scenario (solved once, ~2 s)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser
from report_browser import SCREENSHOTS, open_report

from zone_opt.cli import main
from zone_opt.optimise.facilities.advice import Rule, in_core, recommend
from zone_opt.optimise.facilities.report import (
    ReportFiles,
    build_report,
    export_tables,
    write_report,
)
from zone_opt.optimise.facilities.report_charts import scale_bar_km
from zone_opt.optimise.facilities.report_text import coalition
from zone_opt.optimise.facilities.scenario import ScenarioResult, load_scenarios, run_scenarios
from zone_opt.optimise.facilities.sharing import CostShares, ShareMethod
from zone_opt.optimise.solver import SolveOptions
from zone_opt.reports import Report, number, read_csv, read_xlsx

EXAMPLE = Path(__file__).resolve().parents[2] / "datasets/facilities/example_scenario.yaml"
Solved = tuple[str, list[ScenarioResult]]


@pytest.fixture(scope="module")
def solved() -> Solved:
    region, scenarios = load_scenarios(EXAMPLE)
    return region, run_scenarios(scenarios, SolveOptions(mip_rel_gap=1e-6))


@pytest.fixture(scope="module")
def report(solved: Solved) -> Report:
    return build_report(*solved)


@pytest.fixture(scope="module")
def written(solved: Solved, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    return write_report(*solved, tmp_path_factory.mktemp("facilities-report"))


def _by_name(results: list[ScenarioResult], name: str) -> tuple[int, ScenarioResult]:
    (found,) = [(k, r) for k, r in enumerate(results, start=1) if r.scenario.name == name]
    return found


def _visible_text(html: str) -> str:
    """The page's words: no scripts (the chart bundle), styles or tags."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _chart(report: Report, name: str) -> dict[str, Any]:
    (chart,) = [c for c in report.charts if c.name == name]
    return chart.spec


def _layer_data(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Each layer's inline rows (Altair puts them in ``datasets`` by name)."""
    return [spec["datasets"][layer["data"]["name"]] for layer in spec["layer"]]


def test_tables_are_the_results(solved: Solved, report: Report) -> None:
    _, results = solved
    tables = report.tables
    for k, r in enumerate(results, start=1):
        if not r.plan.feasible:
            assert f"s{k}-assignments" not in tables
            continue
        got = tables[f"s{k}-assignments"]
        want = [(a.demand_id, a.facility_type, a.site_id, a.amount) for a in r.plan.assignments]
        assert (
            list(
                got[["park", "facility_type", "site", "amount_units"]].itertuples(
                    index=False, name=None
                )
            )
            == want
        )
        assert list(tables[f"s{k}-open-sites"]["site"]) == list(r.plan.open_sites)
        shares = tables[f"s{k}-shares"]
        assert list(shares["park"]) == [s.park for s in r.shares[0].shares]
        for split in r.shares:
            column = shares[f"{split.method.value}_cny"]
            assert list(column) == [s.share_cny for s in split.shares]
            # every method splits exactly the grand coalition's cost
            assert column.sum() == pytest.approx(r.plan.objective_cny, rel=1e-6)
        overview = tables["scenarios"].iloc[k - 1]
        assert overview["total_cny"] == pytest.approx(r.plan.objective_cny, rel=1e-9)
        assert overview["standalone_cny"] == r.standalone_total_cny


def test_each_stability_sentence_names_the_worst_coalition(solved: Solved, report: Report) -> None:
    _, results = solved
    sections = _sections(report.markdown())
    checked = 0
    for r in results:
        lines = sections.get(f"{r.scenario.name}: cost shares", [])
        for split in r.shares:
            (line,) = [ln for ln in lines if ln.startswith(f"- {_METHODS[split.method]}:")]
            assert coalition(split.worst_coalition) in line
            if in_core(split):
                assert "no group of parks would pay less on its own" in line
            else:
                assert f"would pay {number(split.worst_excess_cny)} CNY less" in line
            checked += 1
    assert checked == 12  # three scenarios with a plan, four methods each


_METHODS = {
    ShareMethod.PROPORTIONAL: "proportional",
    ShareMethod.SHAPLEY: "Shapley",
    ShareMethod.LEAST_CORE: "least core",
    ShareMethod.NUCLEOLUS: "nucleolus",
}


def _sections(md: str) -> dict[str, list[str]]:
    """``## heading`` -> the lines under it."""
    out: dict[str, list[str]] = {}
    for part in md.split("\n## ")[1:]:
        heading, *lines = part.splitlines()
        out[heading] = lines
    return out


def test_the_recommendation_follows_the_rule(solved: Solved, report: Report) -> None:
    _, results = solved
    md = report.markdown()
    _, joint = _by_name(results, "joint plan")
    rec = recommend(joint.shares)
    assert rec is not None
    assert rec.rule is Rule.CORE_EMPTY  # the least core is positive: nothing is stable
    assert rec.method is ShareMethod.NUCLEOLUS
    eps = number(rec.epsilon_cny)
    assert f"Recommended: nucleolus, because no split is stable here (least-core ε = {eps}" in md
    _, near = _by_name(results, "within 15 km")
    rec = recommend(near.shares)
    assert rec is not None
    # Shapley leaves a group better off alone; the nucleolus is in the core
    assert rec.rule is Rule.NUCLEOLUS_IN_CORE
    assert rec.shapley is not None
    shapley_group = coalition(rec.shapley.worst_coalition)
    assert f"the Shapley value is not stable here ({shapley_group} would pay" in md


def _split(method: ShareMethod, excess: float, eps: float | None = None) -> CostShares:
    return CostShares(method, 100.0, (), ("A", "B"), excess, eps, True, 3, 0.0)


@pytest.mark.parametrize(
    ("splits", "method", "rule"),
    [
        (
            [_split(ShareMethod.PROPORTIONAL, -1), _split(ShareMethod.SHAPLEY, -2)],
            ShareMethod.SHAPLEY,
            Rule.SHAPLEY_IN_CORE,
        ),
        (
            [_split(ShareMethod.SHAPLEY, 5), _split(ShareMethod.NUCLEOLUS, 0, -1)],
            ShareMethod.NUCLEOLUS,
            Rule.NUCLEOLUS_IN_CORE,
        ),
        (
            [_split(ShareMethod.SHAPLEY, 5), _split(ShareMethod.PROPORTIONAL, -3)],
            ShareMethod.PROPORTIONAL,
            Rule.OTHER_IN_CORE,
        ),
        (
            [_split(ShareMethod.SHAPLEY, 5), _split(ShareMethod.LEAST_CORE, 2, 2)],
            ShareMethod.LEAST_CORE,
            Rule.CORE_EMPTY,
        ),
        (
            [_split(ShareMethod.SHAPLEY, 5), _split(ShareMethod.PROPORTIONAL, 3)],
            ShareMethod.PROPORTIONAL,
            Rule.CLOSEST,
        ),
    ],
)
def test_recommend_rule(splits: list[CostShares], method: ShareMethod, rule: Rule) -> None:
    rec = recommend(splits)
    assert rec is not None
    assert (rec.method, rec.rule) == (method, rule)


def test_numbers_read_for_people(report: Report) -> None:
    md = report.markdown()
    page = _visible_text(report.html())
    for text in (md, page):
        assert not re.search(r"(?<![\w.,])-0(?![\d.,])", text), "a '-0' is printed"
        assert not re.search(r"\de[+-]?\d", text), "scientific notation is printed"
        assert "nan" not in text.lower().split()
    assert "8,000,000" in md


def test_an_infeasible_scenario_says_why(solved: Solved, report: Report) -> None:
    _, results = solved
    k, budget = _by_name(results, "capital budget 8M (too small)")
    assert not budget.plan.feasible
    md = report.markdown()
    unmet = sum(u.unmet_units for u in budget.plan.unmet)
    assert f"{number(unmet)} units cannot be served" in md
    assert "The capital budget of 8,000,000 CNY cannot open enough capacity" in md
    table = report.tables[f"s{k}-unmet"]
    assert list(table["park"]) == [u.demand_id for u in budget.plan.unmet]
    assert list(table["unmet_units"]) == [u.unmet_units for u in budget.plan.unmet]
    assert f"s{k}-map" not in [c.name for c in report.charts]  # no empty map


def test_chart_data_match_the_results(solved: Solved, report: Report) -> None:
    _, results = solved
    k, joint = _by_name(results, "joint plan")
    share_rows = _layer_data(_chart(report, f"s{k}-shares"))[0]
    frame = pd.DataFrame(share_rows)
    sums = frame.groupby("method")["share_cny"].sum()
    assert len(sums) == len(joint.shares)
    assert np.allclose(sums.to_numpy(), joint.plan.objective_cny, rtol=1e-6)
    layers = _layer_data(_chart(report, f"s{k}-map"))
    flows = pd.DataFrame(layers[0])
    assert flows["units"].sum() == pytest.approx(sum(a.amount for a in joint.plan.assignments))
    nodes = pd.DataFrame(layers[1])
    assert set(nodes.loc[nodes["kind"] == "open", "name"]) == set(joint.plan.open_sites)
    labelled = {row["name"] for layer in layers[2:] for row in layer if "name" in row}
    assert labelled == set(nodes["name"])  # every park and site carries its name
    # the scale bar is as long, in the map's km, as its label says
    (bar,) = [layer[0] for layer in layers if layer and "label" in layer[0]][:1]
    length = float(bar["x2"]) - float(bar["x"])
    assert bar["label"] == f"{number(length)} km"
    assert length == scale_bar_km(_x_span(_chart(report, f"s{k}-map")))


def _x_span(spec: dict[str, Any]) -> float:
    lo, hi = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    return float(hi - lo)


def test_scale_bar_is_a_round_fifth() -> None:
    assert [scale_bar_km(x) for x in (5.0, 48.0, 130.0, 0.4)] == [1.0, 5.0, 20.0, 0.05]


def test_exports_read_back(solved: Solved, written: ReportFiles) -> None:
    _, results = solved
    tables = export_tables(results)
    sheets = read_xlsx(written.exports.xlsx)
    assert set(sheets) == set(tables)
    for name, frame in tables.items():
        for got in (sheets[name], read_csv(written.exports.csv[name])):
            assert list(got.columns) == list(frame.columns)
            pd.testing.assert_frame_equal(
                got.reset_index(drop=True), frame, check_dtype=False, check_exact=False, rtol=1e-9
            )
    shares = tables["shares"]
    total = shares.groupby(["scenario", "method"])["share_cny"].sum()
    for r in results:
        for split in r.shares:
            assert total[(r.scenario.name, split.method.value)] == pytest.approx(split.total_cny)


def test_chinese_report(solved: Solved) -> None:
    zh = build_report(*solved, lang="zh")
    md = zh.markdown()
    assert md.startswith("# 共享设施：Riverside cluster (example)")
    assert "## joint plan：费用分摊" in md
    assert "推荐：核仁" in md
    assert "无法满足的需求" in md
    assert 'lang="zh-CN"' in zh.html()


@pytest.mark.slow
def test_cli_prints_progress_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert main(["facilities", str(EXAMPLE), "--out", str(tmp_path / "a"), "--lang", "zh"]) == 0
    err = capsys.readouterr().err
    progress = [ln for ln in err.splitlines() if "incumbent" in ln]
    assert progress, err
    assert all(re.search(r"incumbent [\d,]+ CNY, bound ([\d,]+ CNY|–), gap", ln) for ln in progress)
    assert "joint plan: optimal, cost 19,478,339 CNY" in err
    assert "capital budget 8M (too small): infeasible" in err
    assert (tmp_path / "a" / "report.md").read_text().startswith("# 共享设施")
    assert main(["facilities", str(EXAMPLE), "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "incumbent" not in capsys.readouterr().err


def test_browser_shows_the_report(
    solved: Solved, written: ReportFiles, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    _, results = solved
    chromium: Browser = request.getfixturevalue("browser")
    opened = open_report(chromium, written.html, SCREENSHOTS / "facilities-report.png")
    assert opened.errors == []
    feasible = sum(r.plan.feasible for r in results)
    assert opened.charts == 1 + 2 * feasible  # scenario costs; a map and shares per plan
    # scenarios; per plan assignments, open sites, shares, stability; unmet for the other
    assert opened.tables == 1 + 4 * feasible + (len(results) - feasible)
    zh = write_report(*solved, tmp_path / "zh", lang="zh")
    opened = open_report(chromium, zh.html, SCREENSHOTS / "facilities-report-zh.png")
    assert opened.errors == []
    assert opened.charts == 1 + 2 * feasible


def test_written_files(written: ReportFiles) -> None:
    md = written.markdown.read_text(encoding="utf-8")
    assert written.html.stat().st_size > 0
    assert {p.name for p in written.charts} >= {"report-s1-map.png", "report-s1-shares.png"}
    for png in written.charts:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(charts/{png.name})" in md
