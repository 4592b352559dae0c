"""Optimisation models solved by MILP: cross-park shared facilities and park energy dispatch.

Each planner builds its constraint matrix from arrays and passes it to HiGHS through
:mod:`zone_opt.optimise.solver`; a pyomo formulation of the same model is kept beside it as
the readable reference and the place for users' own constraints.
"""

from zone_opt.optimise.solver import (
    INF,
    HighsSolver,
    MatrixModel,
    Progress,
    Solution,
    SolveOptions,
    SolveStatus,
    solve,
)

__all__ = [
    "INF",
    "HighsSolver",
    "MatrixModel",
    "Progress",
    "Solution",
    "SolveOptions",
    "SolveStatus",
    "solve",
]
