"""Solver options every facility MILP shares (one place for the HiGHS workaround)."""

from __future__ import annotations

from dataclasses import replace

from zone_opt.optimise.solver import SolveOptions

__all__ = ["DEFAULT_OPTIONS", "PRESOLVE_RULE_OFF", "highs_options"]

PRESOLVE_RULE_OFF = 1 << 13
"""HiGHS presolve rule 13 (parallel rows and columns) is switched off for facility MILPs:
in highspy 1.14 it returns a wrong "optimal" plan on the bundled example scenario ("within
15 km": 31.13 M instead of 26.09 M, which SCIP and HiGHS without presolve both find), and on
coalitions of OR-Library's cap61; its parallel-column dominance test compares costs with an
absolute 1e-7 tolerance. ``tests/test_facilities_model.py::test_highs_presolve_workaround``
keeps the case."""

DEFAULT_OPTIONS = SolveOptions(mip_rel_gap=1e-6)
"""Facility solves default to a 1e-6 relative gap (cost-sharing certificates need it)."""


def highs_options(options: SolveOptions) -> SolveOptions:
    """``options`` with the presolve workaround added (unless the caller set the rule mask)."""
    if "presolve_rule_off" in options.extra:
        return options
    return replace(options, extra={**options.extra, "presolve_rule_off": PRESOLVE_RULE_OFF})
