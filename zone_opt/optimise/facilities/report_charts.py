"""The facilities report's charts (Altair): the plan map, cost shares per method, and the
scenarios' costs against going alone.

The map is drawn in kilometres with one scale for both axes (a kilometre is as long east as
north), no tiles: parks (circles sized by demand) and candidate sites (squares, open or
closed) with their names beside them, placed so they do not overlap one another; the flows
park -> site coloured by facility type, as wide as the units they carry and shifted sideways
by type so two types between the same park and site stay apart; a scale bar of a round
number of kilometres. Labels are given by the caller in the report's language.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from zone_opt.optimise.facilities.scenario import ScenarioResult
from zone_opt.optimise.facilities.sharing import CostShares
from zone_opt.reports import Labels, colour_scale, number, series_colours

__all__ = [
    "MapLabels",
    "ShareLabels",
    "costs_chart",
    "map_chart",
    "scale_bar_km",
    "shares_chart",
    "shares_frame",
]

#: Largest plot area of the map, px.
MAP_WIDTH, MAP_HEIGHT = 640.0, 460.0
#: Sideways spacing of flows of different types between the same two places, px.
FLOW_SPACING_PX = 5.0
#: Approximate width of a label character, px (11 px sans-serif; CJK characters count 2).
CHAR_PX = 6.6
#: Legend symbol of a reference tick: a vertical line.
TICK_SYMBOL = "M0,-1L0,1"


@dataclass(frozen=True)
class MapLabels:
    """The map's words in the report's language."""

    east: str
    north: str
    park: str
    open_site: str
    closed_site: str
    place: str
    facility_type: str
    units: str
    km: str


@dataclass(frozen=True)
class ShareLabels:
    """The cost-share chart's words in the report's language."""

    park: str
    method: str
    axis: str
    reference: str
    standalone: str


def scale_bar_km(span_km: float) -> float:
    """A round length (1, 2, 5 x 10^k km) of about a fifth of ``span_km``."""
    target = max(span_km, 1e-9) / 5.0
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power


def _text_px(text: str) -> float:
    return sum(2 * CHAR_PX if ord(c) > 0x2E7F else CHAR_PX for c in text)


def _place_labels(points: pd.DataFrame, px_per_km: float) -> pd.DataFrame:
    """A label position per point (right, left, above, below: the first that overlaps no
    earlier label or point), in km, with its text alignment."""
    boxes: list[tuple[float, float, float, float]] = []
    for x, y in zip(points["x_km"], points["y_km"], strict=True):
        px, py = x * px_per_km, y * px_per_km
        boxes.append((px - 6, py - 6, px + 6, py + 6))
    rows = []
    for name, x, y in zip(points["name"], points["x_km"], points["y_km"], strict=True):
        px, py, w, h = x * px_per_km, y * px_per_km, _text_px(str(name)), 12.0
        options = [  # (box, anchor x, anchor y, align); y grows upwards here
            ((px + 9, py - h / 2, px + 9 + w, py + h / 2), px + 9, py, "left"),
            ((px - 9 - w, py - h / 2, px - 9, py + h / 2), px - 9, py, "right"),
            ((px - w / 2, py + 9, px + w / 2, py + 9 + h), px, py + 9 + h / 2, "center"),
            ((px - w / 2, py - 9 - h, px + w / 2, py - 9), px, py - 9 - h / 2, "center"),
        ]

        def clashes(box: tuple[float, float, float, float]) -> int:
            return sum(
                box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes
            )

        box, ax, ay, align = min(options, key=lambda o: clashes(o[0]))
        boxes.append(box)
        rows.append((name, ax / px_per_km, ay / px_per_km, align))
    return pd.DataFrame(rows, columns=["name", "x_km", "y_km", "align"])


def _frame(r: ScenarioResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes (parks and sites) and flows of a scenario, in km."""
    p = r.scenario.problem
    assert p.demand_xy_km is not None
    assert p.site_xy_km is not None
    opened = set(r.plan.open_sites)
    demand = p.demand.sum(axis=1)
    nodes = pd.DataFrame(
        [
            {"name": d, "kind": "park", "x_km": xy[0], "y_km": xy[1], "units": demand[j]}
            for j, (d, xy) in enumerate(zip(p.demand_ids, p.demand_xy_km, strict=True))
        ]
        + [
            {
                "name": s,
                "kind": "open" if s in opened else "closed",
                "x_km": xy[0],
                "y_km": xy[1],
                "units": 0.0,
            }
            for s, xy in zip(p.site_ids, p.site_xy_km, strict=True)
        ]
    )
    flows = pd.DataFrame(
        [
            {"park": a.demand_id, "site": a.site_id, "type": a.facility_type, "units": a.amount}
            for a in r.plan.assignments
        ],
        columns=["park", "site", "type", "units"],
    )
    return nodes, flows


def _offset_flows(
    flows: pd.DataFrame, nodes: pd.DataFrame, types: Sequence[str], px_per_km: float
) -> pd.DataFrame:
    at = {n: (x, y) for n, x, y in zip(nodes["name"], nodes["x_km"], nodes["y_km"], strict=True)}
    rows = []
    for park, site, kind, units in flows.itertuples(index=False, name=None):
        (x1, y1), (x2, y2) = at[park], at[site]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        shift = (types.index(kind) - (len(types) - 1) / 2) * FLOW_SPACING_PX / px_per_km
        dx, dy = -(y2 - y1) / length * shift, (x2 - x1) / length * shift
        rows.append((park, site, kind, units, x1 + dx, y1 + dy, x2 + dx, y2 + dy))
    return pd.DataFrame(rows, columns=["park", "site", "type", "units", "x", "y", "x2", "y2"])


def map_chart(
    r: ScenarioResult, labels: MapLabels, type_colours: Mapping[str, str]
) -> alt.LayerChart:
    """The plan on a km grid (module docstring). O(parks x sites)."""
    nodes, flows = _frame(r)
    types = list(r.scenario.problem.facility_types)
    lo = nodes[["x_km", "y_km"]].min().to_numpy()
    hi = nodes[["x_km", "y_km"]].max().to_numpy()
    span = np.maximum(hi - lo, 1.0)
    lo = lo - np.array([0.08, 0.22]) * span  # room below for the scale bar
    hi = hi + np.array([0.08, 0.08]) * span
    span = hi - lo
    px_per_km = min(MAP_WIDTH / span[0], MAP_HEIGHT / span[1])
    width, height = span[0] * px_per_km, span[1] * px_per_km
    kinds = {"park": labels.park, "open": labels.open_site, "closed": labels.closed_site}
    nodes["place"] = nodes["kind"].map(kinds)
    node_colours = series_colours(
        [
            (labels.park, "park"),
            (labels.open_site, "site_open"),
            (labels.closed_site, "site_closed"),
        ]
    )
    x = alt.Scale(domain=[float(lo[0]), float(hi[0])], nice=False, zero=False)
    y = alt.Scale(domain=[float(lo[1]), float(hi[1])], nice=False, zero=False)
    xq = alt.X("x:Q", scale=x, title=labels.east)
    yq = alt.Y("y:Q", scale=y, title=labels.north)
    drawn = _offset_flows(flows, nodes, types, px_per_km)
    flow_layer = (
        alt.Chart(drawn)
        .mark_rule(opacity=0.85, strokeCap="round")
        .encode(
            x=xq,
            y=yq,
            x2="x2:Q",
            y2="y2:Q",
            color=alt.Color(
                "type:N",
                title=labels.facility_type,
                scale=alt.Scale(**colour_scale({ft: type_colours[ft] for ft in types})),
            ),
            strokeWidth=alt.StrokeWidth(
                "units:Q", title=labels.units, scale=alt.Scale(range=[1.5, 5.0], zero=False)
            ),
            tooltip=["park:N", "site:N", "type:N", alt.Tooltip("units:Q", format=",.0f")],
        )
    )
    place = alt.Color("place:N", title=labels.place, scale=alt.Scale(**colour_scale(node_colours)))
    shape = alt.Shape(
        "place:N",
        title=labels.place,
        scale=alt.Scale(domain=list(node_colours), range=["circle", "square", "square"]),
    )
    node_layer = (
        alt.Chart(nodes.rename(columns={"x_km": "x", "y_km": "y"}))
        .mark_point(filled=True, opacity=1.0, stroke="white", strokeWidth=1)
        .encode(
            x=xq,
            y=yq,
            color=place,
            shape=shape,
            size=alt.value(150),
            tooltip=["name:N", "place:N"],
        )
    )
    layers: list[alt.Chart] = [flow_layer, node_layer]
    placed = _place_labels(nodes, px_per_km).rename(columns={"x_km": "x", "y_km": "y"})
    for align in ("left", "right", "center"):
        part = placed[placed["align"] == align]
        if len(part):
            layers.append(
                alt.Chart(part)
                .mark_text(align=align, baseline="middle", fontSize=11, color="#1d2733")
                .encode(x=xq, y=yq, text="name:N")
            )
    layers += _scale_bar(lo, span, labels.km, xq, yq)
    chart: alt.LayerChart = (
        alt.layer(*layers)
        .resolve_scale(color="independent", shape="independent")
        .properties(width=float(width), height=float(height))
    )
    return chart


def _scale_bar(lo: np.ndarray, span: np.ndarray, km: str, xq: alt.X, yq: alt.Y) -> list[alt.Chart]:
    length = scale_bar_km(float(span[0]))
    x0, y0 = float(lo[0] + 0.03 * span[0]), float(lo[1] + 0.06 * span[1])
    bar = pd.DataFrame(
        {
            "x": [x0],
            "y": [y0],
            "x2": [x0 + length],
            "y2": [y0],
            "label": [f"{number(length, 0 if length >= 1 else 1)} {km}"],
        }
    )
    rule = (
        alt.Chart(bar)
        .mark_rule(color="#1d2733", strokeWidth=3)
        .encode(x=xq, y=yq, x2="x2:Q", y2="y2:Q")
    )
    ends = (
        alt.Chart(pd.DataFrame({"x": [x0, x0 + length], "y": [y0, y0]}))
        .mark_tick(color="#1d2733", orient="vertical", size=10, thickness=2)
        .encode(x=xq, y=yq)
    )
    text = (
        alt.Chart(bar.assign(x=x0 + length / 2))
        .mark_text(baseline="bottom", dy=-6, fontSize=11, color="#1d2733")
        .encode(x=xq, y=yq, text="label:N")
    )
    return [rule, ends, text]


def shares_frame(splits: Sequence[CostShares], method_names: Mapping[str, str]) -> pd.DataFrame:
    """One row per (park, method): share, stand-alone cost, and the bar's label."""
    rows = []
    for s in splits:
        for ps in s.shares:
            rows.append(
                {
                    "park": ps.park,
                    "method": method_names[s.method.value],
                    "share_cny": ps.share_cny,
                    "standalone_cny": ps.standalone_cny,
                    "share_m": ps.share_cny / 1e6,
                    "standalone_m": ps.standalone_cny / 1e6,
                    "label": number(ps.share_cny / 1e6, 2),
                }
            )
    return pd.DataFrame(rows)


def shares_chart(
    splits: Sequence[CostShares],
    labels: ShareLabels,
    method_names: Mapping[str, str],
    method_colours: Mapping[str, str],
) -> alt.LayerChart:
    """Each park's share under every method side by side (values on the bars), with a
    black tick at its stand-alone cost: the gap to the tick is what the park saves."""
    data = shares_frame(splits, method_names)
    parks = list(dict.fromkeys(data["park"]))
    methods = [method_names[s.method.value] for s in splits]
    colours = {m: method_colours[m] for m in methods}
    top = float(max(data["share_m"].max(), data["standalone_m"].max()))
    y = alt.Y("park:N", title=labels.park, sort=parks)
    x = alt.X("share_m:Q", title=labels.axis, scale=alt.Scale(domain=[0, top * 1.12]))
    offset = alt.YOffset("method:N", sort=methods)
    base = alt.Chart(data)
    bars = base.mark_bar(height={"band": 0.9}).encode(
        x=x,
        y=y,
        yOffset=offset,
        color=alt.Color("method:N", title=labels.method, scale=alt.Scale(**colour_scale(colours))),
        tooltip=[
            "park:N",
            "method:N",
            alt.Tooltip("share_cny:Q", format=",.0f"),
            alt.Tooltip("standalone_cny:Q", format=",.0f"),
        ],
    )
    values = base.mark_text(align="left", baseline="middle", dx=3, fontSize=10).encode(
        x=x, y=y, yOffset=offset, text="label:N"
    )
    reference = (
        alt.Chart(data.drop_duplicates("park").assign(reference=labels.standalone))
        .mark_tick(thickness=2.5, size=16 * len(methods) + 4)
        .encode(
            x=alt.X("standalone_m:Q"),
            y=y,
            color=alt.Color(
                "reference:N",
                title=labels.reference,
                scale=alt.Scale(domain=[labels.standalone], range=["#111111"]),
                legend=alt.Legend(
                    symbolType=TICK_SYMBOL, symbolStrokeWidth=2.5, symbolStrokeColor="#111111"
                ),
            ),
            tooltip=["park:N", alt.Tooltip("standalone_cny:Q", format=",.0f")],
        )
    )
    chart: alt.LayerChart = (
        alt.layer(bars, values, reference)
        .resolve_scale(color="independent")
        .properties(width=560, height=alt.Step(16), title="")
    )
    return chart


def costs_chart(
    results: Sequence[ScenarioResult], t: Labels, component_colours: Mapping[str, str]
) -> alt.LayerChart:
    """Each scenario's joint cost stacked by component (million CNY a year) with its total
    at the bar's end, a black tick at the stand-alone total, and "no plan" where none."""
    names = [r.scenario.name for r in results]
    parts: list[dict[str, object]] = []
    ends: list[dict[str, object]] = []
    alone: list[dict[str, object]] = []
    totals: list[float] = [1.0]
    for r in results:
        c = r.plan.cost
        if c is None:
            ends.append({"scenario": r.scenario.name, "x": 0.0, "label": t("no_plan")})
            continue
        for key, value in (
            ("fixed", c.fixed_cny),
            ("transport", c.transport_cny),
            ("operating", c.operating_cny),
        ):
            parts.append({"scenario": r.scenario.name, "component": t(key), "cost_m": value / 1e6})
        totals.append(c.total_cny / 1e6)
        ends.append(
            {
                "scenario": r.scenario.name,
                "x": c.total_cny / 1e6,
                "label": number(c.total_cny / 1e6, 2),
            }
        )
        if r.standalone_total_cny is not None:
            totals.append(r.standalone_total_cny / 1e6)
            alone.append(
                {
                    "scenario": r.scenario.name,
                    "standalone_m": r.standalone_total_cny / 1e6,
                    "reference": t("standalone_total"),
                }
            )
    y = alt.Y("scenario:N", title=t("scenario"), sort=names, axis=alt.Axis(labelLimit=240))
    top = max(totals)
    x = alt.X(
        "cost_m:Q", title=t("cost_axis"), stack="zero", scale=alt.Scale(domain=[0, top * 1.1])
    )
    colours = dict(component_colours)
    bars = (
        alt.Chart(pd.DataFrame(parts, columns=["scenario", "component", "cost_m"]))
        .mark_bar(height={"band": 0.6})
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "component:N",
                title=t("component"),
                scale=alt.Scale(**colour_scale(colours)),
                sort=list(colours),
            ),
            order=alt.Order("order:Q"),
            tooltip=["scenario:N", "component:N", alt.Tooltip("cost_m:Q", format=",.2f")],
        )
        .transform_calculate(order=_order_expr(list(colours)))
    )
    labels = (
        alt.Chart(pd.DataFrame(ends))
        .mark_text(align="left", baseline="middle", dx=4, fontSize=11)
        .encode(x=alt.X("x:Q"), y=y, text="label:N")
    )
    reference = (
        alt.Chart(pd.DataFrame(alone, columns=["scenario", "standalone_m", "reference"]))
        .mark_tick(thickness=2.5, size=26)
        .encode(
            x=alt.X("standalone_m:Q"),
            y=y,
            color=alt.Color(
                "reference:N",
                title=t("reference"),
                scale=alt.Scale(domain=[t("standalone_total")], range=["#111111"]),
                legend=alt.Legend(
                    symbolType=TICK_SYMBOL, symbolStrokeWidth=2.5, symbolStrokeColor="#111111"
                ),
            ),
            tooltip=["scenario:N", alt.Tooltip("standalone_m:Q", format=",.2f")],
        )
    )
    chart: alt.LayerChart = (
        alt.layer(bars, labels, reference)
        .resolve_scale(color="independent")
        .properties(width=560, height=alt.Step(36))
    )
    return chart


def _order_expr(names: Sequence[str]) -> str:
    """A Vega expression giving each component its stacking position."""
    cases = " : ".join(f"datum.component === {json.dumps(n)} ? {i}" for i, n in enumerate(names))
    return f"{cases} : {len(names)}"
