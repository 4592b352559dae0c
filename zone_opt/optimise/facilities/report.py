"""Scenario comparison report: Markdown and a self-contained HTML page with SVG charts.

The HTML draws, per scenario, a map-like plot (parks as circles sized by demand, candidate
sites as squares, open sites filled, a line per assignment) and a bar chart of each
player's share against its stand-alone cost per sharing method. Plain SVG, no plotting
dependency.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zone_opt.optimise.facilities.scenario import ScenarioResult

__all__ = ["html_report", "markdown_report", "write_report"]

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _money(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:,.0f}"


def markdown_report(region: str, results: Sequence[ScenarioResult]) -> str:
    """The comparison as Markdown tables. O(scenarios x (assignments + players))."""
    out = [f"# Shared facilities: {region}", "", "## Scenarios", ""]
    out.append(
        "| scenario | status | total CNY | fixed | transport | operating | stand-alone total "
        "| saving | open sites | gap |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        plan = r.plan
        c = plan.cost
        saving = (
            None
            if r.standalone_total_cny is None or c is None
            else r.standalone_total_cny - c.total_cny
        )
        out.append(
            f"| {r.scenario.name} | {plan.status} | {_money(plan.objective_cny)} | "
            f"{_money(c.fixed_cny if c else None)} | {_money(c.transport_cny if c else None)} | "
            f"{_money(c.operating_cny if c else None)} | {_money(r.standalone_total_cny)} | "
            f"{_money(saving)} | {', '.join(plan.open_sites) or '–'} | {plan.gap:.1e} |"
        )
    for r in results:
        out += ["", f"## {r.scenario.name}", ""]
        if r.plan.unmet:
            out.append("Infeasible. Demand that cannot be met:")
            out.append("")
            for u in r.plan.unmet:
                out.append(
                    f"- {u.demand_id} / {u.facility_type}: {u.unmet_units:g} units ({u.reason})"
                )
            continue
        if not r.plan.feasible:
            out.append(f"No plan: {r.plan.status} ({r.plan.message}).")
            continue
        out += ["| park | type | site | units | share of need |", "|---|---|---|---|---|"]
        for a in r.plan.assignments:
            out.append(
                f"| {a.demand_id} | {a.facility_type} | {a.site_id} | {a.amount:,.1f} | "
                f"{a.fraction:.0%} |"
            )
        for s in r.shares:
            out += [
                "",
                f"### Cost shares: {s.method}",
                "",
                "| player | share CNY | stand-alone CNY | saving CNY |",
                "|---|---|---|---|",
            ]
            for ps in s.shares:
                err = f" ± {ps.std_error_cny:,.0f}" if ps.std_error_cny is not None else ""
                out.append(
                    f"| {ps.park} | {_money(ps.share_cny)}{err} | {_money(ps.standalone_cny)} | "
                    f"{_money(ps.saving_cny)} |"
                )
            verdict = (
                "in the core: no group of players would rather go alone"
                if s.worst_excess_cny <= 1e-6 * max(1.0, s.total_cny)
                else f"group {{{', '.join(s.worst_coalition)}}} pays {_money(s.worst_excess_cny)} "
                "CNY more than planning alone"
            )
            out.append("")
            out.append(f"Worst coalition: {verdict}.")
            if s.least_core_epsilon_cny is not None:
                core = "empty" if s.least_core_epsilon_cny > 1e-6 * s.total_cny else "non-empty"
                out.append(
                    f"Least-core epsilon {_money(s.least_core_epsilon_cny)} CNY: "
                    f"the core is {core}."
                )
    return "\n".join(out) + "\n"


def _map_svg(r: ScenarioResult, width: int = 420, height: int = 320) -> str:
    p = r.scenario.problem
    if p.demand_xy_km is None or p.site_xy_km is None:
        return ""
    pts = np.vstack([p.demand_xy_km, p.site_xy_km])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    pad = 24

    def xy(v: np.ndarray) -> tuple[float, float]:
        q = (v - lo) / span
        return pad + q[0] * (width - 2 * pad), height - pad - q[1] * (height - 2 * pad)

    park_at = {d: xy(p.demand_xy_km[j]) for j, d in enumerate(p.demand_ids)}
    site_at = {s: xy(p.site_xy_km[i]) for i, s in enumerate(p.site_ids)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    parts.append(f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ccc"/>')
    types = list(p.facility_types)
    for a in r.plan.assignments:
        (x1, y1), (x2, y2) = park_at[a.demand_id], site_at[a.site_id]
        colour = _COLOURS[types.index(a.facility_type) % len(_COLOURS)]
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-opacity="{0.25 + 0.6 * a.fraction:.2f}"/>'
        )
    size = p.demand.sum(axis=1)
    scale = 10.0 / max(float(np.sqrt(size.max())), 1e-9)
    for j, d in enumerate(p.demand_ids):
        x, y = park_at[d]
        rad = 3 + scale * float(np.sqrt(size[j]))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rad:.1f}" fill="#555" '
            f'fill-opacity="0.6"><title>{html.escape(d)}</title></circle>'
        )
    opened = set(r.plan.open_sites)
    for s, (x, y) in site_at.items():
        fill = "#d62728" if s in opened else "none"
        parts.append(
            f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{fill}" '
            f'stroke="#d62728"><title>{html.escape(s)}</title></rect>'
            f'<text x="{x + 8:.1f}" y="{y - 8:.1f}" font-size="10">{html.escape(s)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _shares_svg(r: ScenarioResult, width: int = 520, row_h: int = 14) -> str:
    if not r.shares:
        return ""
    players = [s.park for s in r.shares[0].shares]
    series = [(s.method.value, [x.share_cny for x in s.shares]) for s in r.shares]
    series.append(("stand-alone", [x.standalone_cny for x in r.shares[0].shares]))
    top = max(max(v) for _, v in series) or 1.0
    label_w, group_h = 90, row_h * len(series) + 8
    height = group_h * len(players) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for k, player in enumerate(players):
        y0 = 4 + k * group_h
        parts.append(
            f'<text x="0" y="{y0 + group_h / 2:.0f}" font-size="11">{html.escape(player)}</text>'
        )
        for s_idx, (_, values) in enumerate(series):
            w = (width - label_w - 10) * max(values[k], 0.0) / top
            colour = _COLOURS[s_idx % len(_COLOURS)] if s_idx < len(series) - 1 else "#999"
            parts.append(
                f'<rect x="{label_w}" y="{y0 + s_idx * row_h}" width="{w:.1f}" '
                f'height="{row_h - 2}" fill="{colour}"><title>{values[k]:,.0f}</title></rect>'
            )
    lx = 0
    for s_idx, (name, _) in enumerate(series):
        colour = _COLOURS[s_idx % len(_COLOURS)] if s_idx < len(series) - 1 else "#999"
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 13}" y="{height - 5}" font-size="10">{html.escape(name)}</text>'
        )
        lx += 20 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def html_report(region: str, results: Sequence[ScenarioResult], markdown: str) -> str:
    """A standalone HTML page: per scenario the map and the cost-share chart, then the
    Markdown tables (preformatted)."""
    body = [f"<h1>Shared facilities: {html.escape(region)}</h1>"]
    for r in results:
        body.append(f"<h2>{html.escape(r.scenario.name)}</h2>")
        body.append(
            f"<p>status {html.escape(str(r.plan.status))}, "
            f"total {_money(r.plan.objective_cny)} CNY, "
            f"stand-alone {_money(r.standalone_total_cny)} CNY</p>"
        )
        body.append('<div style="display:flex;gap:24px;flex-wrap:wrap">')
        body.append(_map_svg(r))
        body.append(_shares_svg(r))
        body.append("</div>")
    body.append("<h2>Tables</h2><pre>" + html.escape(markdown) + "</pre>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        + html.escape(region)
        + "</title></head><body style='font-family:sans-serif'>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_report(
    region: str, results: Sequence[ScenarioResult], out_dir: str | Path
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_report(region, results)
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(md)
    html_path.write_text(html_report(region, results, md))
    return md_path, html_path
