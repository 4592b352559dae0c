"""``zone-opt plan facilities SCENARIO.yaml --out DIR``: compare shared-facility scenarios.

``plan`` groups planning commands; each kind is a sub-subcommand registered here.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from zone_opt.optimise.facilities.report import write_report
from zone_opt.optimise.facilities.scenario import load_scenarios, run_scenarios
from zone_opt.optimise.solver import SolveOptions

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    """Register ``plan`` and its kinds."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "plan", help="plan shared infrastructure from a scenario file", description=__doc__
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    fac = kinds.add_parser(
        "facilities",
        help="shared facilities: joint plan, stand-alone comparison and cost shares",
        description=(
            "Solve each scenario of SCENARIO.yaml (parks, candidate sites, facility types) "
            "and write report.md and report.html (map of the plan, cost-share chart) to DIR."
        ),
    )
    fac.add_argument("scenario", type=Path, help="scenario YAML file")
    fac.add_argument("--out", type=Path, required=True, help="output directory")
    fac.add_argument("--time-limit-s", type=float, default=None, help="per solve (default none)")
    fac.add_argument("--workers", type=int, default=2, help="threads for coalition solves")
    fac.set_defaults(func=run_facilities)


def run_facilities(args: argparse.Namespace) -> int:
    region, scenarios = load_scenarios(args.scenario)
    options = SolveOptions(mip_rel_gap=1e-6, time_limit_s=args.time_limit_s)
    results = run_scenarios(scenarios, options, workers=args.workers)
    md, page = write_report(region, results, args.out)
    for r in results:
        log.info(
            "scenario=%r status=%s total_cny=%.0f standalone_cny=%s",
            r.scenario.name,
            r.plan.status,
            r.plan.objective_cny,
            "-" if r.standalone_total_cny is None else f"{r.standalone_total_cny:.0f}",
        )
    print(md)
    print(page)
    return 0
