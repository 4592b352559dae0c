"""``zone-opt join --buckets N`` (or ``--executor ray``): the bucketed intersection of a
Parquet file larger than memory with a peer's dataset (:mod:`zone_opt.rpc.join_stream`).

The file is read in record batches twice: once for the protocol (its keys spilled by
bucket in ``--spill-dir``), once to write the matching rows to ``--out``; about one bucket
or one record batch is resident at a time. ``--executor ray`` runs this party's batches
and buckets as tasks on its own Ray cluster (DH); ``--executor local``, in this process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from zone_opt.cli.io import reading, staged_file
from zone_opt.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from zone_opt.distributed import Executor

__all__ = ["auto_buckets", "check_buckets_option", "write_rows"]

#: About this many keys a bucket when ``--buckets`` is left to the command.
AUTO_BUCKET_ROWS = 1 << 20
#: The fewest buckets chosen for an executor: rounds of tasks to spread.
AUTO_MIN_BUCKETS = 16


def check_buckets_option(
    ctx: click.Context, param: click.Parameter, value: int | None
) -> int | None:
    """``--buckets``: :func:`zone_opt.join.party.check_buckets`, as a usage error."""
    if value is None:
        return None
    from zone_opt.join.party import check_buckets

    try:
        return check_buckets(value)
    except InvalidInputError as exc:
        raise click.BadParameter(exc.violations[0].reason) from None


def parquet_rows(path: Path, option: str, column: str) -> int:
    """The row count of the Parquet file ``path`` (its footer), checking it holds
    ``column`` (an error naming ``--on``)."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise NotFoundError(f"{option}: no such file {path}")
    with reading(path, option):
        metadata = pq.read_metadata(path)
        names = pq.read_schema(path).names
    if column not in names:
        raise InvalidInputError.single("--on", None, f"{path} has no column {column!r}")
    return int(metadata.num_rows)


def auto_buckets(rows: int) -> int:
    """Buckets for ``rows`` keys when ``--buckets`` is not given: about 2^20 keys each, at
    least 16 (so an executor has rounds of tasks to spread), at most 65536."""
    from zone_opt.join.party import MAX_BUCKETS

    need = max(1, -(-rows // AUTO_BUCKET_ROWS))
    return min(MAX_BUCKETS, max(AUTO_MIN_BUCKETS, 1 << (need - 1).bit_length()))


def write_rows(source: Path, indices: npt.NDArray[np.int64], out: Path) -> int:
    """The rows of ``source`` at ``indices`` (ascending) to the Parquet file ``out``, one
    record batch at a time; the number written."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source)
    written = 0
    with staged_file(out) as stage, pq.ParquetWriter(stage, parquet.schema_arrow) as writer:
        first = 0
        for batch in parquet.iter_batches():
            lo, hi = np.searchsorted(indices, [first, first + batch.num_rows])
            if hi > lo:
                writer.write_batch(batch.take(pa.array(indices[lo:hi] - first)))
                written += int(hi - lo)
            first += batch.num_rows
        if written == 0:  # a file with the schema and no rows
            writer.write_table(parquet.schema_arrow.empty_table())
    return written


def bucketed_executor(executor: str, ray_address: str | None) -> Executor | None:
    """The executor of ``--executor``: Ray's, or None (this process) for ``local``."""
    if executor != "ray":
        return None
    from zone_opt.distributed import executor as make_executor

    return make_executor("ray", address=ray_address)
