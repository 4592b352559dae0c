"""``zone-opt client ...``: call a zone-opt server from the shell.

The token comes from ``--token``, else ``ZONE_OPT_TOKEN``, else the demo token a local
server keeps in ``.zone-opt-data/demo-token``. Output is JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from zone_opt.client import Client, Operation
from zone_opt.datasets import read_region, sample_region
from zone_opt.errors import UnauthenticatedError
from zone_opt.matching import MatchOptions
from zone_opt.rpc.channel import TlsConfig
from zone_opt.rpc.operations import to_python

DEFAULT_DATA_DIR = Path(".zone-opt-data")


def add_parser(sub: Any) -> None:
    """Register ``client`` and its subcommands."""
    p: argparse.ArgumentParser = sub.add_parser(
        "client", help="call a zone-opt server (datasets, operations, matching)"
    )
    p.add_argument("--address", default="127.0.0.1:50051", help="host:port of the server")
    p.add_argument("--token", default=None, help="bearer token (default: ZONE_OPT_TOKEN or demo)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="for the demo token")
    p.add_argument("--tls-ca", type=Path, default=None, help="CA certificate to trust (TLS)")
    p.add_argument("--tls-cert", type=Path, default=None, help="client certificate (mTLS)")
    p.add_argument("--tls-key", type=Path, default=None, help="client key (mTLS)")
    p.add_argument("--timeout-s", type=float, default=60.0, help="per-call deadline")
    cmds = p.add_subparsers(dest="client_command", metavar="ACTION", required=True)
    cmds.add_parser("list", help="list datasets")
    for name in ("describe", "delete"):
        cmds.add_parser(name, help=f"{name} a dataset").add_argument("dataset_id")
    up = cmds.add_parser("upload", help="upload a Parquet file as a dataset")
    up.add_argument("path", type=Path)
    up.add_argument("--kind", required=True, help="table kind: spaces, enterprises, parks, ...")
    up.add_argument("--name", default=None)
    down = cmds.add_parser("download", help="download a dataset to a Parquet file")
    down.add_argument("dataset_id")
    down.add_argument("out", type=Path)
    stats = cmds.add_parser("stats", help="start a statistics operation on a dataset")
    stats.add_argument("dataset_id")
    stats.add_argument("--wait", action="store_true")
    match = cmds.add_parser("match", help="start a match operation on datasets")
    match.add_argument("spaces_id")
    match.add_argument("enterprises_id")
    match.add_argument("parks_id")
    match.add_argument("--tenancies-id", default="")
    match.add_argument("--mode", choices=["optimal", "stable"], default="optimal")
    match.add_argument("--k", type=int, default=32, help="candidates per enterprise")
    match.add_argument("--wait", action="store_true")
    rec = cmds.add_parser("recommend", help="recommend from a directory of Parquet tables")
    rec.add_argument(
        "--dir", type=Path, default=None, help="a region directory (default: the sample region)"
    )
    rec.add_argument("--k", type=int, default=10, help="spaces recommended per enterprise")
    cmds.add_parser("operations", help="list operations")
    for name in ("operation", "cancel"):
        cmds.add_parser(name, help=f"{name} an operation").add_argument("name")
    wait = cmds.add_parser("wait", help="wait for an operation")
    wait.add_argument("name")
    wait.add_argument("--timeout-s", dest="wait_s", type=float, default=600.0)
    p.set_defaults(func=run)


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    env = os.environ.get("ZONE_OPT_TOKEN")
    if env:
        return env
    demo = args.data_dir / "demo-token"
    if demo.exists():
        return str(demo.read_text(encoding="utf-8")).strip()
    raise UnauthenticatedError("no token: pass --token or set ZONE_OPT_TOKEN")


def _print(value: Any) -> None:
    if isinstance(value, Operation):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        value = {**fields, "result": to_python(value.result) if value.result else None}
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    print(json.dumps(value, default=str, ensure_ascii=False))


def _list(client: Client, args: argparse.Namespace) -> None:
    for d in client.list():
        _print(d)


def _upload(client: Client, args: argparse.Namespace) -> None:
    table = pq.read_table(args.path)
    _print({"dataset_id": client.upload(table, args.name or args.path.stem, args.kind)})


def _submitted(client: Client, args: argparse.Namespace, name: str) -> None:
    _print(client.wait(name) if args.wait else client.get_operation(name))


def _match(client: Client, args: argparse.Namespace) -> None:
    name = client.submit_match(
        args.spaces_id,
        args.enterprises_id,
        args.parks_id,
        tenancies_id=args.tenancies_id,
        options=MatchOptions(mode=args.mode, k=args.k),
    )
    _submitted(client, args, name)


def _recommend(client: Client, args: argparse.Namespace) -> None:
    region = sample_region() if args.dir is None else read_region(args.dir)
    result = client.recommend(
        region.spaces,
        region.enterprises,
        region.parks,
        region.tenancies,
        options=MatchOptions(k=args.k),
    )
    for row in result.slice(0, 20).to_pylist():
        _print(row)
    print(f"# {result.num_rows} rows", file=sys.stderr)


def _operations(client: Client, args: argparse.Namespace) -> None:
    for op in client.list_operations():
        _print(op)


#: Each ``zone-opt client`` subcommand's action on a connected client.
ACTIONS: dict[str, Callable[[Client, argparse.Namespace], None]] = {
    "list": _list,
    "describe": lambda c, a: _print(c.describe(a.dataset_id)),
    "delete": lambda c, a: c.delete(a.dataset_id),
    "upload": _upload,
    "download": lambda c, a: pq.write_table(c.download(a.dataset_id), a.out),
    "stats": lambda c, a: _submitted(c, a, c.submit_statistics(a.dataset_id)),
    "match": _match,
    "recommend": _recommend,
    "operations": _operations,
    "operation": lambda c, a: _print(c.get_operation(a.name)),
    "cancel": lambda c, a: _print(c.cancel(a.name)),
    "wait": lambda c, a: _print(c.wait(a.name, a.wait_s)),
}


def run(args: argparse.Namespace) -> int:
    tls: TlsConfig | None = None
    if args.tls_ca or args.tls_cert:
        tls = TlsConfig(args.tls_ca, args.tls_cert, args.tls_key)
    with Client(args.address, token=_token(args), tls=tls, timeout_s=args.timeout_s) as client:
        ACTIONS[args.client_command](client, args)
    return 0
