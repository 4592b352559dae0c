"""``zone-opt join``: a private join of a local Parquet file with a peer server's dataset.

The keys never leave this process: this command runs the receiving party of the protocol
(zone_opt.join) and talks to the peer's PrivateJoinService with the token the peer
issued (``--token``, else ``ZONE_OPT_PEER_TOKEN``). Intersection and labelled joins write
the joined rows to ``--out`` (Parquet); cardinality and sum print one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from zone_opt.client import Client
from zone_opt.errors import InvalidInputError
from zone_opt.join import JoinQuery, joined
from zone_opt.rpc.channel import TlsConfig


def add_parser(sub: Any) -> None:
    """Register ``join``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "join", help="private join of a Parquet file with a peer's dataset (PSI)"
    )
    p.add_argument("--left", type=Path, required=True, help="the local Parquet file")
    p.add_argument("--on", required=True, help="its key column (e.g. enterprise_id)")
    p.add_argument("--peer", required=True, help="HOST:PORT of the peer's zone-opt server")
    p.add_argument("--dataset", required=True, help="the peer's dataset id")
    p.add_argument(
        "--mode",
        choices=["intersection", "labelled", "cardinality", "sum"],
        default="intersection",
    )
    p.add_argument("--columns", default="", help="labelled: the peer's columns, comma separated")
    p.add_argument("--join", choices=["inner", "left"], default="inner")
    p.add_argument("--values", default="", help="sum: the local integer column to sum")
    p.add_argument("--verifiable", action="store_true", help="require the peer's DLEQ proof")
    p.add_argument("--token", default=None, help="token the peer issued (or ZONE_OPT_PEER_TOKEN)")
    p.add_argument("--tls-ca", type=Path, default=None, help="CA certificate to trust (TLS)")
    p.add_argument("--out", type=Path, default=None, help="Parquet file for the joined rows")
    p.add_argument("--timeout-s", type=float, default=600.0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the join; returns the process exit code."""
    left = pq.read_table(args.left)
    if args.on not in left.column_names:
        raise InvalidInputError.single("--on", None, f"{args.left} has no column {args.on!r}")
    columns = tuple(c for c in args.columns.split(",") if c)
    values = None
    if args.mode == "sum":
        if args.values not in left.column_names:
            raise InvalidInputError.single("--values", None, "sum needs a local integer column")
        values = left.column(args.values)
    if args.mode in ("intersection", "labelled") and args.out is None:
        raise InvalidInputError.single("--out", None, "required for intersection and labelled")
    token = args.token or os.environ.get("ZONE_OPT_PEER_TOKEN")
    tls = TlsConfig(ca_cert=args.tls_ca) if args.tls_ca else None
    with Client(args.peer, token=token, tls=tls, timeout_s=args.timeout_s) as peer:
        result = peer.private_join(
            left.column(args.on),
            args.dataset,
            values=values,
            query=JoinQuery(
                mode=args.mode, columns=columns, join=args.join, verifiable=args.verifiable
            ),
        )
    if args.mode in ("intersection", "labelled"):
        out = joined(left, result)
        pq.write_table(out, args.out)
        summary: dict[str, Any] = {"rows": out.num_rows, "out": str(args.out)}
    else:
        summary = {"count": result.count, "sum": result.sum}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0
