"""Matching: ``Match`` as an operation on stored datasets, ``Recommend`` answered inline.

A Match request becomes :class:`MatchParams` (validated: dataset ids, mode, k, weights,
now); the job loads the four tables (each must be of its kind), runs
:func:`zone_opt.matching.match` with checkpoints between its stages, stores the
assignments and the unmatched seekers under ids derived from the job id, and returns a
``MatchResult`` with typed statistics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from zone_opt import matching
from zone_opt.api.v1 import matching_pb2
from zone_opt.errors import InvalidInputError
from zone_opt.matching.distributed import solve_distributed
from zone_opt.rpc.enums import MATCH_MODE_VALUES, MATCH_MODES
from zone_opt.rpc.ipc import table_from_ipc, table_to_ipc
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.jobs.sharded import JobLedger
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations.fields import required, time_limit_s
from zone_opt.service.storage.datasets import DatasetStore

__all__ = ["OPERATION", "MatchParams", "Recommendation", "run"]

#: The tables of a match, each with the request field naming its dataset.
TABLES = ("spaces", "enterprises", "parks", "tenancies")


@dataclass(frozen=True)
class MatchParams:
    """A Match request, validated (see ``MatchRequest`` and ``MatchOptions``)."""

    spaces_dataset_id: str
    enterprises_dataset_id: str
    parks_dataset_id: str
    tenancies_dataset_id: str = ""
    mode: str = "optimal"
    k: int = 0
    weights: dict[str, float] = field(default_factory=dict)
    #: ISO date the availability of spaces is judged at; None for today.
    now: str | None = None
    time_limit_s: float | None = None
    include_tenants: bool = False

    @classmethod
    def from_request(cls, request: matching_pb2.MatchRequest) -> MatchParams:
        options = request.options
        weights = dict(sorted(options.weights.items()))
        _check_options(options.k, weights, "options.")
        return cls(
            spaces_dataset_id=required(request.spaces_dataset_id, "spaces_dataset_id"),
            enterprises_dataset_id=required(
                request.enterprises_dataset_id, "enterprises_dataset_id"
            ),
            parks_dataset_id=required(request.parks_dataset_id, "parks_dataset_id"),
            tenancies_dataset_id=request.tenancies_dataset_id,
            mode=MATCH_MODES[options.mode],
            k=options.k,
            weights=weights,
            now=options.now.ToDatetime().date().isoformat() if options.HasField("now") else None,
            time_limit_s=(
                time_limit_s(options.time_limit, "options.time_limit")
                if options.HasField("time_limit")
                else None
            ),
            include_tenants=options.include_tenants,
        )

    def dataset_ids(self) -> dict[str, str]:
        """``{table: dataset id}`` of the tables given."""
        ids = {t: getattr(self, f"{t}_dataset_id") for t in TABLES}
        return {t: i for t, i in ids.items() if i}

    def check_datasets(self, datasets: DatasetStore, tenant: str) -> None:
        """Each dataset exists for ``tenant`` and is of its table's kind (NOT_FOUND,
        FAILED_PRECONDITION), before anything is queued."""
        for table, dataset_id in self.dataset_ids().items():
            datasets.get(tenant, dataset_id, table, f"{table}_dataset_id")


def _check_options(k: int, weights: Mapping[str, float], prefix: str) -> None:
    """``k`` and the weights of a request, named under ``prefix`` (``"options."`` in a
    MatchRequest, ``""`` in a RecommendRequest)."""
    if k < 0:
        raise InvalidInputError.single(f"{prefix}k", None, f"must be at least 0, got {k}")
    unknown = sorted(set(weights) - set(matching.COMPONENTS))
    if unknown:
        raise InvalidInputError.single(
            f"{prefix}weights",
            None,
            f"unknown criteria {unknown}; known: {sorted(matching.COMPONENTS)}",
        )
    for name, weight in weights.items():
        if not weight >= 0:
            raise InvalidInputError.single(
                f"{prefix}weights[{name!r}]", None, f"must be at least 0, got {weight}"
            )


def _options(
    mode: str,
    k: int,
    weights: Mapping[str, float],
    now: date | None,
    include_tenants: bool,
    *,
    default_k: int,
) -> matching.MatchOptions:
    """The library's options from a request's (checked) fields; 0 means the default ``k``,
    a weight not given keeps its default."""
    return matching.MatchOptions(
        mode=mode,  # type: ignore[arg-type]
        k=k or default_k,
        weights=matching.ScoreWeights(**weights),
        now=now,
        include_tenants=include_tenants,
    )


def run(ctx: JobContext, params: MatchParams) -> matching_pb2.MatchResult:
    """Run :func:`zone_opt.matching.match` on stored datasets; store both result tables.

    Stages: load inputs, match, store results. ``match`` reports its own stages
    (candidates, solve, results) through its ``progress`` callback, which checkpoints, so a
    cancel takes effect at the next of those boundaries; nothing is stored for a cancelled
    job. On a server with a remote executor (``zone-opt serve --ray-address``) the match
    runs there (:mod:`zone_opt.matching.distributed`: candidates over enterprise shards,
    the graph's components as tasks); its total score is the same, its certificate
    checked on every edge. There each candidate shard is committed to the job's shard
    manifest as it is made (:class:`~zone_opt.service.jobs.sharded.JobLedger`), so a job
    resumed after its worker died makes only the missing shards, then solves again.
    """
    job = ctx.job
    ctx.checkpoint(0.0, "loading inputs")
    tables: dict[str, pa.Table | None] = dict.fromkeys(TABLES)
    for table, dataset_id in params.dataset_ids().items():
        tables[table] = ctx.datasets.read(job.tenant, dataset_id, table, f"{table}_dataset_id")
    ctx.checkpoint(0.1, "matching")
    now = date.fromisoformat(params.now) if params.now else None
    options = _options(
        params.mode, params.k, params.weights, now, params.include_tenants, default_k=32
    )
    stages = iter(np.linspace(0.2, 0.85, 8))

    def progress(stage: str) -> None:
        ctx.checkpoint(float(next(stages, 0.85)), f"match: {stage}")

    args = (tables["spaces"], tables["enterprises"])
    kw: dict[str, Any] = {"parks": tables["parks"], "tenancies": tables["tenancies"]}
    if ctx.executor.remote:
        matcher = matching.Matcher(*args, **kw, options=options, keep_index_inputs=True)
        ledger = JobLedger(ctx, 0.3)
        result = solve_distributed(matcher, ctx.executor, progress=progress, ledger=ledger)
    else:
        result = matching.match(*args, **kw, options=options, progress=progress)
    ctx.checkpoint(0.9, "storing results")
    assignments_id, unmatched_id = f"{job.job_id}-assignments", f"{job.job_id}-unmatched"
    ctx.datasets.put_result(job.tenant, assignments_id, "match assignments", result.assignments)
    ctx.datasets.put_result(job.tenant, unmatched_id, "match unmatched", result.unmatched)
    statistics = statistics_proto(result.summary)
    return matching_pb2.MatchResult(
        assignments_dataset_id=assignments_id,
        unmatched_dataset_id=unmatched_id,
        summary=_flat(statistics),
        statistics=statistics,
    )


def statistics_proto(summary: matching.MatchSummary) -> matching_pb2.MatchStatistics:
    """The proto of a run's :class:`~zone_opt.matching.MatchSummary`."""
    counts = {
        f.name: getattr(summary, f.name)
        for f in dataclasses.fields(summary)
        if f.name not in ("mode", "seconds")
    }
    return matching_pb2.MatchStatistics(
        mode=MATCH_MODE_VALUES[summary.mode],
        seconds={str(k): float(v) for k, v in summary.seconds.items()},
        **counts,
    )


def _flat(statistics: matching_pb2.MatchStatistics) -> dict[str, float]:
    """The deprecated ``summary`` map: every count as a double, ``seconds_<stage>``."""
    flat = {f.name: float(v) for f, v in statistics.ListFields() if f.type != f.TYPE_MESSAGE}
    flat.pop("mode", None)
    flat.update({f"seconds_{k}": v for k, v in statistics.seconds.items()})
    return flat


@dataclass(frozen=True)
class Recommendation:
    """A Recommend request decoded and validated (every table through
    :func:`~zone_opt.rpc.ipc.table_from_ipc`), ready to compute."""

    spaces: pa.Table
    enterprises: pa.Table
    parks: pa.Table
    tenancies: pa.Table | None
    k: int
    now: date | None
    weights: dict[str, float]
    include_tenants: bool

    @classmethod
    def from_request(cls, request: matching_pb2.RecommendRequest) -> Recommendation:
        weights = dict(sorted(request.weights.items()))
        _check_options(request.k, weights, "")
        return cls(
            spaces=table_from_ipc(request.spaces_ipc, "spaces_ipc"),
            enterprises=table_from_ipc(request.enterprises_ipc, "enterprises_ipc"),
            parks=table_from_ipc(request.parks_ipc, "parks_ipc"),
            tenancies=(
                table_from_ipc(request.tenancies_ipc, "tenancies_ipc")
                if request.tenancies_ipc
                else None
            ),
            k=request.k,
            now=request.now.ToDatetime().date() if request.HasField("now") else None,
            weights=weights,
            include_tenants=request.include_tenants,
        )

    def run(self) -> matching_pb2.RecommendResponse:
        """Top-k spaces per enterprise (the caller holds a compute slot)."""
        table = matching.recommend(
            self.spaces,
            self.enterprises,
            parks=self.parks,
            tenancies=self.tenancies,
            options=_options(
                "optimal", self.k, self.weights, self.now, self.include_tenants, default_k=10
            ),
        )
        return matching_pb2.RecommendResponse(recommendations_ipc=table_to_ipc(table))


def _legacy_params(raw: Mapping[str, Any]) -> MatchParams:
    now = raw.get("now")
    return MatchParams(
        spaces_dataset_id=str(raw["spaces"]),
        enterprises_dataset_id=str(raw["enterprises"]),
        parks_dataset_id=str(raw["parks"]),
        tenancies_dataset_id=str(raw.get("tenancies") or ""),
        mode=str(raw.get("mode") or "optimal"),
        k=int(raw.get("k") or 0),
        weights=dict(raw.get("weights") or {}),
        now=datetime.fromisoformat(now).date().isoformat() if now else None,
        time_limit_s=raw.get("time_limit_s"),
    )


def _legacy_result(raw: Mapping[str, Any]) -> matching_pb2.MatchResult:
    summary = {str(k): float(v) for k, v in (raw.get("summary") or {}).items()}
    counts = {
        name: int(summary[name])
        for name in matching_pb2.MatchStatistics.DESCRIPTOR.fields_by_name
        if name.startswith("n_") or name == "total_score"
        if name in summary
    }
    seconds = {
        k.removeprefix("seconds_"): v for k, v in summary.items() if k.startswith("seconds_")
    }
    return matching_pb2.MatchResult(
        assignments_dataset_id=str(raw["assignments_dataset_id"]),
        unmatched_dataset_id=str(raw["unmatched_dataset_id"]),
        summary=summary,
        statistics=matching_pb2.MatchStatistics(seconds=seconds, **counts),  # type: ignore[arg-type]
    )


OPERATION = OperationSpec(
    kind="match",
    params_type=MatchParams,
    result_type=matching_pb2.MatchResult,
    run=run,
    legacy_params=_legacy_params,
    legacy_result=_legacy_result,
)
