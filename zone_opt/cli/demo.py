"""``zone-opt demo``: load the bundled sample region, validate it and summarise it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zone_opt.cli.io import read_region
from zone_opt.cli.params import INPUT_DIR

if TYPE_CHECKING:
    from zone_opt.datasets import Region

log = logging.getLogger(__name__)


def load_sample(directory: Path | None = None) -> Region:
    """The validated region in ``directory``; the sample region when None.

    Raises:
        NotFoundError: ``directory`` holds no region (a directory the user named is never
            replaced by the sample).
    """
    from zone_opt.datasets import sample_region

    return sample_region() if directory is None else read_region(directory, "--dir")


def summary(region: Region) -> str:
    """A readable multi-line summary of a region."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from zone_opt.industries import SECTION_OF_DIVISION, SECTIONS

    spaces, ents = region.spaces, region.enterprises
    let = pc.is_in(spaces.column("space_id"), value_set=region.tenancies.column("space_id"))
    area = spaces.column("area_m2")
    idle = pc.sum(pc.filter(area, pc.invert(let))).as_py() or 0.0
    total = pc.sum(area).as_py() or 0.0
    lines = [
        f"parks: {region.parks.num_rows} in "
        + ", ".join(
            f"{r['values']} ({r['counts']})"
            for r in pc.value_counts(region.parks.column("grid_region")).to_pylist()
        )
        + " grid regions",
        f"spaces: {spaces.num_rows}, {total / 1e4:,.1f} ha in all",
    ]
    for row in (
        spaces.group_by("kind")
        .aggregate([("area_m2", "sum"), ("kind", "count")])
        .sort_by("kind")
        .to_pylist()
    ):
        lines.append(f"  {row['kind']:<14} {row['kind_count']:>7}  {row['area_m2_sum']:>14,.0f} m2")
    occupied = pc.sum(let.cast(pa.int64())).as_py() or 0
    lines.append(
        f"occupancy: {occupied}/{spaces.num_rows} spaces let ({occupied / spaces.num_rows:.0%});"
        f" idle area {idle:,.0f} m2 ({idle / total:.0%})"
    )
    sections = np.array([SECTION_OF_DIVISION[c] for c in ents.column("industry_code").to_pylist()])
    letters, counts = np.unique(sections, return_counts=True)
    lines.append(f"enterprises: {ents.num_rows} ({region.tenancies.num_rows} tenants)")
    for letter, count in sorted(zip(letters, counts, strict=True), key=lambda x: -x[1]):
        lines.append(f"  {letter} {SECTIONS[str(letter)][1]:<48} {count:>7}")
    energy = pc.sum(ents.column("annual_energy_tce")).as_py() or 0.0
    co2 = pc.sum(ents.column("annual_co2e_t")).as_py() or 0.0
    lines.append(f"annual energy {energy:,.0f} tce, emissions {co2:,.0f} t CO2e")
    if region.meters.num_rows:
        kwh = pc.sum(region.meters.column("electricity_kwh")).as_py() or 0.0
        hours = pc.count_distinct(region.meters.column("hour")).as_py()
        lines.append(f"metered: {kwh:,.0f} kWh of electricity over {hours} hours")
    assets = pc.value_counts(region.park_assets.column("kind")).to_pylist()
    lines.append("park assets: " + ", ".join(f"{a['values']} {a['counts']}" for a in assets))
    return "\n".join(lines)


@click.command(
    short_help="Summarise the bundled sample region (or --dir).",
    help="Load the bundled sample region (generated from its seed when the package was "
    "installed without it) or the region in --dir, validate it and print a summary.",
)
@click.option(
    "--dir",
    "directory",
    type=INPUT_DIR,
    default=None,
    show_default="the bundled sample",
    help="Region directory (one Parquet file per table).",
)
def command(directory: Path | None) -> int:
    click.echo(summary(load_sample(directory)))
    return 0
