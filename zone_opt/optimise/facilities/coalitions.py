"""Coalition costs c(S): the optimal facility plan for the parks in S alone.

All sites stay available to every coalition; only demand is restricted. Evaluating many
coalitions reuses work three ways:

* each coalition gets its own compact model (only its parks' rows and arcs, assembled by
  :func:`.build_matrix` in ~1 ms): its cold root LP costs what a warm start of the full model
  restricted by bounds costs, and every node LP after it is proportionally smaller;
* coalitions are solved from the largest down, each starting from a solution of a
  one-park-larger coalition cut down to S (feasible for S, so an upper bound at once);
* levels are split across ``workers`` threads (HiGHS releases the GIL while it solves).

Splittable coalitions are solved by a best-first branch and bound on the site variables
over the strong LP (:mod:`.sitebb`); a coalition past the node limit
(and every single-source one) goes to the HiGHS MIP, started from the best plan found.
Costs are monotone (c(T) <= c(S) for T within S), so lower bounds of subsets are kept too.
"""

from __future__ import annotations

import functools
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
from zone_opt.optimise.facilities.sitebb import branch_on_sites
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

    def value(self, mask: int, *, keep_solution: bool = False) -> CoalitionValue:
        """c(mask), solved once and cached. The empty coalition costs 0."""
        if mask == 0:
            return CoalitionValue(0.0, 0.0, SolveStatus.OPTIMAL)
        cached = self._cache.get(mask)
        if cached is not None:
            return cached
        sub = _Compact(self, mask)
        start = self._start_for(mask)
        start_x = None if start is None else sub.start(self._trim(start, sub.members))
        found = None
        if not self.problem.single_source:
            search = branch_on_sites(
                sub.fm, self.options, start=start_x, node_limit=self.node_limit
            )
            if search.status in (SolveStatus.OPTIMAL, SolveStatus.INFEASIBLE):
                found = CoalitionValue(search.objective, search.bound, search.status), search.x
            elif search.x is not None:
                start_x = search.x
        if found is None:
            found = self._mip(sub.fm, start_x)
        out, x = found
        if out.status.has_solution:
            out = CoalitionValue(
                out.cost_cny, max(out.bound_cny, self._sub_bound(mask)), out.status
            )
        with self._lock:
            self._cache[mask] = out
            self.solves += 1
            if keep_solution and x is not None:
                self._solutions[mask] = sub.full(x)
        return out

    def _value_kept(self, mask: int, keep: bool) -> CoalitionValue:
        return self.value(mask, keep_solution=keep)

    def _trim(self, x: F64, members: NDArray[np.bool_]) -> F64:
        """A larger coalition's plan cut down to ``members``, closing the sites it no
        longer uses (still feasible, cheaper). Full-model indexing."""
        m = self.fm.num_sites
        out = self.fm.restricted_start(x, members)
        used = np.zeros(m, dtype=bool)
        used[self.fm.arc_site[out[m:] > 1e-12]] = True
        out[:m] = np.where(used, np.round(out[:m]), 0.0)
        return out

    def _mip(self, fm: FacilityMatrix, start: F64 | None) -> tuple[CoalitionValue, F64 | None]:
        solver = HighsSolver(fm.model)
        if start is not None:
            solver.set_start(start)
        sol = solver.solve(self.options)
        if not sol.status.has_solution:
            return CoalitionValue(float("inf"), float("inf"), sol.status), None
        return CoalitionValue(sol.objective, sol.bound, sol.status), sol.x

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


class _Compact:
    """One coalition's own model: only its parks' demand rows and arcs.

    :func:`.build_matrix` enumerates arcs park-major, so the coalition's arcs are the full
    model's arcs of its parks in the same order; plans move between the two by indexing.
    """

    def __init__(self, cc: CoalitionCosts, mask: int) -> None:
        self.members = cc.members(mask)
        self.num_sites = cc.fm.num_sites
        self.num_full = cc.fm.model.num_cols
        self.arcs = np.flatnonzero(self.members[cc.fm.arc_demand])
        self.fm = build_matrix(cc.problem.restrict(np.flatnonzero(self.members)))
        if not np.array_equal(self.fm.arc_site, cc.fm.arc_site[self.arcs]):
            raise RuntimeError("coalition model arcs differ from the full model's")

    def start(self, full_x: F64) -> F64:
        """A full-model plan as a plan of this model (its parks' arcs only)."""
        m = self.num_sites
        return np.concatenate([full_x[:m], full_x[m + self.arcs]])

    def full(self, x: F64) -> F64:
        """This model's plan in full-model indexing (other parks' arcs at 0)."""
        m = self.num_sites
        out = np.zeros(self.num_full)
        out[:m] = x[:m]
        out[m + self.arcs] = x[m:]
        return out
