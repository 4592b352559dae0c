"""The reports' shared floor: numbers, labels, colours, the page, the font, exports, JSON."""

from __future__ import annotations

import base64
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fontTools.ttLib import TTFont
from playwright.sync_api import Browser
from report_browser import SCREENSHOTS, open_report

from zone_opt.reports import (
    COMMON,
    Catalogue,
    Kpi,
    Report,
    Table,
    check_lang,
    colour_scale,
    export_plan,
    number,
    percent,
    read_csv,
    read_xlsx,
    series_colours,
    signed,
    unit_of,
    write_json,
    write_tables,
)
from zone_opt.reports.fonts import FONT_FAMILY


def test_numbers_are_for_people() -> None:
    assert number(-0.0004) == "0"
    assert number(-0.0004, 2) == "0.00"
    assert number(8e6) == "8,000,000"
    assert number(1234567.891, 1) == "1,234,567.9"
    assert number(-1137064.4) == "-1,137,064"
    assert number(float("nan")) == number(None) == number(math.inf) == "–"
    assert signed(12.0) == "+12"
    assert signed(-3.0) == "-3"
    assert signed(-0.0) == "0"
    assert percent(0.4567) == "45.7 %"
    assert percent(None) == "–"
    assert "e+" not in number(1e21)


def test_labels_in_both_languages() -> None:
    cat = Catalogue({"matched": ("{n} matched", "已匹配 {n} 家")}, COMMON)
    assert cat.labels("en")("matched", n=3) == "3 matched"
    assert cat.labels("zh")("matched", n=3) == "已匹配 3 家"
    assert cat.labels("zh")("park") == "园区"
    with pytest.raises(KeyError):
        cat.labels("en")("no-such-label")
    assert check_lang("zh") == "zh"
    with pytest.raises(ValueError, match="en, zh"):
        check_lang("fr")


def test_colours_belong_to_kinds_not_positions() -> None:
    a = series_colours([("PV roof", "pv"), ("grid", "grid_import")])
    b = series_colours([("grid", "grid_import"), ("PV roof", "pv"), ("PV car park", "pv")])
    assert a["grid"] == b["grid"]
    assert b["PV roof"] != b["PV car park"]  # two of a kind: steps of one colour
    assert len(set(b.values())) == 3
    scale = colour_scale(b)
    assert scale["domain"] == list(b)
    assert scale["range"] == list(b.values())


class _Tables(HTMLParser):
    """Cells of every <table data-table=...> and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._current: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._current = dict(attrs)["data-table"] or ""
            self.tables[self._current] = []
        elif tag == "tr" and self._current is not None:
            self.tables[self._current].append([])
        elif tag in ("td", "th") and self._current is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._current is not None:
            self.tables[self._current][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _report(lang: str = "en") -> Report:
    frame = pd.DataFrame(
        {
            "park": ["苏州工业园区", "Hillside", "</script><b>x</b>"],
            "area_m2": [1200.5, -0.0001, 8e6],
            "share": [0.5, 0.25, np.nan],
        }
    )
    report = Report("苏州 test report", lang="zh" if lang == "zh" else "en", subtitle="测试")
    s = report.section("Overview")
    s.kpis([Kpi("Total cost", number(1234.0), "CNY", verdict="good")])
    s.table(Table("areas", "Areas", frame, units={"area_m2": "m²"}, percent=["share"]))
    colours = series_colours([(p, "park") for p in frame["park"]])
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("park:N", title="园区"),
            y=alt.Y("area_m2:Q", title="area (m²)"),
            color=alt.Color("park:N", scale=alt.Scale(**colour_scale(colours))),
        )
    )
    s.chart("areas", chart, "Areas by park")
    return report


def test_page_tables_are_the_data_formatted(tmp_path: Path) -> None:
    report = _report()
    written = report.write(tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(html)
    header, *rows = parser.tables["areas"]
    assert header == ["park", "area_m2 (m²)", "share"]
    assert rows == [
        ["苏州工业园区", "1,200", "50.0 %"],
        ["Hillside", "0", "25.0 %"],
        ["</script><b>x</b>", "8,000,000", "–"],
    ]
    # user text cannot end a script block or inject markup
    assert "<b>x</b>" not in html
    assert html.count("</script>") == 2  # the bundle and the embedding calls
    assert re.search(r"(src|href)=[\"']https?:", html) is None  # no network
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 苏州工业园区 | 1,200 | 50.0 % |" in md
    assert "![Areas by park](charts/report-areas.png)" in md
    png = tmp_path / "charts" / "report-areas.png"
    assert png in written
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_embeds_the_glyphs_it_prints(tmp_path: Path) -> None:
    html = _report().html()
    m = re.search(r"font-family: '([^']+)'.*?base64,([A-Za-z0-9+/=]+)", html)
    assert m is not None
    assert m.group(1) == FONT_FAMILY
    font = TTFont(io.BytesIO(base64.b64decode(m.group(2))))
    cmap = font.getBestCmap()
    for ch in "苏州工业园区测试":
        assert ord(ch) in cmap, ch
    assert ord("龘") not in cmap  # only what the page prints: a subset, not the 3 MB file
    assert len(m.group(2)) < 200_000


def test_exports_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "space_id": ["S-1", "S-2"],
            "park": ["苏州工业园区", "Hillside"],
            "area_m2": [1200.5, 30.25],
            "cost_cny": [1_137_064, -3],
            "matched": [True, False],
        }
    )
    arrow = pa.table({"hour": [0, 1], "grid_import_mw": [1.5, 2.0]})
    out = write_tables({"spaces": frame, "schedule": arrow}, tmp_path, "export")
    xlsx = read_xlsx(out.xlsx)
    assert set(xlsx) == {"spaces", "schedule"}
    pd.testing.assert_frame_equal(xlsx["spaces"], frame)
    pd.testing.assert_frame_equal(xlsx["schedule"], arrow.to_pandas())
    pd.testing.assert_frame_equal(read_csv(out.csv["spaces"]), frame)
    codes = pd.DataFrame({"industry_code": ["01", "02"], "n": [2, 3]})
    coded = write_tables({"codes": codes}, tmp_path, "codes")
    pd.testing.assert_frame_equal(read_xlsx(coded.xlsx, text=["industry_code"])["codes"], codes)
    pd.testing.assert_frame_equal(read_csv(coded.csv["codes"], text=["industry_code"]), codes)
    assert read_csv(coded.csv["codes"])["industry_code"].tolist() != codes["industry_code"].tolist()
    header = out.csv["spaces"].read_bytes().splitlines()[0]
    assert header.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read the Chinese names
    assert "area_m2 (m²)" in header.decode("utf-8-sig")
    assert "cost_cny (CNY)" in header.decode("utf-8-sig")
    assert unit_of("co2e_kg") == "kg"
    assert unit_of("grid_import_mwh") == "MWh"
    assert unit_of("name") is None


def test_export_plan_names_what_write_tables_writes(tmp_path: Path) -> None:
    tables = {
        "long": pa.table({"x": list(range(7))}),
        "short": pd.DataFrame({"y": [1.0, 2.0]}),
    }
    plan = export_plan(tables, "stem", sheet_rows=5)
    out = write_tables(tables, tmp_path, "stem", sheet_rows=5)
    assert {name: path.name for name, path in out.csv.items()} == plan.csv
    assert out.xlsx.name == plan.xlsx
    assert out.csv_only == plan.csv_only == ("long",)
    assert all((tmp_path / name).is_file() for name in plan.csv.values())
    assert set(read_xlsx(out.xlsx)) == {"short", "csv_only"}


def test_json_is_strict(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "s.json",
        {
            "gap": float("nan"),
            "bound": np.float64(np.inf),
            "rows": [1.5, -math.inf],
            "n": np.int64(3),
        },
    )

    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    value = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    assert value == {"gap": None, "bound": None, "rows": [1.5, None], "n": 3}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_opens_in_a_browser_without_errors(
    browser: Browser, tmp_path: Path, lang: str
) -> None:
    _report(lang).write(tmp_path, png=False, markdown=False)
    opened = open_report(browser, tmp_path / "report.html", SCREENSHOTS / f"floor-{lang}.png")
    assert opened.errors == []
    assert opened.charts == 1
    assert opened.tables == 1
    assert opened.screenshot.stat().st_size > 10_000
