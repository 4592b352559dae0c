"""The dispatch report and exports on SIP-PARK-1: tables equal the schedule, costs equal the
breakdown, exports read back, summary.json is strict, an infeasible scenario names the
conflicting constraint (LP and MILP), labels switch to Chinese, the pages open in Chromium."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser
from report_browser import SCREENSHOTS, Opened, open_report

from zone_opt.cli import main
from zone_opt.errors import InvalidInputError
from zone_opt.optimise import SolveStatus
from zone_opt.optimise.dispatch import DispatchOptions, DispatchResult, Scenario, dispatch
from zone_opt.optimise.dispatch import load_scenario as load
from zone_opt.optimise.dispatch.report import (
    EXPORT_STEM,
    EXPORT_UNITS,
    ReportOptions,
    build_report,
    export_tables,
    write_report,
)
from zone_opt.optimise.dispatch.tables import energy_by_period, power_series
from zone_opt.reports import read_csv, read_xlsx, write_tables

DATA = Path(__file__).resolve().parent.parent / "datasets" / "sip_park_1"


def strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def lp() -> Scenario:
    return load(DATA / "lp.yaml")


@pytest.fixture(scope="module")
def week(lp: Scenario) -> DispatchResult:
    return dispatch(lp, "2025-07-14", 168)


@pytest.fixture(scope="module")
def long(lp: Scenario) -> DispatchResult:
    """Five weeks across a month end, in weekly windows."""
    return dispatch(lp, "2025-01-06", 5 * 168, rolling_h=168)


def end_target_park(scenario: Scenario) -> Scenario:
    """A battery that must end at 90 MWh but can charge only 2 MW from empty in 24 h."""
    bat = replace(
        scenario.park.batteries[0],
        charge_mw=2.0,
        cyclic=False,
        initial_soc_mwh=0.0,
        end_soc_min_mwh=90.0,
    )
    return Scenario.create(replace(scenario.park, batteries=(bat,)), scenario.profiles)


# ---- tables equal the result -----------------------------------------------------------


def test_daily_and_monthly_energy_equal_the_hourly_schedule(long: DispatchResult) -> None:
    ts = long.timeseries
    daily, monthly = energy_by_period(long, "D"), energy_by_period(long, "MS")
    assert len(daily) == 35
    assert list(monthly["month"]) == ["2025-01", "2025-02"]
    for s in power_series(long):
        hourly = ts[s.column].sum() * long.dt_h
        assert daily[s.energy_column].sum() == pytest.approx(hourly, rel=1e-9, abs=1e-6)
        assert monthly[s.energy_column].sum() == pytest.approx(hourly, rel=1e-9, abs=1e-6)
    jan = ts[ts.index.month == 1]["PV.output_mw"].sum()
    assert monthly.loc[0, "PV.output_mwh"] == pytest.approx(jan)
    costs = long.cost_breakdown()
    for key in ("grid_energy_cny", "CHP1.fuel_cny", "BESS.degradation_cny"):
        assert monthly[key].sum() == pytest.approx(costs[key], rel=1e-9)


def test_report_tables_equal_the_result(long: DispatchResult) -> None:
    report = build_report(long)
    costs = report.tables["costs"]
    breakdown = long.cost_breakdown()
    assert dict(zip(costs["item"], costs["cost_cny"], strict=True)) == pytest.approx(breakdown)
    assert costs["cost_cny"].sum() == pytest.approx(long.objective_cny, rel=1e-8)
    emissions = long.emissions_breakdown()
    assert costs["co2e_t"].sum() == pytest.approx(sum(emissions.values()), rel=1e-9)
    monthly = report.tables["monthly"]
    ts = long.timeseries
    assert monthly["load_mwh"].sum() == pytest.approx(ts["load_mw"].sum())
    assert monthly["grid.import_mwh"].sum() == pytest.approx(ts["grid.import_mw"].sum())
    assert monthly["cost_cny"].sum() == pytest.approx(long.objective_cny, rel=1e-8)
    energy = report.tables["energy"].set_index("column")["energy_mwh"]
    balance = long.energy_balance()["electricity_mwh"]
    assert energy["PV.output_mw"] == pytest.approx(balance["PV"])
    assert energy["BESS.charge_mw"] == pytest.approx(-balance["BESS_charge"])


def test_week_chart_data_match_the_schedule(week: DispatchResult) -> None:
    report = build_report(week)
    names = [c.name for c in report.charts]
    assert names == ["electricity", "heat", "soc", "price"]  # one week: no long summaries
    spec = report.charts[0].spec
    flows = pd.DataFrame(spec["datasets"][spec["layer"][0]["data"]["name"]])
    ts = week.timeseries
    pv = flows[flows["series"] == "PV"]["value"].sum()
    assert pv == pytest.approx(ts["PV.output_mw"].sum())
    charge = flows[flows["series"] == "BESS charge"]["value"].sum()
    assert charge == pytest.approx(-ts["BESS.charge_mw"].sum())
    # Supply above zero = load + what is drawn below zero, hour by hour.
    by_hour = flows.groupby("time")["value"].sum().to_numpy()
    assert by_hour == pytest.approx(ts["load_mw"].to_numpy(), abs=1e-6)


def test_long_report_has_the_summaries(long: DispatchResult) -> None:
    report = build_report(long, ReportOptions(week_start="2025-01-20"))
    names = [c.name for c in report.charts]
    for name in ("daily-energy", "monthly-energy", "daily-cost", "soc-heatmap-bess", "duration"):
        assert name in names
    week = report.charts[0].spec
    times = pd.DataFrame(week["datasets"][week["layer"][0]["data"]["name"]])["time"]
    assert times.min() == "2025-01-20T00:00:00"
    assert times.max() == "2025-01-26T23:00:00"
    with pytest.raises(InvalidInputError, match="week_start"):
        build_report(long, ReportOptions(week_start="2025-03-01"))


def test_chinese_labels(week: DispatchResult) -> None:
    report = build_report(week, ReportOptions(lang="zh"))
    assert report.title.startswith("园区能源调度")
    assert [s.title for s in report.sections][:2] == ["概要", "2025-07-14 至 2025-07-20 一周"]
    assert "电负荷" in json.dumps(report.charts[0].spec, ensure_ascii=False)


# ---- infeasible: a result that names the constraint ------------------------------------


@pytest.mark.parametrize("variant", ["lp", "milp"])
def test_infeasible_names_the_end_target(variant: str, tmp_path: Path) -> None:
    scenario = end_target_park(load(DATA / f"{variant}.yaml"))
    result = dispatch(scenario, "2025-01-06", 24, options=DispatchOptions(mip_rel_gap=1e-3))
    assert result.status is SolveStatus.INFEASIBLE
    target = [c for c in result.conflicts if c.constraint == "BESS.soc" and c.member == "bound"]
    assert len(target) == 1
    c = target[0]
    assert (c.side, c.low, c.unit, c.note) == ("lower", 90.0, "MWh", "end_target")
    assert c.first == "2025-01-06 23:00"
    charge = [x for x in result.conflicts if x.constraint == "BESS.charge"]
    assert [(x.side, x.high) for x in charge] == [("upper", 2.0)]
    text = " | ".join(result.infeasibility)
    assert "at least 90.00 MWh" in text
    assert "end-of-horizon target" in text
    assert "at most 2.00 MW" in text
    # The report: a section on why, no charts; summary.json strict and naming it too.
    paths = write_report(result, tmp_path, ReportOptions(lang="zh"))
    report = build_report(result, ReportOptions(lang="zh"))
    assert report.charts == []
    assert report.sections[0].title == "为何没有可行调度"
    assert set(report.tables["conflicts"]["constraint"]) >= {"BESS.soc", "BESS.charge"}
    assert "期末目标" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert tmp_path / "dispatch-conflicts.csv" in paths
    summary = strict_json(result.write(tmp_path)["summary"].read_text(encoding="utf-8"))
    assert isinstance(summary, dict)
    assert summary["objective_cny"] is None  # NaN for no schedule, written as null
    assert any("90.00 MWh" in line for line in summary["infeasibility"])
    assert any(x["constraint"] == "BESS.soc" for x in summary["conflicts"])


def test_summary_json_is_strict(week: DispatchResult, tmp_path: Path) -> None:
    summary = strict_json((week.write(tmp_path)["summary"]).read_text(encoding="utf-8"))
    assert isinstance(summary, dict)
    assert summary["objective_cny"] == pytest.approx(week.objective_cny)
    assert summary["conflicts"] == []
    assert summary["infeasibility"] == []


# ---- exports ---------------------------------------------------------------------------


def test_exports_round_trip(long: DispatchResult, tmp_path: Path) -> None:
    write_tables(export_tables(long), tmp_path, EXPORT_STEM, units=EXPORT_UNITS)
    sheets = read_xlsx(tmp_path / "dispatch.xlsx")
    assert set(sheets) == {"schedule", "daily", "monthly", "costs"}
    schedule = read_csv(tmp_path / "dispatch-schedule.csv")
    ts = long.timeseries
    assert len(schedule) == len(ts) == len(sheets["schedule"])
    assert schedule["grid.import_mw"].to_numpy() == pytest.approx(ts["grid.import_mw"].to_numpy())
    assert sheets["schedule"]["BESS.soc_mwh"].to_numpy() == pytest.approx(
        ts["BESS.soc_mwh"].to_numpy()
    )
    assert schedule["time"].iloc[0] == "2025-01-06 00:00"
    monthly = energy_by_period(long, "MS")
    back = read_csv(tmp_path / "dispatch-monthly.csv")
    assert list(back.columns) == list(monthly.columns)
    assert back.drop(columns="month").to_numpy() == pytest.approx(
        monthly.drop(columns="month").to_numpy()
    )
    costs = sheets["costs"]
    assert dict(zip(costs["item"], costs["cost_cny"], strict=True)) == pytest.approx(
        long.cost_breakdown()
    )
    header = (tmp_path / "dispatch-costs.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "item,cost_cny (CNY),co2e_t (t CO2e)"


def test_cli_lang_and_week_start(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "dispatch",
        str(DATA / "lp.yaml"),
        "--start",
        "2025-07-14",
        "--hours",
        "48",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main([*args, "--lang", "zh", "--week-start", "2025-07-15"]) == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## 概要" in md
    assert "2025-07-15 至 2025-07-15 一周" in md
    assert main([*args, "--week-start", "2025-08-01"]) == 2


def test_cli_infeasible_writes_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "lp.yaml").read_text(encoding="utf-8")
    text = text.replace("profiles_8760.csv", str(DATA / "profiles_8760.csv"))
    text = text.replace("cyclic: true ", "end_soc_min_mwh: 90\n    charge_mw: 2 #")
    text = text.replace("    charge_mw: 50\n", "").replace(
        "initial_soc_mwh: 50", "initial_soc_mwh: 0"
    )
    scenario = tmp_path / "tight.yaml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    code = main(
        [
            *("dispatch", str(scenario), "--start", "2025-01-06", "--hours", "24"),
            *("--out", str(out), "--no-progress"),
        ]
    )
    assert code == 1
    printed = strict_json(capsys.readouterr().out)  # the brief on stdout is strict JSON too
    assert isinstance(printed, dict)
    assert printed["objective_cny"] is None
    summary = strict_json((out / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(summary, dict)
    assert summary["status"] == "infeasible"
    assert any("end-of-horizon target" in line for line in summary["infeasibility"])
    assert "Why there is no schedule" in (out / "report.html").read_text(encoding="utf-8")


# ---- in the browser ---------------------------------------------------------------------


def _open(browser: Browser, result: DispatchResult, out: Path, name: str, lang: str) -> Opened:
    write_report(result, out, ReportOptions(lang="zh" if lang == "zh" else "en"))
    return open_report(browser, out / "report.html", SCREENSHOTS / f"dispatch-{name}.png")


@pytest.mark.slow
def test_reports_open_in_chromium(
    browser: Browser, week: DispatchResult, long: DispatchResult, tmp_path: Path
) -> None:
    opened = _open(browser, week, tmp_path / "week", "week", "en")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (4, 2)
    opened = _open(browser, long, tmp_path / "long", "long", "en")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (9, 3)
    opened = _open(browser, week, tmp_path / "zh", "week-zh", "zh")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (4, 2)
    assert np.isfinite(week.objective_cny)
