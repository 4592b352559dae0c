"""``zone-opt facilities SCENARIO.yaml --out DIR``: compare shared-facility scenarios.

The old spelling ``zone-opt plan facilities ...`` still works until zone-opt 0.2 and warns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from zone_opt._deprecated import REMOVED_IN
from zone_opt.cli.io import reading, staged_dir
from zone_opt.cli.params import INPUT_FILE, OUTPUT_DIR, POSITIVE
from zone_opt.cli.progress import solve_interruptibly

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

HELP = (
    "Shared facilities across parks: solve each scenario of SCENARIO (YAML: parks, candidate "
    "sites, facility types) jointly and stand-alone, split the joint cost between the parks, "
    "and write report.md and report.html (map of the plan, cost-share chart) to OUT. Exit "
    "code 1 when no scenario has a feasible plan."
)


def _arguments(f: F) -> F:
    f = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=2,
        help="Threads solving coalitions in parallel (cost shares).",
    )(f)
    f = click.option(
        "--time-limit-s",
        type=POSITIVE,
        default=None,
        show_default="none",
        help="Solver time limit per solve, s.",
    )(f)
    f = click.option("--out", type=OUTPUT_DIR, required=True, help="Output directory.")(f)
    return click.argument("scenario", type=INPUT_FILE)(f)


@click.command(short_help="Shared facilities: joint plans and cost shares.", help=HELP)
@_arguments
def command(scenario: Path, out: Path, time_limit_s: float | None, workers: int) -> int:
    return run_facilities(scenario, out, time_limit_s, workers)


@click.group(
    short_help="Deprecated: use `zone-opt facilities`.",
    help=f"Deprecated (removed in zone-opt {REMOVED_IN}): use `zone-opt facilities`.",
)
def plan() -> None:
    pass


@plan.command("facilities", help=f"Deprecated: use `zone-opt facilities`. {HELP}")
@_arguments
def plan_facilities(scenario: Path, out: Path, time_limit_s: float | None, workers: int) -> int:
    log.warning(
        "`zone-opt plan facilities` is deprecated and will be removed in zone-opt %s; "
        "use `zone-opt facilities`",
        REMOVED_IN,
    )
    return run_facilities(scenario, out, time_limit_s, workers)


def run_facilities(scenario: Path, out: Path, time_limit_s: float | None, workers: int) -> int:
    """Solve, report, print the two report paths; exit code 1 if no scenario has a plan."""
    from zone_opt.optimise.facilities.report import write_report
    from zone_opt.optimise.facilities.scenario import (
        ScenarioResult,
        load_scenarios,
        run_scenarios,
    )
    from zone_opt.optimise.solver import SolveOptions

    with reading(scenario, "SCENARIO"):
        region, scenarios = load_scenarios(scenario)

    def solve(cancel: threading.Event) -> list[ScenarioResult]:
        options = SolveOptions(mip_rel_gap=1e-6, time_limit_s=time_limit_s, cancel=cancel)
        return run_scenarios(scenarios, options, workers=workers)

    results = solve_interruptibly(solve)
    with staged_dir(out) as stage:
        write_report(region, results, stage)
    for r in results:
        log.info(
            "scenario=%r status=%s total_cny=%.0f standalone_cny=%s",
            r.scenario.name,
            r.plan.status,
            r.plan.objective_cny,
            "-" if r.standalone_total_cny is None else f"{r.standalone_total_cny:.0f}",
        )
    click.echo(out / "report.md")
    click.echo(out / "report.html")
    return 0 if any(r.plan.feasible for r in results) else 1
