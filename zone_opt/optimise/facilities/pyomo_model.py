"""The readable reference formulation in pyomo, and the place for users' own constraints.

Same model as :mod:`zone_opt.optimise.facilities.build` (the tests check both give the same
optimum), written one constraint family at a time::

    m = build_pyomo(problem)
    m.my_rule = pyo.Constraint(expr=m.y["s3"] + m.y["s7"] <= 1)   # a user's own rule
    objective_cny, bound_cny = solve_pyomo(m)

It builds per-coefficient Python objects, ~85x slower than the matrix path at 10^5 arcs
(``shared/reference/facilities.md`` §3.3): use it for small models and prototyping.
"""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory

from zone_opt.errors import SolverError
from zone_opt.optimise.facilities.options import PRESOLVE_RULE_OFF
from zone_opt.optimise.facilities.problem import FacilityProblem

__all__ = ["build_pyomo", "solve_pyomo"]


def build_pyomo(problem: FacilityProblem) -> Any:
    """A pyomo ``ConcreteModel`` with ``y[site]``, ``x[park, site, type]`` and named rules."""
    p = problem
    reach = p.reachable()
    op = p.operating
    m = pyo.ConcreteModel(name=p.name)
    m.SITES = pyo.Set(initialize=range(p.num_sites))
    arcs = [
        (j, i, t)
        for j in range(p.num_demand)
        for i in range(p.num_sites)
        for t in range(p.num_types)
        if p.demand[j, t] > 0 and p.capacity[i, t] > 0 and reach[j, i]
    ]
    m.ARCS = pyo.Set(initialize=arcs, dimen=3)
    m.y = pyo.Var(m.SITES, domain=pyo.Binary)
    m.x = pyo.Var(m.ARCS, domain=pyo.Binary if p.single_source else pyo.UnitInterval)

    def arc_cost(j: int, i: int, t: int) -> float:
        return float(p.demand[j, t] * (p.transport_cost_cny_per_unit[j, i] + op[i, t]))

    m.total_cost_cny = pyo.Objective(
        expr=sum(float(p.fixed_cost_cny[i]) * m.y[i] for i in m.SITES)
        + sum(arc_cost(*a) * m.x[a] for a in arcs),
        sense=pyo.minimize,
    )
    by_demand: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    by_capacity: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for a in arcs:
        by_demand.setdefault((a[0], a[2]), []).append(a)
        by_capacity.setdefault((a[1], a[2]), []).append(a)
    demanded = [
        (j, t) for j in range(p.num_demand) for t in range(p.num_types) if p.demand[j, t] > 0
    ]
    m.DEMAND = pyo.Set(initialize=demanded, dimen=2)
    # A demand with no arc makes the model infeasible, as in the matrix form.
    m.serve_demand = pyo.Constraint(
        m.DEMAND, rule=lambda m, j, t: sum(m.x[a] for a in by_demand.get((j, t), [])) == 1
    )
    m.CAP = pyo.Set(initialize=sorted(by_capacity), dimen=2)
    m.site_capacity = pyo.Constraint(
        m.CAP,
        rule=lambda m, i, t: (
            sum(float(p.demand[a[0], t]) * m.x[a] for a in by_capacity[(i, t)])
            <= float(p.capacity[i, t]) * m.y[i]
        ),
    )
    m.link = pyo.Constraint(m.ARCS, rule=lambda m, j, i, t: m.x[j, i, t] <= m.y[i])
    if p.budget_cny is not None:
        m.budget = pyo.Constraint(
            expr=sum(float(p.fixed_cost_cny[i]) * m.y[i] for i in m.SITES) <= p.budget_cny
        )
    return m


def solve_pyomo(
    model: Any, *, mip_rel_gap: float = 1e-6, time_limit_s: float | None = None
) -> tuple[float, float]:
    """Solve with HiGHS through pyomo; returns (objective CNY, best bound CNY).

    Raises :class:`SolverError` if no feasible solution was found (the reference model is
    for comparison; the typed planner reports infeasibility as a result).
    """
    solver = SolverFactory("highs")
    config: dict[str, Any] = {
        "rel_gap": mip_rel_gap,
        "load_solutions": False,
        "raise_exception_on_nonoptimal_result": False,
        # The same HiGHS presolve workaround as the matrix path (see solve.PRESOLVE_RULE_OFF).
        "solver_options": {"presolve_rule_off": PRESOLVE_RULE_OFF},
    }
    if time_limit_s is not None:
        config["time_limit"] = time_limit_s
    results = solver.solve(model, **config)
    if results.incumbent_objective is None:
        raise SolverError(f"pyomo/HiGHS found no solution: {results.termination_condition}")
    bound = results.objective_bound
    return float(results.incumbent_objective), float(bound if bound is not None else "nan")
