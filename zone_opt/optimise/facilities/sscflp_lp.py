"""Single-source facility location: the root LP, the kernel MIP over the arcs the
relaxation favours, and the conversions between assignments and column vectors."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.build import FacilityMatrix
from zone_opt.optimise.facilities.lagrange import SiteRelaxation
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.solver import HighsSolver, SolveOptions, SolveStatus

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

KERNEL_ARCS = 6
"""Arcs per customer in the kernel: its cheapest by reduced cost among the kernel sites."""


@dataclass(frozen=True)
class _RootLp:
    """The strong LP relaxation: its value, the demand rows' duals (multipliers), the
    sites' and arcs' values and reduced costs, arcs as (m, n) arrays (``inf``/0 off-model)."""

    value: float
    u: F64
    y: F64
    y_reduced: F64
    x: F64
    x_reduced: F64


def _root_lp(
    fm: FacilityMatrix, rel: SiteRelaxation, options: SolveOptions, end: float
) -> _RootLp | None:
    """Solve the strong LP with HiGHS (None if it does not finish by ``end``)."""
    left = end - time.perf_counter()
    if left < 0.05:
        return None
    solver = HighsSolver(replace(fm.model, integer=None))
    sol = solver.solve(
        replace(options, time_limit_s=left if math.isfinite(left) else None, progress=None)
    )
    if (
        sol.status is not SolveStatus.OPTIMAL
        or sol.x is None
        or sol.row_dual is None
        or sol.col_dual is None
    ):
        return None
    m = fm.num_sites
    local, ok = _arc_customers(fm, rel)
    x = np.zeros((m, rel.n))
    rc = np.full((m, rel.n), math.inf)
    x[fm.arc_site[ok], local[ok]] = sol.x[m:][ok]
    rc[fm.arc_site[ok], local[ok]] = sol.col_dual[m:][ok]
    # Demand rows come first, one per customer with demand, in customer order.
    u = np.asarray(sol.row_dual[: rel.n], dtype=np.float64)
    return _RootLp(sol.objective, u, sol.x[:m].copy(), sol.col_dual[:m].copy(), x, rc)


def _proven(ub: float, bound: float, gap: float, integral: bool) -> bool:
    if not (math.isfinite(ub) and math.isfinite(bound)):
        return False
    return ub - bound <= gap * abs(ub) or (integral and ub - bound < 1.0 - 1e-6)


@dataclass(frozen=True)
class _Guide:
    """What the relaxations say about where good plans lie: ``red`` (m, n) the arcs' reduced
    costs at the best multipliers, ``y_avg`` (m,) the smoothed site choice of the ascent,
    ``lp`` the root LP (None if not solved)."""

    red: F64
    y_avg: F64
    lp: _RootLp | None


def _kernel(
    fm: FacilityMatrix,
    rel: SiteRelaxation,
    a: I64,
    guide: _Guide,
    *,
    options: SolveOptions,
    end: float,
) -> I64 | None:
    """A better plan from HiGHS on a small restricted MIP (a kernel, after Guastaroba &
    Speranza 2014): the incumbent's sites plus those the relaxation kept opening, and per
    customer its :data:`KERNEL_ARCS` cheapest arcs by reduced cost there plus its incumbent
    arc. A heuristic: it proves nothing about the whole problem. None if no better plan."""
    left = end - time.perf_counter()
    if left < 0.05:
        return None
    m, n = rel.m, rel.n
    red, y_avg, lp = guide.red, guide.y_avg, guide.lp
    sites = (y_avg > 0.02) | np.isin(np.arange(m), a)
    score = np.where(sites[:, None] & np.isfinite(rel.cost), red, math.inf)
    k = min(KERNEL_ARCS, int(sites.sum()))
    keep = np.zeros((m, n), dtype=bool)
    near = np.argpartition(score, k - 1, axis=0)[:k]
    keep[near, np.arange(n)[None, :]] = True
    keep &= np.isfinite(score)
    if lp is not None:
        keep |= lp.x > 1e-6
    keep[a, np.arange(n)] = True
    solver = HighsSolver(fm.model)
    local, ok = _arc_customers(fm, rel)
    drop = ~(keep[fm.arc_site, np.maximum(local, 0)] & ok)
    solver.set_col_bounds(fm.num_sites + np.flatnonzero(drop), 0.0, 0.0)
    closed = np.flatnonzero(~sites)
    if closed.size:
        solver.set_col_bounds(closed, 0.0, 0.0)
    solver.set_start(_column_vector(fm, rel, a))
    sol = solver.solve(
        highs_options(replace(options, time_limit_s=left, progress=None, mip_rel_gap=1e-6))
    )
    if sol.x is None or not sol.status.has_solution:
        return None
    return _assignment(fm, rel, sol.x)


def _arc_customers(fm: FacilityMatrix, rel: SiteRelaxation) -> tuple[I64, B]:
    """Each model arc's customer index in the relaxation (and whether it has one)."""
    park_of = -np.ones(fm.problem.num_demand, dtype=np.int64)
    park_of[rel.parks] = np.arange(rel.n)
    local = park_of[fm.arc_demand]
    return local, local >= 0


def _assignment(fm: FacilityMatrix, rel: SiteRelaxation, x: F64) -> I64 | None:
    """The plan (site per customer) of a model column vector; None if some customer is not
    served by exactly one arc."""
    local, ok = _arc_customers(fm, rel)
    on = (x[fm.num_sites :] > 0.5) & ok
    a = np.full(rel.n, -1, dtype=np.int64)
    a[local[on]] = fm.arc_site[on]
    if (a < 0).any() or np.bincount(local[on], minlength=rel.n).max() != 1:
        return None
    return a


def _column_vector(fm: FacilityMatrix, rel: SiteRelaxation, a: I64) -> F64:
    """The model's column vector of plan ``a`` (sites open iff used)."""
    m = fm.num_sites
    xcol = np.zeros(m + fm.num_arcs)
    park_of = -np.ones(fm.problem.num_demand, dtype=np.int64)
    park_of[rel.parks] = np.arange(rel.n)
    local = park_of[fm.arc_demand]
    hit = (local >= 0) & (a[np.maximum(local, 0)] == fm.arc_site)
    xcol[m:][hit] = 1.0
    xcol[np.unique(a)] = 1.0
    return xcol
