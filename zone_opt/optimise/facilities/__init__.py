"""Cross-park shared facilities: capacitated multi-type facility location and cost sharing.

``FacilityProblem`` (typed, validated data) -> ``solve_facilities`` (HiGHS matrix path by
default, SCIP via OR-Tools, or decomposition for large instances) -> ``FacilityPlan`` (open
sites, assignments, cost breakdown, status, bound, gap; infeasibility names the unmet
demand). ``cost_shares`` splits the plan's cost among parks (proportional, Shapley, least
core, nucleolus); ``read_orlib_cap`` reads Beasley's OR-Library test instances.
"""

from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.orlib import read_orlib_cap, read_orlib_optima
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.results import (
    Assignment,
    CostBreakdown,
    FacilityPlan,
    UnmetDemand,
)
from zone_opt.optimise.facilities.solve import DEFAULT_OPTIONS, Backend, solve_facilities

__all__ = [
    "DEFAULT_OPTIONS",
    "Assignment",
    "Backend",
    "CostBreakdown",
    "FacilityMatrix",
    "FacilityPlan",
    "FacilityProblem",
    "UnmetDemand",
    "build_matrix",
    "read_orlib_cap",
    "read_orlib_optima",
    "solve_facilities",
]
