"""Dispatch: a park dispatch run as an operation, on a stored profile table.

The request's scenario and horizon are checked when it arrives (INVALID_ARGUMENT, not a
failed operation) and its profiles stored as a result dataset named by their digest; the
job parses the stored scenario again (it may run in another process, after a restart),
solves window by window (each finished window a checkpoint: progress = windows done /
total, so a cancel or the time limit stops the run at the next window, and a cancel also
interrupts the HiGHS solve in progress) and stores the time series.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from zone_opt.api.v1 import dispatch_pb2
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch import DispatchOptions, WindowProgress, dispatch
from zone_opt.optimise.dispatch.scenario import scenario_from_yaml
from zone_opt.rpc.enums import DISPATCH_STATUS
from zone_opt.rpc.ipc import table_from_ipc
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations.fields import time_limit_s
from zone_opt.service.storage.datasets import DatasetStore

__all__ = ["OPERATION", "DispatchParams", "profiles_frame", "run"]

#: Largest scenario file accepted.
MAX_SCENARIO_BYTES = 1 << 20


@dataclass(frozen=True)
class DispatchParams:
    """A Dispatch request, validated; its profiles stored as ``profiles_dataset_id``."""

    scenario_yaml: str
    profiles_dataset_id: str
    #: ISO start of the horizon.
    start: str
    hours: float
    rolling_h: float | None = None
    mip_rel_gap: float = 1e-4
    workers: int = 1
    window_time_limit_s: float | None = None
    time_limit_s: float | None = None

    @classmethod
    def from_request(
        cls, request: dispatch_pb2.DispatchRequest, datasets: DatasetStore, tenant: str
    ) -> DispatchParams:
        """Validate the request (scenario, profiles, horizon, options) and store its
        profiles for the job (under their digest: the same profiles are stored once)."""
        if not request.scenario_yaml.strip():
            raise InvalidInputError.single("scenario_yaml", None, "required")
        if len(request.scenario_yaml.encode()) > MAX_SCENARIO_BYTES:
            raise InvalidInputError.single("scenario_yaml", None, "larger than 1 MiB")
        if not request.profiles_ipc:
            raise InvalidInputError.single("profiles_ipc", None, "required")
        for name in ("start", "horizon"):
            if not request.HasField(name):
                raise InvalidInputError.single(name, None, "required")
        options = request.options
        if not 0 <= options.mip_rel_gap < 1:  # NaN fails too
            raise InvalidInputError.single(
                "options.mip_rel_gap", None, f"must be in [0, 1), got {options.mip_rel_gap}"
            )
        if options.workers not in (0, 1, 2):
            raise InvalidInputError.single(
                "options.workers", None, f"must be 1 or 2, got {options.workers}"
            )

        def seconds(field: str) -> float | None:
            if not options.HasField(field):  # type: ignore[arg-type]
                return None
            return time_limit_s(getattr(options, field), f"options.{field}")

        table = table_from_ipc(request.profiles_ipc, "profiles_ipc")
        digest = hashlib.sha256(request.profiles_ipc).hexdigest()[:24]
        rolling_s = seconds("rolling")
        params = cls(
            scenario_yaml=request.scenario_yaml,
            profiles_dataset_id=f"dispatch-profiles-{digest}",
            start=request.start.ToDatetime().isoformat(),
            hours=time_limit_s(request.horizon, "horizon") / 3600.0,
            rolling_h=rolling_s / 3600.0 if rolling_s is not None else None,
            mip_rel_gap=options.mip_rel_gap or 1e-4,
            workers=options.workers or 1,
            window_time_limit_s=seconds("window_time_limit"),
            time_limit_s=seconds("time_limit"),
        )
        scenario = scenario_from_yaml(params.scenario_yaml, profiles_frame(table))
        scenario.horizon(params.start, params.hours)
        datasets.put_result(tenant, params.profiles_dataset_id, "dispatch profiles", table)
        return params


def profiles_frame(table: pa.Table) -> pd.DataFrame:
    """The profile DataFrame (time index) of an Arrow table with a ``time`` column."""
    if "time" not in table.column_names:
        raise InvalidInputError.single("profiles_ipc.time", None, "required timestamp column")
    frame = table.to_pandas()
    return frame.set_index(pd.DatetimeIndex(frame.pop("time")))


def run(ctx: JobContext, params: DispatchParams) -> dispatch_pb2.DispatchResult:
    """Run :func:`zone_opt.optimise.dispatch.dispatch`; store the time series."""
    job = ctx.job
    ctx.checkpoint(0.0, "loading inputs")
    table = ctx.datasets.read(job.tenant, params.profiles_dataset_id)
    scenario = scenario_from_yaml(params.scenario_yaml, profiles_frame(table))
    ctx.checkpoint(0.02, "solving")

    def on_window(p: WindowProgress) -> None:
        ctx.checkpoint(
            0.02 + 0.9 * p.done / p.total,
            f"window {p.done} of {p.total}: {p.report.start} {p.report.status}",
        )

    result = dispatch(
        scenario,
        params.start,
        params.hours,
        rolling_h=params.rolling_h,
        options=DispatchOptions(
            mip_rel_gap=params.mip_rel_gap,
            time_limit_s=params.window_time_limit_s,
            workers=params.workers,
            cancel=ctx.cancelled,
            on_window=on_window,
        ),
    )
    ctx.checkpoint(0.95, "storing results")
    ts_id = ""
    if not result.timeseries.empty:
        ts_id = f"{job.job_id}-timeseries"
        frame = result.timeseries.reset_index()
        ctx.datasets.put_result(
            job.tenant, ts_id, "dispatch time series", pa.Table.from_pandas(frame)
        )
    return dispatch_pb2.DispatchResult(
        status=DISPATCH_STATUS.get(str(result.status), dispatch_pb2.DISPATCH_STATUS_ERROR),  # type: ignore[arg-type]
        objective_cny=float(result.objective_cny),
        mip_gap=float(result.mip_gap),
        build_s=result.build_s,
        solve_s=result.solve_s,
        windows=len(result.windows),
        timeseries_dataset_id=ts_id,
        costs_cny=result.cost_breakdown(),
        emissions_t=result.emissions_breakdown(),
        infeasibility=result.infeasibility,
    )


def _legacy_params(raw: Mapping[str, Any]) -> DispatchParams:
    return DispatchParams(
        scenario_yaml=str(raw["scenario_yaml"]),
        profiles_dataset_id=str(raw["profiles_dataset_id"]),
        start=str(raw["start"]),
        hours=float(raw["hours"]),
        rolling_h=raw.get("rolling_h"),
        mip_rel_gap=float(raw.get("mip_rel_gap") or 1e-4),
        workers=int(raw.get("workers") or 1),
        window_time_limit_s=raw.get("window_time_limit_s"),
        time_limit_s=raw.get("time_limit_s"),
    )


def _legacy_result(raw: Mapping[str, Any]) -> dispatch_pb2.DispatchResult:
    return dispatch_pb2.DispatchResult(
        status=DISPATCH_STATUS.get(raw["status"], dispatch_pb2.DISPATCH_STATUS_ERROR),  # type: ignore[arg-type]
        objective_cny=float(raw["objective_cny"]),
        mip_gap=float(raw["mip_gap"]),
        build_s=float(raw["build_s"]),
        solve_s=float(raw["solve_s"]),
        windows=int(raw["windows"]),
        timeseries_dataset_id=str(raw["timeseries_dataset_id"]),
        costs_cny=raw.get("costs_cny", {}),
        emissions_t=raw.get("emissions_t", {}),
        infeasibility=raw.get("infeasibility", []),
    )


OPERATION = OperationSpec(
    kind="dispatch",
    params_type=DispatchParams,
    result_type=dispatch_pb2.DispatchResult,
    run=run,
    legacy_params=_legacy_params,
    legacy_result=_legacy_result,
)
