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

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from zone_opt.carbon.audit import GENESIS
from zone_opt.carbon.park import ParkCarbonResult, allocate_park, load_park_config
from zone_opt.cli.io import read_parquet
from zone_opt.errors import InvalidInputError


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("carbon", help="carbon accounting of a park")
    actions = p.add_subparsers(dest="carbon_command", metavar="ACTION", required=True)
    a: argparse.ArgumentParser = actions.add_parser(
        "allocate", help="allocate a park's emissions per tenant, hour, scope and source"
    )
    a.add_argument("--meters", type=Path, required=True, help="meters Parquet file")
    a.add_argument("--park", type=Path, required=True, help="park YAML file")
    a.add_argument("--out", type=Path, required=True, help="output directory")
    a.add_argument(
        "--chain",
        type=Path,
        default=None,
        help="JSON-lines ledger of heads (default OUT/chain.jsonl)",
    )
    a.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    a.set_defaults(func=run)


def previous_head(chain: Path, park_id: str) -> bytes:
    """The last head recorded for ``park_id`` in the ledger, or :data:`GENESIS`."""
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
    # Imported here: matplotlib takes a noticeable time to import, and every other
    # subcommand (and `zone-opt --help`) would pay for it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    hourly = result.hourly.filter(pa.compute.equal(result.hourly["method"], "market"))
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


def run(args: argparse.Namespace) -> int:
    config = load_park_config(args.park)
    meters = read_parquet(args.meters, "--meters")
    tables = {
        name: read_parquet(Path(path), f"park.tables.{name}")
        for name, path in config.tables.items()
        if name in ("tenancies", "spaces", "park_assets", "grid_factors")
    }
    chain = args.chain if args.chain is not None else args.out / "chain.jsonl"
    result = allocate_park(
        config, meters, previous_head=previous_head(chain, config.park_id), **tables
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.rows, out / "rows.parquet")
    pq.write_table(result.annual, out / "annual.parquet")
    pq.write_table(result.kpis, out / "kpis.parquet")
    pq.write_table(result.reconciliation, out / "reconciliation.parquet")
    pacsv.write_csv(result.reconciliation, out / "reconciliation.csv")
    pq.write_table(result.hourly, out / "hourly.parquet")
    (out / "manifest.json").write_text(
        json.dumps(result.manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if not args.no_chart:
        chart(result, out / "hourly_emissions.png")
    with chain.open("a", encoding="utf-8") as ledger:
        ledger.write(
            json.dumps(
                {
                    "park_id": config.park_id,
                    "root": result.audit_root.hex(),
                    "previous": result.previous_head.hex(),
                    "head": result.audit_head.hex(),
                }
            )
            + "\n"
        )
    park = result.kpis.to_pylist()[-1]
    balanced = all(result.reconciliation["balanced"].to_pylist())
    print(
        f"park {config.park_id}: {result.rows.num_rows} rows, "
        f"{park['co2e_location_t']:.3f} t location-based, {park['co2e_market_t']:.3f} t "
        f"market-based, {park['co2e_market_t_per_tce']:.3f} t/tce, clean electricity "
        f"{park['clean_electricity_share']:.1%}; reconciliation "
        f"{'balanced' if balanced else 'NOT balanced'}; root {result.audit_root.hex()[:16]}, "
        f"head {result.audit_head.hex()[:16]} -> {out}"
    )
    return 0 if balanced else 1
