"""A region: the seven tables of the data model, and their Parquet round trip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zone_opt.errors import NotFoundError
from zone_opt.validation import validate_tables

__all__ = ["TABLE_NAMES", "Region", "read_region", "write_region"]


@dataclass(frozen=True)
class Region:
    """Parks, their spaces, enterprises, tenancies, hourly meters, energy assets and grid
    factors, each a ``pa.Table`` under its ``zone_opt.schemas`` spec."""

    parks: pa.Table
    spaces: pa.Table
    enterprises: pa.Table
    tenancies: pa.Table
    meters: pa.Table
    park_assets: pa.Table
    grid_factors: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        """The tables by name (the ``zone_opt.schemas.TABLES`` names)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def validate(self) -> Region:
        """Validate every table and the references between them; return the conformed region.

        Raises:
            InvalidInputError: every violation found.
        """
        return Region(**validate_tables(self.tables()))


#: Table names, in the order they are built and written.
TABLE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Region))


def write_region(
    region: Region,
    directory: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write each table to ``directory/<name>.parquet`` (zstd); return the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in region.tables().items():
        path = out / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
        if progress is not None:
            progress(name)
    return paths


def read_region(directory: str | Path, *, validate: bool = True) -> Region:
    """Read a region written by :func:`write_region`, validated unless ``validate=False``.

    Raises:
        NotFoundError: a table's file is missing.
        InvalidInputError: a table breaks its spec (when validating).
    """
    base = Path(directory)
    tables: dict[str, pa.Table] = {}
    for name in TABLE_NAMES:
        path = base / f"{name}.parquet"
        if not path.is_file():
            raise NotFoundError(f"{path} does not exist")
        tables[name] = pq.read_table(path)
    region = Region(**tables)
    return region.validate() if validate else region
