"""Single-source CFLP, the Lagrangian side: the subgradient ascent (plans on the way, then
a sharper bound) and the penalty fixing that removes arcs and sites no better plan uses.
See :mod:`zone_opt.optimise.facilities.sscflp` for the method and the bound's validity."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.sscflp_lp import _RootLp
from zone_opt.optimise.facilities.sscflp_plans import _Knapsacks

if TYPE_CHECKING:
    from zone_opt.optimise.facilities.sscflp import _Incumbent, _Setup

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

FIX_COVER_SITES = 150
"""Up to this many sites the fixing's site choices are binary (:meth:`SiteRelaxation.cover`,
up to 4 M DP cells each, two per site); above it, their LP (O(m log m) each)."""
SHARPEN_SHARE = 0.05
"""Share of the time limit (of none without one: it stops when its steps vanish) for the
second ascent, with the binary site choice (the bound alone)."""


def _cutoff(ub: float, gap: float, integral: bool) -> float:
    """Plans at or above this value need not be found: within the gap of ``ub``, or (all
    costs integral) not at least 1 better."""
    cut = ub - gap * abs(ub)
    if integral:
        cut = min(cut, ub - 1.0 + 1e-4)
    return cut


@dataclass(frozen=True)
class _Lagrangian:
    """What the ascent leaves: the best bound ``L*`` and its multipliers, the smoothed site
    choice, the iterations used; not ``feasible`` if the sites cannot hold the demand."""

    bound: float
    u: F64
    y_avg: F64
    iterations: int
    feasible: bool = True


def _start(
    setup: _Setup, lp: _RootLp | None, sharpen: _Lagrangian | None
) -> tuple[float, F64, F64, float]:
    """Where an ascent starts: its deadline, multipliers, smoothed site choice and step
    factor (the first from the LP's duals if solved, the second from the first's best)."""
    if sharpen is not None:
        share = SHARPEN_SHARE * setup.limit
        deadline = min(setup.deadline, time.perf_counter() + share)
        return deadline, sharpen.u, sharpen.y_avg, 0.5
    if lp is None:
        return setup.lag_deadline, setup.rel.start(), np.zeros(setup.rel.m), 2.0
    return setup.lag_deadline, lp.u, lp.y.copy(), 0.5


def _ascent(
    setup: _Setup,
    knap: _Knapsacks,
    inc: _Incumbent,
    lp: _RootLp | None,
    *,
    sharpen: _Lagrangian | None = None,
) -> _Lagrangian:
    """Subgradient ascent (Polyak steps towards the incumbent) on the 0-1 knapsack
    relaxation.

    The first ascent (``sharpen`` None) lets the sites choose by the LP of the cover
    knapsack and repairs and improves the relaxed solution into plans every few steps. With
    ``sharpen`` (that ascent's result) it goes on from its best multipliers with the
    **binary** site choice (:meth:`SiteRelaxation.cover`), without repairs, for at most
    :data:`SHARPEN_SHARE` of the time limit: the stronger bound the proof and the fixing
    use. The result keeps the better bound with its multipliers and the first ascent's
    smoothed site choice (the kernel's guide)."""
    rel, options = setup.rel, setup.options
    m = rel.m
    lo = np.zeros(m, dtype=bool)
    hi = np.ones(m, dtype=bool)
    deadline, u, y_avg, step = _start(setup, lp, sharpen)
    sites = rel.choose if sharpen is None else rel.cover
    search_end = min(setup.deadline, deadline + 1.0)
    repair_every = 25 if setup.large else 10
    best_bound, best_u = -math.inf, u
    stall, it = 0, 0
    max_iter = 3000
    while it < max_iter:
        it += 1
        if options.cancel is not None and options.cancel.is_set():
            break
        v, x = knap.evaluate(u)
        value, y = sites(v, lo, hi)
        if not math.isfinite(value):
            return _Lagrangian(best_bound, best_u, y_avg, it, feasible=False)
        bound = float(u.sum()) + value
        if sharpen is None:
            y_avg = y if it == 1 and lp is None else 0.9 * y_avg + 0.1 * y
        if bound > best_bound + 1e-9 * abs(bound):
            best_bound, best_u, stall = bound, u, 0
        else:
            stall += 1
            if stall >= 12:
                step /= 2.0
                stall = 0
        if sharpen is None and (it <= 3 or it % repair_every == 0):
            a = inc.plans.repair(x, y)
            if a is not None:
                inc.offer(inc.plans.improve(a, search_end), best_bound)
        if step < 2e-3 or time.perf_counter() > deadline:
            break
        ub = inc.ub
        if math.isfinite(ub) and best_bound >= _cutoff(ub, setup.gap, setup.integral):
            break
        g = 1.0 - (x * y[:, None]).sum(axis=0)
        norm = float(g @ g)
        if norm < 1e-12:
            break
        target = ub if math.isfinite(ub) else best_bound + 0.02 * abs(best_bound)
        u = u + step * max(target - bound, 1e-6 * abs(bound)) / norm * g
    if sharpen is None:
        return _Lagrangian(best_bound, best_u, y_avg, it)
    if best_bound > sharpen.bound:
        return _Lagrangian(best_bound, best_u, y_avg, sharpen.iterations + it)
    return replace(sharpen, iterations=sharpen.iterations + it)


def _penalty_fixing(
    setup: _Setup, knap: _Knapsacks, u: F64, a: I64, *, lp: _RootLp | None, cutoff: float
) -> tuple[B, B, B]:
    """The arcs and sites that no plan below ``cutoff`` uses (Lagrangian penalties at
    multipliers ``u``, and LP reduced costs), and the sites every such plan opens; the arcs
    and sites of plan ``a`` are kept. Returns ``(arc_out, site_out, site_in)``."""
    rel = setup.rel
    m, n = rel.m, rel.n
    lo = np.zeros(m, dtype=bool)
    hi = np.ones(m, dtype=bool)
    v, _ = knap.evaluate(u)
    base = float(u.sum())
    # Two site choices per site: the binary one while that stays cheap, else its LP.
    sites = rel.cover if m <= FIX_COVER_SITES else rel.choose
    rest = np.empty(m)  # R_i: the site choice with i open, its own value left out
    close = np.empty(m)  # bound with site i closed
    for i in range(m):
        lo_i = lo.copy()
        lo_i[i] = True
        vv = v.copy()
        vv[i] = 0.0
        rest[i], _ = sites(vv, lo_i, hi)
        hi_i = hi.copy()
        hi_i[i] = False
        close[i], _ = sites(v, lo, hi_i)
    red = rel.cost - u[None, :]
    k_at = knap.at_capacity(rel.s[:, None] - rel.d[None, :])
    arc_bound = base + rel.f[:, None] + red + k_at + rest[:, None]
    open_bound = base + v + rest
    used = np.zeros((m, n), dtype=bool)
    used[a, np.arange(n)] = True
    in_plan = used.any(axis=1)
    site_out = open_bound >= cutoff
    site_in = base + close >= cutoff
    arc_out = (arc_bound >= cutoff) | ~np.isfinite(rel.cost)
    if lp is not None:
        # LP reduced-cost fixing: moving a column off its bound costs at least |rc|.
        z = lp.value - 1e-7 * max(1.0, abs(lp.value))
        arc_out |= (lp.x <= 1e-9) & (z + lp.x_reduced >= cutoff)
        site_out |= (lp.y <= 1e-9) & (z + lp.y_reduced >= cutoff)
        site_in |= (lp.y >= 1 - 1e-9) & (z - lp.y_reduced >= cutoff)
    site_out &= ~in_plan
    arc_out = (arc_out | site_out[:, None]) & ~used
    return arc_out, site_out, site_in
