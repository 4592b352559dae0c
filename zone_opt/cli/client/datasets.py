"""``zone-opt client`` actions on datasets: upload, list, describe, download, delete, stats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from zone_opt.cli.client.common import KINDS, Follow, connected, emit, follow, follow_options
from zone_opt.cli.io import read_parquet, staged_file
from zone_opt.cli.params import INPUT_FILE, OUTPUT_FILE

if TYPE_CHECKING:
    from zone_opt.client import Client

__all__ = ["COMMANDS"]


@click.command(help="Upload a Parquet file as a dataset; prints its dataset_id.")
@click.argument("path", type=INPUT_FILE)
@click.option("--kind", type=click.Choice(KINDS), required=True, help="The table's kind.")
@click.option("--name", default=None, show_default="the file's stem", help="Dataset name.")
@connected
def upload(client: Client, path: Path, kind: str, name: str | None) -> int:
    table = read_parquet(path, "PATH")
    emit({"dataset_id": client.upload(table, name or path.stem, kind)})
    return 0


@click.command("list", help="List your datasets, newest first (one JSON line each).")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    show_default="every kind",
    help="Only this kind.",
)
@connected
def list_(client: Client, kind: str | None) -> int:
    for d in client.list(kind):
        emit(d)
    return 0


@click.command(help="Describe a dataset: name, kind, rows, bytes, columns, digest.")
@click.argument("dataset_id")
@connected
def describe(client: Client, dataset_id: str) -> int:
    emit(client.describe(dataset_id))
    return 0


@click.command(help="Download a dataset to a Parquet file OUT (checksum verified).")
@click.argument("dataset_id")
@click.argument("out", type=OUTPUT_FILE)
@connected
def download(client: Client, dataset_id: str, out: Path) -> int:
    import pyarrow.parquet as pq

    table = client.download(dataset_id)
    with staged_file(out) as stage:
        pq.write_table(table, stage)
    emit({"dataset_id": dataset_id, "rows": table.num_rows, "out": str(out)})
    return 0


@click.command(help="Delete a dataset.")
@click.argument("dataset_id")
@connected
def delete(client: Client, dataset_id: str) -> int:
    client.delete(dataset_id)
    emit({"deleted": dataset_id})
    return 0


@click.command(
    short_help="Start per-column statistics of a dataset.",
    help="Start per-column statistics of a dataset (an operation); prints it.",
)
@click.argument("dataset_id")
@follow_options
@connected
def stats(client: Client, dataset_id: str, wait: bool, watch_: bool, wait_s: float) -> int:
    name = client.submit_statistics(dataset_id)
    return follow(client, name, Follow(wait, watch_, wait_s))


COMMANDS = (upload, list_, describe, download, delete, stats)
