"""``zone-opt facilities SCENARIO.yaml --out DIR``: compare shared-facility scenarios.

The old spelling ``zone-opt plan facilities ...`` still works until zone-opt 0.2 and warns.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from zone_opt._deprecated import REMOVED_IN
from zone_opt.optimise.facilities.report import write_report
from zone_opt.optimise.facilities.scenario import load_scenarios, run_scenarios
from zone_opt.optimise.solver import SolveOptions

log = logging.getLogger(__name__)

_DESCRIPTION = (
    "Solve each scenario of SCENARIO.yaml (parks, candidate sites, facility types) "
    "and write report.md and report.html (map of the plan, cost-share chart) to DIR."
)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--time-limit-s", type=float, default=None, help="per solve (default none)")
    parser.add_argument("--workers", type=int, default=2, help="threads for coalition solves")


def add_parser(sub: Any) -> None:
    """Register ``facilities`` and the deprecated ``plan facilities``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "facilities",
        help="shared facilities: joint plan, stand-alone comparison and cost shares",
        description=_DESCRIPTION,
    )
    _arguments(parser)
    parser.set_defaults(func=run_facilities)
    old: argparse.ArgumentParser = sub.add_parser(
        "plan", help=f"deprecated (removed in {REMOVED_IN}): use `zone-opt facilities`"
    )
    kinds = old.add_subparsers(dest="kind", metavar="KIND", required=True)
    fac = kinds.add_parser("facilities", help="use `zone-opt facilities`", description=_DESCRIPTION)
    _arguments(fac)
    fac.set_defaults(func=_run_plan_facilities)


def _run_plan_facilities(args: argparse.Namespace) -> int:
    log.warning(
        "`zone-opt plan facilities` is deprecated and will be removed in zone-opt %s; "
        "use `zone-opt facilities`",
        REMOVED_IN,
    )
    return run_facilities(args)


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
