"""``zone-opt join``: a private join of a local Parquet file with a peer server's dataset.

The keys never leave this process: this command runs the receiving party of the protocol
(zone_opt.join) and talks to the peer's JoinService with the token the peer issued
(``--token``, else ``ZONE_OPT_PEER_TOKEN``). Intersection and labelled joins write the
joined rows to ``--out`` (Parquet); cardinality and sum print one JSON line. ``--buckets``
or ``--executor ray``: the bucketed intersection for files larger than memory
(:mod:`zone_opt.cli.join_buckets`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from zone_opt.cli.executors import check_executor_options, executor_options
from zone_opt.cli.io import read_parquet, reading, staged_file
from zone_opt.cli.join_buckets import check_buckets_option
from zone_opt.cli.params import INPUT_FILE, OUTPUT_FILE, POSITIVE, gathered
from zone_opt.errors import InvalidInputError

if TYPE_CHECKING:
    from zone_opt.client import Client

#: The join modes (``zone_opt.join.policy.MODES``, spelled here for a fast ``--help``).
MODES = ("intersection", "labelled", "cardinality", "sum")


@dataclass(frozen=True)
class JoinArgs:
    left: Path
    on: str
    peer: str
    dataset: str
    mode: Literal["intersection", "labelled", "cardinality", "sum"]
    columns: str
    join: Literal["inner", "left"]
    values: str
    verifiable: bool
    protocol: Literal["dh", "vole"]
    key_kind: Literal["uscc", "text"]
    token: str | None
    tls_ca: Path | None
    out: Path | None
    timeout_s: float
    buckets: int | None
    spill_dir: Path | None
    executor: str
    ray_address: str | None


@click.command(
    short_help="Private join of a Parquet file with a peer's dataset.",
    help="Private join (PSI) of a local Parquet file with a peer server's dataset: the keys "
    "never leave this process; the peer learns only how many distinct keys you hold. "
    "intersection and labelled write the joined rows to --out; cardinality and sum print "
    "one JSON line.",
)
@click.option("--left", type=INPUT_FILE, required=True, help="The local Parquet file.")
@click.option("--on", required=True, help="Its key column, e.g. enterprise_id.")
@click.option("--peer", required=True, help="HOST:PORT of the peer's zone-opt server.")
@click.option("--dataset", required=True, help="The peer's dataset id.")
@click.option(
    "--protocol",
    type=click.Choice(["dh", "vole"]),
    default="dh",
    help="dh: every mode; vole: the fast intersection (RR22, semi-honest; intersection "
    "mode only, and the peer's join policy must allow it).",
)
@click.option(
    "--key-kind",
    type=click.Choice(["uscc", "text"]),
    default="uscc",
    help="How the peer's dataset canonicalises its keys (its join policy says); your keys "
    "are checked as this before anything is sent.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="intersection",
    help="What you learn: the matching rows (intersection), plus the peer's --columns "
    "(labelled), only their number (cardinality), or their number and the sum of --values "
    "(sum).",
)
@click.option(
    "--columns",
    default="",
    show_default="none",
    help="labelled: the peer's columns to fetch, comma separated.",
)
@click.option(
    "--join",
    type=click.Choice(["inner", "left"]),
    default="inner",
    help="labelled: keep only matching rows (inner) or every local row (left).",
)
@click.option(
    "--values",
    default="",
    show_default="none",
    help="sum: the local non-negative integer column to sum over the intersection.",
)
@click.option("--verifiable", is_flag=True, help="Require the peer's proof (DLEQ) of each answer.")
@click.option(
    "--token",
    default=None,
    show_default="ZONE_OPT_PEER_TOKEN",
    help="The token the peer issued you.",
)
@click.option(
    "--tls-ca",
    type=INPUT_FILE,
    default=None,
    show_default="plaintext",
    help="CA certificate to trust (PEM): connect with TLS.",
)
@click.option(
    "--out",
    type=OUTPUT_FILE,
    default=None,
    show_default="none",
    help="Parquet file for the joined rows (required for intersection and labelled).",
)
@click.option(
    "--timeout-s",
    type=POSITIVE,
    default=600.0,
    help="Deadline of the join (bucketed: of each call, the first including the peer "
    "reading its dataset), s.",
)
@click.option(
    "--buckets",
    type=int,
    default=None,
    callback=check_buckets_option,
    show_default="in memory; with --executor ray about 2^20 rows a bucket, at least 16",
    help="Run the bucketed intersection (files larger than memory, about rows/N keys "
    "resident at once): a power of two up to 65536. Intersection mode only.",
)
@click.option(
    "--spill-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    show_default="the system's temporary directory",
    help="Bucketed: where the keys are spilled by bucket (about 40 bytes a row).",
)
@executor_options("Bucketed: where this party's record batches and buckets run (DH)")
@gathered(JoinArgs)
def command(args: JoinArgs) -> int:
    from zone_opt.client import Client, TlsConfig
    from zone_opt.join import JoinQuery, joined

    if args.mode in ("intersection", "labelled") and args.out is None:
        raise click.UsageError(f"--out is required in {args.mode} mode")
    check_executor_options(args.executor, args.ray_address)
    token = args.token or os.environ.get("ZONE_OPT_PEER_TOKEN")
    tls = TlsConfig(ca_cert=args.tls_ca) if args.tls_ca else None
    if args.buckets is not None or args.executor == "ray":
        connect = partial(Client, args.peer, token=token, tls=tls, timeout_s=args.timeout_s)
        return _bucketed(args, connect)
    if args.spill_dir is not None:
        raise click.UsageError("--spill-dir is for a bucketed join (--buckets or --executor ray)")
    left = read_parquet(args.left, "--left")
    if args.on not in left.column_names:
        raise InvalidInputError.single("--on", None, f"{args.left} has no column {args.on!r}")
    values = None
    if args.mode == "sum":
        if args.values not in left.column_names:
            raise InvalidInputError.single(
                "--values",
                None,
                f"sum needs a local integer column; {args.left} has no {args.values!r}",
            )
        values = left.column(args.values)
    query = JoinQuery(
        mode=args.mode,
        columns=tuple(c for c in args.columns.split(",") if c),
        join=args.join,
        verifiable=args.verifiable,
        protocol=args.protocol,
        key_kind=args.key_kind,
    )
    with Client(args.peer, token=token, tls=tls, timeout_s=args.timeout_s) as peer:
        result = peer.private_join(left.column(args.on), args.dataset, values=values, query=query)
    if args.out is not None and args.mode in ("intersection", "labelled"):
        import pyarrow.parquet as pq

        rows = joined(left, result)
        with staged_file(args.out) as stage:
            pq.write_table(rows, stage)
        summary: dict[str, object] = {"rows": rows.num_rows, "out": str(args.out)}
    else:
        summary = {"count": result.count, "sum": result.sum}
    click.echo(json.dumps(summary))
    return 0


def _bucketed(args: JoinArgs, connect: Callable[[], Client]) -> int:
    """The bucketed intersection of ``--left`` with the peer's dataset; the matching rows
    written to ``--out`` a record batch at a time."""
    from zone_opt.cli.join_buckets import auto_buckets, bucketed_executor, parquet_rows, write_rows

    if args.mode != "intersection":
        raise click.UsageError(
            f"--buckets and --executor ray run --mode intersection, not {args.mode}"
        )
    if args.verifiable:
        raise click.UsageError("--buckets and --executor ray do not run --verifiable")
    if args.executor == "ray" and args.protocol != "dh":
        raise click.UsageError(
            "--executor ray runs --protocol dh (VOLE buckets run in this process)"
        )
    out = args.out
    if out is None:
        raise click.UsageError("--out is required in intersection mode")
    rows = parquet_rows(args.left, "--left", args.on)
    buckets = args.buckets if args.buckets is not None else auto_buckets(rows)
    executor = bucketed_executor(args.executor, args.ray_address)
    try:
        with connect() as client, reading(args.left, "--left"):
            result = client.bucketed_join(
                args.left,
                args.on,
                args.dataset,
                buckets=buckets,
                protocol=args.protocol,
                key_kind=args.key_kind,
                executor=executor,
                spill_dir=args.spill_dir,
            )
    finally:
        if executor is not None:
            executor.close()
    written = write_rows(args.left, result.indices, out)
    click.echo(json.dumps({"rows": written, "out": str(out), "buckets": buckets}))
    return 0
