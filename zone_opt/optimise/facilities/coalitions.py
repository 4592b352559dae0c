"""Coalition costs c(S): the optimal facility plan for the parks in S alone.

All sites stay available to every coalition; only demand is restricted. Evaluating many
coalitions reuses work three ways:

* each coalition gets its own compact model (only its parks' rows and arcs, assembled by
  :func:`.build_matrix` in ~1 ms): its cold root LP costs what a warm start of the full model
  restricted by bounds costs, and every node LP after it is proportionally smaller;
* coalitions are solved from the largest down, each starting from a solution of a
  one-park-larger coalition cut down to S (feasible for S, so an upper bound at once);
* each coalition size is one round of an :class:`~zone_opt.distributed.Executor`: threads
  here (HiGHS releases the GIL while it solves) or tasks on a Ray cluster.

The plan (which coalitions, level by level, each with which warm start) is made here, on
the driver; a task is the pure function :func:`solve_coalition` of the game and one
:class:`CoalitionTask`, so both backends give bitwise identical values.

Splittable coalitions are solved by a best-first branch and bound on the site variables
over the strong LP (:mod:`.sitebb`); a coalition past the node limit
(and every single-source one) goes to the HiGHS MIP, started from the best plan found.
Costs are monotone (c(T) <= c(S) for T within S), so lower bounds of subsets are kept too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from zone_opt.distributed.executor import Executor, LocalExecutor
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.sitebb import branch_on_sites
from zone_opt.optimise.solver import HighsSolver, SolveOptions, SolveStatus

__all__ = [
    "CoalitionCosts",
    "CoalitionGame",
    "CoalitionSolve",
    "CoalitionTask",
    "CoalitionValue",
    "popcount",
    "solve_coalition",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


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


@dataclass(frozen=True)
class CoalitionGame:
    """What every coalition solve of a round shares (sent once per round).

    ``owner``: the player index of each demand point; ``arc_site``/``arc_demand``: the full
    model's arcs, to check that a coalition's own model has the arcs the plan expects.
    """

    problem: FacilityProblem
    options: SolveOptions
    node_limit: int
    owner: I64
    arc_demand: I64
    arc_site: I64


@dataclass(frozen=True)
class CoalitionTask:
    """One coalition to solve: its mask, a warm start in its own model's indexing (a
    one-park-larger coalition's plan cut down to it) or None, and whether to return the
    plan (a start for the next round)."""

    mask: int
    start: F64 | None
    keep: bool


@dataclass(frozen=True)
class CoalitionSolve:
    """A task's answer: the solver's value (before lower bounds of subsets are applied)
    and, if asked to keep it, the plan in the coalition model's indexing."""

    mask: int
    value: CoalitionValue
    x: F64 | None


def members_of(owner: I64, mask: int, num_players: int) -> NDArray[np.bool_]:
    """Which demand points belong to the coalition ``mask``."""
    bits = np.array([(mask >> k) & 1 for k in range(num_players)], dtype=bool)
    return np.asarray(bits[owner])


def solve_coalition(game: CoalitionGame, task: CoalitionTask) -> CoalitionSolve:
    """c(S) for one coalition, from its own compact model: best-first branch and bound on
    the sites, then (past the node limit, or single sourcing) the HiGHS MIP started from
    the best plan found. A pure function of its arguments (a Ray task)."""
    num_players = int(game.owner.max()) + 1
    members = members_of(game.owner, task.mask, num_players)
    arcs = np.flatnonzero(members[game.arc_demand])
    fm = build_matrix(game.problem.restrict(np.flatnonzero(members)))
    if not np.array_equal(fm.arc_site, game.arc_site[arcs]):
        raise RuntimeError("coalition model arcs differ from the full model's")
    start_x = task.start
    found: tuple[CoalitionValue, F64 | None] | None = None
    if not game.problem.single_source:
        search = branch_on_sites(fm, game.options, start=start_x, node_limit=game.node_limit)
        if search.status in (SolveStatus.OPTIMAL, SolveStatus.INFEASIBLE):
            found = CoalitionValue(search.objective, search.bound, search.status), search.x
        elif search.x is not None:
            start_x = search.x
    if found is None:
        found = _mip(fm, game.options, start_x)
    value, x = found
    return CoalitionSolve(task.mask, value, x if task.keep else None)


def _mip(
    fm: FacilityMatrix, options: SolveOptions, start: F64 | None
) -> tuple[CoalitionValue, F64 | None]:
    solver = HighsSolver(fm.model)
    if start is not None:
        solver.set_start(start)
    sol = solver.solve(options)
    if not sol.status.has_solution:
        return CoalitionValue(float("inf"), float("inf"), sol.status), None
    return CoalitionValue(sol.objective, sol.bound, sol.status), sol.x


class CoalitionCosts:
    """Evaluates and caches c(S) for coalitions of players given as bit masks.

    ``players`` maps each demand id of ``problem`` to a player (park) name; every demand
    point must belong to one player. Bit k of a mask is ``self.players[k]``. Rounds of
    coalitions run on ``executor`` (default: ``workers`` threads of this process); the
    values do not depend on the executor or its size.
    """

    def __init__(
        self,
        problem: FacilityProblem,
        players: Mapping[str, str],
        *,
        options: SolveOptions | None = None,
        workers: int = 2,
        executor: Executor | None = None,
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
        self.executor: Executor = executor or LocalExecutor(max(1, int(workers)))
        self.workers = self.executor.workers
        self._cache: dict[int, CoalitionValue] = {}
        self._solutions: dict[int, F64] = {}
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
        return members_of(self.owner, mask, self.num_players)

    def value(self, mask: int, *, keep_solution: bool = False) -> CoalitionValue:
        """c(mask), solved once (here, on the calling thread) and cached. The empty
        coalition costs 0."""
        if mask == 0:
            return CoalitionValue(0.0, 0.0, SolveStatus.OPTIMAL)
        cached = self._cache.get(mask)
        if cached is not None:
            return cached
        (solved,) = self._round([mask], keep_solution, LocalExecutor(1))
        return solved

    def game(self, *, remote: bool = False) -> CoalitionGame:
        """The shared context of a round; ``remote``: without the cancel event (it cannot
        cross a process boundary)."""
        options = replace(self.options, cancel=None) if remote else self.options
        fm = self.fm
        return CoalitionGame(
            self.problem, options, self.node_limit, self.owner, fm.arc_demand, fm.arc_site
        )

    def plan(self, masks: Sequence[int], keep: bool) -> list[CoalitionTask]:
        """The tasks of one round: each coalition with its warm start (made from the kept
        plans of one-park-larger coalitions, the first by park order)."""
        out = []
        for mask in masks:
            start = self._start_for(mask)
            members = self.members(mask)
            start_x = None if start is None else self._compact(self._trim(start, members), members)
            out.append(CoalitionTask(mask, start_x, keep))
        return out

    def _round(self, masks: Sequence[int], keep: bool, executor: Executor) -> list[CoalitionValue]:
        """Solve ``masks`` (one coalition size) on ``executor``; record values and plans."""
        tasks = self.plan(masks, keep)
        solved = executor.map(solve_coalition, self.game(remote=executor.remote), tasks)
        out = []
        for s in solved:
            value = s.value
            if value.status.has_solution:
                bound = max(value.bound_cny, self._sub_bound(s.mask))
                value = CoalitionValue(value.cost_cny, bound, value.status)
            self._cache[s.mask] = value
            self.solves += 1
            if s.x is not None:
                self._solutions[s.mask] = self._full(s.x, self.members(s.mask))
            out.append(value)
        return out

    def _arcs(self, members: NDArray[np.bool_]) -> I64:
        """The full model's arcs of the parks in ``members`` (park-major, as
        :func:`.build_matrix` enumerates them: the coalition model's arcs in order)."""
        return np.flatnonzero(members[self.fm.arc_demand])

    def _compact(self, full_x: F64, members: NDArray[np.bool_]) -> F64:
        """A full-model plan as a plan of the coalition's model (its parks' arcs only)."""
        m = self.fm.num_sites
        return np.concatenate([full_x[:m], full_x[m + self._arcs(members)]])

    def _full(self, x: F64, members: NDArray[np.bool_]) -> F64:
        """A coalition model's plan in full-model indexing (other parks' arcs at 0)."""
        m = self.fm.num_sites
        out = np.zeros(self.fm.model.num_cols)
        out[:m] = x[:m]
        out[m + self._arcs(members)] = x[m:]
        return out

    def _trim(self, x: F64, members: NDArray[np.bool_]) -> F64:
        """A larger coalition's plan cut down to ``members``, closing the sites it no
        longer uses (still feasible, cheaper). Full-model indexing."""
        m = self.fm.num_sites
        out = self.fm.restricted_start(x, members)
        used = np.zeros(m, dtype=bool)
        used[self.fm.arc_site[out[m:] > 1e-12]] = True
        out[:m] = np.where(used, np.round(out[:m]), 0.0)
        return out

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
        """Evaluate many coalitions: largest first, one round of the executor per size,
        each coalition warm-started from a plan of the round before."""
        todo = sorted(
            {int(m) for m in masks if m and int(m) not in self._cache}, key=_size, reverse=True
        )
        levels: dict[int, list[int]] = {}
        for m in todo:
            levels.setdefault(_size(m), []).append(m)
        for size in sorted(levels, reverse=True):
            self._round(levels[size], size > 1, self.executor)
            # Solutions two levels up are no longer needed as starts.
            for m in [m for m in self._solutions if _size(m) > size]:
                del self._solutions[m]
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
