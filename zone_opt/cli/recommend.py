"""``zone-opt recommend``: each enterprise's best spaces, from Parquet tables, locally.

Runs :func:`zone_opt.matching.recommend` on the tables named by ``--spaces``,
``--enterprises``, ``--parks`` (and ``--tenancies``), or on the region in ``--dir``; writes
the recommendations to ``--out`` (Parquet), or prints them as JSON lines.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

from zone_opt.cli.io import read_parquet, read_region, staged_file
from zone_opt.cli.match import OPTION_NAMES, table_options
from zone_opt.cli.params import DATE, INPUT_DIR, OUTPUT_FILE, gathered, options_named

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class RecommendArgs:
    spaces: Path | None
    enterprises: Path | None
    parks: Path | None
    tenancies: Path | None
    directory: Path | None
    k: int
    now: dt.date | None
    out: Path | None


class Tables(NamedTuple):
    spaces: pa.Table
    enterprises: pa.Table
    parks: pa.Table
    tenancies: pa.Table | None


def _tables(args: RecommendArgs) -> Tables:
    """The tables to recommend from: the region in ``--dir`` or the files given."""
    files = {"spaces": args.spaces, "enterprises": args.enterprises, "parks": args.parks}
    if args.directory is not None:
        given = [f"--{k}" for k, v in {**files, "tenancies": args.tenancies}.items() if v]
        if given:
            raise click.UsageError(f"--dir and {', '.join(given)} exclude each other")
        region = read_region(args.directory, "--dir")
        return Tables(region.spaces, region.enterprises, region.parks, region.tenancies)
    if args.spaces is None or args.enterprises is None or args.parks is None:
        missing = ", ".join(f"--{k}" for k, v in files.items() if v is None)
        raise click.UsageError(f"give --dir, or {missing}")
    return Tables(
        read_parquet(args.spaces, "--spaces"),
        read_parquet(args.enterprises, "--enterprises"),
        read_parquet(args.parks, "--parks"),
        None if args.tenancies is None else read_parquet(args.tenancies, "--tenancies"),
    )


@click.command(
    short_help="Each enterprise's best spaces, computed locally.",
    help="Recommend each seeking enterprise its best k spaces by score (rank 1 = best), "
    "from the tables given as files or the region in --dir. Writes Parquet to --out, or "
    "prints JSON lines.",
)
@table_options(required=False)
@click.option(
    "--dir",
    "directory",
    type=INPUT_DIR,
    default=None,
    show_default="none: use the files",
    help="A region directory (one Parquet file per table) instead of the files.",
)
@click.option(
    "--k", type=click.IntRange(min=1), default=10, help="Spaces recommended per enterprise."
)
@click.option(
    "--now",
    type=DATE,
    default=None,
    show_default="today, UTC",
    help="The matching date: tenancies active then hold their spaces.",
)
@click.option(
    "--out",
    type=OUTPUT_FILE,
    default=None,
    show_default="print JSON lines",
    help="Parquet file for the recommendations.",
)
@gathered(RecommendArgs)
def command(args: RecommendArgs) -> int:
    from zone_opt.matching import MatchOptions, recommend

    tables = _tables(args)
    with options_named(OPTION_NAMES):
        options = MatchOptions(k=args.k, now=args.now)
        result = recommend(
            tables.spaces,
            tables.enterprises,
            parks=tables.parks,
            tenancies=tables.tenancies,
            options=options,
        )
    if args.out is None:
        for row in result.to_pylist():
            click.echo(json.dumps(row, default=str, ensure_ascii=False))
        return 0
    import pyarrow.parquet as pq

    with staged_file(args.out) as stage:
        pq.write_table(result, stage)
    n = len(set(result.column("enterprise_id").to_pylist()))
    click.echo(f"{result.num_rows} recommendations for {n} enterprises -> {args.out}")
    return 0
