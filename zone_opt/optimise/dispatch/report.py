"""The dispatch report a planner reads: a week in detail, the whole horizon summarised,
costs and emissions by component, and, for an infeasible scenario, why.

:func:`build_report` returns a :class:`zone_opt.reports.Report`:

* headline figures (cost, emissions, grid import, renewable share, unserved energy);
* one week (the first by default, or from ``week_start``): electricity balance (supply
  stacked above zero; battery charging, grid export and the shiftable processes below; the
  load as a line), heat balance (CHP heat and boilers against the heat load, venting below),
  battery state of charge, grid price and carbon intensity;
* for horizons longer than two weeks: energy by flow per day and per month (MWh), cost per
  day (CNY), a state-of-charge heatmap (day x hour), duration curves of load, grid import
  and net load, and a monthly table;
* costs and emissions by component (CNY, t CO2e) and energy per flow over the horizon;
* when infeasible: the conflicting constraints with their data, in place of the charts.

:func:`write_report` writes ``report.html``, ``report.md``, ``charts/report-*.png`` and the
exports ``dispatch-<table>.csv`` and ``dispatch.xlsx``. O(steps x series).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch import tables
from zone_opt.optimise.dispatch.charts import (
    Axes,
    balance_chart,
    duration_chart,
    period_bars,
    price_chart,
    soc_chart,
    soc_heatmap,
)
from zone_opt.optimise.dispatch.report_labels import LABELS, cost_kind, cost_label
from zone_opt.optimise.dispatch.results import DispatchResult
from zone_opt.optimise.dispatch.tables import Series
from zone_opt.reports import (
    Kpi,
    Labels,
    Lang,
    Report,
    Section,
    Table,
    category_colours,
    number,
    percent,
    series_colours,
    write_tables,
)

__all__ = [
    "EXPORT_STEM",
    "EXPORT_UNITS",
    "REPORT_STEM",
    "ReportOptions",
    "build_report",
    "export_tables",
    "write_report",
]

#: File stems: ``report.html`` / ``report.md`` / ``charts/report-*.png`` and the exports
#: ``dispatch-<table>.csv`` / ``dispatch.xlsx``.
REPORT_STEM = "report"
EXPORT_STEM = "dispatch"
#: Horizons longer than this get the daily and monthly summaries, hours.
LONG_H = 14 * 24.0
#: Units of export columns whose names carry none.
EXPORT_UNITS = {"costs": {"co2e_t": "t CO2e"}}
WEEK_H = 7 * 24.0


@dataclass(frozen=True)
class ReportOptions:
    """Language of the labels and the first step of the week shown in detail (None: the
    horizon's first step)."""

    lang: Lang = "en"
    week_start: dt.datetime | dt.date | str | None = None


class _View:
    """The result with its series named in the report's language and coloured by kind."""

    def __init__(self, result: DispatchResult, lang: Lang) -> None:
        self.result, self.t = result, LABELS.labels(lang)
        ts = result.timeseries
        used = [s for s in tables.power_series(result) if (ts[s.column].abs() > 1e-9).any()]
        self.power = used
        self.heat = [s for s in tables.heat_series(result) if (ts[s.column].abs() > 1e-9).any()]
        self.power_colours = series_colours(
            [(self.name(s), s.kind) for s in self.power] + [(self.t("load"), "load")]
        )
        self.heat_colours = series_colours(
            [(self.name(s), s.kind) for s in self.heat] + [(self.t("heat_load"), "heat_load")]
        )

    def name(self, s: Series) -> str:
        if not s.asset:
            return self.t(s.label)
        what = s.column.split(".", 1)[1].rsplit("_", 1)[0]
        return self.t(f"of.{what}", asset=s.asset) if f"of.{what}" in LABELS.entries else s.asset

    def long(self, frame: pd.DataFrame, series: list[Series]) -> pd.DataFrame:
        """``time``, ``series``, ``value`` (signed MW), ``order`` of ``series`` in ``frame``."""
        parts = [
            pd.DataFrame(
                {
                    "time": frame.index.strftime("%Y-%m-%dT%H:%M:%S"),
                    "series": self.name(s),
                    "value": s.sign * frame[s.column].to_numpy(),
                    "order": k,
                }
            )
            for k, s in enumerate(series)
        ]
        return pd.concat(parts, ignore_index=True)

    def line(self, frame: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "time": frame.index.strftime("%Y-%m-%dT%H:%M:%S"),
                "series": name,
                "value": frame[column].to_numpy(),
            }
        )


def _week(result: DispatchResult, week_start: object) -> pd.DataFrame:
    ts = result.timeseries
    start = ts.index[0] if week_start is None else pd.Timestamp(str(week_start))
    if not ts.index[0] <= start <= ts.index[-1]:
        raise InvalidInputError.single(
            "week_start", None, f"{start} is outside the horizon ({ts.index[0]} .. {ts.index[-1]})"
        )
    return ts[(ts.index >= start) & (ts.index < start + pd.Timedelta(hours=WEEK_H))]


def _summary(report: Report, view: _View) -> None:
    result, t = view.result, view.t
    ts, dt_h = result.timeseries, result.dt_h
    emissions = sum(result.emissions_breakdown().values())
    load = float(ts["load_mw"].sum() * dt_h)
    renewable = sum(float(ts[f"{r.name}.output_mw"].sum() * dt_h) for r in result.park.renewables)
    unserved = float((ts["unserved.electricity_mw"] + ts["unserved.heat_mwth"]).sum() * dt_h)
    s = report.section(t("summary"))
    s.paragraph(
        t(
            "horizon",
            first=f"{ts.index[0]:%Y-%m-%d %H:%M}",
            last=f"{ts.index[-1]:%Y-%m-%d %H:%M}",
            steps=number(len(ts)),
            windows=number(len(result.windows)),
            status=t(f"status.{result.status}"),
        )
    )
    s.kpis(
        [
            Kpi(t("kpi.cost"), number(result.objective_cny), "CNY"),
            Kpi(t("kpi.emissions"), number(emissions, 1), "t CO2e"),
            Kpi(t("kpi.import"), number(ts["grid.import_mw"].sum() * dt_h), "MWh"),
            Kpi(t("kpi.peak"), number(ts["grid.import_mw"].max(), 1), "MW"),
            Kpi(t("kpi.renewable"), percent(renewable / load if load else None)),
            Kpi(
                t("kpi.unserved"),
                number(unserved, 1),
                "MWh",
                verdict="bad" if unserved > 1e-6 else "good",
            ),
        ]
    )


def _week_section(report: Report, view: _View, week: pd.DataFrame) -> None:
    t = view.t
    s = report.section(
        t("week", first=f"{week.index[0]:%Y-%m-%d}", last=f"{week.index[-1]:%Y-%m-%d}")
    )
    s.paragraph(t("week_how"))
    flows = view.long(week, view.power)
    load = view.line(week, "load_mw", t("load"))
    axes = Axes(t("time"), t("power_mw"), t("flow"))
    s.chart("electricity", balance_chart(flows, load, view.power_colours, axes), t("cap.elec"))
    heat = view.long(week, view.heat)
    heat_load = view.line(week, "heat_load_mwth", t("heat_load"))
    axes = Axes(t("time"), t("heat_mw"), t("flow"))
    s.chart("heat", balance_chart(heat, heat_load, view.heat_colours, axes), t("cap.heat"))
    batteries = view.result.park.batteries
    if batteries:
        soc = pd.concat(
            [view.line(week, f"{b.name}.soc_mwh", b.name) for b in batteries], ignore_index=True
        )
        colours = series_colours([(b.name, "soc") for b in batteries])
        axes = Axes(t("time"), t("soc_mwh"), t("battery"))
        s.chart("soc", soc_chart(soc, colours, axes), t("cap.soc"))
    price = view.line(week, "price_cny_per_mwh", t("price"))
    ci = view.line(week, "intensity_t_per_mwh", t("intensity"))
    frame = pd.concat([price.assign(axis=0), ci.assign(axis=1)], ignore_index=True)
    colours = series_colours([(t("price"), "price"), (t("intensity"), "carbon_intensity")])
    pair = (
        Axes(t("time"), t("price_axis"), t("series")),
        Axes(t("time"), t("intensity_axis"), t("series")),
    )
    s.chart("price", price_chart(frame, colours, pair), t("cap.price"))


def _period_long(frame: pd.DataFrame, columns: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """``period``, ``series``, ``value``, ``order`` from a per-period table's columns
    (``column -> (series name, sign)``)."""
    first = frame.columns[0]
    parts = [
        pd.DataFrame(
            {"period": frame[first], "series": name, "value": sign * frame[col], "order": k}
        )
        for k, (col, (name, sign)) in enumerate(columns.items())
    ]
    return pd.concat(parts, ignore_index=True)


def _long_section(report: Report, view: _View) -> None:
    result, t = view.result, view.t
    daily = tables.energy_by_period(result, "D")
    monthly = tables.energy_by_period(result, "MS")
    energy = {s.energy_column: (view.name(s), s.sign) for s in view.power}
    bars = {k: v for k, v in view.power_colours.items() if k != t("load")}  # no load bar
    s = report.section(t("long"))
    s.paragraph(t("long_how"))
    axes = Axes(t("day"), t("energy_mwh"), t("flow"))
    s.chart(
        "daily-energy",
        period_bars(_period_long(daily, energy), bars, axes, temporal=True),
        t("cap.daily"),
    )
    axes = Axes(t("month"), t("energy_mwh"), t("flow"))
    s.chart(
        "monthly-energy",
        period_bars(_period_long(monthly, energy), bars, axes, temporal=False),
        t("cap.monthly"),
    )
    cost_cols = [c for c in tables.hourly_costs(result).columns if (daily[c].abs() > 1e-6).any()]
    costs = {c: (cost_label(c, t), 1) for c in cost_cols}
    boilers = {b.name for b in result.park.boilers}
    colours = series_colours([(cost_label(c, t), cost_kind(c, boilers)) for c in cost_cols])
    axes = Axes(t("day"), t("cost_cny"), t("component"))
    s.chart(
        "daily-cost",
        period_bars(_period_long(daily, costs), colours, axes, temporal=True),
        t("cap.cost"),
    )
    for b in result.park.batteries:
        frame = view.line(result.timeseries, f"{b.name}.soc_mwh", b.name)
        axes = Axes(t("day"), t("hour_of_day"), t("soc_mwh"))
        s.chart(f"soc-heatmap-{b.name}", soc_heatmap(frame, axes), t("cap.heatmap", name=b.name))
    curves = tables.duration_curves(result)
    names = {k: t(k) for k in ("load", "grid_import", "net_load")}
    curves = curves.assign(series=curves["curve"].map(names)).rename(columns={"mw": "value"})
    # Net load has no kind of its own: the palette's orange, apart from the grid's slate.
    colours = series_colours([(names["load"], "load"), (names["grid_import"], "grid_import")])
    colours[names["net_load"]] = category_colours(["", names["net_load"]])[names["net_load"]]
    axes = Axes(t("hours_at_or_above"), t("power_mw"), t("series"))
    s.chart("duration", duration_chart(curves, colours, axes), t("cap.duration"))
    _monthly_table(s, view, monthly)


def _monthly_table(s: Section, view: _View, monthly: pd.DataFrame) -> None:
    t = view.t
    columns = [s_.energy_column for s_ in view.power] + ["load_mwh", "heat_load_mwh"]
    cost_cols = list(tables.hourly_costs(view.result).columns)
    frame = monthly[["month", *columns]].assign(cost_cny=monthly[cost_cols].sum(axis=1))
    titles = {s_.energy_column: view.name(s_) for s_ in view.power}
    titles |= {
        "month": t("month"),
        "load_mwh": t("load"),
        "heat_load_mwh": t("heat_load"),
        "cost_cny": t("kpi.cost"),
    }
    units = dict.fromkeys(columns, "MWh") | {"cost_cny": "CNY"}
    s.table(Table("monthly", t("tab.monthly"), frame, titles=titles, units=units))


def _costs_section(report: Report, view: _View) -> None:
    result, t = view.result, view.t
    frame = tables.cost_table(result)
    frame.insert(1, "component", [cost_label(k, t) for k in frame["item"]])
    s = report.section(t("costs"))
    total = float(frame["cost_cny"].sum())
    s.paragraph(t("costs_how", total=number(total), objective=number(result.objective_cny)))
    s.table(
        Table(
            "costs",
            t("tab.costs"),
            frame,
            titles={
                "item": t("item"),
                "component": t("component"),
                "cost_cny": t("cost"),
                "co2e_t": t("emissions"),
            },
            units={"cost_cny": "CNY", "co2e_t": "t CO2e"},
            digits={"cost_cny": 0, "co2e_t": 1},
        )
    )
    ts, dt_h = result.timeseries, result.dt_h
    flows = [*view.power, *view.heat]
    energy = pd.DataFrame(
        {
            "flow": [view.name(x) for x in flows],
            "carrier": [t("electricity")] * len(view.power) + [t("heat")] * len(view.heat),
            "column": [x.column for x in flows],
            "energy_mwh": [float(ts[x.column].sum() * dt_h) for x in flows],
        }
    )
    titles = {
        "flow": t("flow"),
        "carrier": t("carrier"),
        "column": t("column"),
        "energy_mwh": t("energy"),
    }
    s.table(Table("energy", t("tab.energy"), energy, titles=titles, units={"energy_mwh": "MWh"}))


def _conflicts(report: Report, result: DispatchResult, t: Labels, lang: Lang) -> None:
    s = report.section(t("infeasible"))
    s.note(t("infeasible_how", status=t(f"status.{result.status}")))
    s.bullets([c.describe(lang) for c in result.conflicts] or result.infeasibility)
    frame = pd.DataFrame(
        {
            "constraint": [c.constraint for c in result.conflicts],
            "asset": [c.asset for c in result.conflicts],
            "side": [t(f"op.{c.side}") if c.side else "" for c in result.conflicts],
            "low": [c.low for c in result.conflicts],
            "high": [c.high for c in result.conflicts],
            "unit": [c.unit for c in result.conflicts],
            "first": [c.first for c in result.conflicts],
            "last": [c.last for c in result.conflicts],
            "steps": [c.steps for c in result.conflicts],
        }
    )
    titles = {k: t(f"conflict.{k}") for k in frame.columns}
    digits = {"low": 2, "high": 2}
    s.table(Table("conflicts", t("tab.conflicts"), frame, titles=titles, digits=digits))


def build_report(result: DispatchResult, options: ReportOptions | None = None) -> Report:
    """The report of one dispatch run (see the module docstring). O(steps x series).

    Raises:
        InvalidInputError: naming ``week_start`` when it is outside the horizon.
    """
    opts = options or ReportOptions()
    t = LABELS.labels(opts.lang)
    report = Report(
        t("title", park=result.park.name),
        lang=opts.lang,
        subtitle=t("subtitle", status=t(f"status.{result.status}")),
    )
    if result.timeseries.empty:
        _conflicts(report, result, t, opts.lang)
        return report
    view = _View(result, opts.lang)
    week = _week(result, opts.week_start)
    _summary(report, view)
    if result.conflicts:
        _conflicts(report, result, t, opts.lang)
    _week_section(report, view, week)
    if len(result.timeseries) * result.dt_h > LONG_H:
        _long_section(report, view)
    _costs_section(report, view)
    return report


def export_tables(result: DispatchResult) -> dict[str, pd.DataFrame]:
    """The exported tables: ``schedule`` (hourly), ``daily``, ``monthly`` and ``costs``; for
    an infeasible run, ``conflicts``."""
    out: dict[str, pd.DataFrame] = {}
    if not result.timeseries.empty:
        out["schedule"] = tables.schedule(result)
        out["daily"] = tables.energy_by_period(result, "D")
        out["monthly"] = tables.energy_by_period(result, "MS")
        out["costs"] = tables.cost_table(result)
    if result.conflicts:
        out["conflicts"] = pd.DataFrame(
            [{**c.__dict__, "text": c.describe("en")} for c in result.conflicts]
        )
    return out


def write_report(
    result: DispatchResult, out: Path, options: ReportOptions | None = None
) -> list[Path]:
    """Write the report (HTML, Markdown, PNG per chart) and the CSV/Excel exports into
    ``out``; return every path written."""
    opts = options or ReportOptions()
    report = build_report(result, opts)
    exported = write_tables(export_tables(result), out, EXPORT_STEM, units=EXPORT_UNITS)
    t = LABELS.labels(opts.lang)
    files = [*(p.name for p in exported.csv.values()), exported.xlsx.name]
    report.section(t("exports")).paragraph(t("exports_how")).bullets(files)
    written = report.write(out, REPORT_STEM)
    return [*written, *exported.csv.values(), exported.xlsx]
