"""Infeasibility diagnosis: the constraints that conflict, by name, from HiGHS's IIS.

An irreducible infeasible subsystem is a set of rows and column bounds that is infeasible
while every proper subset is feasible; naming its members (``"BESS.soc[0]"``,
``"bound grid.import[3]"``) tells the user which data to change.
"""

from __future__ import annotations

import highspy

from zone_opt.optimise.dispatch.structure import Structure
from zone_opt.optimise.solver import HighsSolver

__all__ = ["conflicting_constraints"]


def conflicting_constraints(
    solver: HighsSolver, structure: Structure, limit: int = 50
) -> list[str]:
    """Names of the rows and column bounds in HiGHS's IIS (at most ``limit``); empty if HiGHS
    finds none. For a MIP the IIS is computed on the LP relaxation, which is where dispatch
    data conflicts (balances, SoC, windows) show; an integrality-only conflict yields []."""
    h = solver.highs
    integrality = None
    if structure.model.integer is not None:
        n = structure.num_cols
        integrality = structure.model.integer.astype(int)
        h.changeColsIntegrality(n, list(range(n)), [0] * n)
    try:
        h.setOptionValue("iis_strategy", 1)
        status, iis = h.getIis()
    finally:
        if integrality is not None:
            n = structure.num_cols
            h.changeColsIntegrality(n, list(range(n)), [int(v) for v in integrality])
    if status == highspy.HighsStatus.kError or not iis.valid_:
        return []
    names = [f"row {structure.row_name(int(i))}" for i in iis.row_index_]
    names += [f"bound {structure.col_name(int(j))}" for j in iis.col_index_]
    return names[:limit]
