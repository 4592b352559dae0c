"""A report: sections of text, key figures, tables and charts, written as one HTML page,
a Markdown twin and a PNG per chart.

Charts are Altair (Vega-Lite) definitions. The HTML page carries the vega-embed bundle once
(from vl-convert, so no network is needed to open it) and a subset of the report font; the
PNGs are drawn from the same specs by vl-convert, with the same colours and font. Tables are
real HTML tables whose cells are formatted by :mod:`zone_opt.reports.numbers`; the raw
frames stay on the report (``Report.tables``) so tests compare them with the result data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import altair as alt
import jinja2
import numpy as np
import pandas as pd
import vl_convert
from markupsafe import Markup

from zone_opt import __version__
from zone_opt.reports.bundle import bundle_text, prepare_bundle
from zone_opt.reports.drawing import PngJob, draw_pngs
from zone_opt.reports.fonts import FALLBACK, font_face_css
from zone_opt.reports.i18n import COMMON, Lang
from zone_opt.reports.numbers import number
from zone_opt.reports.theme import vega_config

__all__ = ["Chart", "Kpi", "Report", "Section", "Table", "prepare_bundle", "slug"]


class AltairChart(Protocol):
    def to_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


def slug(text: str) -> str:
    """A file- and anchor-safe name: ``"Week 1: balance"`` -> ``"week-1-balance"``."""
    s = re.sub(r"[^0-9a-zA-Z\u4e00-\u9fff]+", "-", text).strip("-").lower()
    return s or "item"


@dataclass(frozen=True)
class Kpi:
    """A key figure: ``label``, a formatted ``value``, its ``unit`` and an optional note."""

    label: str
    value: str
    unit: str = ""
    note: str = ""
    #: "good", "bad" or "" (neutral): colours the card against a threshold.
    verdict: str = ""


@dataclass
class Table:
    """A table as shown: the raw frame, column titles with units, digits per column."""

    name: str
    caption: str
    frame: pd.DataFrame
    titles: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    digits: Mapping[str, int] = field(default_factory=dict)
    #: columns holding fractions, shown as percentages
    percent: Sequence[str] = ()
    #: how booleans read; set to the report's language when the table joins a section
    yes_no: tuple[str, str] = ("yes", "no")

    def header(self, column: str) -> str:
        title = self.titles.get(column, column)
        unit = self.units.get(column)
        return f"{title} ({unit})" if unit else title

    def cell(self, column: str, value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return number(None)
        if isinstance(value, (bool, np.bool_)):
            return self.yes_no[0] if value else self.yes_no[1]
        if isinstance(value, (int, float, np.integer, np.floating)):
            if column in self.percent:
                return f"{number(100.0 * float(value), self.digits.get(column, 1))} %"
            return number(float(value), self.digits.get(column, 0))
        return str(value)

    def rows(self) -> Iterator[tuple[tuple[str, bool], ...]]:
        """Formatted cells with a flag for numeric (right-aligned) ones."""
        for record in self.frame.itertuples(index=False, name=None):
            yield tuple(
                (
                    self.cell(col, v),
                    isinstance(v, (int, float, np.integer, np.floating))
                    and not isinstance(v, (bool, np.bool_)),
                )
                for col, v in zip(self.frame.columns, record, strict=True)
            )


@dataclass
class Chart:
    name: str
    caption: str
    spec: dict[str, Any]


@dataclass
class Section:
    title: str
    lang: Lang = "en"
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return slug(self.title)

    def paragraph(self, text: str) -> Section:
        self.blocks.append(("p", text))
        return self

    def note(self, text: str) -> Section:
        """A highlighted paragraph (a warning, a reason, a recommendation)."""
        self.blocks.append(("note", text))
        return self

    def bullets(self, items: Sequence[str]) -> Section:
        self.blocks.append(("ul", list(items)))
        return self

    def kpis(self, items: Sequence[Kpi]) -> Section:
        self.blocks.append(("kpis", list(items)))
        return self

    def table(self, table: Table) -> Section:
        labels = COMMON.labels(self.lang)
        table.yes_no = (labels("yes"), labels("no"))
        self.blocks.append(("table", table))
        return self

    def chart(self, name: str, chart: AltairChart, caption: str = "") -> Section:
        with alt.data_transformers.disable_max_rows():
            spec = chart.to_dict()
        self.blocks.append(("chart", Chart(name=slug(name), caption=caption, spec=spec)))
        return self


@dataclass
class Report:
    """A report under construction; ``write`` puts it on disk."""

    title: str
    lang: Lang = "en"
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        s = Section(title, self.lang)
        self.sections.append(s)
        return s

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for kind, b in s.blocks if kind == "chart"]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {b.name: b.frame for s in self.sections for kind, b in s.blocks if kind == "table"}

    def _spec(self, chart: Chart) -> dict[str, Any]:
        spec = dict(chart.spec)
        config = dict(spec.get("config", {}))
        for key, value in vega_config().items():  # the theme wins over Altair's defaults
            config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
        spec["config"] = config
        return spec

    def _text(self) -> str:
        """Every character the page prints (to subset the font)."""
        parts = [self.title, self.subtitle]
        for s in self.sections:
            parts.append(s.title)
            for _kind, b in s.blocks:
                if isinstance(b, Chart):
                    parts.append(json.dumps(b.spec, ensure_ascii=False))
                elif isinstance(b, Table):
                    parts += [b.caption, *map(b.header, b.frame.columns)]
                    parts += [c for row in b.rows() for c, _ in row]
                elif isinstance(b, str):
                    parts.append(b)
                else:
                    parts += [
                        x if isinstance(x, str) else f"{x.label}{x.value}{x.unit}{x.note}"
                        for x in b
                    ]
        return "".join(parts)

    def html(self) -> str:
        """The whole page as one self-contained HTML document."""
        embed: dict[str, Any] = {
            "renderer": "svg",
            "actions": {"export": True, "source": False, "compiled": False, "editor": False},
        }
        if self.lang == "zh":
            embed["formatLocale"] = vl_convert.get_format_locale("zh-CN")
            embed["timeFormatLocale"] = vl_convert.get_time_format_locale("zh-CN")
        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        template = env.from_string(_PAGE)
        return template.render(
            report=self,
            lang="zh-CN" if self.lang == "zh" else "en",
            font_css=Markup(font_face_css(self._text())),
            fallback=Markup(FALLBACK),
            bundle=Markup(bundle_text()),
            specs={c.name: Markup(_script_json(self._spec(c))) for c in self.charts},
            embed=Markup(_script_json(embed)),
            contents=COMMON.labels(self.lang)("contents"),
            footer=COMMON.labels(self.lang)("generated_by", version=__version__),
        )

    def markdown(self, images: Mapping[str, str] | None = None) -> str:
        """The report as Markdown; charts link to ``images[name]`` when given."""
        out = [f"# {self.title}", ""]
        if self.subtitle:
            out += [self.subtitle, ""]
        for s in self.sections:
            out += [f"## {s.title}", ""]
            for kind, b in s.blocks:
                if kind in ("p", "note"):
                    out += [f"> {b}" if kind == "note" else b, ""]
                elif kind == "ul":
                    out += [*(f"- {item}" for item in b), ""]
                elif kind == "kpis":
                    out += [
                        *(
                            f"- **{k.label}**: {k.value} {k.unit}".rstrip()
                            + (f" ({k.note})" if k.note else "")
                            for k in b
                        ),
                        "",
                    ]
                elif kind == "table":
                    out += _markdown_table(b)
                elif kind == "chart" and images and b.name in images:
                    out += [f"![{b.caption or b.name}]({images[b.name]})", ""]
        return "\n".join(out)

    def write(
        self, out: Path, stem: str = "report", *, png: bool = True, markdown: bool = True
    ) -> list[Path]:
        """Write ``stem.html`` (and ``stem.md``, ``charts/<chart>.png``); return the paths.

        The PNGs are drawn by the drawing process while the page is built here
        (:mod:`zone_opt.reports.drawing`), so the two overlap on a second core."""
        out.mkdir(parents=True, exist_ok=True)
        html_path = out / f"{stem}.html"
        images: dict[str, str] = {}
        jobs: list[PngJob] = []
        if png:
            folder = out / "charts"
            folder.mkdir(exist_ok=True)
            for chart in self.charts:
                path = folder / f"{stem}-{chart.name}.png"
                jobs.append(PngJob(self._spec(chart), path, self.lang))
                images[chart.name] = f"charts/{path.name}"
        drawing = draw_pngs(jobs)
        html_path.write_text(self.html(), encoding="utf-8")
        pngs = drawing.result()
        written = [html_path, *pngs]
        if markdown:
            md = out / f"{stem}.md"
            md.write_text(self.markdown(images), encoding="utf-8")
            written.append(md)
        return written


def _script_json(value: object) -> str:
    """JSON safe inside ``<script>``: no ``</script>`` or ``<!--`` can end the block."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _markdown_table(table: Table) -> list[str]:
    columns = list(table.frame.columns)
    lines = [f"**{table.caption}**", ""] if table.caption else []
    lines.append("| " + " | ".join(table.header(c).replace("|", "\\|") for c in columns) + " |")
    lines.append(
        "|"
        + "|".join(
            "---:"
            if pd.api.types.is_numeric_dtype(table.frame[c])
            and not pd.api.types.is_bool_dtype(table.frame[c])
            else "---"
            for c in columns
        )
        + "|"
    )
    for row in table.rows():
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c, _ in row) + " |")
    return [*lines, ""]


_PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ report.title }}</title>
<style>
{{ font_css }}
:root { --ink: #1d2733; --muted: #5b6b7b; --rule: #d9dee4; --accent: #2f4b7c; }
body { font-family: {{ fallback }}; color: var(--ink); margin: 0 auto; max-width: 1100px;
       padding: 24px 32px 48px; line-height: 1.5; font-size: 14px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px;
  border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
nav { font-size: 13px; margin: 8px 0 16px; } nav a { margin-right: 12px; color: var(--accent); }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
.kpi { border: 1px solid var(--rule); border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.kpi .label { color: var(--muted); font-size: 12px; } .kpi .value { font-size: 20px; }
.kpi .unit { color: var(--muted); font-size: 12px; margin-left: 4px; }
.kpi .kpi-note { color: var(--muted); font-size: 11px; max-width: 260px; }
.kpi.good { border-left: 4px solid #59a14f; } .kpi.bad { border-left: 4px solid #e15759; }
.note { background: #fff7e0; border-left: 4px solid #edc948; padding: 6px 10px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 10px; text-align: left; }
th { background: #f3f5f8; font-weight: 600; } td.num { text-align: right;
  font-variant-numeric: tabular-nums; }
figure { margin: 8px 0 20px; } figcaption { color: var(--muted); font-size: 12px; }
.vega-embed { width: 100%; } footer { color: var(--muted); font-size: 11px; margin-top: 32px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; } nav { display: none; }
  h2 { break-after: avoid; } figure, table, .kpis { break-inside: avoid; }
  .vega-embed details { display: none; }
  @page { size: A4; margin: 14mm; }
}
</style>
<script>{{ bundle }}</script>
</head>
<body>
<header>
<h1>{{ report.title }}</h1>
{% if report.subtitle %}<p class="subtitle">{{ report.subtitle }}</p>{% endif %}
{% if report.sections|length > 2 %}<nav aria-label="{{ contents }}">
{% for s in report.sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}
</nav>{% endif %}
</header>
<main>
{% for s in report.sections %}
<section id="{{ s.anchor }}">
<h2>{{ s.title }}</h2>
{% for kind, b in s.blocks %}
{% if kind == "p" %}<p>{{ b }}</p>
{% elif kind == "note" %}<p class="note">{{ b }}</p>
{% elif kind == "ul" %}<ul>{% for item in b %}<li>{{ item }}</li>{% endfor %}</ul>
{% elif kind == "kpis" %}<div class="kpis">{% for k in b %}
<div class="kpi {{ k.verdict }}"><div class="label">{{ k.label }}</div>
<div><span class="value">{{ k.value }}</span><span class="unit">{{ k.unit }}</span></div>
{% if k.note %}<div class="kpi-note">{{ k.note }}</div>{% endif %}</div>{% endfor %}</div>
{% elif kind == "table" %}<table id="table-{{ b.name }}" data-table="{{ b.name }}">
{% if b.caption %}<caption>{{ b.caption }}</caption>{% endif %}
<thead><tr>{% for c in b.frame.columns %}
<th scope="col">{{ b.header(c) }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b.rows() %}<tr>{% for text, numeric in row %}
<td{% if numeric %} class="num"{% endif %}>{{ text }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% elif kind == "chart" %}<figure><div id="chart-{{ b.name }}" class="chart"></div>
{% if b.caption %}<figcaption>{{ b.caption }}</figcaption>{% endif %}</figure>
{% endif %}{% endfor %}
</section>
{% endfor %}
</main>
<footer>{{ footer }}</footer>
<script>
const embedOptions = {{ embed }};
const specs = {
{% for name, spec in specs.items() %}"{{ name }}": {{ spec }},
{% endfor %}};
// Vega measures legend and axis labels when it draws: only once the embedded font is in.
document.fonts.ready.then(() => {
  for (const [name, spec] of Object.entries(specs)) {
    vegaEmbed("#chart-" + name, spec, embedOptions).catch(console.error);
  }
});
</script>
</body>
</html>
"""
