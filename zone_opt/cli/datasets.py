"""``zone-opt datasets``: generate synthetic regions and validate Parquet regions."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from zone_opt.cli.io import read_region, staged_dir
from zone_opt.cli.params import INPUT_DIR, OUTPUT_DIR
from zone_opt.cli.progress import progress_bar

log = logging.getLogger(__name__)

#: ``zone_opt.datasets.PRESETS``, spelled here so that ``--help`` imports no pyarrow
#: (tests/test_cli_help.py checks they agree).
PRESET_NAMES = ("city", "nation", "national", "sample")


@click.group(
    short_help="Generate or validate synthetic regions.",
    help="Generate or validate synthetic regions (one Parquet file per table).",
)
def command() -> None:
    pass


@command.command(
    help="Generate a preset region and write one Parquet file per table to OUT "
    "(see datasets/README.md for the tables and their distributions)."
)
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default="sample",
    help="Size: sample (6 parks), city (300 parks, 10^5 spaces, 10^6 enterprises), nation "
    "(4,500 parks, 10^6 spaces, 10^7 enterprises; national: its old name, until 0.2).",
)
@click.option("--out", type=OUTPUT_DIR, required=True, help="Output directory.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Random seed.")
@click.option(
    "--hours",
    type=click.IntRange(min=0),
    default=None,
    show_default="the preset's",
    help="Hourly meter readings per tenant, h.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def generate(preset: str, out: Path, seed: int, hours: int | None, no_progress: bool) -> int:
    from zone_opt.datasets import TABLE_NAMES, preset_region, write_region

    log.info("generating preset %r (seed %d)", preset, seed)
    with progress_bar("generate", len(TABLE_NAMES), enabled=not no_progress) as bar:
        region = preset_region(preset, seed, hours=hours, progress=lambda n: bar.advance(status=n))
    with (
        progress_bar("write", len(TABLE_NAMES), enabled=not no_progress) as bar,
        staged_dir(out) as stage,
    ):
        write_region(region, stage, progress=lambda n: bar.advance(status=n))
    for name, table in region.tables().items():
        log.info("%s: %d rows", name, table.num_rows)
    click.echo(f"wrote preset {preset!r} (seed {seed}) to {out}")
    return 0


@command.command(
    help="Validate every table of the region in DIRECTORY and the references between them; "
    "each problem names table.column and row."
)
@click.argument("directory", type=INPUT_DIR)
def validate(directory: Path) -> int:
    region = read_region(directory, "DIRECTORY")
    for name, table in region.tables().items():
        click.echo(f"{name}: {table.num_rows} rows, valid")
    return 0
