"""``zone-opt facilities SCENARIO.yaml --out DIR``: compare shared-facility scenarios.

While it solves, the command shows where each scenario stands: the joint MILP's incumbent,
bound and gap (the same reports the gRPC operation streams), then the stand-alone costs and
each cost split. On a terminal that is a progress bar; otherwise (a pipe, a log file) one
plain line per report on stderr; nothing with ``--no-progress``.

The old spelling ``zone-opt plan facilities ...`` still works until zone-opt 0.2 and warns.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from zone_opt._deprecated import REMOVED_IN
from zone_opt.cli.executors import (
    check_executor_options,
    executor_from_options,
    executor_options,
)
from zone_opt.cli.io import reading, staged_dir
from zone_opt.cli.params import INPUT_FILE, OUTPUT_DIR, POSITIVE, gathered, lang_option
from zone_opt.cli.progress import Bar, progress_bar, solve_interruptibly

if TYPE_CHECKING:
    from zone_opt.distributed import Executor
    from zone_opt.optimise.facilities.scenario import Scenario, ScenarioResult
    from zone_opt.optimise.solver import Progress

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

HELP = (
    "Shared facilities across parks: solve each scenario of SCENARIO (YAML: parks, candidate "
    "sites, facility types) jointly and stand-alone, split the joint cost between the parks, "
    "and write to OUT report.html (map of each plan, cost shares per method, stability, the "
    "recommended split), its Markdown twin report.md, the charts as charts/*.png, and the "
    "tables as facilities-<table>.csv and facilities.xlsx. Shows the solver's incumbent, bound "
    "and gap while it works. Exit code 1 when no scenario has a feasible plan."
)

#: Least time between two progress lines of one MILP, s (the first always shows).
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class FacilitiesArgs:
    scenario: Path
    out: Path
    time_limit_s: float | None
    workers: int
    executor: str
    ray_address: str | None
    lang: str
    no_progress: bool


def _arguments(f: F) -> F:
    f = click.option("--no-progress", is_flag=True, help="Show no progress while solving.")(f)
    f = lang_option(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=2,
        help="Threads solving coalitions in parallel (cost shares; --executor local).",
    )(f)
    f = executor_options("Where coalitions are solved")(f)
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
@gathered(FacilitiesArgs)
def command(args: FacilitiesArgs) -> int:
    return run_facilities(args)


@click.group(
    short_help="Deprecated: use `zone-opt facilities`.",
    help=f"Deprecated (removed in zone-opt {REMOVED_IN}): use `zone-opt facilities`.",
)
def plan() -> None:
    pass


@plan.command("facilities", help=f"Deprecated: use `zone-opt facilities`. {HELP}")
@_arguments
@gathered(FacilitiesArgs)
def plan_facilities(args: FacilitiesArgs) -> int:
    log.warning(
        "`zone-opt plan facilities` is deprecated and will be removed in zone-opt %s; "
        "use `zone-opt facilities`",
        REMOVED_IN,
    )
    return run_facilities(args)


def _cny(value: float) -> str:
    from zone_opt.reports import MISSING, number

    text = number(value)
    return text if text == MISSING else f"{text} CNY"


class SolveReporter:
    """Where the solve stands, on a progress bar (``bar``) or as plain lines (``echo``).

    ``mip`` takes the solver's progress reports (incumbent, bound, gap), ``stage`` the
    scenario stages of :func:`~zone_opt.optimise.facilities.scenario.run_scenarios`. Both are
    called from the solving thread.
    """

    def __init__(self, total: int, bar: Bar | None, echo: Callable[[str], None] | None) -> None:
        self.total, self.bar, self.echo = total, bar, echo
        self.done = 0
        self.scenario = ""
        self._last = -float("inf")
        self._lock = threading.Lock()

    def _show(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.done, total=self.total, status=text)
        elif self.echo is not None:
            self.echo(text)

    def stage(self, scenario: Scenario, stage: str) -> None:
        with self._lock:
            self.scenario = scenario.name
            where = f"[{self.done + 1}/{self.total}] {scenario.name}"
            if stage == "plan":
                self._last = -float("inf")
                self._show(f"{where}: solving the joint plan")
            elif stage == "alone":
                self._show(f"{where}: stand-alone costs")
            elif stage != "done":
                self._show(f"{where}: cost shares ({stage})")

    def finished(self, result: ScenarioResult) -> None:
        """The scenario's outcome: status, cost, bound and gap of its joint plan."""
        plan = result.plan
        with self._lock:
            self.done += 1
            text = f"{result.scenario.name}: {plan.status.value}"
            if plan.feasible:
                text += (
                    f", cost {_cny(plan.objective_cny)}, bound {_cny(plan.bound_cny)}, "
                    f"gap {_gap(plan.gap)}"
                )
            self._show(text)

    def mip(self, p: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < PROGRESS_EVERY_S:
                return
            self._last = now
            self._show(
                f"{self.scenario}: incumbent {_cny(p.incumbent)}, bound {_cny(p.bound)}, "
                f"gap {_gap(p.gap)}"
            )


def _gap(gap: float) -> str:
    return f"{100 * gap:.2f} %" if math.isfinite(gap) else "–"


def _echo_err(text: str) -> None:
    click.echo(text, err=True)


def _interactive() -> bool:
    from rich.console import Console

    return Console(stderr=True).is_terminal


def run_facilities(args: FacilitiesArgs) -> int:
    """Solve, report, print the report's paths; exit code 1 if no scenario has a plan."""
    from zone_opt.optimise.facilities.report import write_report
    from zone_opt.optimise.facilities.scenario import load_scenarios
    from zone_opt.reports import check_lang

    lang = check_lang(args.lang)
    check_executor_options(args.executor, args.ray_address)
    with reading(args.scenario, "SCENARIO"):
        region, scenarios = load_scenarios(args.scenario)
    with executor_from_options(args.executor, args.ray_address, local_workers=args.workers) as ex:
        results = _solve_all(args, scenarios, ex)
    with staged_dir(args.out) as stage:
        write_report(region, results, stage, lang=lang)
    for r in results:
        log.info(
            "scenario=%r status=%s total_cny=%.0f standalone_cny=%s",
            r.scenario.name,
            r.plan.status,
            r.plan.objective_cny,
            "-" if r.standalone_total_cny is None else f"{r.standalone_total_cny:.0f}",
        )
    for name in ("report.html", "report.md", "facilities.xlsx"):
        click.echo(args.out / name)
    return 0 if any(r.plan.feasible for r in results) else 1


def _solve_all(
    args: FacilitiesArgs, scenarios: list[Scenario], ex: Executor
) -> list[ScenarioResult]:
    """Each scenario in turn (joint plan here, with progress), its coalitions on ``ex``."""
    from zone_opt.optimise.facilities.scenario import run_scenarios
    from zone_opt.optimise.solver import SolveOptions

    interactive = not args.no_progress and _interactive()
    with progress_bar("facilities", len(scenarios), enabled=interactive) as bar:
        echo = None if args.no_progress or interactive else _echo_err
        reporter = SolveReporter(len(scenarios), bar if interactive else None, echo)
        quiet = args.no_progress

        def solve(cancel: threading.Event) -> list[ScenarioResult]:
            options = SolveOptions(
                mip_rel_gap=1e-6,
                time_limit_s=args.time_limit_s,
                cancel=cancel,
                progress=None if quiet else reporter.mip,
            )
            results = []
            for scenario in scenarios:
                (result,) = run_scenarios(
                    [scenario],
                    options,
                    on_stage=None if quiet else reporter.stage,
                    executor=ex,
                )
                if not quiet:
                    reporter.finished(result)
                results.append(result)
            return results

        return solve_interruptibly(solve)
