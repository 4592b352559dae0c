"""Reports a planner reads at a glance: charts, tables, exports, in English or Chinese.

The shared floor of every capability's report: :class:`Report` (HTML page, Markdown twin,
a PNG per chart, all from one Altair definition), number formatting for people, colours
per asset and emission source, labels in two languages, the shipped CJK font, and CSV /
Excel exports with units in the headers. The capability reports live with their
capabilities (``optimise.dispatch.report``, ``optimise.facilities.report``,
``carbon.report``, ``matching.report``) and import only this package from here.
"""

from __future__ import annotations

from zone_opt.reports.drawing import prepare_drawing, write_png
from zone_opt.reports.exports import (
    EXCEL_MAX_ROWS,
    Exported,
    ExportPlan,
    export_plan,
    read_csv,
    read_xlsx,
    strict,
    unit_of,
    write_json,
    write_tables,
)
from zone_opt.reports.i18n import COMMON, LANGS, Catalogue, Labels, Lang, check_lang
from zone_opt.reports.numbers import MISSING, number, percent, signed
from zone_opt.reports.page import Kpi, Report, Section, Table, prepare_bundle, slug
from zone_opt.reports.theme import (
    KIND_COLOURS,
    category_colours,
    colour_scale,
    series_colours,
    vega_config,
)

__all__ = [
    "COMMON",
    "EXCEL_MAX_ROWS",
    "KIND_COLOURS",
    "LANGS",
    "MISSING",
    "Catalogue",
    "ExportPlan",
    "Exported",
    "Kpi",
    "Labels",
    "Lang",
    "Report",
    "Section",
    "Table",
    "category_colours",
    "check_lang",
    "colour_scale",
    "export_plan",
    "number",
    "percent",
    "prepare_bundle",
    "prepare_drawing",
    "read_csv",
    "read_xlsx",
    "series_colours",
    "signed",
    "slug",
    "strict",
    "unit_of",
    "vega_config",
    "write_json",
    "write_png",
    "write_tables",
]
