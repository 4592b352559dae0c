"""Facilities: shared-facility scenarios solved as one ``PlanFacilities`` operation.

Stages: parse the scenario file (also when the request arrives: INVALID_ARGUMENT, not a
failed operation), then per scenario the joint MILP (HiGHS reports each improved plan: the
operation's stage becomes ``"<scenario>: incumbent_cny=.. bound_cny=.. gap=.."``), the
stand-alone and coalition costs and the requested cost splits. The job's cancel event is
the solver's cancel event, so a cancel stops a running MILP within one HiGHS callback; the
time limit is also the solver's. Result: a typed ``PlanFacilitiesResult``.

Each scenario is one shard of the job (:mod:`zone_opt.service.jobs.sharded`): its
``ScenarioPlan`` is committed to the job's shard manifest as it is solved (stage
``"shard k of N: <scenario>: committed"``), a job resumed after its worker died solves only
the scenarios not committed yet, and the result is read back from the manifest in file
order. Scenarios run in turn on the job worker's thread, or as tasks of the pool's remote
executor (Ray), where a solve reports no incumbent and is not cut short by a cancel.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from google.protobuf import json_format

from zone_opt.api.v1 import facilities_pb2
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.scenario import (
    Scenario,
    ScenarioResult,
    parse_scenarios,
    run_scenarios,
    solve_scenario,
)
from zone_opt.optimise.facilities.sharing import ShareMethod
from zone_opt.optimise.solver import Progress, SolveOptions
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.jobs.sharded import ShardPlan, run_sharded, shard_keys
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations.fields import required, time_limit_s

log = logging.getLogger(__name__)

__all__ = ["MAX_SCENARIO_BYTES", "OPERATION", "PlanParams", "progress_stage", "run"]

MAX_SCENARIO_BYTES = 1 << 20


def progress_stage(scenario: str, progress: Progress) -> str:
    """The operation stage text for a MIP progress report (parsed by the client)."""
    return (
        f"{scenario}: incumbent_cny={progress.incumbent:.6f} bound_cny={progress.bound:.6f} "
        f"gap={progress.gap:.3e}"
    )


@dataclass(frozen=True)
class PlanParams:
    """A PlanFacilities request, validated."""

    scenario_yaml: str
    #: Relative MIP gap; None for the library default.
    mip_rel_gap: float | None = None
    #: Cost-sharing methods for every scenario (``ShareMethod`` values); empty: the file's.
    sharing: list[str] = field(default_factory=list)
    time_limit_s: float | None = None

    @classmethod
    def from_request(cls, request: facilities_pb2.PlanFacilitiesRequest) -> PlanParams:
        text = required(request.scenario_yaml, "scenario_yaml")
        if len(text.encode()) > MAX_SCENARIO_BYTES:
            raise InvalidInputError.single("scenario_yaml", None, "larger than 1 MiB")
        opts = request.options
        if not 0 <= opts.mip_rel_gap < 1:  # NaN fails too
            raise InvalidInputError.single(
                "options.mip_rel_gap", None, f"must be in [0, 1), got {opts.mip_rel_gap}"
            )
        known = facilities_pb2.CostShareMethod.DESCRIPTOR.values_by_number
        sharing = []
        for k, method in enumerate(opts.sharing):
            if method == facilities_pb2.COST_SHARE_METHOD_UNSPECIFIED or method not in known:
                names = ", ".join(v.name for v in list(known.values())[1:])
                raise InvalidInputError.single(
                    f"options.sharing[{k}]", None, f"unknown method {method}; one of {names}"
                )
            sharing.append(known[method].name.removeprefix("COST_SHARE_METHOD_").lower())
        params = cls(
            scenario_yaml=text,
            mip_rel_gap=opts.mip_rel_gap or None,
            sharing=sharing,
            time_limit_s=(
                time_limit_s(opts.time_limit, "options.time_limit")
                if opts.HasField("time_limit")
                else None
            ),
        )
        parse_scenarios(text)  # INVALID_ARGUMENT now, not in the job
        return params


def run(ctx: JobContext, params: PlanParams) -> facilities_pb2.PlanFacilitiesResult:
    """Solve every scenario of the file, each one shard of the job; see the module
    docstring."""
    ctx.checkpoint(0.0, "reading scenarios")
    _, scenarios = parse_scenarios(params.scenario_yaml)
    methods = [ShareMethod(m) for m in params.sharing]
    if methods:
        scenarios = [type(s)(s.name, s.problem, s.players, tuple(methods)) for s in scenarios]
    options = SolveOptions(mip_rel_gap=params.mip_rel_gap or 1e-6)
    if ctx.executor.remote:
        shards = run_sharded(ctx, ctx.executor, _remote_plan(ctx, scenarios, options))
    else:
        shards = run_sharded(ctx, ctx.executor, _local_plan(ctx, scenarios, options))
    return facilities_pb2.PlanFacilitiesResult(
        scenarios=[facilities_pb2.ScenarioPlan.FromString(data) for data in shards]
    )


def _remaining_s(ctx: JobContext) -> float | None:
    """The job's time left, for the next solve (at least 10 ms); None without a limit."""
    if ctx.deadline is None:
        return None
    return max(0.01, ctx.deadline - time.monotonic())


def _encode(result: ScenarioResult) -> tuple[bytes, int]:
    """A scenario's shard: its ``ScenarioPlan`` (deterministic bytes), one row."""
    return _scenario_plan(result).SerializeToString(deterministic=True), 1


def _remote_plan(
    ctx: JobContext, scenarios: list[Scenario], options: SolveOptions
) -> ShardPlan[SolveOptions, Scenario, ScenarioResult]:
    """Each scenario a task of a remote executor (``solve_scenario``; no progress, no
    cancel inside a solve: the round finishes first)."""
    return ShardPlan(
        keys=shard_keys(len(scenarios), "scenario"),
        labels=[s.name for s in scenarios],
        items=scenarios,
        fn=solve_scenario,
        shared=lambda: replace(options, time_limit_s=_remaining_s(ctx)),
        encode=_encode,
    )


def _local_plan(
    ctx: JobContext, scenarios: list[Scenario], options: SolveOptions
) -> ShardPlan[None, tuple[int, Scenario], ScenarioResult]:
    """Each scenario a shard solved here: the job's cancel event reaches the solver and
    HiGHS reports each improved plan as the stage."""
    total = len(scenarios)

    def solve(_shared: None, item: tuple[int, Scenario]) -> ScenarioResult:
        k, scenario = item
        last = [0.0]

        def report(p: Progress) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2 or not math.isfinite(p.incumbent):
                return
            last[0] = now
            # Record only: an exception must not escape a HiGHS callback; a cancel reaches
            # the solver through the shared cancel event instead.
            try:
                ctx.report((k + 0.5) / total, progress_stage(scenario.name, p))
            except Exception:  # the store may be closing at shutdown
                log.debug("progress not recorded", exc_info=True)

        solve_options = replace(
            options, time_limit_s=_remaining_s(ctx), cancel=ctx.cancelled, progress=report
        )
        (result,) = run_scenarios([scenario], solve_options, workers=1)
        return result

    return ShardPlan(
        keys=shard_keys(total, "scenario"),
        labels=[s.name for s in scenarios],
        items=list(enumerate(scenarios)),
        fn=solve,
        shared=lambda: None,
        encode=_encode,
    )


def _num(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


def _scenario_plan(r: ScenarioResult) -> facilities_pb2.ScenarioPlan:
    plan = r.plan
    cost = plan.cost
    return facilities_pb2.ScenarioPlan(
        name=r.scenario.name,
        status=facilities_pb2.PlanStatus.Value(f"PLAN_STATUS_{plan.status.name}"),
        objective_cny=_num(plan.objective_cny),
        bound_cny=_num(plan.bound_cny),
        gap=_num(plan.gap),
        open_sites=list(plan.open_sites),
        assignments=[
            facilities_pb2.FacilityAssignment(
                park_id=a.demand_id,
                site_id=a.site_id,
                facility_type=a.facility_type,
                fraction=a.fraction,
                units=a.amount,
                transport_cost_cny=a.transport_cost_cny,
                operating_cost_cny=a.operating_cost_cny,
            )
            for a in plan.assignments
        ],
        fixed_cost_cny=_num(cost.fixed_cny if cost else None),
        transport_cost_cny=_num(cost.transport_cny if cost else None),
        operating_cost_cny=_num(cost.operating_cny if cost else None),
        standalone_total_cny=_num(r.standalone_total_cny),
        unmet=[
            facilities_pb2.UnmetDemand(
                park_id=u.demand_id,
                facility_type=u.facility_type,
                unmet_units=_num(u.unmet_units),
                reason=u.reason,
            )
            for u in plan.unmet
        ],
        cost_shares=[
            facilities_pb2.CostShares(
                method=facilities_pb2.CostShareMethod.Value(f"COST_SHARE_METHOD_{s.method.name}"),
                total_cny=s.total_cny,
                shares=[
                    facilities_pb2.ParkCostShare(
                        player=ps.park,
                        share_cny=ps.share_cny,
                        standalone_cny=ps.standalone_cny,
                        saving_cny=ps.saving_cny,
                        std_error_cny=_num(ps.std_error_cny),
                    )
                    for ps in s.shares
                ],
                worst_coalition=list(s.worst_coalition),
                worst_excess_cny=s.worst_excess_cny,
                least_core_epsilon_cny=s.least_core_epsilon_cny,
            )
            for s in r.shares
        ],
    )


def _legacy_params(raw: Mapping[str, Any]) -> PlanParams:
    return PlanParams(
        scenario_yaml=str(raw["scenario_yaml"]),
        mip_rel_gap=raw.get("mip_rel_gap"),
        sharing=list(raw.get("sharing") or []),
        time_limit_s=raw.get("time_limit_s"),
    )


def _legacy_result(raw: Mapping[str, Any]) -> facilities_pb2.PlanFacilitiesResult:
    return json_format.ParseDict(dict(raw), facilities_pb2.PlanFacilitiesResult())


OPERATION = OperationSpec(
    kind="plan_facilities",
    params_type=PlanParams,
    result_type=facilities_pb2.PlanFacilitiesResult,
    run=run,
    legacy_params=_legacy_params,
    legacy_result=_legacy_result,
)
