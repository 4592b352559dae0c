"""Altair definitions of the dispatch charts (drawn by :mod:`zone_opt.reports`).

Each builder takes long-form data whose series names are already in the report's language
and a ``name -> colour`` mapping from :func:`zone_opt.reports.series_colours`, so a PV plant
or the grid has one colour in every chart, HTML and PNG alike. Time charts zoom and pan on
the time axis (drag, wheel) and show a tooltip per point. O(points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import altair as alt
import pandas as pd

from zone_opt.reports import colour_scale

__all__ = [
    "Axes",
    "balance_chart",
    "duration_chart",
    "period_bars",
    "price_chart",
    "soc_chart",
    "soc_heatmap",
]


@dataclass(frozen=True)
class Axes:
    """Titles of a chart's axes and legend (units included)."""

    x: str
    y: str
    legend: str
    value: str = ""
    """Tooltip title of the value (defaults to ``y``)."""


#: Room right of the legend: the page may measure labels before its embedded font has
#: loaded, and the wider glyphs would be clipped at the drawing's edge without it.
PADDING = {"left": 5, "top": 5, "bottom": 5, "right": 40}


#: A day axis: month-day labels, dropped rather than overlapped.
# A week's time axis: one labelled tick a day (weekday and date), in the report's locale.
_WEEK = alt.Axis(format="%a %d %b", tickCount={"interval": "day", "step": 1}, labelAngle=0)
_DAYS = alt.Axis(format="%m-%d", labelOverlap="greedy")


def _zoom() -> Any:
    return alt.selection_interval(bind="scales", encodings=["x"])


def _colour(colours: dict[str, str], title: str, symbol: str = "square") -> Any:
    return alt.Color(
        "series:N",
        title=title,
        scale=alt.Scale(**colour_scale(colours)),
        legend=alt.Legend(orient="right", symbolType=symbol),
    )


def balance_chart(
    flows: pd.DataFrame, line: pd.DataFrame, colours: dict[str, str], axes: Axes
) -> alt.LayerChart:
    """Stacked flows (``time``, ``series``, ``value``, ``order``; supply > 0, extra demand
    < 0, stacked separately above and below zero) with ``line`` (``time``, ``series``,
    ``value``: the load) drawn over them as a step line."""
    x = alt.X("time:T", title=axes.x, axis=_WEEK)
    tip_value = alt.Tooltip("value:Q", title=axes.value or axes.y, format=",.2f")
    tooltip = [alt.Tooltip("time:T", title=axes.x, format="%Y-%m-%d %H:%M"), "series:N", tip_value]
    area = (
        alt.Chart(flows)
        .mark_area(interpolate="step-after", opacity=0.9)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=axes.y, stack="zero"),
            color=_colour(colours, axes.legend),
            order=alt.Order("order:Q"),
            tooltip=tooltip,
        )
        .add_params(_zoom())
    )
    load = (
        alt.Chart(line)
        .mark_line(interpolate="step-after", strokeWidth=1.8)
        .encode(x=x, y="value:Q", color=_colour(colours, axes.legend), tooltip=tooltip)
    )
    zero = alt.Chart(pd.DataFrame({"value": [0.0]})).mark_rule(color="#666").encode(y="value:Q")
    return cast(alt.LayerChart, alt.layer(area, zero, load).properties(height=300, padding=PADDING))


def soc_chart(frame: pd.DataFrame, colours: dict[str, str], axes: Axes) -> alt.Chart:
    """State of charge per battery (``time``, ``series``, ``value`` in MWh)."""
    chart = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.8)
        .encode(
            x=alt.X("time:T", title=axes.x, axis=_WEEK),
            y=alt.Y("value:Q", title=axes.y),
            color=_colour(colours, axes.legend, "stroke"),
            tooltip=[
                alt.Tooltip("time:T", title=axes.x, format="%Y-%m-%d %H:%M"),
                "series:N",
                alt.Tooltip("value:Q", title=axes.y, format=",.1f"),
            ],
        )
        .add_params(_zoom())
        .properties(height=180, padding=PADDING)
    )
    return cast(alt.Chart, chart)


def price_chart(
    frame: pd.DataFrame, colours: dict[str, str], axes: tuple[Axes, Axes]
) -> alt.LayerChart:
    """Grid price (left axis) and carbon intensity (right axis) over time: ``time``,
    ``series``, ``value``, ``axis`` (0 = price, 1 = intensity)."""
    price_axes, ci_axes = axes
    layers = []
    sides: tuple[Literal["left", "right"], ...] = ("left", "right")
    for k, (ax, orient) in enumerate(zip((price_axes, ci_axes), sides, strict=True)):
        part = frame[frame["axis"] == k]
        colour = colours[str(part["series"].iloc[0])] if len(part) else "#333"
        layer = (
            alt.Chart(part)
            .mark_line(interpolate="step-after", strokeWidth=1.6)
            .encode(
                x=alt.X("time:T", title=ax.x, axis=_WEEK),
                y=alt.Y(
                    "value:Q",
                    title=ax.y,
                    axis=alt.Axis(orient=orient, titleColor=colour),
                    scale=alt.Scale(zero=False),
                ),
                color=_colour(colours, price_axes.legend, "stroke"),
                tooltip=[
                    alt.Tooltip("time:T", title=ax.x, format="%Y-%m-%d %H:%M"),
                    alt.Tooltip("value:Q", title=ax.y, format=",.3~f"),
                ],
            )
        )
        if k == 0:
            layer = layer.add_params(_zoom())
        layers.append(layer)
    chart = (
        alt.layer(*layers).resolve_scale(y="independent").properties(height=180, padding=PADDING)
    )
    return cast(alt.LayerChart, chart)


def period_bars(
    frame: pd.DataFrame, colours: dict[str, str], axes: Axes, *, temporal: bool
) -> alt.LayerChart:
    """Stacked bars per period (``period``, ``series``, ``value``, ``order``): positive
    above zero, negative below. ``temporal``: periods are dates (zoomable), else labels."""
    if temporal:
        x = alt.X("yearmonthdate(period):T", title=axes.x, axis=_DAYS)
        period_tip = alt.Tooltip("yearmonthdate(period):T", title=axes.x, format="%Y-%m-%d")
    else:
        x = alt.X("period:O", title=axes.x, axis=alt.Axis(labelAngle=0))
        period_tip = alt.Tooltip("period:O", title=axes.x)
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("value:Q", title=axes.y, stack="zero"),
            color=_colour(colours, axes.legend),
            order=alt.Order("order:Q"),
            tooltip=[
                period_tip,
                "series:N",
                alt.Tooltip("value:Q", title=axes.value or axes.y, format=",.0f"),
            ],
        )
    )
    if temporal:
        bars = bars.add_params(_zoom())
    zero = alt.Chart(pd.DataFrame({"value": [0.0]})).mark_rule(color="#666").encode(y="value:Q")
    # Few labelled periods (months): spread them over the full width, not 20 px steps.
    size: dict[str, Any] = {"height": 260} if temporal else {"height": 260, "width": 720}
    return cast(alt.LayerChart, alt.layer(bars, zero).properties(padding=PADDING, **size))


def soc_heatmap(frame: pd.DataFrame, axes: Axes) -> alt.Chart:
    """Mean state of charge by day (x) and hour of day (y): ``time``, ``value`` (MWh)."""
    chart = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("yearmonthdate(time):T", title=axes.x, axis=_DAYS),
            y=alt.Y("hours(time):O", title=axes.y),
            color=alt.Color("mean(value):Q", title=axes.legend, scale=alt.Scale(scheme="purples")),
            tooltip=[
                alt.Tooltip("yearmonthdate(time):T", title=axes.x, format="%Y-%m-%d"),
                alt.Tooltip("hours(time):O", title=axes.y),
                alt.Tooltip("mean(value):Q", title=axes.legend, format=",.1f"),
            ],
        )
        .properties(height=260, padding=PADDING)
    )
    return cast(alt.Chart, chart)


def duration_chart(frame: pd.DataFrame, colours: dict[str, str], axes: Axes) -> alt.Chart:
    """Duration curves (``series``, ``hours``, ``value``): hours at or above each MW."""
    chart = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.8)
        .encode(
            x=alt.X("hours:Q", title=axes.x),
            y=alt.Y("value:Q", title=axes.y),
            color=_colour(colours, axes.legend, "stroke"),
            tooltip=[
                "series:N",
                alt.Tooltip("hours:Q", title=axes.x, format=",.0f"),
                alt.Tooltip("value:Q", title=axes.y, format=",.1f"),
            ],
        )
        .add_params(alt.selection_interval(bind="scales"))
        .properties(height=240, padding=PADDING)
    )
    return cast(alt.Chart, chart)
