"""One look for every report: colours per asset and emission source, the chart config.

A colour belongs to a *kind* (``pv``, ``battery_charge``, ``grid_import``, ``scope2`` ...),
never to a position in a legend, so a PV array is the same yellow in the dispatch week, the
monthly energy bars and the carbon report, in the HTML and the PNG alike. Several series of
one kind (two PV arrays) get lighter and darker steps of the kind's colour.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from typing import Any

from zone_opt.reports.fonts import FONT_FAMILY

__all__ = ["KIND_COLOURS", "colour_scale", "series_colours", "vega_config"]

#: kind -> colour (hex). Energy: supply warm and green, storage purple, grid grey-blue,
#: demand dark. Carbon: scope 1 red-brown, scope 2 blue, scope 3 grey; sources keep their
#: energy colour. Facility types and statuses get distinct qualitative colours.
KIND_COLOURS: dict[str, str] = {
    # electricity and heat supply
    "pv": "#f2b701",
    "wind": "#3fa7d6",
    "chp": "#e4572e",
    "chp_heat": "#f28e2b",
    "boiler": "#b55d4c",
    "heat_pump": "#d37295",
    "battery_discharge": "#7b4fa0",
    "battery_charge": "#b39ddb",
    "thermal_discharge": "#c06c84",
    "thermal_charge": "#e8b4c4",
    "grid_import": "#5b7083",
    "grid_export": "#9fb3c8",
    "unserved": "#d62728",
    "heat_venting": "#bab0ac",
    "process": "#2f4b7c",
    "load": "#111111",
    "heat_load": "#6b3e26",
    "soc": "#7b4fa0",
    "price": "#5b7083",
    "carbon_intensity": "#3d7d3d",
    # carbon
    "scope1": "#a0522d",
    "scope2": "#1f77b4",
    "scope2_location": "#1f77b4",
    "scope2_market": "#6baed6",
    "scope3": "#7f7f7f",
    "electricity": "#1f77b4",
    "natural_gas": "#e4572e",
    "gas": "#e4572e",
    "heat": "#f28e2b",
    "steam": "#ff9da7",
    "diesel": "#8c564b",
    "coal": "#4d4d4d",
    "process_emissions": "#9c755f",
    "refrigerant": "#76b7b2",
    "shared_facility": "#b07aa1",
    "green_power": "#59a14f",
    "exported_heat": "#edc948",
    # facilities and matching
    "park": "#2f4b7c",
    "site_open": "#e4572e",
    "site_closed": "#bab0ac",
    "matched": "#59a14f",
    "unmatched": "#bab0ac",
}

#: A qualitative palette for categories with no kind (facility types, industries, methods).
CATEGORY_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def _step(hex_colour: str, index: int, count: int) -> str:
    """The ``index``-th of ``count`` lightness steps around ``hex_colour``."""
    if count <= 1:
        return hex_colour
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, lightness, s = colorsys.rgb_to_hls(r, g, b)
    offset = (index / (count - 1) - 0.5) * 0.3
    lightness = min(0.85, max(0.15, lightness + offset))
    r, g, b = colorsys.hls_to_rgb(h, lightness, s)
    return "#" + "".join(f"{round(v * 255):02x}" for v in (r, g, b))


def series_colours(series: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``[(series name, kind), ...]`` -> name -> colour; unknown kinds take the palette."""
    by_kind: dict[str, list[str]] = {}
    for name, kind in series:
        by_kind.setdefault(kind, []).append(name)
    out: dict[str, str] = {}
    spare = iter(CATEGORY_PALETTE * 4)
    for kind, names in by_kind.items():
        base = KIND_COLOURS.get(kind) or next(spare)
        for i, name in enumerate(names):
            out[name] = _step(base, i, len(names))
    return out


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    """Distinct colours for categories in the order given (stable across charts)."""
    return {c: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)] for i, c in enumerate(categories)}


def colour_scale(colours: dict[str, str]) -> dict[str, Any]:
    """A Vega-Lite scale that pins each name to its colour (legend order = dict order)."""
    return {"domain": list(colours), "range": list(colours.values())}


def vega_config() -> dict[str, Any]:
    """Chart config shared by every report (fonts, sizes, grid)."""
    return {
        "font": FONT_FAMILY,
        "view": {"continuousWidth": 720, "continuousHeight": 260, "stroke": None},
        "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e6e6e6"},
        "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
        "title": {"fontSize": 14, "anchor": "start", "subtitleFontSize": 11},
        "header": {"labelFontSize": 12, "titleFontSize": 12},
    }
