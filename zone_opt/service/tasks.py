"""Job handlers: the work each operation kind does, in stages with checkpoints.

Each handler reads its inputs from the dataset store, checks in between stages (so a
cancel or a shutdown stops it at the next boundary; a stage itself, such as one call of
:func:`zone_opt.matching.match`, runs to its end), and writes its results under ids
derived from the job id, so a second run after a crash replaces rather than adds.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import matching
from zone_opt.errors import InvalidInputError
from zone_opt.service.dispatch_tasks import run_dispatch
from zone_opt.service.jobs import JobContext, JobHandler
from zone_opt.service.planning_tasks import plan_facilities

__all__ = ["handlers", "match", "matching_options", "statistics"]


def statistics(ctx: JobContext) -> dict[str, Any]:
    """Per-column count, nulls, min, max and mean of a dataset, one record batch at a time.

    Result: a dataset with one row per column (``column``, ``count``, ``null_count``,
    ``min``, ``max``, ``mean``; the last three for numeric columns only).
    Complexity: O(rows x columns), a checkpoint after each record batch.
    """
    job = ctx.job
    ctx.checkpoint(0.0, "loading input")
    table = ctx.datasets.read(job.tenant, job.params["dataset_id"])
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
    ctx.datasets.put_result(
        job.tenant, stats_id, f"statistics of {job.params['dataset_id']}", result
    )
    return {"statistics_dataset_id": stats_id}


def match(ctx: JobContext) -> dict[str, Any]:
    """Run :func:`zone_opt.matching.match` on stored datasets; store both result tables.

    Stages: load inputs, match, store results. ``match`` reports its own stages
    (candidates, solve, results) through its ``progress`` callback, which checkpoints, so a
    cancel takes effect at the next of those boundaries; nothing is stored for a cancelled
    job.
    """
    job, params = ctx.job, ctx.job.params
    ctx.checkpoint(0.0, "loading inputs")

    def load(key: str) -> pa.Table | None:
        dataset_id = params.get(key) or ""
        if not dataset_id:
            return None
        return ctx.datasets.read(job.tenant, dataset_id, key, f"{key}_dataset_id")

    spaces, enterprises, parks = load("spaces"), load("enterprises"), load("parks")
    tenancies = load("tenancies")
    ctx.checkpoint(0.1, "matching")
    options = matching_options(params)
    options["mode"] = params.get("mode") or "optimal"
    stages = iter(np.linspace(0.2, 0.85, 8))
    options["progress"] = lambda stage: ctx.checkpoint(float(next(stages, 0.85)), f"match: {stage}")
    result = matching.match(spaces, enterprises, parks=parks, tenancies=tenancies, **options)
    ctx.checkpoint(0.9, "storing results")
    assignments_id, unmatched_id = f"{job.job_id}-assignments", f"{job.job_id}-unmatched"
    ctx.datasets.put_result(job.tenant, assignments_id, "match assignments", result.assignments)
    ctx.datasets.put_result(job.tenant, unmatched_id, "match unmatched", result.unmatched)
    return {
        "assignments_dataset_id": assignments_id,
        "unmatched_dataset_id": unmatched_id,
        "summary": _summary(result),
    }


def matching_options(params: dict[str, Any]) -> dict[str, Any]:
    """``k``, ``weights`` (a ``ScoreWeights``) and ``now`` (a date) for match/recommend."""
    options: dict[str, Any] = {}
    if params.get("k"):
        options["k"] = int(params["k"])
    if params.get("weights"):
        known = set(matching.COMPONENTS)
        unknown = sorted(set(params["weights"]) - known)
        if unknown:
            raise InvalidInputError.single(
                "options.weights", None, f"unknown criteria {unknown}; known: {sorted(known)}"
            )
        options["weights"] = matching.ScoreWeights(**params["weights"])
    if params.get("now"):
        options["now"] = datetime.fromisoformat(params["now"]).date()
    return options


def _summary(result: Any) -> dict[str, float]:
    summary = getattr(result, "summary", None)
    if summary is None:
        return {}
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        items = dataclasses.asdict(summary)
    else:
        items = dict(summary)
    numbers = {str(k): float(v) for k, v in items.items() if isinstance(v, int | float)}
    for stage, seconds in (items.get("seconds") or {}).items():
        numbers[f"seconds_{stage}"] = float(seconds)
    return numbers


def handlers() -> dict[str, JobHandler]:
    """Job kinds this server runs."""
    from zone_opt.service.carbon_tasks import carbon_allocate  # noqa: PLC0415 (cycle-free)

    return {
        "statistics": statistics,
        "match": match,
        "carbon_allocate": carbon_allocate,
        "plan_facilities": plan_facilities,
        "dispatch": run_dispatch,
    }
