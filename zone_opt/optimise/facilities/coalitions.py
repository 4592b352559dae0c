"""Coalition costs c(S): the optimal facility plan for the parks in S alone.

All sites stay available to every coalition; only demand is restricted. Evaluating many
coalitions reuses work three ways:

* one HiGHS model per worker thread, restricted in place (demand rows and arc bounds), never
  rebuilt;
* coalitions are solved from the largest down, each starting from a solution of a
  one-park-larger coalition cut down to S (feasible for S, so an upper bound at once);
* levels are split across ``workers`` threads (HiGHS releases the GIL while it solves).

Costs are monotone (c(T) <= c(S) for T within S), so lower bounds of subsets are kept too.
"""

from __future__ import annotations

import functools
import heapq
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.solver import HighsSolver, SolveOptions, SolveStatus

__all__ = ["CoalitionCosts", "CoalitionValue", "popcount"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class CoalitionValue:
    """c(S) for one coalition: objective (upper bound) and proven lower bound, CNY."""

    cost_cny: float
    bound_cny: float
    status: SolveStatus


def popcount(masks: NDArray[np.int64]) -> NDArray[np.int64]:
    """Number of set bits of each mask. O(len * 64)."""
    out = np.zeros(masks.shape, dtype=np.int64)
    work = masks.copy()
    while work.any():
        out += work & 1
        work >>= 1
    return out


class CoalitionCosts:
    """Evaluates and caches c(S) for coalitions of players given as bit masks.

    ``players`` maps each demand id of ``problem`` to a player (park) name; every demand
    point must belong to one player. Bit k of a mask is ``self.players[k]``.
    """

    def __init__(
        self,
        problem: FacilityProblem,
        players: Mapping[str, str],
        *,
        options: SolveOptions | None = None,
        workers: int = 2,
    ) -> None:
        missing = [d for d in problem.demand_ids if d not in players]
        if missing:
            raise InvalidInputError.single(
                "players", None, f"demand points without a player: {missing[:5]}"
            )
        unknown = [d for d in players if d not in set(problem.demand_ids)]
        if unknown:
            raise InvalidInputError.single("players", None, f"unknown demand ids: {unknown[:5]}")
        names: list[str] = []
        for d in problem.demand_ids:
            if players[d] not in names:
                names.append(players[d])
        self.problem = problem
        self.players: tuple[str, ...] = tuple(names)
        self.owner = np.array([names.index(players[d]) for d in problem.demand_ids], dtype=np.int64)
        self.fm: FacilityMatrix = build_matrix(problem)
        base = options or SolveOptions(mip_rel_gap=1e-6)
        self.options = highs_options(replace(base, threads=1, progress=None))
        self.workers = max(1, int(workers))
        self._cache: dict[int, CoalitionValue] = {}
        self._solutions: dict[int, F64] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.solves = 0
        self.node_limit = 400

    @property
    def num_players(self) -> int:
        return len(self.players)

    @property
    def grand(self) -> int:
        return (1 << self.num_players) - 1

    def members(self, mask: int) -> NDArray[np.bool_]:
        """Which demand points belong to the coalition ``mask``."""
        bits = np.array([(mask >> k) & 1 for k in range(self.num_players)], dtype=bool)
        return np.asarray(bits[self.owner])

    def _solver(self, lp: bool) -> HighsSolver:
        key = "lp" if lp else "mip"
        solver: HighsSolver | None = getattr(self._local, key, None)
        if solver is None:
            model = replace(self.fm.model, integer=None) if lp else self.fm.model
            solver = HighsSolver(model)
            setattr(self._local, key, solver)
        return solver

    def value(self, mask: int, *, keep_solution: bool = False) -> CoalitionValue:
        """c(mask), solved once and cached. The empty coalition costs 0."""
        if mask == 0:
            return CoalitionValue(0.0, 0.0, SolveStatus.OPTIMAL)
        cached = self._cache.get(mask)
        if cached is not None:
            return cached
        members = self.members(mask)
        start = self._start_for(mask)
        start_x = None if start is None else self._trim(self.fm.restricted_start(start, members))
        found = None
        if not self.problem.single_source:
            found = self._branch_and_bound(members, start_x)
        if found is None:
            found = self._mip(members, start_x)
        out, x = found
        if out.status.has_solution:
            out = CoalitionValue(
                out.cost_cny, max(out.bound_cny, self._sub_bound(mask)), out.status
            )
        with self._lock:
            self._cache[mask] = out
            self.solves += 1
            if keep_solution and x is not None:
                self._solutions[mask] = x
        return out

    def _value_kept(self, mask: int, keep: bool) -> CoalitionValue:
        return self.value(mask, keep_solution=keep)

    def _trim(self, x: F64) -> F64:
        """Close sites a restricted start no longer uses (still feasible, cheaper)."""
        m = self.fm.num_sites
        used = np.zeros(m, dtype=bool)
        used[self.fm.arc_site[x[m:] > 1e-12]] = True
        out = x.copy()
        out[:m] = np.where(used, np.round(x[:m]), 0.0)
        return out

    def _restrict(self, solver: HighsSolver, members: NDArray[np.bool_]) -> None:
        (rows, rlo, rhi), (cols, clo, chi) = self.fm.coalition_bounds(members)
        solver.set_row_bounds(rows, rlo, rhi)
        solver.set_col_bounds(cols, clo, chi)

    def _mip(
        self, members: NDArray[np.bool_], start: F64 | None
    ) -> tuple[CoalitionValue, F64 | None]:
        solver = self._solver(lp=False)
        self._restrict(solver, members)
        if start is not None:
            solver.set_start(start)
        sol = solver.solve(self.options)
        if not sol.status.has_solution:
            return CoalitionValue(float("inf"), float("inf"), sol.status), None
        return CoalitionValue(sol.objective, sol.bound, sol.status), sol.x

    def _branch_and_bound(
        self, members: NDArray[np.bool_], start: F64 | None
    ) -> tuple[CoalitionValue, F64 | None] | None:
        """Best-first branch and bound on the site variables over one warm-started LP.

        Splittable demand only (x continuous), so a node with integral y is feasible. The
        strong LP is tight on these models: most coalitions close at the root, for ~1/10 of
        a cold HiGHS MIP solve. Returns None past the node limit (the caller then runs the
        HiGHS MIP from the best solution found).
        """
        solver = self._solver(lp=True)
        self._restrict(solver, members)
        m = self.fm.num_sites
        cost = self.fm.model.cost
        fixed = cost[:m]
        ycols = np.arange(m)
        gap = self.options.mip_rel_gap
        best = float("inf")
        best_x: F64 | None = None
        if start is not None:
            best, best_x = float(cost @ start), start
        lowest_pruned = float("inf")
        heap: list[tuple[float, int, F64, F64]] = [(-float("inf"), 0, np.zeros(m), np.ones(m))]
        counter = 1
        nodes = 0
        lp_opts = SolveOptions(threads=1, presolve=False)
        while heap:
            parent, _, lo, hi = heapq.heappop(heap)
            if parent >= best - gap * abs(best):
                lowest_pruned = min(lowest_pruned, parent)
                continue
            nodes += 1
            if nodes > self.node_limit:
                heapq.heappush(heap, (parent, counter, lo, hi))
                return None
            solver.set_col_bounds(ycols, lo, hi)
            sol = solver.solve(lp_opts)
            if sol.status is SolveStatus.INFEASIBLE:
                continue
            if sol.x is None or sol.status is not SolveStatus.OPTIMAL:
                return None
            z = sol.objective
            if z >= best - gap * abs(best):
                lowest_pruned = min(lowest_pruned, z)
                continue
            y = sol.x[:m]
            frac = np.minimum(y, 1.0 - y)
            if frac.max() < 1e-7:
                best, best_x = z, sol.x.copy()
                best_x[:m] = np.round(y)
                continue
            # Rounding every fractional site up keeps the LP's x feasible.
            up = sol.x.copy()
            up[:m] = np.where(y > 1e-9, 1.0, 0.0)
            rounded = float(cost @ up)
            if rounded < best:
                best, best_x = rounded, up
            i = int(np.argmax(frac * (fixed + 1.0)))
            for value in (1.0, 0.0):
                clo, chi = lo.copy(), hi.copy()
                clo[i] = chi[i] = value
                heapq.heappush(heap, (z, counter, clo, chi))
                counter += 1
        solver.set_col_bounds(ycols, np.zeros(m), np.ones(m))
        if best_x is None:
            return CoalitionValue(float("inf"), float("inf"), SolveStatus.INFEASIBLE), None
        return CoalitionValue(best, min(best, lowest_pruned), SolveStatus.OPTIMAL), best_x

    def _start_for(self, mask: int) -> F64 | None:
        for k in range(self.num_players):
            bigger = mask | (1 << k)
            if bigger != mask and bigger in self._solutions:
                return self._solutions[bigger]
        return None

    def _sub_bound(self, mask: int) -> float:
        best = 0.0
        for k in range(self.num_players):
            smaller = mask & ~(1 << k)
            if smaller != mask and smaller in self._cache:
                best = max(best, self._cache[smaller].bound_cny)
        return best

    def evaluate(self, masks: Sequence[int]) -> list[CoalitionValue]:
        """Evaluate many coalitions: largest first, warm-started, spread over the workers."""
        todo = sorted(
            {int(m) for m in masks if m and int(m) not in self._cache}, key=_size, reverse=True
        )
        levels: dict[int, list[int]] = {}
        for m in todo:
            levels.setdefault(_size(m), []).append(m)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for size in sorted(levels, reverse=True):
                batch = levels[size]
                keep = size > 1
                list(pool.map(functools.partial(self._value_kept, keep=keep), batch))
                # Solutions two levels up are no longer needed as starts.
                with self._lock:
                    for m in [m for m in self._solutions if _size(m) > size]:
                        del self._solutions[m]
        with self._lock:
            self._solutions.clear()
        return [self.value(int(m)) for m in masks]

    def all_values(self) -> tuple[F64, F64]:
        """(cost, lower bound) arrays indexed by mask over all 2^p coalitions (p <= 16)."""
        p = self.num_players
        if p > 16:
            raise InvalidInputError.single(
                "players", None, f"{p} players: too many to enumerate all coalitions"
            )
        masks = list(range(1 << p))
        values = self.evaluate(masks)
        cost = np.array([v.cost_cny for v in values])
        bound = np.array([v.bound_cny for v in values])
        return cost, bound


def _size(mask: int) -> int:
    return int(mask).bit_count()
