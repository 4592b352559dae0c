"""The typed outcome of a facility solve: open sites, assignments, cost breakdown, status."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from zone_opt.optimise.facilities.build import FacilityMatrix
from zone_opt.optimise.solver import Solution, SolveStatus

__all__ = ["Assignment", "CostBreakdown", "FacilityPlan", "UnmetDemand", "decode_plan"]


@dataclass(frozen=True)
class Assignment:
    """Park ``demand_id`` gets ``amount`` units (``fraction`` of its need) of a type from a site."""

    demand_id: str
    site_id: str
    facility_type: str
    fraction: float
    amount: float
    transport_cost_cny: float
    operating_cost_cny: float


@dataclass(frozen=True)
class CostBreakdown:
    fixed_cny: float
    transport_cny: float
    operating_cny: float

    @property
    def total_cny(self) -> float:
        return self.fixed_cny + self.transport_cny + self.operating_cny


@dataclass(frozen=True)
class UnmetDemand:
    """Part of a park's demand that no feasible plan can serve, and why."""

    demand_id: str
    facility_type: str
    unmet_units: float
    reason: str


@dataclass(frozen=True)
class FacilityPlan:
    """A solve's result. ``objective_cny``/``bound_cny``/``gap`` follow :class:`Solution`;
    with status INFEASIBLE ``unmet`` names the demand that cannot be met (see
    :func:`zone_opt.optimise.facilities.diagnose.diagnose_infeasible`)."""

    status: SolveStatus
    objective_cny: float
    bound_cny: float
    gap: float
    open_sites: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    cost: CostBreakdown | None
    backend: str
    build_s: float
    solve_s: float
    message: str = ""
    unmet: tuple[UnmetDemand, ...] = ()

    @property
    def feasible(self) -> bool:
        return self.status.has_solution


def decode_plan(
    fm: FacilityMatrix,
    sol: Solution,
    *,
    backend: str,
    build_s: float,
    unmet: tuple[UnmetDemand, ...] = (),
) -> FacilityPlan:
    """Read a solution of the matrix model into a plan; its status, objective, bound, gap,
    solve time and message are the plan's. O(arcs)."""
    p = fm.problem
    x = sol.x
    header = FacilityPlan(
        status=sol.status,
        objective_cny=sol.objective,
        bound_cny=sol.bound,
        gap=sol.gap,
        open_sites=(),
        assignments=(),
        cost=None,
        backend=backend,
        build_s=build_s,
        solve_s=sol.solve_s,
        message=sol.message,
        unmet=unmet,
    )
    if x is None or not sol.status.has_solution:
        return header
    m = fm.num_sites
    y = x[:m] > 0.5
    xa = np.clip(x[m:], 0.0, 1.0)
    used = np.flatnonzero(xa > 1e-9)
    assignments = tuple(
        Assignment(
            demand_id=p.demand_ids[int(fm.arc_demand[a])],
            site_id=p.site_ids[int(fm.arc_site[a])],
            facility_type=p.facility_types[int(fm.arc_type[a])],
            fraction=float(xa[a]),
            amount=float(xa[a] * fm.arc_amount[a]),
            transport_cost_cny=float(xa[a] * fm.arc_transport_cny[a]),
            operating_cost_cny=float(xa[a] * fm.arc_operating_cny[a]),
        )
        for a in used
    )
    cost = CostBreakdown(
        fixed_cny=float(np.asarray(p.fixed_cost_cny) @ y),
        transport_cny=float(fm.arc_transport_cny @ xa),
        operating_cny=float(fm.arc_operating_cny @ xa),
    )
    return replace(
        header,
        open_sites=tuple(p.site_ids[i] for i in np.flatnonzero(y)),
        assignments=assignments,
        cost=cost,
    )
