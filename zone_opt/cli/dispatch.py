"""``zone-opt dispatch``: cheapest schedule of a park scenario over a horizon.

Reads the scenario YAML, solves ``--hours`` from ``--start`` in one model or in
``--rolling`` windows (progress per window), and writes to ``--out``: ``summary.json``
(objective_cny, status, mip_gap, build_s, solve_s, breakdowns, per-window reports),
``timeseries.parquet``, ``dispatch.png`` and ``dispatch.html``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from tqdm import tqdm

from zone_opt.optimise.dispatch import DispatchOptions, WindowProgress, dispatch, load_scenario
from zone_opt.optimise.dispatch.report import write_html, write_png

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "dispatch", help="park energy dispatch / unit commitment from a scenario YAML"
    )
    p.add_argument("scenario", type=Path, help="scenario YAML (e.g. datasets/sip_park_1/lp.yaml)")
    p.add_argument("--start", required=True, help="first step, e.g. 2025-07-14 or 2025-07-14T06:00")
    p.add_argument("--hours", type=float, required=True, help="horizon length in hours")
    p.add_argument("--rolling", type=float, default=None, help="window length in hours")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--gap", type=float, default=1e-4, help="MIP relative gap (default 1e-4)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per window")
    p.add_argument("--workers", type=int, choices=(1, 2), default=1, help="parallel windows")
    p.add_argument("--no-charts", action="store_true", help="skip the PNG and HTML charts")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    with tqdm(desc="dispatch", unit="window", disable=args.no_progress) as bar:

        def on_window(p: WindowProgress) -> None:
            bar.total = p.total
            bar.set_postfix_str(
                f"{p.report.start[:10]} {p.report.status} {p.report.objective_cny:,.0f} CNY"
            )
            bar.update(p.done - bar.n)

        result = dispatch(
            scenario,
            args.start,
            args.hours,
            rolling_h=args.rolling,
            options=DispatchOptions(
                mip_rel_gap=args.gap,
                time_limit_s=args.time_limit,
                workers=args.workers,
                on_window=on_window,
            ),
        )
    paths = result.write(args.out)
    if not args.no_charts and not result.timeseries.empty:
        write_png(result, args.out / "dispatch.png")
        write_html(result, args.out / "dispatch.html")
    summary = result.summary()
    brief = {k: summary[k] for k in ("status", "objective_cny", "mip_gap", "build_s", "solve_s")}
    print(json.dumps(brief, indent=2))
    if result.infeasibility:
        log.error("infeasible; conflicting constraints: %s", ", ".join(result.infeasibility))
    log.info("wrote %s", paths["summary"].parent)
    return 0 if result.status.has_solution else 1
