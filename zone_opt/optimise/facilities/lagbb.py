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
from zone_opt.optimise.facilities.lagrange import Ascent, AscentSchedule, SiteRelaxation
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


FIRST_ASCENT = AscentSchedule(iterations=400, step=2.0, stall_limit=20, min_step=1e-3)
"""The first ascent, from the starting multipliers before any plan exists."""
ROOT_ASCENT = AscentSchedule(iterations=300, step=1.0, stall_limit=20, min_step=1e-3)
"""The root's ascent, from the first ascent's multipliers towards the first plan's cutoff."""
LEAF_ASCENT = AscentSchedule(iterations=15, step=0.5, stall_limit=3)
"""The short ascent that tries to prove an enumerated completion worse than the cutoff."""


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
    rel = SiteRelaxation(problem)
    tr = Transport(rel, problem.budget_cny)
    state = _State(rel, tr, options.mip_rel_gap, started, options)
    if not np.isfinite(rel.cost[rel.s > 0]).any(axis=0).all():
        return state.result(SolveStatus.INFEASIBLE, math.inf)  # a park no site can serve
    lo0, hi0 = np.zeros(rel.m, dtype=bool), np.ones(rel.m, dtype=bool)  # no site fixed
    first = rel.ascent(rel.start(), lo0, hi0, FIRST_ASCENT, target=math.inf, deadline=deadline)
    if not math.isfinite(first.bound):
        return state.result(SolveStatus.INFEASIBLE, first.bound)
    root = _root(state, first, deadline)
    node_ascent = AscentSchedule(iterations=node_iterations, step=0.5, stall_limit=5)
    search = _Search(state, problem.budget_cny, deadline, enumerate_free, node_ascent)
    return search.run(root)


def _root(state: _State, first: Ascent, deadline: float) -> Ascent:
    """The root bound: a first plan by local search from the sites the first ascent opens,
    then an ascent from its multipliers towards that plan's cutoff (kept if better)."""
    rel = state.rel
    state.frontier = first.bound
    state.offer(state.tr.local_search(first.y > 1e-9, deadline=deadline))
    state.heuristic_s = time.perf_counter() - state.started
    state.first_objective = state.ub
    root = rel.ascent(
        first.u,
        np.zeros(rel.m, dtype=bool),
        np.ones(rel.m, dtype=bool),
        ROOT_ASCENT,
        target=state.cutoff,
        cutoff=state.cutoff,
        deadline=deadline,
    )
    if root.bound < first.bound:
        root = first
    state.root_bound = root.bound
    return root


class _Search:
    """The best-first search over the nodes below the root."""

    def __init__(
        self,
        state: _State,
        budget_cny: float | None,
        deadline: float,
        enumerate_free: int,
        node_ascent: AscentSchedule,
    ) -> None:
        self.state = state
        self.budget_cny = budget_cny
        self.deadline = deadline
        self.enumerate_free = enumerate_free
        self.node_ascent = node_ascent
        self.heap: list[_Node] = []
        self.order = 1

    def run(self, root: Ascent) -> LagrangianSearch:
        """Take nodes best bound first until none is left, time runs out or the caller
        cancels. The root's bound is ``root`` (already computed)."""
        state, heap = self.state, self.heap
        m = state.rel.m
        heapq.heappush(
            heap, _Node(root.bound, 0, np.zeros(m, dtype=bool), np.ones(m, dtype=bool), root.u)
        )
        pre: Ascent | None = root
        while heap:
            current = heapq.heappop(heap)
            # Best first, and a child's bound is never below its parent's: this is the least
            # bound of all open nodes.
            state.frontier = max(state.frontier, current.bound)
            if current.bound >= state.cutoff:
                state.prune(current.bound)
                continue
            stop = self._interrupted()
            if stop is not None:
                heap.append(current)
                return state.stopped(stop, heap)
            state.nodes += 1
            asc = pre or self._bound(current)
            pre = None
            stopped = self._expand(current, asc)
            if stopped is not None:
                return stopped
        if state.best is None:
            return state.result(SolveStatus.INFEASIBLE, math.inf)
        return state.result(SolveStatus.OPTIMAL, min(state.ub, state.lowest_pruned))

    def _interrupted(self) -> SolveStatus | None:
        cancel = self.state.options.cancel
        if cancel is not None and cancel.is_set():
            return SolveStatus.CANCELLED
        if time.perf_counter() > self.deadline:
            return SolveStatus.TIME_LIMIT
        return None

    def _bound(self, node: _Node) -> Ascent:
        """The node's Lagrangian bound, warm-started at its parent's multipliers."""
        cutoff = self.state.cutoff
        return self.state.rel.ascent(
            node.u,
            node.lo,
            node.hi,
            self.node_ascent,
            target=cutoff,
            cutoff=cutoff,
            deadline=self.deadline,
        )

    def _expand(self, node: _Node, asc: Ascent) -> LagrangianSearch | None:
        """Prune, improve the plan, fix by penalties, then enumerate or branch. Returns the
        result if the search has to stop here (out of time within an enumeration)."""
        state = self.state
        if asc.bound >= state.cutoff:
            state.prune(asc.bound)
            return None
        sites = asc.y > 1e-9
        plan = state.tr.solve(sites)
        if plan is not None and plan.cost < state.ub:
            state.offer(state.tr.local_search(sites, deadline=self.deadline))
        lo, hi = self._fix_by_penalties(node, asc)
        if self.budget_cny is not None and float(state.rel.f @ lo) > self.budget_cny:
            return None  # no plan keeps these sites open within the budget
        free = np.flatnonzero(hi & ~lo)
        if free.size <= self.enumerate_free:
            left = state.enumerate(lo, free, asc, self.deadline)
            if left < math.inf:  # out of time with completions unsolved
                self.heap.append(_Node(left, 0, lo, hi, asc.u))
                return state.stopped(SolveStatus.TIME_LIMIT, self.heap)
            return None
        self._branch(lo, hi, free, asc)
        return None

    def _fix_by_penalties(self, node: _Node, asc: Ascent) -> tuple[B, B]:
        """Fix each free site whose flip alone lifts the bound to the cutoff; returns the
        node's (lo, hi) after fixing."""
        state, lo, hi = self.state, node.lo, node.hi
        lifted = asc.bound + state.rel.penalties(asc.v, asc.y, lo, hi)
        fix = (hi & ~lo) & (lifted >= state.cutoff)
        if fix.any():
            state.prune(float(lifted[fix].min()))
            chosen = asc.y > 0.5
            lo = lo | (fix & chosen)
            hi = hi & ~(fix & ~chosen)
        return lo, hi

    def _branch(self, lo: B, hi: B, free: NDArray[np.intp], asc: Ascent) -> None:
        """Two children on the free site whose smoothed relaxation value is closest to 1/2."""
        score = np.abs(asc.y_average[free] - 0.5)
        i = int(free[np.argmin(score)])
        for value in (True, False):
            clo, chi = lo.copy(), hi.copy()
            if value:
                clo[i] = True
            else:
                chi[i] = False
            heapq.heappush(self.heap, _Node(asc.bound, self.order, clo, chi, asc.u))
            self.order += 1


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
                    asc.u, ys[c], ys[c], LEAF_ASCENT, target=self.cutoff, cutoff=self.cutoff
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
