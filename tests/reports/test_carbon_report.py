"""The carbon reports: their tables are the result's, the zero-carbon indicators follow
their thresholds, the CHP's export stays out of the park's footprint, the exports read
back to the same values, Chinese headings with ``--lang zh``, and the pages open in
Chromium (and print to PDF)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import Browser
from report_browser import SCREENSHOTS, open_report

from zone_opt.carbon.park import (
    ParkCarbonConfig,
    ParkCarbonResult,
    allocate_park,
    load_park_config,
)
from zone_opt.carbon.report import (
    context,
    export_tables,
    park_report,
    tenant_report,
    write_exports,
)
from zone_opt.carbon.report.data import (
    EXPORT_SOURCE,
    INTENSITY_BANDS,
    band_of,
    indicators,
    tenant_ids,
)
from zone_opt.cli import main
from zone_opt.reports import Report, read_csv, read_xlsx

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "datasets" / "carbon_demo"
ENTERPRISES = ROOT / "datasets" / "sample" / "enterprises.parquet"
TZ = dt.timezone(dt.timedelta(hours=8))
A, B, C = "91320500AAAAAAAAAA", "91320500BBBBBBBBBB", "91320500CCCCCCCCCC"
START = dt.datetime(2025, 1, 31, 20, tzinfo=TZ)  # 8 hours: 4 in January, 4 in February
HOURS = 8


def _meters(per_hour: dict[str, tuple[float, float, float]]) -> pa.Table:
    rows = [(e, h, *v) for e, v in per_hour.items() for h in range(HOURS)]
    return pa.table(
        {
            "enterprise_id": [r[0] for r in rows],
            "hour": pa.array(
                [START + dt.timedelta(hours=r[1]) for r in rows],
                pa.timestamp("s", tz="Asia/Shanghai"),
            ),
            "electricity_kwh": [r[2] + r[1] for r in rows],  # a different load each hour
            "heat_gj": [r[3] for r in rows],
            "gas_m3": [r[4] for r in rows],
        }
    )


def _park(**overrides: Any) -> ParkCarbonConfig:
    raw: dict[str, Any] = {
        "park_id": "PX",
        "start": "2025-01-31T20:00",
        "hours": HOURS,
        "grid": {
            "factor_set": "MEE-2023",
            "grid_region": "east",
            "residual_factor_set": "MEE-2023-residual",
            "loss_pct": 2.0,
        },
        "pv": {"kwp": 0},
        "tenants": [A, B, C],
    }
    raw.update(overrides)
    return ParkCarbonConfig.from_dict(raw)


CHP = {
    "method": "efficiency",
    "heat_efficiency": 0.8,
    "power_efficiency": 0.35,
    "power_to_heat": 0.6,
    "fuel_efficiency": 0.8,
    "fuel_co2e_kg_per_gj": 56.1,
    "network_loss_pct": 8.0,
}
WWTP = {
    "id": "WWTP",
    "annual_co2e_t": 87.6,
    "split_by": "fixed",
    "products": [
        {"name": "electricity", "key": "volume_m3", "share": 0.99},
        {"name": "process", "key": "cod_kg", "share": 0.01},
    ],
    "keys": {A: {"volume_m3": 1, "cod_kg": 1}, B: {"volume_m3": 3, "cod_kg": 0}},
}


@pytest.fixture(scope="module")
def mixed() -> ParkCarbonResult:
    """Grid, gas, a CHP exporting power, a wastewater plant with a tiny product; two months."""
    config = _park(
        chp=CHP,
        facilities=[WWTP],
        contracts=[{"id": "PPA", "annual_mwh": 876, "profile": "flat", "holders": {A: 1}}],
    )
    meters = _meters({A: (100.0, 2.0, 10.0), B: (50.0, 0.5, 0.0), C: (20.0, 0.0, 1.0)})
    return allocate_park(config, meters)


def _chart_data(report: Report, name: str) -> list[pd.DataFrame]:
    """The data sets of one chart's spec (Altair keeps them under ``datasets``)."""
    spec = next(c.spec for c in report.charts if c.name == name)
    return [pd.DataFrame(rows) for rows in spec.get("datasets", {}).values()]


def _grams(table: pa.Table, **where: str) -> int:
    frame = table.to_pandas()
    for column, value in where.items():
        frame = frame[frame[column] == value]
    return int(frame["co2e_g"].sum() if "co2e_g" in frame else frame["inventory_g"].sum())


# -- the park report's tables are the result's ----------------------------------------------


def test_park_tables_equal_the_result(mixed: ParkCarbonResult) -> None:
    report = park_report(context(mixed))
    tables = report.tables
    assert set(tables) == {"indicators", "totals", "reconciliation", "tenants"}
    recon = mixed.reconciliation.to_pandas().set_index(["method", "source"])
    shown = tables["reconciliation"]
    assert len(shown) == len(recon) == 12  # 6 sources x 2 methods
    # the table shows names: compare the tonnes of each column with the result's grams
    ordered = recon.reset_index().sort_values(["method", "source"]).reset_index(drop=True)
    raw = context(mixed).totals
    for column in ("inventory", "tenants", "landlord", "export"):
        got = sorted((shown[f"{column}_t"] * 1e6).round().astype(int).tolist())
        assert got == sorted(ordered[f"{column}_g"].tolist()), column
    # the reconciliation adds up: tenants + landlord + export = inventory, to the gram
    for method in ("location", "market"):
        parts = recon.loc[method, ["tenants_g", "landlord_g", "export_g"]].to_numpy().sum()
        assert parts == recon.loc[method, "inventory_g"].sum()
    assert shown["balanced"].all()
    assert (
        (shown["tenants_t"] + shown["landlord_t"] + shown["export_t"] - shown["inventory_t"]).abs()
        < 1e-9
    ).all()
    # totals: own + exported = inventory, and the exported part is the export entity's
    assert (raw["own_t"] + raw["exported_t"] - raw["inventory_t"]).abs().max() < 1e-9
    exported = raw.loc[raw["method"] == "market", "exported_t"].sum()
    assert round(exported * 1e6) == _grams(
        mixed.annual, enterprise_id="export", scope="scope2-market"
    )
    assert exported > 0
    # tenants: the KPI rows, largest first
    kpis = mixed.kpis.to_pandas().set_index("enterprise_id")
    tenants = tables["tenants"].set_index("enterprise_id")
    assert set(tenants.index) == {A, B, C}
    assert list(tables["tenants"]["co2e_market_t"]) == sorted(
        kpis.loc[[A, B, C], "co2e_market_t"], reverse=True
    )
    for e in (A, B, C):
        assert tenants.loc[e, "co2e_location_t"] == kpis.loc[e, "co2e_location_t"]
        assert tenants.loc[e, "page"] == f"tenants/{e}.html"


def test_exported_chp_is_apart_from_the_park_footprint(mixed: ParkCarbonResult) -> None:
    report = park_report(context(mixed))
    bars, labels = _chart_data(report, "footprint")
    exported_g = _grams(mixed.annual, enterprise_id="export", scope="scope2-market")
    inventory_g = int(
        mixed.reconciliation.to_pandas().query("method == 'market'")["inventory_g"].sum()
    )
    own = bars[bars["source"] != EXPORT_SOURCE]
    market_bar = own[own["bar"].str.startswith("Market-based")]
    # the park's own market-based bar is the inventory without the export, to the gram
    assert round(market_bar["co2e_t"].sum() * 1e6) == inventory_g - exported_g
    # the export is one bar of its own, never inside a park bar
    export = bars[bars["source"] == EXPORT_SOURCE]
    assert len(export) == 1
    assert export["bar"].iloc[0] == "Exported (CHP power)"
    assert export["bar"].iloc[0] not in set(own["bar"])
    assert round(export["co2e_t"].iloc[0] * 1e6) == exported_g
    assert set(labels["bar"]) == set(bars["bar"])
    # the per-source chart shows the park's own footprint only, each with its value
    (sources,) = _chart_data(report, "sources")
    assert EXPORT_SOURCE not in set(sources["source"])
    tiny = sources[sources["source"] == "WWTP/process"]
    assert len(tiny) == 1
    assert tiny["text"].iloc[0].endswith("t CO2e")
    assert tiny["co2e_t"].iloc[0] < 0.02 * sources["co2e_t"].max()  # small, and labelled


def test_colours_are_the_same_on_every_page(mixed: ParkCarbonResult) -> None:
    ctx = context(mixed)
    scales = []
    for report in (park_report(ctx), tenant_report(ctx, A), tenant_report(ctx, B)):
        for chart in report.charts:
            text = json.dumps(chart.spec)
            if '"source_label"' not in text:
                continue
            scale = _find(chart.spec, "scale")
            scales.append(dict(zip(scale["domain"], scale["range"], strict=True)))
    assert len(scales) >= 5
    merged: dict[str, str] = {}
    for scale in scales:
        for name, colour in scale.items():
            assert merged.setdefault(name, colour) == colour, name


def _find(spec: Any, key: str) -> Any:
    """The first ``color`` encoding's ``key`` in a nested spec."""
    if isinstance(spec, dict):
        if "color" in spec and isinstance(spec["color"], dict) and key in spec["color"]:
            return spec["color"][key]
        for value in spec.values():
            found = _find(value, key)
            if found is not None:
                return found
    if isinstance(spec, list):
        for value in spec:
            found = _find(value, key)
            if found is not None:
                return found
    return None


# -- per tenant --------------------------------------------------------------------------------


def test_monthly_sums_equal_the_annual_rows(mixed: ParkCarbonResult) -> None:
    ctx = context(mixed)
    monthly = ctx.monthly
    assert sorted(set(monthly["month"])) == ["2025-01", "2025-02"]
    annual = mixed.annual.to_pandas()
    annual = annual[annual["enterprise_id"].isin([A, B, C])]
    summed = monthly.groupby(["enterprise_id", "scope", "source"])["co2e_g"].sum()
    expected = annual.set_index(["enterprise_id", "scope", "source"])["co2e_g"]
    assert summed.sort_index().to_dict() == expected.sort_index().to_dict()
    # the tenant page's monthly chart holds the same grams, per Scope 2 method
    for e in (A, B, C):
        report = tenant_report(ctx, e)
        (bars,) = _chart_data(report, "monthly")
        mine = annual[annual["enterprise_id"] == e]
        for method, label in (("location", "Location-based"), ("market", "Market-based")):
            scopes = ["scope1", f"scope2-{method}", "scope3"]
            want = int(mine[mine["scope"].isin(scopes)]["co2e_g"].sum())
            got = bars[bars["method"] == label]["co2e_t"].sum()
            assert round(got * 1e6) == want, (e, method)
        allocation = report.tables["allocation"]
        assert round(allocation["co2e_t"].sum() * 1e6) == int(mine["co2e_g"].sum())
        # the heatmap holds every hour of the period, market-based kg
        (hours,) = _chart_data(report, "hourly")
        assert len(hours) == HOURS
        market = mine[mine["scope"] != "scope2-location"]["co2e_g"].sum()
        assert round(hours["co2e_kg"].sum() * 1000) == market


def test_tenant_page_has_its_kpis(mixed: ParkCarbonResult) -> None:
    ctx = context(mixed)
    report = tenant_report(ctx, B)
    assert B in report.subtitle
    kpis = next(b for s in report.sections for kind, b in s.blocks if kind == "kpis")
    row = mixed.kpis.to_pandas().set_index("enterprise_id").loc[B]
    values = {k.label: k.value for k in kpis}
    assert values["Market-based"] == f"{row['co2e_market_t']:,.2f}"
    assert values["Location-based"] == f"{row['co2e_location_t']:,.2f}"


# -- indicators against their thresholds ------------------------------------------------------


def test_threshold_bands_follow_the_park_size() -> None:
    assert band_of(150_000).max_t_per_tce == 0.20
    assert band_of(150_000).key == "band_small"
    assert band_of(200_000).key == "band_mid"
    assert band_of(999_999).max_t_per_tce == 0.20
    assert band_of(1_000_000).max_t_per_tce == 0.30
    assert band_of(5e6).key == "band_large"
    assert [b.max_t_per_tce for b in INTENSITY_BANDS] == [0.20, 0.20, 0.30]


def test_a_green_park_meets_both_indicators() -> None:
    # Electricity only, every kWh matched hour by hour by a flat contract: no grid carbon.
    config = _park(
        contracts=[
            {"id": "PPA", "annual_mwh": 87_600, "profile": "flat", "holders": {A: 1, B: 1, C: 1}}
        ],
        grid={
            "factor_set": "MEE-2023",
            "grid_region": "east",
            "residual_factor_set": "MEE-2023-residual",
            "loss_pct": 0.0,
        },
    )
    r = allocate_park(
        config, _meters({A: (100.0, 0.0, 0.0), B: (50.0, 0.0, 0.0), C: (20.0, 0.0, 0.0)})
    )
    ind = indicators(r)
    assert ind.intensity_t_per_tce <= 0.20
    assert ind.intensity_met
    assert ind.clean_share == pytest.approx(1.0)
    assert ind.clean_met
    kpis = _indicator_kpis(park_report(context(r)))
    assert [k.verdict for k in kpis[:2]] == ["good", "good"]
    assert "met" in kpis[0].note
    assert "not met" not in kpis[0].note


def test_a_grid_and_gas_park_misses_both_indicators(mixed: ParkCarbonResult) -> None:
    ind = indicators(mixed)
    park = mixed.kpis.to_pandas().set_index("enterprise_id").loc["park"]
    own_g = int(
        mixed.reconciliation.to_pandas().query("method == 'market'")["inventory_g"].sum()
    ) - int(mixed.reconciliation.to_pandas().query("method == 'market'")["export_g"].sum())
    assert ind.intensity_t_per_tce == pytest.approx(own_g / 1e6 / park["energy_tce"])
    assert ind.annual_tce == pytest.approx(park["energy_tce"] * 8760 / HOURS)
    assert ind.band.key == "band_small"
    assert ind.intensity_t_per_tce > 0.20
    assert not ind.intensity_met
    assert ind.clean_share < 0.90
    assert not ind.clean_met
    report = park_report(context(mixed))
    kpis = _indicator_kpis(report)
    assert [k.verdict for k in kpis[:2]] == ["bad", "bad"]
    assert "≤ 0.20" in kpis[0].note
    assert "not met" in kpis[0].note
    assert "≥ 90 %" in kpis[1].note
    table = report.tables["indicators"]
    assert table["met"].tolist() == [False, False]
    assert table["value"].iloc[0] == pytest.approx(ind.intensity_t_per_tce)


def _indicator_kpis(report: Report) -> list[Any]:
    return next(b for s in report.sections for kind, b in s.blocks if kind == "kpis")


# -- exports, language -----------------------------------------------------------------------


def test_exports_round_trip(mixed: ParkCarbonResult, tmp_path: Path) -> None:
    ctx = context(mixed)
    tables = export_tables(ctx)
    assert set(tables) == {"rows", "annual", "kpis", "reconciliation", "monthly", "indicators"}
    exported = write_exports(ctx, tmp_path)
    book = read_xlsx(exported.xlsx)
    assert set(book) == set(tables)
    for name, frame in tables.items():
        for back in (book[name], read_csv(exported.csv[name])):
            assert list(back.columns) == list(frame.columns), name
            assert len(back) == len(frame), name
            for column in frame.columns:
                if column == "hour":
                    got = pd.to_datetime(back[column]).tolist()
                    assert got == frame[column].tolist()
                elif pd.api.types.is_numeric_dtype(frame[column]) and frame[column].dtype != bool:
                    assert back[column].tolist() == pytest.approx(
                        frame[column].tolist(), nan_ok=True
                    ), (
                        name,
                        column,
                    )
                else:
                    assert back[column].astype(str).tolist() == frame[column].astype(str).tolist()
    # the exported rows are the result's grams, hours in Asia/Shanghai
    rows = tables["rows"]
    assert rows["co2e_g"].sum() == pc_sum(mixed.rows)
    assert rows["hour"].min() == pd.Timestamp("2025-01-31 20:00")
    recon = read_csv(exported.csv["reconciliation"])
    assert (
        recon["tenants_g"] + recon["landlord_g"] + recon["export_g"] == recon["inventory_g"]
    ).all()
    header = exported.csv["reconciliation"].read_text(encoding="utf-8-sig").splitlines()[0]
    assert "inventory_g (g CO2e)" in header


def pc_sum(table: pa.Table) -> int:
    return int(table["co2e_g"].to_numpy().sum())


def test_chinese_headings(mixed: ParkCarbonResult) -> None:
    ctx = context(mixed, "zh")
    report = park_report(ctx)
    titles = [s.title for s in report.sections]
    assert titles[:3] == ["零碳园区指标", "园区排放：按范围与来源", "核对"]
    html = report.html()
    assert "单位能耗碳排放" in html
    assert "总排放 (吨 CO2e)" in html  # a table header with its unit
    assert "外输（热电联产发电）" in html  # the export's bar
    page = tenant_report(ctx, A)
    assert page.sections[0].title == "关键指标"
    assert "逐月排放" in [s.title for s in page.sections]


# -- the bundled demo, through the command line and in the browser ---------------------------


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("carbon") / "out"
    args = ["carbon", "allocate", "--meters", str(DEMO / "meters.parquet"),
            "--park", str(DEMO / "park.yaml"), "--enterprises", str(ENTERPRISES),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.mark.slow
def test_cli_writes_the_reports_and_exports(demo_out: Path) -> None:
    for name in ("rows", "annual", "kpis", "reconciliation", "hourly"):
        assert (demo_out / f"{name}.parquet").is_file()
    assert json.loads((demo_out / "manifest.json").read_text(encoding="utf-8"))["park_id"]
    assert (demo_out / "report.html").is_file()
    assert (demo_out / "report.md").read_text(encoding="utf-8").startswith("# Carbon accounting")
    pngs = sorted(p.name for p in (demo_out / "charts").glob("*.png"))
    assert pngs == [f"report-{c}.png" for c in ("footprint", "hourly", "sources", "tenants")]
    kpis = pq.read_table(demo_out / "kpis.parquet")
    tenants = [e for e in kpis["enterprise_id"].to_pylist() if e != "park"]
    assert sorted(p.stem for p in (demo_out / "tenants").glob("*.html")) == sorted(tenants)
    book = read_xlsx(demo_out / "carbon.xlsx")
    assert set(book) == {"rows", "annual", "kpis", "reconciliation", "monthly", "indicators"}
    annual = pq.read_table(demo_out / "annual.parquet").to_pandas()
    assert book["annual"]["co2e_g"].tolist() == annual["co2e_g"].tolist()
    assert len(book["rows"]) == pq.read_table(demo_out / "rows.parquet").num_rows
    monthly = read_csv(demo_out / "carbon-monthly.csv")
    mine = annual[annual["enterprise_id"].isin(tenants)]
    assert monthly["co2e_g"].sum() == mine["co2e_g"].sum()
    # a tenant's Chinese name is on its page and in the park report
    names = pq.read_table(ENTERPRISES).to_pandas().set_index("enterprise_id")["name"]
    first = tenants[0]
    assert names[first] in (demo_out / "tenants" / f"{first}.html").read_text(encoding="utf-8")
    assert names[first] in (demo_out / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_reports_open_in_chromium(browser: Browser, demo_out: Path, tmp_path: Path) -> None:
    opened = open_report(browser, demo_out / "report.html", SCREENSHOTS / "carbon-park.png")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (4, 4)
    tenant = sorted((demo_out / "tenants").glob("*.html"))[0]
    opened = open_report(browser, tenant, SCREENSHOTS / "carbon-tenant.png")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (2, 2)
    # printable: Chromium prints the tenant page to a PDF
    page = browser.new_page()
    try:
        page.goto(tenant.resolve().as_uri(), wait_until="load")
        page.wait_for_function(
            "() => [...document.querySelectorAll('div.chart')].every(d => d.querySelector('svg'))"
        )
        pdf = tmp_path / "tenant.pdf"
        page.pdf(path=str(pdf), format="A4")
    finally:
        page.close()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 10_000
    # the park report in Chinese (and one tenant page), written through the API
    zh = tmp_path / "zh"
    result = _demo_result()
    ctx = context(result, "zh")
    park_report(ctx).write(zh, "report", png=False)
    first = tenant_ids(result)[0]
    tenant_report(ctx, first).write(zh / "tenants", first, png=False)
    opened = open_report(browser, zh / "report.html", SCREENSHOTS / "carbon-park-zh.png")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (4, 4)
    html = (zh / "report.html").read_text(encoding="utf-8")
    assert "<h2>零碳园区指标</h2>" in html
    assert f"{len(tenant_ids(result))} 家企业" in html
    opened = open_report(browser, zh / "tenants" / f"{first}.html", tmp_path / "zh-tenant.png")
    assert opened.errors == []
    assert (opened.charts, opened.tables) == (2, 2)


def _demo_result() -> ParkCarbonResult:
    config = load_park_config(DEMO / "park.yaml")
    tables = {name: pq.read_table(path) for name, path in config.tables.items()}
    return allocate_park(config, pq.read_table(DEMO / "meters.parquet"), **tables)
