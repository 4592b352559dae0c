"""``zone-opt datasets``: generate synthetic regions and validate Parquet regions."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tqdm import tqdm

from zone_opt.datasets import PRESETS, TABLE_NAMES, preset_region, read_region, write_region

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    """Register ``datasets generate`` and ``datasets validate``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "datasets", help="generate or validate synthetic regions (Parquet)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    gen = actions.add_parser(
        "generate",
        help="generate a preset region and write one Parquet file per table",
        description="Generate a synthetic region (see datasets/README.md) as Parquet files.",
    )
    gen.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="sample",
        help="size: sample (6 parks), city (10^5 spaces, 10^6 enterprises), national",
    )
    gen.add_argument("--out", type=Path, required=True, help="output directory")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument(
        "--hours",
        type=int,
        default=None,
        help="hourly meter readings per tenant (default: preset's)",
    )
    gen.set_defaults(func=generate)
    val = actions.add_parser(
        "validate",
        help="validate the Parquet tables of a region directory",
        description="Validate every table of a region and the references between them.",
    )
    val.add_argument("directory", type=Path)
    val.set_defaults(func=validate)


def generate(args: argparse.Namespace) -> int:
    """Build the preset region with a progress bar, then write it with another."""
    with tqdm(total=len(TABLE_NAMES), desc="generate", unit="table") as bar:

        def built(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update()

        region = preset_region(args.preset, args.seed, hours=args.hours, progress=built)
    with tqdm(total=len(TABLE_NAMES), desc="write", unit="table") as bar:

        def written(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update()

        write_region(region, args.out, progress=written)
    for name, table in region.tables().items():
        log.info("%s: %d rows", name, table.num_rows)
    print(f"wrote preset {args.preset!r} (seed {args.seed}) to {args.out}")
    return 0


def validate(args: argparse.Namespace) -> int:
    """Read and validate a region; errors surface as InvalidInputError (exit code 2)."""
    region = read_region(args.directory)
    for name, table in region.tables().items():
        print(f"{name}: {table.num_rows} rows, valid")
    return 0
