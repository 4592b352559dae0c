"""Conversion between protobuf messages and domain types: the only module knowing both.

Request fields are checked here, once, at the edge: a missing or malformed field raises
:class:`~zone_opt.errors.InvalidInputError` naming the field, which the interceptor sends
as INVALID_ARGUMENT with ``BadRequest`` field violations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import any_pb2, duration_pb2, json_format, timestamp_pb2
from google.rpc import status_pb2

from zone_opt.api.v1 import (
    carbon_pb2,
    datasets_pb2,
    dispatch_pb2,
    matching_pb2,
    operations_pb2,
    planning_pb2,
)
from zone_opt.errors import InvalidInputError
from zone_opt.rpc.enums import (
    DISPATCH_STATUS,
    MATCH_MODES,
    STATUS_CODES,
    kind_to_proto,
)
from zone_opt.service.datasets import DatasetInfo
from zone_opt.service.store import Job

__all__ = [
    "carbon_params",
    "dataset_to_proto",
    "dispatch_params",
    "job_id_of",
    "job_to_operation",
    "match_params",
]


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def dataset_to_proto(info: DatasetInfo) -> datasets_pb2.Dataset:
    return datasets_pb2.Dataset(
        dataset_id=info.dataset_id,
        name=info.name,
        kind=kind_to_proto(info.kind),  # type: ignore[arg-type]
        num_rows=info.num_rows,
        num_bytes=info.num_bytes,
        sha256=info.sha256,
        create_time=_timestamp(info.created_s),
        columns=info.columns,
        blake3=info.blake3,
        xxh3_128=info.xxh3_128,
    )


def job_id_of(name: str, field: str = "name") -> str:
    """The job id of an operation name ``operations/<id>``."""
    prefix, _, job_id = name.partition("/")
    if prefix != "operations" or not job_id:
        raise InvalidInputError.single(field, None, "an operation name 'operations/<id>'")
    return job_id


def job_to_operation(job: Job) -> operations_pb2.Operation:
    """The AIP-151 view of a job."""
    op = operations_pb2.Operation(
        name=f"operations/{job.job_id}",
        done=job.state.done,
        metadata=operations_pb2.OperationMetadata(
            kind=job.kind,
            state=int(job.state),  # type: ignore[arg-type]
            progress=job.progress,
            stage=job.stage,
            attempts=job.attempts,
            create_time=_timestamp(job.created_s),
            update_time=_timestamp(job.updated_s),
            request_id=job.request_id,
        ),
    )
    if job.error_code:
        op.error.CopyFrom(
            status_pb2.Status(code=STATUS_CODES.get(job.error_code, 13), message=job.error_message)
        )
    elif job.result is not None:
        packed = any_pb2.Any()
        packed.Pack(_result_message(job.kind, job.result))
        op.response.CopyFrom(packed)
    return op


def _result_message(kind: str, result: dict[str, Any]) -> Any:
    if kind == "dispatch":
        return dispatch_pb2.DispatchResult(
            status=DISPATCH_STATUS.get(result["status"], 7),  # type: ignore[arg-type]
            objective_cny=float(result["objective_cny"]),
            mip_gap=float(result["mip_gap"]),
            build_s=float(result["build_s"]),
            solve_s=float(result["solve_s"]),
            windows=int(result["windows"]),
            timeseries_dataset_id=result["timeseries_dataset_id"],
            costs_cny=result.get("costs_cny", {}),
            emissions_t=result.get("emissions_t", {}),
            infeasibility=result.get("infeasibility", []),
        )
    if kind == "carbon_allocate":
        return carbon_pb2.AllocateCarbonResult(
            rows_dataset_id=result["rows_dataset_id"],
            annual_dataset_id=result["annual_dataset_id"],
            kpis_dataset_id=result["kpis_dataset_id"],
            reconciliation_dataset_id=result["reconciliation_dataset_id"],
            manifest_json=result["manifest_json"],
            audit_root=bytes.fromhex(result["audit_root"]),
            audit_head=bytes.fromhex(result["audit_head"]),
            balanced=result["balanced"],
        )
    if kind == "plan_facilities":
        return json_format.ParseDict(result, planning_pb2.PlanFacilitiesResult())
    if kind == "match":
        return matching_pb2.MatchResult(
            assignments_dataset_id=result["assignments_dataset_id"],
            unmatched_dataset_id=result["unmatched_dataset_id"],
            summary=result.get("summary", {}),
        )
    return datasets_pb2.ComputeStatisticsResult(
        statistics_dataset_id=result["statistics_dataset_id"]
    )


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidInputError.single(field, None, "required")
    return value


def dispatch_params(request: dispatch_pb2.DispatchRequest) -> dict[str, Any]:
    """The job parameters of a Dispatch request (the profiles are stored by the servicer)."""
    if not request.scenario_yaml.strip():
        raise InvalidInputError.single("scenario_yaml", None, "required")
    if not request.profiles_ipc:
        raise InvalidInputError.single("profiles_ipc", None, "required")
    if not request.HasField("start"):
        raise InvalidInputError.single("start", None, "required")
    if not request.HasField("horizon"):
        raise InvalidInputError.single("horizon", None, "required")
    options = request.options
    if not 0 <= options.mip_rel_gap < 1:  # NaN fails too
        raise InvalidInputError.single(
            "options.mip_rel_gap", None, f"must be in [0, 1), got {options.mip_rel_gap}"
        )
    if options.workers not in (0, 1, 2):
        raise InvalidInputError.single("options.workers", None, "must be 1 or 2")
    params: dict[str, Any] = {
        "scenario_yaml": request.scenario_yaml,
        "start": request.start.ToDatetime().isoformat(),
        "hours": time_limit_s(request.horizon, "horizon") / 3600.0,
        "rolling_h": None,
        "mip_rel_gap": options.mip_rel_gap or 1e-4,
        "workers": options.workers or 1,
        "window_time_limit_s": None,
    }
    if options.HasField("rolling"):
        params["rolling_h"] = time_limit_s(options.rolling, "options.rolling") / 3600.0
    if options.HasField("window_time_limit"):
        params["window_time_limit_s"] = time_limit_s(
            options.window_time_limit, "options.window_time_limit"
        )
    if options.HasField("time_limit"):
        params["time_limit_s"] = time_limit_s(options.time_limit, "options.time_limit")
    return params


def match_params(request: matching_pb2.MatchRequest) -> dict[str, Any]:
    """The job parameters of a Match request (dataset ids and options)."""
    options = request.options
    if options.k < 0:
        raise InvalidInputError.single("options.k", None, "must be positive")
    if options.mode not in MATCH_MODES:
        raise InvalidInputError.single("options.mode", None, f"unknown mode {options.mode}")
    params: dict[str, Any] = {
        "spaces": _required(request.spaces_dataset_id, "spaces_dataset_id"),
        "enterprises": _required(request.enterprises_dataset_id, "enterprises_dataset_id"),
        "parks": _required(request.parks_dataset_id, "parks_dataset_id"),
        "tenancies": request.tenancies_dataset_id,
        "mode": MATCH_MODES[options.mode],
        "k": options.k,
        "weights": dict(sorted(options.weights.items())),
    }
    if options.HasField("now"):
        params["now"] = options.now.ToDatetime().isoformat()
    if options.HasField("time_limit"):
        params["time_limit_s"] = time_limit_s(options.time_limit, "options.time_limit")
    return params


def carbon_params(request: carbon_pb2.AllocateCarbonRequest) -> dict[str, Any]:
    """The job parameters of an AllocateCarbon request (dataset ids, park YAML, head)."""
    if not request.park_yaml.strip():
        raise InvalidInputError.single("park_yaml", None, "is required")
    if request.previous_head and len(request.previous_head) != 32:
        raise InvalidInputError.single("previous_head", None, "a SHA-256 head has 32 bytes")
    return {
        "meters": _required(request.meters_dataset_id, "meters_dataset_id"),
        "park_yaml": request.park_yaml,
        "tenancies": request.tenancies_dataset_id,
        "spaces": request.spaces_dataset_id,
        "park_assets": request.park_assets_dataset_id,
        "grid_factors": request.grid_factors_dataset_id,
        "previous_head": request.previous_head.hex(),
    }


def plan_facilities_params(request: planning_pb2.PlanFacilitiesRequest) -> dict[str, Any]:
    """Job params of a PlanFacilities request (validated here: size, gap, methods)."""
    text = _required(request.scenario_yaml, "scenario_yaml")
    if len(text.encode()) > 1 << 20:
        raise InvalidInputError.single("scenario_yaml", None, "larger than 1 MiB")
    opts = request.options
    if not 0 <= opts.mip_rel_gap < 1:  # NaN fails too
        raise InvalidInputError.single(
            "options.mip_rel_gap", None, f"must be in [0, 1), got {opts.mip_rel_gap}"
        )
    sharing = []
    known = planning_pb2.CostShareMethod.DESCRIPTOR.values_by_number
    for k, method in enumerate(opts.sharing):
        if method == planning_pb2.COST_SHARE_METHOD_UNSPECIFIED or method not in known:
            names = ", ".join(v.name for v in list(known.values())[1:])
            raise InvalidInputError.single(
                f"options.sharing[{k}]", None, f"unknown cost-share method {method}; one of {names}"
            )
        name = known[method].name
        sharing.append(name.removeprefix("COST_SHARE_METHOD_").lower())
    params: dict[str, Any] = {
        "scenario_yaml": text,
        "mip_rel_gap": opts.mip_rel_gap or None,
        "sharing": sharing,
    }
    if opts.HasField("time_limit"):
        params["time_limit_s"] = time_limit_s(opts.time_limit, "options.time_limit")
    return params


def time_limit_s(duration: duration_pb2.Duration, field: str) -> float:
    """A positive time limit in seconds."""
    seconds = duration.ToTimedelta().total_seconds()
    if seconds <= 0:
        raise InvalidInputError.single(field, None, "must be positive")
    return seconds


def datetime_of(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime()
