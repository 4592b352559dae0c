"""``zone-opt carbon allocate``: a park's carbon accounting from meters and a park YAML.

Writes to ``--out``: ``rows.parquet`` (tenant x hour x scope x source), ``annual.parquet``,
``kpis.parquet``, ``reconciliation.parquet`` (and ``.csv``), ``hourly.parquet``,
``manifest.json`` (methods, factor sets, input digests, Merkle root and chained head) and
``hourly_emissions.png`` (the park's hourly emissions by source, market-based). The run is
chained to the last head recorded for the same park in ``--chain`` (default
``<out>/chain.jsonl``), and appended to it.

Run it on the bundled demo::

    zone-opt carbon allocate --meters datasets/carbon_demo/meters.parquet \\
        --park datasets/carbon_demo/park.yaml --out out/carbon
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zone_opt.cli.io import read_parquet, reading, staged_dir
from zone_opt.cli.params import INPUT_FILE, OUTPUT_DIR
from zone_opt.errors import InvalidInputError

if TYPE_CHECKING:
    import pyarrow as pa

    from zone_opt.carbon.park import ParkCarbonConfig, ParkCarbonResult

#: Tables a park YAML may name (``tables:``) that the allocation reads.
PARK_TABLES = ("tenancies", "spaces", "park_assets", "grid_factors")


@click.group(help="Carbon accounting of a park.")
def command() -> None:
    pass


def previous_head(chain: Path, park_id: str) -> bytes:
    """The last head recorded for ``park_id`` in the ledger, or ``GENESIS``."""
    from zone_opt.carbon.audit import GENESIS

    if not chain.is_file():
        return GENESIS
    head = GENESIS
    for k, line in enumerate(chain.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if entry["park_id"] == park_id:
                head = bytes.fromhex(entry["head"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError.single("--chain", k, f"not a ledger line: {exc}") from None
    return head


def chart(result: ParkCarbonResult, path: Path) -> None:
    """A stacked area chart of the park's market-based hourly emissions by source, kg."""
    import matplotlib
    import numpy as np
    import pyarrow.compute as pc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hourly = result.hourly.filter(pc.equal(result.hourly["method"], "market"))
    sources = sorted(set(hourly["source"].to_pylist()))
    frame = hourly.to_pydict()
    hours = sorted(set(frame["hour"]))
    index = {h: k for k, h in enumerate(hours)}
    stack = np.zeros((len(sources), len(hours)))
    for h, s, g in zip(frame["hour"], frame["source"], frame["co2e_g"], strict=True):
        stack[sources.index(s), index[h]] += g / 1000.0
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.stackplot(hours, stack, labels=sources, linewidth=0)
    ax.set_ylabel("kg CO2e per hour (market-based)")
    ax.set_title(f"Park {result.manifest['park_id']}: hourly emissions by source")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.margins(x=0)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@command.command(
    help="Allocate a park's emissions per tenant, hour, scope and source, in integer grams "
    "that reconcile exactly. Writes rows, annual, kpis, reconciliation and hourly Parquet "
    "files, reconciliation.csv, manifest.json and hourly_emissions.png to OUT, and chains "
    "the run's audit head to the park's previous run in the --chain ledger. Exit code 1 "
    "when the reconciliation does not balance."
)
@click.option("--meters", type=INPUT_FILE, required=True, help="Meters Parquet file (hourly).")
@click.option("--park", type=INPUT_FILE, required=True, help="Park YAML file.")
@click.option("--out", type=OUTPUT_DIR, required=True, help="Output directory.")
@click.option(
    "--chain",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default="OUT/chain.jsonl",
    help="JSON-lines ledger of audit heads, appended to.",
)
@click.option("--no-chart", is_flag=True, help="Skip the PNG chart.")
def allocate(meters: Path, park: Path, out: Path, chain: Path | None, no_chart: bool) -> int:
    from zone_opt.carbon.park import allocate_park, load_park_config

    with reading(park, "--park"):
        config = load_park_config(park)
    table = read_parquet(meters, "--meters")
    if table.num_rows == 0:
        raise InvalidInputError.single("--meters", None, f"{meters}: no rows")
    tables = _park_tables(config)
    ledger = chain if chain is not None else out / "chain.jsonl"
    result = allocate_park(
        config, table, previous_head=previous_head(ledger, config.park_id), **tables
    )
    with staged_dir(out) as stage:
        _write(result, stage, chart_too=not no_chart)
    _append_head(ledger, config.park_id, result)
    return _print_summary(config.park_id, result, out)


def _park_tables(config: ParkCarbonConfig) -> dict[str, pa.Table]:
    return {
        name: read_parquet(Path(path), f"park.tables.{name}")
        for name, path in config.tables.items()
        if name in PARK_TABLES
    }


def _write(result: ParkCarbonResult, out: Path, *, chart_too: bool) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq.write_table(result.rows, out / "rows.parquet")
    pq.write_table(result.annual, out / "annual.parquet")
    pq.write_table(result.kpis, out / "kpis.parquet")
    pq.write_table(result.reconciliation, out / "reconciliation.parquet")
    pacsv.write_csv(result.reconciliation, out / "reconciliation.csv")
    pq.write_table(result.hourly, out / "hourly.parquet")
    (out / "manifest.json").write_text(
        json.dumps(result.manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if chart_too:
        chart(result, out / "hourly_emissions.png")


def _append_head(ledger: Path, park_id: str, result: ParkCarbonResult) -> None:
    entry = {
        "park_id": park_id,
        "root": result.audit_root.hex(),
        "previous": result.previous_head.hex(),
        "head": result.audit_head.hex(),
    }
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with ledger.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def _print_summary(park_id: str, result: ParkCarbonResult, out: Path) -> int:
    park = result.kpis.to_pylist()[-1]
    balanced = all(result.reconciliation["balanced"].to_pylist())
    click.echo(
        f"park {park_id}: {result.rows.num_rows} rows, "
        f"{park['co2e_location_t']:.3f} t location-based, {park['co2e_market_t']:.3f} t "
        f"market-based, {park['co2e_market_t_per_tce']:.3f} t/tce, clean electricity "
        f"{park['clean_electricity_share']:.1%}; reconciliation "
        f"{'balanced' if balanced else 'NOT balanced'}; root {result.audit_root.hex()[:16]}, "
        f"head {result.audit_head.hex()[:16]} -> {out}"
    )
    return 0 if balanced else 1
