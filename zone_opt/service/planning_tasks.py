"""Job handler for PlanningService: shared-facility scenarios solved as one operation.

Stages: parse the scenario file, then per scenario the joint MILP (HiGHS reports each
improved plan: the operation's stage becomes ``"<scenario>: incumbent_cny=.. bound_cny=..
gap=.."``), the stand-alone and coalition costs and the requested cost splits. The job's
cancel event is the solver's cancel event, so a cancel stops a running MILP within one
HiGHS callback; the time limit (``params["time_limit_s"]``) is also the solver's.
Result: a JSON dict shaped like ``PlanFacilitiesResult`` (field names as in the proto).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from zone_opt.errors import CancelledError, DeadlineExceededError, InvalidInputError
from zone_opt.optimise.facilities.scenario import ScenarioResult, parse_scenarios, run_scenarios
from zone_opt.optimise.facilities.sharing import ShareMethod
from zone_opt.optimise.solver import Progress, SolveOptions
from zone_opt.service.jobs import JobContext

log = logging.getLogger(__name__)

__all__ = ["MAX_SCENARIO_BYTES", "plan_facilities", "progress_stage"]

MAX_SCENARIO_BYTES = 1 << 20


def progress_stage(scenario: str, progress: Progress) -> str:
    """The operation stage text for a MIP progress report (parsed by the client)."""
    return (
        f"{scenario}: incumbent_cny={progress.incumbent:.6f} bound_cny={progress.bound:.6f} "
        f"gap={progress.gap:.3e}"
    )


def plan_facilities(ctx: JobContext) -> dict[str, Any]:
    """Solve every scenario of ``params["scenario_yaml"]``; see the module docstring."""
    params = ctx.job.params
    ctx.checkpoint(0.0, "reading scenarios")
    text = str(params.get("scenario_yaml") or "")
    if not text.strip():
        raise InvalidInputError.single("scenario_yaml", None, "required")
    if len(text.encode()) > MAX_SCENARIO_BYTES:
        raise InvalidInputError.single("scenario_yaml", None, "larger than 1 MiB")
    _, scenarios = parse_scenarios(text)
    methods = [ShareMethod(m) for m in params.get("sharing") or []]
    if methods:
        scenarios = [type(s)(s.name, s.problem, s.players, tuple(methods)) for s in scenarios]
    limit = params.get("time_limit_s")
    started = time.monotonic()
    out: list[dict[str, Any]] = []
    for k, scenario in enumerate(scenarios):
        base = k / len(scenarios)
        ctx.checkpoint(base, f"{scenario.name}: solving")

        def report(
            p: Progress,
            name: str = scenario.name,
            base: float = base,
            last: list[float] = [0.0],  # noqa: B006
        ) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2 or not math.isfinite(p.incumbent):
                return
            last[0] = now
            # Record only: an exception must not escape a HiGHS callback; a cancel reaches
            # the solver through the shared cancel event instead.
            try:
                ctx.report(base + 0.5 / len(scenarios), progress_stage(name, p))
            except Exception:  # the store may be closing at shutdown
                log.debug("progress not recorded", exc_info=True)

        remaining = None
        if limit:
            remaining = max(0.01, float(limit) - (time.monotonic() - started))
        options = SolveOptions(
            mip_rel_gap=float(params.get("mip_rel_gap") or 1e-6),
            time_limit_s=remaining,
            cancel=ctx.cancelled,
            progress=report,
        )
        (result,) = run_scenarios([scenario], options, workers=1)
        if ctx.cancelled.is_set():
            raise CancelledError("operation cancelled")
        if limit and time.monotonic() - started > float(limit):
            raise DeadlineExceededError(f"time limit of {limit} s passed in {scenario.name!r}")
        out.append(_scenario_dict(result))
        ctx.checkpoint((k + 1) / len(scenarios), f"{scenario.name}: done")
    return {"scenarios": out}


def _num(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


def _scenario_dict(r: ScenarioResult) -> dict[str, Any]:
    plan = r.plan
    cost = plan.cost
    return {
        "name": r.scenario.name,
        "status": f"PLAN_STATUS_{plan.status.name}",
        "objective_cny": _num(plan.objective_cny),
        "bound_cny": _num(plan.bound_cny),
        "gap": _num(plan.gap),
        "open_sites": list(plan.open_sites),
        "assignments": [
            {
                "park_id": a.demand_id,
                "site_id": a.site_id,
                "facility_type": a.facility_type,
                "fraction": a.fraction,
                "units": a.amount,
                "transport_cost_cny": a.transport_cost_cny,
                "operating_cost_cny": a.operating_cost_cny,
            }
            for a in plan.assignments
        ],
        "fixed_cost_cny": _num(cost.fixed_cny if cost else None),
        "transport_cost_cny": _num(cost.transport_cny if cost else None),
        "operating_cost_cny": _num(cost.operating_cny if cost else None),
        "standalone_total_cny": _num(r.standalone_total_cny),
        "unmet": [
            {
                "park_id": u.demand_id,
                "facility_type": u.facility_type,
                "unmet_units": _num(u.unmet_units),
                "reason": u.reason,
            }
            for u in plan.unmet
        ],
        "cost_shares": [
            {
                "method": f"COST_SHARE_METHOD_{s.method.name}",
                "total_cny": s.total_cny,
                "shares": [
                    {
                        "player": ps.park,
                        "share_cny": ps.share_cny,
                        "standalone_cny": ps.standalone_cny,
                        "saving_cny": ps.saving_cny,
                        "std_error_cny": _num(ps.std_error_cny),
                    }
                    for ps in s.shares
                ],
                "worst_coalition": list(s.worst_coalition),
                "worst_excess_cny": s.worst_excess_cny,
                **(
                    {"least_core_epsilon_cny": s.least_core_epsilon_cny}
                    if s.least_core_epsilon_cny is not None
                    else {}
                ),
            }
            for s in r.shares
        ],
    }
