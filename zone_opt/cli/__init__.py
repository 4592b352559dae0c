"""The ``zone-opt`` command line.

Each subcommand lives in its own module of this package with ``add_parser(subparsers)``,
which registers the subcommand and sets ``func`` to its handler ``(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from zone_opt import __version__
from zone_opt.config import settings
from zone_opt.errors import ZoneOptError

# Subcommand modules, in the order `zone-opt --help` lists them.
COMMANDS: tuple[str, ...] = (
    "datasets",
    "demo",
    "match",
    "dispatch",
    "join",
    "carbon",
    "facilities",
    "serve",
    "client",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zone-opt",
        description="Optimisation engine for industrial parks and development zones.",
    )
    parser.add_argument("--version", action="version", version=f"zone-opt {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: ZONE_OPT_LOG_LEVEL or INFO)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"zone_opt.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level or settings().log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except ZoneOptError as exc:
        logging.getLogger("zone_opt").error("%s", exc)
        return 2
    return code
