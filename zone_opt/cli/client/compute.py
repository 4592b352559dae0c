"""``zone-opt client`` actions that compute on the server: match, recommend, carbon,
facilities, dispatch. Each long one starts an operation and prints it (``--wait``,
``--watch``: once done)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from zone_opt.cli.client.common import Follow, connected, emit, follow, follow_options
from zone_opt.cli.io import read_parquet, read_region, reading
from zone_opt.cli.params import DATE, DATETIME, GAP, INPUT_DIR, INPUT_FILE, POSITIVE, gathered

if TYPE_CHECKING:
    import pyarrow as pa

    from zone_opt.client import Client

__all__ = ["COMMANDS"]

#: Cost-share methods of a facilities plan (``CostShareMethod`` in facilities.proto).
SHARING = ("proportional", "shapley", "least_core", "nucleolus")


@dataclass(frozen=True)
class MatchArgs(Follow):
    spaces_id: str
    enterprises_id: str
    parks_id: str
    tenancies_id: str
    mode: Literal["optimal", "stable"]
    k: int
    now: dt.date | None


@click.command(help="Start a match on stored datasets (an operation); prints it.")
@click.argument("spaces_id")
@click.argument("enterprises_id")
@click.argument("parks_id")
@click.option("--tenancies-id", default="", show_default="none", help="Tenancies dataset id.")
@click.option(
    "--mode",
    type=click.Choice(["optimal", "stable"]),
    default="optimal",
    help="optimal: the largest total score; stable: deferred acceptance.",
)
@click.option(
    "--k", type=click.IntRange(min=1), default=32, help="Candidate spaces per enterprise."
)
@click.option(
    "--now",
    type=DATE,
    default=None,
    show_default="the server's today",
    help="The matching date: tenancies active then hold their spaces.",
)
@follow_options
@gathered(MatchArgs)
@connected
def match(client: Client, args: MatchArgs) -> int:
    from zone_opt.matching import MatchOptions

    name = client.submit_match(
        args.spaces_id,
        args.enterprises_id,
        args.parks_id,
        tenancies_id=args.tenancies_id,
        options=MatchOptions(mode=args.mode, k=args.k, now=args.now),
    )
    return follow(client, name, args)


@click.command(
    short_help="Best spaces per enterprise, computed by the server.",
    help="Recommend each enterprise its best k spaces, computed by the server from the "
    "tables of a local region directory (each under about 1 MiB). Prints the first --limit "
    "rows as JSON lines and the row count on stderr.",
)
@click.option(
    "--dir",
    "directory",
    type=INPUT_DIR,
    default=None,
    show_default="the sample region",
    help="A region directory (one Parquet file per table).",
)
@click.option("--k", type=click.IntRange(min=1), default=10, help="Spaces per enterprise.")
@click.option("--limit", type=click.IntRange(min=0), default=20, help="Rows printed; 0 prints all.")
@connected
def recommend(client: Client, directory: Path | None, k: int, limit: int) -> int:
    from zone_opt.datasets import sample_region
    from zone_opt.matching import MatchOptions

    region = sample_region() if directory is None else read_region(directory, "--dir")
    result = client.recommend(
        region.spaces,
        region.enterprises,
        region.parks,
        region.tenancies,
        options=MatchOptions(k=k),
    )
    for row in (result.slice(0, limit) if limit else result).to_pylist():
        emit(row)
    print(f"# {result.num_rows} rows", file=sys.stderr)
    return 0


@dataclass(frozen=True)
class CarbonArgs(Follow):
    meters_id: str
    park: Path
    tenancies_id: str
    spaces_id: str
    park_assets_id: str
    grid_factors_id: str
    previous_head: str


def _hex(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not hexadecimal") from None
    return value


@click.command(
    short_help="Start a park's carbon allocation.",
    help="Start a park's carbon allocation (an operation) on a stored meters dataset and a "
    "park YAML file; the other tables are dataset ids. Prints the operation; its result "
    "names the rows, annual, KPI and reconciliation datasets and the audit root and head.",
)
@click.argument("meters_id")
@click.argument("park", type=INPUT_FILE)
@click.option("--tenancies-id", default="", show_default="none", help="Tenancies dataset id.")
@click.option("--spaces-id", default="", show_default="none", help="Spaces dataset id.")
@click.option("--park-assets-id", default="", show_default="none", help="Park assets dataset id.")
@click.option(
    "--grid-factors-id",
    default="",
    show_default="the bundled factor sets",
    help="Grid factors dataset id.",
)
@click.option(
    "--previous-head",
    default="",
    show_default="none: a new chain",
    callback=_hex,
    help="Audit head of the park's previous run (hex), to chain this run to.",
)
@follow_options
@gathered(CarbonArgs)
@connected
def carbon(client: Client, args: CarbonArgs) -> int:
    from zone_opt.client import CarbonInputs

    with reading(args.park, "PARK"):
        text = args.park.read_text(encoding="utf-8")
    inputs = CarbonInputs(
        tenancies_id=args.tenancies_id,
        spaces_id=args.spaces_id,
        park_assets_id=args.park_assets_id,
        grid_factors_id=args.grid_factors_id,
    )
    name = client.submit_carbon_allocate(
        args.meters_id, text, inputs=inputs, previous_head=bytes.fromhex(args.previous_head)
    )
    return follow(client, name, args)


@dataclass(frozen=True)
class FacilitiesArgs(Follow):
    scenario: Path
    sharing: tuple[str, ...]
    gap: float
    time_limit_s: float | None


@click.command(
    short_help="Start a shared-facilities plan.",
    help="Start a shared-facilities plan (an operation) of a scenario YAML file; prints it. "
    "Its result holds each scenario's plan, cost and cost shares.",
)
@click.argument("scenario", type=INPUT_FILE)
@click.option(
    "--sharing",
    type=click.Choice(SHARING),
    multiple=True,
    show_default="those in the file",
    help="Cost-share method (repeat for several).",
)
@click.option("--gap", type=GAP, default=0.0, show_default="the server's", help="Relative MIP gap.")
@click.option(
    "--time-limit-s",
    type=POSITIVE,
    default=None,
    show_default="none",
    help="Time limit of the whole operation once it starts, s.",
)
@follow_options
@gathered(FacilitiesArgs)
@connected
def facilities(client: Client, args: FacilitiesArgs) -> int:
    with reading(args.scenario, "SCENARIO"):
        text = args.scenario.read_text(encoding="utf-8")
    name = client.submit_plan_facilities(
        text, sharing=args.sharing, mip_rel_gap=args.gap, time_limit_s=args.time_limit_s
    )
    return follow(client, name, args)


@dataclass(frozen=True)
class DispatchArgs(Follow):
    scenario: Path
    profiles: Path | None
    start: dt.datetime
    hours: float
    rolling: float | None
    gap: float
    workers: int
    window_time_limit_s: float | None
    time_limit_s: float | None


def _profiles(args: DispatchArgs) -> pa.Table:
    """The profile table to send: ``--profiles``, else the one the scenario file names."""
    import pyarrow as pa

    from zone_opt.optimise.dispatch import load_scenario
    from zone_opt.optimise.dispatch.scenario import read_profiles

    if args.profiles is not None and args.profiles.suffix == ".parquet":
        return read_parquet(args.profiles, "--profiles")
    if args.profiles is not None:
        with reading(args.profiles, "--profiles"):
            frame = read_profiles(args.profiles)
    else:
        with reading(args.scenario, "SCENARIO"):
            frame = load_scenario(args.scenario).profiles
    return pa.Table.from_pandas(frame.rename_axis("time").reset_index(), preserve_index=False)


@click.command(
    short_help="Start a park energy dispatch.",
    help="Start a park energy dispatch (an operation) of a scenario YAML file for --hours "
    "from --start; prints it. The profiles travel with it.",
)
@click.argument("scenario", type=INPUT_FILE)
@click.option(
    "--profiles",
    type=INPUT_FILE,
    default=None,
    show_default="the file the scenario names",
    help="Profile table: Parquet with a time column, or CSV with the time first.",
)
@click.option("--start", type=DATETIME, required=True, help="First step, e.g. 2025-07-14.")
@click.option("--hours", type=POSITIVE, required=True, help="Horizon, h.")
@click.option(
    "--rolling",
    type=POSITIVE,
    default=None,
    show_default="one model for the horizon",
    help="Window length of a rolling horizon, h.",
)
@click.option("--gap", type=GAP, default=1e-4, help="Relative MIP gap at which a window stops.")
@click.option(
    "--workers", type=click.IntRange(1, 2), default=1, help="Windows solved in parallel (1 or 2)."
)
@click.option(
    "--window-time-limit-s",
    type=POSITIVE,
    default=None,
    show_default="none",
    help="Solver time limit per window, s.",
)
@click.option(
    "--time-limit-s",
    type=POSITIVE,
    default=None,
    show_default="none",
    help="Time limit of the whole operation once it starts, s.",
)
@follow_options
@gathered(DispatchArgs)
@connected
def dispatch(client: Client, args: DispatchArgs) -> int:
    from zone_opt.client import DispatchRunOptions

    with reading(args.scenario, "SCENARIO"):
        text = args.scenario.read_text(encoding="utf-8")
    options = DispatchRunOptions(
        rolling_h=args.rolling,
        mip_rel_gap=args.gap,
        workers=args.workers,
        window_time_limit_s=args.window_time_limit_s,
        time_limit_s=args.time_limit_s,
    )
    name = client.submit_dispatch(text, _profiles(args), args.start, args.hours, options=options)
    return follow(client, name, args)


COMMANDS = (match, recommend, carbon, facilities, dispatch)
