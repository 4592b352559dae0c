"""``zone-opt match``: match enterprises to idle spaces from Parquet tables.

Reads the tables, runs :func:`zone_opt.matching.match` with a progress bar over its
stages, writes ``assignments.parquet``, ``unmatched.parquet`` and ``summary.json`` to
``--out``, then the planner's report (``report.html``, ``report.md``, ``charts/``) and its
exports (``matching.xlsx``, ``matching-<table>.csv``) in ``--lang`` unless
``--no-report``, and prints a summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from zone_opt.cli.executors import (
    check_executor_options,
    executor_from_options,
    executor_options,
)
from zone_opt.cli.io import read_parquet, staged_dir
from zone_opt.cli.params import (
    DATE,
    INPUT_FILE,
    OUTPUT_DIR,
    gathered,
    lang_option,
    options_named,
)
from zone_opt.cli.progress import in_worker, progress_bar

if TYPE_CHECKING:
    import pyarrow as pa

    from zone_opt.distributed import Executor
    from zone_opt.matching import MatchResult

STAGES = ("read", "candidates", "solve", "results", "write")

#: Library parameter -> the option that sets it (errors name the option).
OPTION_NAMES = {"k": "--k", "mode": "--mode", "now": "--now"}

#: The table options of match and recommend: name, what the file holds, required.
TABLE_OPTIONS = (
    ("spaces", "spaces (idle and let)", True),
    ("enterprises", "enterprises (seekers and tenants)", True),
    ("parks", "parks", True),
    ("tenancies", "tenancies (who occupies which space)", False),
)


F = TypeVar("F", bound=Callable[..., Any])


def table_options(*, required: bool = True) -> Callable[[F], F]:
    """``--spaces``, ``--enterprises``, ``--parks`` (files, ``required`` unless the command
    has another source) and ``--tenancies``."""

    def decorate(f: F) -> F:
        for name, what, needed in reversed(TABLE_OPTIONS):
            f = click.option(
                f"--{name}",
                type=INPUT_FILE,
                required=needed and required,
                default=None,
                show_default=False if needed and required else "none",
                help=f"Parquet file of the {what}.",
            )(f)
        return f

    return decorate


@dataclass(frozen=True)
class MatchArgs:
    spaces: Path
    enterprises: Path
    parks: Path
    tenancies: Path | None
    out: Path
    mode: Literal["optimal", "stable"]
    k: int
    now: dt.date | None
    lang: Literal["en", "zh"]
    no_report: bool
    no_progress: bool
    executor: str
    ray_address: str | None


@click.command(
    short_help="Match enterprises to idle spaces.",
    help="Match enterprises to idle spaces (optimal assignment or stable matching) and "
    "write assignments.parquet, unmatched.parquet and summary.json to OUT, with a report "
    "(report.html, report.md, charts/) and its tables as matching.xlsx and "
    "matching-<table>.csv.",
)
@table_options()
@click.option("--out", type=OUTPUT_DIR, required=True, help="Output directory.")
@click.option(
    "--mode",
    type=click.Choice(["optimal", "stable"]),
    default="optimal",
    help="optimal: the largest total score; stable: no enterprise and space prefer each "
    "other to what they got (deferred acceptance).",
)
@click.option(
    "--k",
    type=click.IntRange(min=1),
    default=32,
    help="Candidate spaces considered per enterprise (its best k by score).",
)
@click.option(
    "--now",
    type=DATE,
    default=None,
    show_default="today, UTC",
    help="The matching date: tenancies active then hold their spaces.",
)
@lang_option
@click.option(
    "--no-report",
    is_flag=True,
    help="Write only the Parquet files and summary.json: no report, no spreadsheet "
    "exports (for very large runs).",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@executor_options(
    "Where candidates are generated and the graph's components solved (local: this "
    "process, every core; ray: enterprise shards and components as tasks)"
)
@gathered(MatchArgs)
def command(args: MatchArgs) -> int:
    check_executor_options(args.executor, args.ray_address)
    with contextlib.ExitStack() as stack:
        ex = None
        if args.executor == "ray":
            ex = stack.enter_context(executor_from_options(args.executor, args.ray_address))
        return _match(args, ex)


def _prepare_report() -> None:
    from zone_opt.reports import prepare_bundle, prepare_drawing

    prepare_bundle()
    prepare_drawing()


def _match(args: MatchArgs, executor: Executor | None) -> int:
    from zone_opt.matching import MatchOptions, match

    with progress_bar("match", len(STAGES) - 1, enabled=not args.no_progress) as bar:

        def stage(name: str) -> None:
            if name in STAGES:
                bar.update(STAGES.index(name), status=name)
            if name == "solve" and not args.no_report:
                # The solve holds one core: the report's modules, page script and
                # drawing processes are made ready on the other meanwhile.
                threading.Thread(target=_prepare_report, name="report-prepare").start()

        stage("read")
        spaces = read_parquet(args.spaces, "--spaces")
        enterprises = read_parquet(args.enterprises, "--enterprises")
        parks = read_parquet(args.parks, "--parks")
        tenancies = None if args.tenancies is None else read_parquet(args.tenancies, "--tenancies")
        with options_named(OPTION_NAMES):
            options = MatchOptions(mode=args.mode, k=args.k, now=args.now)
            result = in_worker(
                lambda: match(
                    spaces, enterprises, parks=parks, tenancies=tenancies, options=options,
                    progress=stage, executor=executor,
                )
            )  # fmt: skip
        stage("write")
        with staged_dir(args.out) as stage_dir:
            write(result, stage_dir, Tables(spaces, enterprises, parks), args)
        bar.update(len(STAGES) - 1, status="done")
    print_summary(result, args.out)
    return 0


@dataclass(frozen=True)
class Tables:
    """The input tables the report reads names from."""

    spaces: pa.Table
    enterprises: pa.Table
    parks: pa.Table


def write(result: MatchResult, out: Path, tables: Tables, args: MatchArgs) -> None:
    import pyarrow.parquet as pq

    from zone_opt.matching.report import ReportOptions, write_match_outputs
    from zone_opt.matching.report_tables import MatchInputs

    pq.write_table(result.assignments, out / "assignments.parquet")
    pq.write_table(result.unmatched, out / "unmatched.parquet")
    inputs = MatchInputs(tables.spaces, tables.enterprises, tables.parks)
    options = ReportOptions(lang=args.lang, report=not args.no_report)
    write_match_outputs(result, inputs, out, options)


def print_summary(result: MatchResult, out: Path) -> None:
    s = result.summary
    reasons = result.unmatched.group_by("constraint").aggregate([("enterprise_id", "count")])
    click.echo(
        f"{s.mode}: {s.n_matched} of {s.n_seekers} enterprises matched to "
        f"{s.n_spaces_offered} offered spaces ({s.n_edges} candidate pairs), "
        f"total score {s.total_score}"
    )
    click.echo(f"unmatched: {s.n_no_candidates} without candidates, {s.n_outcompeted} outcompeted")
    for row in sorted(reasons.to_pylist(), key=lambda r: -int(r["enterprise_id_count"])):
        if row["constraint"] is not None:
            click.echo(f"  {row['constraint']}: {row['enterprise_id_count']}")
    click.echo("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in s.seconds.items()))
    click.echo(f"wrote {out / 'assignments.parquet'} and {out / 'unmatched.parquet'}")
    if (out / "report.html").exists():
        click.echo(f"report: {out / 'report.html'}; tables: {out / 'matching.xlsx'}")
