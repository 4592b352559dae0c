"""The charts of the matching report: Altair definitions over aggregated rows only.

Every chart reads a frame of at most a few dozen rows (parks, industries, reason codes,
components), never one row per match, so a report of a million-row run stays small. The
``*_data`` functions build those frames; tests compare them with the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.matching.report_tables import MatchTables, component_points
from zone_opt.matching.scoring import COMPONENTS
from zone_opt.reports import Labels, category_colours, colour_scale, percent, series_colours

__all__ = [
    "Caps",
    "busiest_parks",
    "component_colours",
    "components_by_park_chart",
    "components_by_park_data",
    "industry_chart",
    "industry_data",
    "matches_in",
    "park_chart",
    "park_data",
    "reason_chart",
    "spread_chart",
    "spread_data",
]

#: Widest axis label in pixels (long industry and park names stay whole).
LABEL_LIMIT = 360


@dataclass(frozen=True)
class Caps:
    """Rows kept in the charts and the report's tables (the exports keep every row)."""

    parks: int = 20
    industries: int = 15
    top_parks: int = 10
    top_per_park: int = 5


def _category_axis() -> alt.Axis:
    """A category axis on the left: whole labels, its title level above them (upright, so a
    Chinese title reads as it should)."""
    return alt.Axis(
        labelLimit=LABEL_LIMIT,
        titleAngle=0,
        titleAnchor="end",
        titleAlign="right",
        titleBaseline="bottom",
        titleX=0,
        titleY=-6,
    )


def component_colours(t: Labels) -> dict[str, str]:
    """Component label -> colour, the same in both score charts."""
    return category_colours([t(f"comp.{name}") for name in COMPONENTS])


def _capped(frame: pd.DataFrame, n: int, label: str, other: str) -> pd.DataFrame:
    """The first ``n`` rows, the rest summed into one row labelled ``other``."""
    if len(frame) <= n:
        return frame
    head, tail = frame.iloc[:n], frame.iloc[n:]
    rest = tail.select_dtypes("number").sum().to_frame().T
    rest[label] = other
    return pd.concat([head, rest], ignore_index=True)


def park_data(tables: MatchTables, t: Labels, caps: Caps) -> pd.DataFrame:
    """Long rows ``park, state, area_m2``: matched and still-idle area per park."""
    parks = tables.by_park[["park_name", "idle_area_m2", "matched_area_m2"]]
    parks = _capped(parks, caps.parks, "park_name", t("other_parks"))
    matched = parks["matched_area_m2"].to_numpy(dtype=np.float64)
    left = parks["idle_area_m2"].to_numpy(dtype=np.float64) - matched
    return pd.DataFrame(
        {
            "park": np.concatenate([parks["park_name"], parks["park_name"]]),
            "state": [t("matched")] * len(parks) + [t("still_idle")] * len(parks),
            "area_m2": np.concatenate([matched, left]),
            "order": [0] * len(parks) + [1] * len(parks),
        }
    )


def _ends(data: pd.DataFrame, first: str) -> pd.DataFrame:
    """Per label: the bar's total and the share of its first state, printed at its end."""
    totals = data.groupby("label", sort=False)["value"].sum()
    firsts = data.loc[data["state"] == first].set_index("label")["value"]
    shares = firsts.reindex(totals.index) / totals.where(totals > 0)
    return pd.DataFrame(
        {"label": totals.index, "value": totals.to_numpy(), "text": [percent(x) for x in shares]}
    )


def _stacked_bars(
    data: pd.DataFrame, colours: dict[str, str], titles: dict[str, str]
) -> alt.LayerChart:
    """Horizontal bars of ``value`` per ``label``, stacked by ``state`` in ``order``, the
    share of the first state printed at each bar's end."""
    order = list(dict.fromkeys(data["label"]))
    y = alt.Y("label:N", sort=order, title=titles["y"], axis=_category_axis())
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("value:Q", title=titles["x"], axis=alt.Axis(format=",d")),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(**colour_scale(colours)),
                legend=alt.Legend(title=titles["legend"], orient="top"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:N", title=titles["y"]),
                alt.Tooltip("state:N", title=titles["legend"]),
                alt.Tooltip("value:Q", title=titles["x"], format=",.0f"),
            ],
        )
    )
    ends = _ends(data, next(iter(colours)))
    text = (
        alt.Chart(ends)
        .mark_text(align="left", dx=4, color="#1d2733")
        .encode(y=y, x="value:Q", text="text:N")
    )
    return alt.LayerChart(layer=[bars, text], width=640)


def park_chart(data: pd.DataFrame, t: Labels) -> alt.LayerChart:
    colours = series_colours([(t("matched"), "matched"), (t("still_idle"), "unmatched")])
    frame = data.rename(columns={"park": "label", "area_m2": "value"})
    titles = {"y": t("park"), "x": t("area_axis"), "legend": t("area_state")}
    return _stacked_bars(frame, colours, titles)


def industry_data(tables: MatchTables, t: Labels, caps: Caps) -> pd.DataFrame:
    """Long rows ``industry, state, enterprises``: placed and not placed seekers."""
    frame = tables.by_industry[["industry", "seekers", "placed"]]
    frame = _capped(frame, caps.industries, "industry", t("other_industries"))
    placed = frame["placed"].to_numpy(dtype=np.int64)
    left = frame["seekers"].to_numpy(dtype=np.int64) - placed
    return pd.DataFrame(
        {
            "industry": np.concatenate([frame["industry"], frame["industry"]]),
            "state": [t("placed")] * len(frame) + [t("not_placed")] * len(frame),
            "enterprises": np.concatenate([placed, left]),
            "order": [0] * len(frame) + [1] * len(frame),
        }
    )


def industry_chart(data: pd.DataFrame, t: Labels) -> alt.LayerChart:
    colours = series_colours([(t("placed"), "matched"), (t("not_placed"), "unmatched")])
    frame = data.rename(columns={"industry": "label", "enterprises": "value"})
    titles = {"y": t("industry"), "x": t("enterprises_axis"), "legend": t("placement")}
    return _stacked_bars(frame, colours, titles)


def reason_chart(counts: pd.DataFrame, t: Labels, *, kind: str, x_title: str) -> alt.LayerChart:
    """Bars of ``count`` per ``reason_label`` (most first), the count printed at the end."""
    order = list(counts.sort_values("count", ascending=False, kind="stable")["reason_label"])
    colour = series_colours([("x", kind)])["x"]
    base = alt.Chart(counts).encode(
        y=alt.Y("reason_label:N", sort=order, title=t("reason"), axis=_category_axis()),
        x=alt.X("count:Q", title=x_title, axis=alt.Axis(format=",d", tickMinStep=1)),
        tooltip=[
            alt.Tooltip("reason_code:N", title=t("reason_code")),
            alt.Tooltip("reason_label:N", title=t("reason")),
            alt.Tooltip("count:Q", title=x_title, format=",d"),
        ],
    )
    bars = base.mark_bar(color=colour)
    text = base.mark_text(align="left", dx=4, color="#1d2733").encode(
        text=alt.Text("count:Q", format=",d")
    )
    return alt.LayerChart(layer=[bars, text], width=560)


def busiest_parks(tables: MatchTables, n: int) -> list[str]:
    """The names of the ``n`` parks with the most matches (ties: the first seen)."""
    counts = pc.value_counts(tables.assignments.column("park_name")).to_pylist()
    ranked = sorted(counts, key=lambda c: -int(c["counts"]))  # stable: first seen first
    return [str(c["values"]) for c in ranked[:n]]


def matches_in(tables: MatchTables, parks: list[str], columns: list[str]) -> pd.DataFrame:
    """``columns`` of the matches in ``parks`` (a frame of those rows only)."""
    frame = tables.assignments
    chosen = frame.filter(pc.is_in(frame.column("park_name"), value_set=pa.array(parks)))
    return chosen.select(columns).to_pandas()


def components_by_park_data(
    tables: MatchTables, weights: tuple[float, ...], t: Labels, caps: Caps
) -> pd.DataFrame:
    """Long rows ``park, component, points``: each park's mean weighted contribution of
    each component (points of 100; a park's points sum to its mean fit)."""
    if tables.assignments.num_rows == 0:
        return pd.DataFrame({"park": [], "component": [], "points": [], "order": []})
    frame = matches_in(tables, busiest_parks(tables, caps.top_parks), ["park_name", *COMPONENTS])
    points = component_points(frame, weights).groupby(frame["park_name"].to_numpy()).mean()
    points = points.loc[[p for p in tables.by_park["park_name"] if p in points.index]]
    rows = [
        {"park": park, "component": t(f"comp.{name}"), "points": float(value), "order": i}
        for park, row in points.iterrows()
        for i, (name, value) in enumerate(row.items())
    ]
    return pd.DataFrame(rows)


def components_by_park_chart(data: pd.DataFrame, t: Labels) -> alt.Chart:
    colours = component_colours(t)
    order = list(dict.fromkeys(data["park"]))
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("park:N", sort=order, title=t("park"), axis=_category_axis()),
            x=alt.X("points:Q", title=t("fit_axis"), scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(
                "component:N",
                scale=alt.Scale(**colour_scale(colours)),
                legend=alt.Legend(title=t("component"), orient="top"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("park:N", title=t("park")),
                alt.Tooltip("component:N", title=t("component")),
                alt.Tooltip("points:Q", title=t("fit_axis"), format=".1f"),
            ],
        )
        .properties(width=640)
    )
    return chart


def spread_data(tables: MatchTables, t: Labels) -> pd.DataFrame:
    """One row per component: min, quartiles, median and max of its value over the matches."""
    frame = tables.assignments
    rows = []
    for name in COMPONENTS:
        values = np.asarray(frame.column(name), dtype=np.float64)
        q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0]) if values.size else [np.nan] * 5
        rows.append(
            {
                "component": t(f"comp.{name}"),
                "min": float(q[0]),
                "q1": float(q[1]),
                "median": float(q[2]),
                "q3": float(q[3]),
                "max": float(q[4]),
            }
        )
    return pd.DataFrame(rows)


def spread_chart(data: pd.DataFrame, t: Labels) -> alt.LayerChart:
    """A box plot drawn from the five numbers per component (no raw rows embedded)."""
    colours = component_colours(t)
    order = list(data["component"])
    y = alt.Y("component:N", sort=order, title=t("component"), axis=_category_axis())
    x_title = t("component_axis")
    tooltip = [alt.Tooltip("component:N", title=t("component"))] + [
        alt.Tooltip(f"{c}:Q", format=".2f") for c in ("min", "q1", "median", "q3", "max")
    ]
    base = alt.Chart(data).encode(y=y, tooltip=tooltip)
    whisker = base.mark_rule(color="#5b6b7b").encode(
        x=alt.X("min:Q", title=x_title, scale=alt.Scale(domain=[0, 1])), x2="max:Q"
    )
    box = base.mark_bar(size=16).encode(
        x="q1:Q",
        x2="q3:Q",
        color=alt.Color("component:N", scale=alt.Scale(**colour_scale(colours)), legend=None),
    )
    median = base.mark_tick(color="#1d2733", thickness=2, size=18).encode(x="median:Q")
    return alt.LayerChart(layer=[whisker, box, median], width=560)
