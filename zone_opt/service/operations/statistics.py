"""ComputeStatistics: per-column statistics of a stored dataset, as an operation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.api.v1 import datasets_pb2
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations.fields import required, time_limit_s

__all__ = ["OPERATION", "StatisticsParams", "run"]


@dataclass(frozen=True)
class StatisticsParams:
    """The dataset to describe and the time limit of the work."""

    dataset_id: str
    time_limit_s: float | None = None

    @classmethod
    def from_request(cls, request: datasets_pb2.ComputeStatisticsRequest) -> StatisticsParams:
        limit = None
        if request.HasField("time_limit"):
            limit = time_limit_s(request.time_limit, "time_limit")
        return cls(required(request.dataset_id, "dataset_id"), limit)


def run(ctx: JobContext, params: StatisticsParams) -> datasets_pb2.ComputeStatisticsResult:
    """Per-column count, nulls, min, max and mean of a dataset, one record batch at a time.

    Result: a dataset with one row per column (``column``, ``count``, ``null_count``,
    ``min``, ``max``, ``mean``; the last three for numeric columns only).
    Complexity: O(rows x columns), a checkpoint after each record batch.
    """
    job = ctx.job
    ctx.checkpoint(0.0, "loading input")
    table = ctx.datasets.read(job.tenant, params.dataset_id)
    batches = table.to_batches(max_chunksize=65_536)
    names = table.column_names
    count = np.zeros(len(names), dtype=np.int64)
    nulls = np.zeros(len(names), dtype=np.int64)
    lo = np.full(len(names), np.inf)
    hi = np.full(len(names), -np.inf)
    total = np.zeros(len(names))
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in table.schema]
    for i, batch in enumerate(batches):
        for j, column in enumerate(batch.columns):
            count[j] += len(column) - column.null_count
            nulls[j] += column.null_count
            if numeric[j] and len(column) > column.null_count:
                minmax = pc.min_max(column)
                lo[j] = min(lo[j], minmax["min"].as_py())
                hi[j] = max(hi[j], minmax["max"].as_py())
                total[j] += pc.sum(column, min_count=1).as_py()
        ctx.checkpoint((i + 1) / (len(batches) + 1), f"batch {i + 1} of {len(batches)}")
    valid = np.array(numeric) & (count > 0)
    result = pa.table(
        {
            "column": pa.array(names, pa.string()),
            "count": pa.array(count),
            "null_count": pa.array(nulls),
            "min": pa.array(lo, mask=~valid),
            "max": pa.array(hi, mask=~valid),
            "mean": pa.array(np.divide(total, np.maximum(count, 1)), mask=~valid),
        }
    )
    stats_id = f"{job.job_id}-statistics"
    ctx.datasets.put_result(job.tenant, stats_id, f"statistics of {params.dataset_id}", result)
    return datasets_pb2.ComputeStatisticsResult(statistics_dataset_id=stats_id)


def _legacy_params(raw: Mapping[str, Any]) -> StatisticsParams:
    return StatisticsParams(str(raw["dataset_id"]), raw.get("time_limit_s"))


def _legacy_result(raw: Mapping[str, Any]) -> datasets_pb2.ComputeStatisticsResult:
    return datasets_pb2.ComputeStatisticsResult(
        statistics_dataset_id=str(raw["statistics_dataset_id"])
    )


OPERATION = OperationSpec(
    kind="statistics",
    params_type=StatisticsParams,
    result_type=datasets_pb2.ComputeStatisticsResult,
    run=run,
    legacy_params=_legacy_params,
    legacy_result=_legacy_result,
)
