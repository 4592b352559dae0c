"""``zone-opt dispatch``: cheapest schedule of a park scenario over a horizon.

Reads the scenario YAML, solves ``--hours`` from ``--start`` in one model or in
``--rolling`` windows (progress per window), and writes to ``--out``: ``summary.json``
(strict JSON: objective_cny, status, mip_gap, build_s, solve_s, breakdowns, per-window
reports, the conflicting constraints when infeasible), ``timeseries.parquet``, the report
(``report.html``, ``report.md``, ``charts/report-*.png``, in ``--lang``; the week shown in
detail starts at ``--week-start``) and its exports (``dispatch-<table>.csv``,
``dispatch.xlsx``). Ctrl-C stops the solver
at its next check and writes nothing (exit code 130).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zone_opt.cli.io import reading, staged_dir
from zone_opt.cli.params import (
    DATETIME,
    GAP,
    INPUT_FILE,
    OUTPUT_DIR,
    POSITIVE,
    gathered,
    lang_option,
)
from zone_opt.cli.params import options_named as named
from zone_opt.cli.progress import progress_bar, solve_interruptibly
from zone_opt.errors import InvalidInputError

if TYPE_CHECKING:
    from zone_opt.optimise.dispatch import DispatchResult

log = logging.getLogger(__name__)

#: Library parameter -> the option that sets it (errors name the option).
OPTION_NAMES = {
    "hours": "--hours",
    "rolling_h": "--rolling",
    "start": "--start",
    "mip_rel_gap": "--gap",
    "time_limit_s": "--time-limit",
    "workers": "--workers",
    "week_start": "--week-start",
}


@dataclass(frozen=True)
class DispatchArgs:
    scenario: Path
    start: dt.datetime
    hours: float
    rolling: float | None
    out: Path
    gap: float
    time_limit: float | None
    workers: int
    no_report: bool
    no_charts: bool
    no_progress: bool
    week_start: dt.datetime | None
    lang: str


@click.command(
    short_help="Park energy dispatch and unit commitment.",
    help="Park energy dispatch and unit commitment: the cheapest schedule of the scenario "
    "in SCENARIO (YAML, e.g. datasets/sip_park_1/lp.yaml) for --hours from --start. Writes "
    "summary.json, timeseries.parquet, the report (report.html, report.md, charts/*.png) and "
    "its exports (dispatch-*.csv, dispatch.xlsx) to OUT. Exit code 1 when the scenario has no "
    "feasible schedule (the report then names the conflicting constraints).",
)
@click.argument("scenario", type=INPUT_FILE)
@click.option(
    "--start", type=DATETIME, required=True, help="First step, e.g. 2025-07-14 or 2025-07-14T06:00."
)
@click.option("--hours", type=POSITIVE, required=True, help="Horizon, h.")
@click.option(
    "--rolling",
    type=POSITIVE,
    default=None,
    show_default="one model for the horizon",
    help="Window length of a rolling horizon, h.",
)
@click.option("--out", type=OUTPUT_DIR, required=True, help="Output directory.")
@click.option("--gap", type=GAP, default=1e-4, help="Relative MIP gap at which a window stops.")
@click.option(
    "--time-limit",
    type=POSITIVE,
    default=None,
    show_default="none",
    help="Solver time limit per window, s.",
)
@click.option(
    "--workers", type=click.IntRange(1, 2), default=1, help="Windows solved in parallel (1 or 2)."
)
@click.option(
    "--week-start",
    type=DATETIME,
    default=None,
    show_default="the first step",
    help="First step of the week the report shows hour by hour, e.g. 2025-07-14.",
)
@lang_option
@click.option(
    "--no-report", is_flag=True, help="Skip the report and its exports (summary and series only)."
)
@click.option("--no-charts", is_flag=True, hidden=True, help="Deprecated: --no-report.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@gathered(DispatchArgs)
def command(args: DispatchArgs) -> int:
    from zone_opt.optimise.dispatch import (
        DispatchOptions,
        WindowProgress,
        dispatch,
        load_scenario,
    )

    _check_week(args)
    with reading(args.scenario, "SCENARIO"):
        scenario = load_scenario(args.scenario)
    with progress_bar("dispatch", None, enabled=not args.no_progress) as bar:

        def on_window(p: WindowProgress) -> None:
            r = p.report
            status = f"{r.start[:10]} {r.status} {r.objective_cny:,.0f} CNY"
            bar.update(p.done, total=p.total, status=status)

        def solve(cancel: threading.Event) -> DispatchResult:
            log.info("solving %g h from %s", args.hours, args.start.isoformat())
            options = DispatchOptions(
                mip_rel_gap=args.gap,
                time_limit_s=args.time_limit,
                workers=args.workers,
                cancel=cancel,
                on_window=on_window,
            )
            return dispatch(
                scenario, args.start, args.hours, rolling_h=args.rolling, options=options
            )

        with named(OPTION_NAMES):
            result = solve_interruptibly(solve)
    with staged_dir(args.out) as stage, named(OPTION_NAMES):
        write(
            result,
            stage,
            charts=not (args.no_report or args.no_charts),
            week_start=args.week_start,
            lang=args.lang,
        )
    summary = result.summary()
    brief = {k: summary[k] for k in ("status", "objective_cny", "mip_gap", "build_s", "solve_s")}
    from zone_opt.reports import strict

    click.echo(json.dumps(strict(brief), indent=2, allow_nan=False))
    if result.infeasibility:
        log.error("infeasible; conflicting constraints:\n  %s", "\n  ".join(result.infeasibility))
    log.info("wrote %s", args.out)
    return 0 if result.status.has_solution else 1


def _check_week(args: DispatchArgs) -> None:
    """``--week-start`` inside the horizon (checked before solving)."""
    if args.week_start is None:
        return
    end = args.start + dt.timedelta(hours=args.hours)
    if not args.start <= args.week_start < end:
        raise InvalidInputError.single(
            "--week-start",
            None,
            f"{args.week_start.isoformat()} is outside the horizon "
            f"{args.start.isoformat()} .. {end.isoformat()}",
        )


def write(
    result: DispatchResult,
    out: Path,
    *,
    charts: bool,
    week_start: dt.datetime | None = None,
    lang: str = "en",
) -> None:
    """The run's files in ``out``: summary, time series and (``charts``) the report and its
    exports (an infeasible run's report names the conflicting constraints)."""
    result.write(out)
    if charts:
        from zone_opt.optimise.dispatch.report import ReportOptions, write_report
        from zone_opt.reports import check_lang

        write_report(result, out, ReportOptions(lang=check_lang(lang), week_start=week_start))
