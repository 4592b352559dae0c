"""``zone-opt carbon allocate``: a park's carbon accounting from meters and a park YAML.

Writes to ``--out``: ``rows.parquet`` (tenant x hour x scope x source), ``annual.parquet``,
``kpis.parquet``, ``reconciliation.parquet`` (and ``.csv``), ``hourly.parquet``,
``manifest.json`` (methods, factor sets, input digests, Merkle root and chained head) and,
unless ``--no-report``, the report in ``--lang`` (:mod:`zone_opt.carbon.report`):
``report.html`` / ``.md`` / ``charts/``, ``tenants/<enterprise_id>.html`` / ``.md`` and
``carbon-<table>.csv`` / ``carbon.xlsx``. The run is chained to the last head recorded for
the same park in ``--chain`` (default ``<out>/chain.jsonl``), and appended to it.

Run it on the bundled demo::

    zone-opt carbon allocate --meters datasets/carbon_demo/meters.parquet \\
        --park datasets/carbon_demo/park.yaml \\
        --enterprises datasets/sample/enterprises.parquet --out out/carbon
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zone_opt.cli.io import read_parquet, reading, staged_dir
from zone_opt.cli.params import INPUT_FILE, OUTPUT_DIR, gathered, lang_option
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


@dataclass(frozen=True)
class AllocateArgs:
    meters: Path
    park: Path
    out: Path
    chain: Path | None
    enterprises: Path | None
    lang: str
    no_report: bool
    no_chart: bool


@command.command(
    help="Allocate a park's emissions per tenant, hour, scope and source, in integer grams "
    "that reconcile exactly. Writes rows, annual, kpis, reconciliation and hourly Parquet "
    "files, reconciliation.csv and manifest.json to OUT, and the report: report.html (with "
    "report.md and charts/*.png), a printable page per tenant in tenants/, and the tables as "
    "carbon-<table>.csv and carbon.xlsx. Chains the run's audit head to the park's previous "
    "run in the --chain ledger. Exit code 1 when the reconciliation does not balance."
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
@click.option(
    "--enterprises",
    type=INPUT_FILE,
    default=None,
    show_default="tenants shown by id",
    help="Enterprises Parquet file (enterprise_id, name): the tenants' names in the report.",
)
@lang_option
@click.option(
    "--no-report", is_flag=True, help="Skip the report, the tenant pages and the CSV/Excel files."
)
@click.option("--no-chart", is_flag=True, hidden=True, help="Deprecated: --no-report.")
@gathered(AllocateArgs)
def allocate(args: AllocateArgs) -> int:
    from zone_opt.carbon.park import allocate_park, load_park_config

    with reading(args.park, "--park"):
        config = load_park_config(args.park)
    table = read_parquet(args.meters, "--meters")
    if table.num_rows == 0:
        raise InvalidInputError.single("--meters", None, f"{args.meters}: no rows")
    names = _names(args.enterprises) if args.enterprises is not None else {}
    tables = _park_tables(config)
    ledger = args.chain if args.chain is not None else args.out / "chain.jsonl"
    result = allocate_park(
        config, table, previous_head=previous_head(ledger, config.park_id), **tables
    )
    with staged_dir(args.out) as stage:
        _write(result, stage)
        if not (args.no_report or args.no_chart):
            from zone_opt.carbon.report import write_reports
            from zone_opt.reports import check_lang

            write_reports(result, stage, lang=check_lang(args.lang), names=names)
    _append_head(ledger, config.park_id, result)
    return _print_summary(config.park_id, result, args.out)


def _names(path: Path) -> dict[str, str]:
    """enterprise_id -> name from an enterprises table."""
    table = read_parquet(path, "--enterprises")
    for column in ("enterprise_id", "name"):
        if column not in table.column_names:
            raise InvalidInputError.single(f"--enterprises.{column}", None, "column is missing")
    return dict(zip(table["enterprise_id"].to_pylist(), table["name"].to_pylist(), strict=True))


def _park_tables(config: ParkCarbonConfig) -> dict[str, pa.Table]:
    return {
        name: read_parquet(Path(path), f"park.tables.{name}")
        for name, path in config.tables.items()
        if name in PARK_TABLES
    }


def _write(result: ParkCarbonResult, out: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from zone_opt.reports import write_json

    pq.write_table(result.rows, out / "rows.parquet")
    pq.write_table(result.annual, out / "annual.parquet")
    pq.write_table(result.kpis, out / "kpis.parquet")
    pq.write_table(result.reconciliation, out / "reconciliation.parquet")
    pacsv.write_csv(result.reconciliation, out / "reconciliation.csv")
    pq.write_table(result.hourly, out / "hourly.parquet")
    write_json(out / "manifest.json", result.manifest)


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
    from zone_opt.carbon.report.data import indicators

    park = result.kpis.to_pylist()[-1]
    own = indicators(result)
    balanced = all(result.reconciliation["balanced"].to_pylist())
    click.echo(
        f"park {park_id}: {result.rows.num_rows} rows, "
        f"{park['co2e_location_t']:.3f} t location-based, {park['co2e_market_t']:.3f} t "
        f"market-based, {park['co2e_market_t_per_tce']:.3f} t/tce with the exported share "
        f"({own.intensity_t_per_tce:.3f} t/tce without it, the zero-carbon indicator), "
        f"clean electricity "
        f"{park['clean_electricity_share']:.1%}; reconciliation "
        f"{'balanced' if balanced else 'NOT balanced'}; root {result.audit_root.hex()[:16]}, "
        f"head {result.audit_head.hex()[:16]} -> {out}"
    )
    return 0 if balanced else 1
