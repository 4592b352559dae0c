"""``zone-opt dispatch``: cheapest schedule of a park scenario over a horizon.

Reads the scenario YAML, solves ``--hours`` from ``--start`` in one model or in
``--rolling`` windows (progress per window), and writes to ``--out``: ``summary.json``
(strict JSON: objective_cny, status, mip_gap, build_s, solve_s, breakdowns, per-window
reports, the conflicting constraints when infeasible), ``timeseries.parquet``, the report
(``report.html``, ``report.md``, ``charts/report-*.png``, in ``--lang``; the week shown in
detail starts at ``--week-start``) and its exports (``dispatch-<table>.csv``,
``dispatch.xlsx``). Ctrl-C stops the solver
at its next check and writes nothing (exit code 130).

Several scenario files make a sweep (:func:`~zone_opt.optimise.dispatch.dispatch_sweep`):
each scenario's chain of windows is one task of ``--executor`` (threads here, ``--chains``
at once, or Ray), its files go to ``OUT/<file stem>/`` and ``OUT/sweep.json`` lists them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zone_opt.cli.executors import (
    check_executor_options,
    executor_from_options,
    executor_options,
)
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
    from zone_opt.distributed import Executor
    from zone_opt.optimise.dispatch import (
        DispatchOptions,
        DispatchResult,
        Scenario,
        WindowProgress,
    )

log = logging.getLogger(__name__)

#: Library parameter -> the option that sets it (errors name the option).
OPTION_NAMES = {
    "hours": "--hours",
    "rolling_h": "--rolling",
    "start": "--start",
    "mip_rel_gap": "--gap",
    "time_limit_s": "--time-limit",
    "workers": "--workers",
    "scenarios": "SCENARIO",
    "week_start": "--week-start",
}


@dataclass(frozen=True)
class DispatchArgs:
    scenario: tuple[Path, ...]
    start: dt.datetime
    hours: float
    rolling: float | None
    out: Path
    gap: float
    time_limit: float | None
    workers: int
    chains: int | None
    executor: str
    ray_address: str | None
    no_report: bool
    no_charts: bool
    no_progress: bool
    week_start: dt.datetime | None
    lang: str


#: Scenarios solved at once by ``--executor local`` unless ``--chains`` says.
DEFAULT_CHAINS = 2


@click.command(
    short_help="Park energy dispatch and unit commitment.",
    help="Park energy dispatch and unit commitment: the cheapest schedule of the scenario "
    "in SCENARIO (YAML, e.g. datasets/sip_park_1/lp.yaml) for --hours from --start. Writes "
    "summary.json, timeseries.parquet, the report (report.html, report.md, charts/*.png) and "
    "its exports (dispatch-*.csv, dispatch.xlsx) to OUT. Exit code 1 when the scenario has no "
    "feasible schedule (the report then names the conflicting constraints).\n\n"
    "Several SCENARIOs make a sweep over the same horizon: each scenario's chain of windows "
    "is one task of --executor (its windows stay in turn), each scenario's files go to "
    "OUT/<scenario file name>/, OUT/sweep.json lists them, and the exit code is 1 when any "
    "scenario has no feasible schedule. With --executor ray a single SCENARIO's chain runs "
    "on Ray as one task (no per-window progress). Results are identical either way.",
)
@click.argument("scenario", type=INPUT_FILE, nargs=-1, required=True)
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
    "--workers",
    type=click.IntRange(1, 2),
    default=1,
    help="Windows of one chain solved in parallel (1 or 2; speculative).",
)
@executor_options("Where the scenarios' chains of windows are solved, one task per scenario")
@click.option(
    "--chains",
    type=click.IntRange(min=1),
    default=None,
    show_default=f"{DEFAULT_CHAINS}",
    help="Scenarios solved at once with --executor local (threads of this process).",
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
    from zone_opt.optimise.dispatch import load_scenario

    _check_week(args)
    _check_executor(args)
    names = _run_names(args.scenario)
    scenarios = []
    for path in args.scenario:
        with reading(path, "SCENARIO"):
            scenarios.append(load_scenario(path))
    if len(scenarios) == 1 and args.executor == "local":
        results = [_solve_one(args, scenarios[0])]
    else:
        with executor_from_options(
            args.executor, args.ray_address, local_workers=args.chains or DEFAULT_CHAINS
        ) as ex:
            results = _solve_sweep(args, scenarios, ex)
    return _finish(args, names, results)


def _check_executor(args: DispatchArgs) -> None:
    """The executor flags, before anything is read (usage errors naming the flag)."""
    check_executor_options(args.executor, args.ray_address)
    if args.chains is not None and args.executor != "local":
        raise click.UsageError("--chains is for --executor local (Ray uses its cluster's CPUs)")


def _run_names(paths: tuple[Path, ...]) -> list[str]:
    """Each scenario's output directory name (its file name without suffix), unique."""
    names = [p.stem for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.UsageError(
            f"SCENARIO: two scenario files named {twice[0]!r}: each writes to OUT/<name>/"
        )
    return names


def _options(
    args: DispatchArgs,
    cancel: threading.Event,
    on_window: Callable[[WindowProgress], None] | None = None,
) -> DispatchOptions:
    from zone_opt.optimise.dispatch import DispatchOptions

    return DispatchOptions(
        mip_rel_gap=args.gap,
        time_limit_s=args.time_limit,
        workers=args.workers,
        cancel=cancel,
        on_window=on_window,
    )


def _solve_one(args: DispatchArgs, scenario: Scenario) -> DispatchResult:
    """One scenario here, window by window, with a progress bar."""
    from zone_opt.optimise.dispatch import dispatch

    with progress_bar("dispatch", None, enabled=not args.no_progress) as bar:

        def on_window(p: WindowProgress) -> None:
            r = p.report
            status = f"{r.start[:10]} {r.status} {r.objective_cny:,.0f} CNY"
            bar.update(p.done, total=p.total, status=status)

        def solve(cancel: threading.Event) -> DispatchResult:
            log.info("solving %g h from %s", args.hours, args.start.isoformat())
            options = _options(args, cancel, on_window)
            return dispatch(
                scenario, args.start, args.hours, rolling_h=args.rolling, options=options
            )

        with named(OPTION_NAMES):
            return solve_interruptibly(solve)


def _solve_sweep(
    args: DispatchArgs, scenarios: list[Scenario], ex: Executor
) -> list[DispatchResult]:
    """Every scenario's chain as one task of ``ex`` (no per-window progress)."""
    from zone_opt.optimise.dispatch import dispatch_sweep

    def solve(cancel: threading.Event) -> list[DispatchResult]:
        log.info(
            "solving %d scenario(s), %g h from %s, on executor=%s workers=%d",
            len(scenarios),
            args.hours,
            args.start.isoformat(),
            ex.name,
            ex.workers,
        )
        return dispatch_sweep(
            scenarios,
            args.start,
            args.hours,
            rolling_h=args.rolling,
            options=_options(args, cancel),
            executor=ex,
        )

    with named(OPTION_NAMES):
        return solve_interruptibly(solve)


def _brief(result: DispatchResult) -> dict[str, Any]:
    summary = result.summary()
    return {k: summary[k] for k in ("status", "objective_cny", "mip_gap", "build_s", "solve_s")}


def _finish(args: DispatchArgs, names: list[str], results: list[DispatchResult]) -> int:
    """Write each run's files (in OUT, or OUT/<name>/ for a sweep), print the briefs; exit
    code 1 if any run has no feasible schedule."""
    from zone_opt.reports import strict

    sweep = len(results) > 1
    with staged_dir(args.out) as stage, named(OPTION_NAMES):
        for name, result in zip(names, results, strict=True):
            write(
                result,
                stage / name if sweep else stage,
                charts=not (args.no_report or args.no_charts),
                week_start=args.week_start,
                lang=args.lang,
            )
        if sweep:
            listing = [
                {"scenario": n, "file": str(p), "dir": n, **_brief(r)}
                for n, p, r in zip(names, args.scenario, results, strict=True)
            ]
            text = json.dumps(strict(listing), indent=2, allow_nan=False)
            (stage / "sweep.json").write_text(text + "\n", encoding="utf-8")
    printed: object = (
        [{"scenario": n, **_brief(r)} for n, r in zip(names, results, strict=True)]
        if sweep
        else _brief(results[0])
    )
    click.echo(json.dumps(strict(printed), indent=2, allow_nan=False))
    for name, result in zip(names, results, strict=True):
        if result.infeasibility:
            log.error(
                "%s: infeasible; conflicting constraints:\n  %s",
                name,
                "\n  ".join(result.infeasibility),
            )
    log.info("wrote %s", args.out)
    return 0 if all(r.status.has_solution for r in results) else 1


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
