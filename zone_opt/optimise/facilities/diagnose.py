"""Why a facility problem is infeasible: which demand cannot be met, and the reason.

Two steps. Structural checks name demand that no site can serve at all (nothing offering the
type within the distance limit; under single sourcing, a demand larger than every reachable
site's capacity). Then an *elastic* MILP, the same model with a slack ``u_jt`` in [0, 1] on
each demand row and the objective "minimise unmet units", finds the least demand that must
go unserved with the capacities and budget given; its nonzero slacks are reported. The
split of that minimum among parks is one minimal example, not unique.
"""

from __future__ import annotations

import numpy as np

from zone_opt.optimise.facilities.build import FacilityMatrix
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.results import UnmetDemand
from zone_opt.optimise.solver import INF, HighsSolver, MatrixModel, SolveOptions

__all__ = ["diagnose_infeasible"]


def diagnose_infeasible(
    fm: FacilityMatrix, options: SolveOptions | None = None
) -> tuple[UnmetDemand, ...]:
    """The demand of ``fm.problem`` that no plan can serve. O(one elastic MILP)."""
    p = fm.problem
    has_arc = np.zeros(p.demand.shape, dtype=bool)
    has_arc[fm.arc_demand, fm.arc_type] = True
    reach = p.reachable()
    out: list[UnmetDemand] = []
    structural: set[tuple[int, int]] = set()
    for j, t in zip(fm.demand_row_park.tolist(), fm.demand_row_type.tolist(), strict=True):
        if not has_arc[j, t]:
            why = "no site within the distance limit offers this type"
            out.append(
                UnmetDemand(p.demand_ids[j], p.facility_types[t], float(p.demand[j, t]), why)
            )
            structural.add((j, t))
        elif p.single_source:
            best = float((p.capacity[:, t] * reach[j]).max())
            if p.demand[j, t] > best + 1e-9:
                why = (
                    f"single sourcing: demand {_amount(p.demand[j, t])} exceeds the largest "
                    f"reachable site capacity {_amount(best)}"
                )
                out.append(
                    UnmetDemand(p.demand_ids[j], p.facility_types[t], float(p.demand[j, t]), why)
                )
                structural.add((j, t))
    if out:
        return tuple(out)

    model = _elastic(fm)
    opts = highs_options(options or SolveOptions(mip_rel_gap=1e-6, time_limit_s=60.0))
    sol = HighsSolver(model).solve(opts)
    if sol.x is None:
        return (UnmetDemand("*", "*", float("nan"), f"elastic model not solved ({sol.message})"),)
    n_cols = fm.model.num_cols
    slack = sol.x[n_cols:]
    total_demand = p.demand.sum(axis=0)
    total_cap = p.capacity.sum(axis=0)
    for r in np.flatnonzero(slack > 1e-7):
        j, t = int(fm.demand_row_park[r]), int(fm.demand_row_type[r])
        if total_cap[t] + 1e-9 < total_demand[t]:
            why = (
                f"total capacity {_amount(total_cap[t])} of all sites is below total demand "
                f"{_amount(total_demand[t])} for this type"
            )
        elif p.budget_cny is not None:
            why = f"the budget {_amount(p.budget_cny)} CNY cannot open enough reachable capacity"
        else:
            why = "reachable capacity is short (distance limit or single sourcing)"
        out.append(
            UnmetDemand(p.demand_ids[j], p.facility_types[t], float(slack[r] * p.demand[j, t]), why)
        )
    return tuple(out)


def _amount(value: float) -> str:
    """``8000000.0`` -> ``"8,000,000"`` (never ``8e+06``); two decimals when fractional."""
    x = float(value)
    whole = abs(x - round(x)) <= 1e-9 * max(1.0, abs(x))
    return f"{x:,.0f}" if whole else f"{x:,.2f}"


def _elastic(fm: FacilityMatrix) -> MatrixModel:
    """``fm.model`` plus a slack column per demand row, costed by the demand it leaves unmet."""
    base = fm.model
    n_dem = fm.demand_row_park.shape[0]
    amount = fm.problem.demand[fm.demand_row_park, fm.demand_row_type]
    a_start = np.concatenate(
        [base.a_start, base.a_start[-1] + 1 + np.arange(n_dem, dtype=np.int32)]
    ).astype(np.int32)
    row_lower = base.row_lower.copy()
    # The aggregate-capacity cuts assume all demand is served: drop them here.
    agg = fm.first_aggregate_row + np.arange(fm.aggregate_types.shape[0])
    row_lower[agg] = -INF
    return MatrixModel(
        cost=np.concatenate([np.zeros(base.num_cols), amount]),
        col_lower=np.concatenate([base.col_lower, np.zeros(n_dem)]),
        col_upper=np.concatenate([base.col_upper, np.ones(n_dem)]),
        row_lower=row_lower,
        row_upper=base.row_upper,
        a_start=a_start,
        a_index=np.concatenate([base.a_index, np.arange(n_dem, dtype=np.int32)]),
        a_value=np.concatenate([base.a_value, np.ones(n_dem)]),
        integer=None
        if base.integer is None
        else np.concatenate([base.integer, np.zeros(n_dem, dtype=bool)]),
    )
