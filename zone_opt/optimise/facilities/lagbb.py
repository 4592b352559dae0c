"""Lagrangian branch and bound on the sites (Görtz & Klose 2012), splittable single type.

Every node is a set of sites fixed open (``lo``) or closed (``~hi``). Its bound is the
Lagrangian bound of :mod:`.lagrange` under those fixings, from a subgradient ascent
warm-started at the parent's multipliers; no LP over the 10^5 arcs is ever solved. Per node:

1. prune if the bound reaches the cutoff ``UB (1 - gap)``;
2. primal side: the sites the relaxation opens give a plan through the exact transportation
   LP (:mod:`.transport`); a plan better than the incumbent is improved by local search;
3. penalties: a free site whose flip alone lifts the bound to the cutoff is fixed;
4. with at most ``enumerate_free`` free sites left, every completion is bounded with the
   node's multipliers (``sum u + v . y``) and the ones below the cutoff are solved exactly
   by the transportation LP; otherwise branch on the free site whose smoothed relaxation
   value is closest to 1/2. Nodes are taken best bound first.

The bound returned is the least of the incumbent and of every discarded part's bound (a
Lagrangian bound, valid for any multipliers, or an exact transportation LP value), so
``status`` OPTIMAL means ``(objective - bound) <= gap * objective`` with a valid ``bound``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import CancelledError
from zone_opt.optimise.facilities.lagrange import Ascent, SiteRelaxation
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.transport import Transport, TransportPlan
from zone_opt.optimise.solver import Progress, SolveOptions, SolveStatus

__all__ = ["LagrangianSearch", "lagrangian_branch_and_bound"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class LagrangianSearch:
    """The outcome of :func:`lagrangian_branch_and_bound`.

    ``status``: OPTIMAL (within the gap), INFEASIBLE, FEASIBLE (time limit with a plan),
    TIME_LIMIT (without one) or CANCELLED. ``sites`` the best plan's open sites (None if
    none), ``objective`` its cost, ``bound`` a proven lower bound on the optimum.
    """

    status: SolveStatus
    objective: float
    bound: float
    sites: B | None
    nodes: int
    transport_lps: int
    root_bound: float
    first_objective: float
    heuristic_s: float


@dataclass(order=True)
class _Node:
    bound: float
    order: int
    lo: B = field(compare=False)
    hi: B = field(compare=False)
    u: F64 = field(compare=False)


def lagrangian_branch_and_bound(
    problem: FacilityProblem,
    options: SolveOptions,
    *,
    enumerate_free: int = 4,
    node_iterations: int = 60,
) -> LagrangianSearch:
    """Solve a splittable one-type problem to ``options.mip_rel_gap`` (or its time limit).

    Honours ``time_limit_s``, ``cancel`` (polled between nodes; set before the start it
    raises ``CancelledError``) and ``progress`` (called on every improved plan). Cost per
    node: ``node_iterations`` relaxation evaluations (O(m n + k log k) each) and a few
    cached transportation LPs.
    """
    if options.cancel is not None and options.cancel.is_set():
        raise CancelledError("solve cancelled before it started")
    started = time.perf_counter()
    deadline = math.inf if options.time_limit_s is None else started + options.time_limit_s
    gap = options.mip_rel_gap
    rel = SiteRelaxation(problem)
    tr = Transport(rel, problem.budget_cny)
    m = rel.m
    lo0 = np.zeros(m, dtype=bool)
    hi0 = np.ones(m, dtype=bool)
    state = _State(rel, tr, gap, started, options)
    if not np.isfinite(rel.cost[rel.s > 0]).any(axis=0).all():
        return state.result(SolveStatus.INFEASIBLE, math.inf)  # a park no site can serve

    first = rel.ascent(
        rel.start(),
        lo0,
        hi0,
        target=math.inf,
        iterations=400,
        step=2.0,
        stall_limit=20,
        min_step=1e-3,
        deadline=deadline,
    )
    if not math.isfinite(first.bound):
        return state.result(SolveStatus.INFEASIBLE, first.bound)
    state.frontier = first.bound
    state.offer(tr.local_search(first.y > 1e-9, deadline=deadline))
    state.heuristic_s = time.perf_counter() - started
    state.first_objective = state.ub
    root = rel.ascent(
        first.u,
        lo0,
        hi0,
        target=state.cutoff,
        cutoff=state.cutoff,
        iterations=300,
        step=1.0,
        stall_limit=20,
        min_step=1e-3,
        deadline=deadline,
    )
    if root.bound < first.bound:
        root = first
    state.root_bound = root.bound
    heap: list[_Node] = []
    node: _Node | None = _Node(root.bound, 0, lo0, hi0, root.u)
    pre: Ascent | None = root
    order = 1
    while node is not None or heap:
        if node is None:
            node = heapq.heappop(heap)
        current, node = node, None
        # Best first, and a child's bound is never below its parent's: this is the least
        # bound of all open nodes.
        state.frontier = max(state.frontier, current.bound)
        if current.bound >= state.cutoff:
            state.prune(current.bound)
            continue
        if options.cancel is not None and options.cancel.is_set():
            heap.append(current)
            return state.stopped(SolveStatus.CANCELLED, heap)
        if time.perf_counter() > deadline:
            heap.append(current)
            return state.stopped(SolveStatus.TIME_LIMIT, heap)
        state.nodes += 1
        lo, hi = current.lo, current.hi
        asc = pre or rel.ascent(
            current.u,
            lo,
            hi,
            target=state.cutoff,
            cutoff=state.cutoff,
            iterations=node_iterations,
            step=0.5,
            stall_limit=5,
            deadline=deadline,
        )
        pre = None
        if asc.bound >= state.cutoff:
            state.prune(asc.bound)
            continue
        sites = asc.y > 1e-9
        plan = tr.solve(sites)
        if plan is not None and plan.cost < state.ub:
            state.offer(tr.local_search(sites, deadline=deadline))
        pen = rel.penalties(asc.v, asc.y, lo, hi)
        lifted = asc.bound + pen
        fix = (hi & ~lo) & (lifted >= state.cutoff)
        if fix.any():
            state.prune(float(lifted[fix].min()))
            chosen = asc.y > 0.5
            lo = lo | (fix & chosen)
            hi = hi & ~(fix & ~chosen)
        if problem.budget_cny is not None and float(rel.f @ lo) > problem.budget_cny:
            continue  # no plan keeps these sites open within the budget
        free = np.flatnonzero(hi & ~lo)
        if free.size <= enumerate_free:
            left = state.enumerate(lo, free, asc, deadline)
            if left < math.inf:  # out of time with completions unsolved
                heap.append(_Node(left, 0, lo, hi, asc.u))
                return state.stopped(SolveStatus.TIME_LIMIT, heap)
            continue
        score = np.abs(asc.y_average[free] - 0.5)
        i = int(free[np.argmin(score)])
        for value in (True, False):
            clo, chi = lo.copy(), hi.copy()
            if value:
                clo[i] = True
            else:
                chi[i] = False
            heapq.heappush(heap, _Node(asc.bound, order, clo, chi, asc.u))
            order += 1
    if state.best is None:
        return state.result(SolveStatus.INFEASIBLE, math.inf)
    return state.result(SolveStatus.OPTIMAL, min(state.ub, state.lowest_pruned))


class _State:
    """Incumbent, cutoff and the least bound of everything discarded so far."""

    def __init__(
        self,
        rel: SiteRelaxation,
        tr: Transport,
        gap: float,
        started: float,
        options: SolveOptions,
    ) -> None:
        self.rel, self.tr, self.gap = rel, tr, gap
        self.started = started
        self.options = options
        self.best: TransportPlan | None = None
        self.ub = math.inf
        self.cutoff = math.inf
        self.lowest_pruned = math.inf
        self.nodes = 0
        self.leaf_iterations = 15
        self.frontier = -math.inf
        """A lower bound on every open node (for progress reports)."""
        self.root_bound = -math.inf
        self.first_objective = math.inf
        self.heuristic_s = 0.0

    def prune(self, bound: float) -> None:
        self.lowest_pruned = min(self.lowest_pruned, bound)

    def offer(self, plan: TransportPlan | None) -> None:
        if plan is None or plan.cost >= self.ub:
            return
        self.best, self.ub = plan, plan.cost
        # A hair inside the gap, so the plan's cost re-read by another LP (tolerance ~1e-9)
        # still meets the requested gap.
        self.cutoff = self.ub - 0.999 * self.gap * abs(self.ub)
        if self.options.progress is not None:
            low = min(self.ub, self.lowest_pruned, self.frontier)
            self.options.progress(
                Progress(
                    incumbent=self.ub,
                    bound=low,
                    gap=max(0.0, (self.ub - low) / max(abs(self.ub), 1e-9)),
                    elapsed_s=time.perf_counter() - self.started,
                    nodes=self.nodes,
                )
            )

    def enumerate(self, lo: B, free: NDArray[np.intp], asc: Ascent, deadline: float) -> float:
        """Solve a node with few free sites by bounding all completions; returns ``inf``
        when done, else (out of time) the least bound among the unsolved completions."""
        tr = self.tr
        combos = np.array(list(itertools.product((False, True), repeat=free.size)), dtype=bool)
        ys = np.tile(lo, (combos.shape[0], 1))
        ys[:, free] = combos.reshape(combos.shape[0], free.size)
        bounds = float(asc.u.sum()) + ys.astype(np.float64) @ asc.v
        ok = np.array([tr.feasible(y) for y in ys], dtype=bool)
        todo = np.flatnonzero(ok)[np.argsort(bounds[ok], kind="stable")]
        for pos, c in enumerate(todo):
            if bounds[c] >= self.cutoff:
                self.prune(float(bounds[c]))
                break
            if time.perf_counter() > deadline:
                return float(bounds[todo[pos:]].min())
            if not tr.cached(ys[c]):
                # A short ascent with every site fixed (only those sites' knapsacks) often
                # proves the completion worse than the cutoff without its LP.
                leaf = self.rel.ascent(
                    asc.u,
                    ys[c],
                    ys[c],
                    target=self.cutoff,
                    cutoff=self.cutoff,
                    iterations=self.leaf_iterations,
                    step=0.5,
                    stall_limit=3,
                )
                if leaf.bound >= self.cutoff:
                    self.prune(leaf.bound)
                    continue
            plan = tr.solve(ys[c])
            if plan is None:
                continue  # these sites cannot serve every park
            self.prune(plan.cost)  # the completion's exact value
            self.offer(plan)
        return math.inf

    def result(self, status: SolveStatus, bound: float) -> LagrangianSearch:
        return LagrangianSearch(
            status=status,
            objective=self.ub,
            bound=bound,
            sites=None if self.best is None else self.best.open,
            nodes=self.nodes,
            transport_lps=self.tr.calls,
            root_bound=self.root_bound,
            first_objective=self.first_objective,
            heuristic_s=self.heuristic_s,
        )

    def stopped(self, status: SolveStatus, heap: list[_Node]) -> LagrangianSearch:
        bound = min([self.ub, self.lowest_pruned] + [n.bound for n in heap])
        if status is SolveStatus.TIME_LIMIT and self.best is not None:
            status = SolveStatus.FEASIBLE
        return self.result(status, bound)
