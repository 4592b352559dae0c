"""File input shared by the subcommands: a Parquet table named by a command-line argument."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zone_opt.errors import InvalidInputError, NotFoundError

__all__ = ["read_parquet"]


def read_parquet(path: Path, argument: str) -> pa.Table:
    """Read ``path``; a missing or unreadable file is an error naming ``argument``."""
    if not path.is_file():
        raise NotFoundError(f"{argument}: no such file {path}")
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError.single(
            argument, None, f"not a readable Parquet file: {exc}"
        ) from exc
