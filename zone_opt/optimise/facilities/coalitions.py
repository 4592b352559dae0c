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

Exact games (all 2^p coalitions) are capped by :func:`exact_player_cap`: 16 players on this
machine, up to 20 on a cluster with enough workers. Memory stays bounded at that size: the
values are numpy arrays indexed by mask (17 bytes a coalition, 17 MiB at 20 players), the
plans kept as warm starts are sparse and only one coalition size apart, and a size's
coalitions go to the executor in rounds of at most :data:`ROUND_ITEMS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from zone_opt.distributed.executor import Executor, LocalExecutor, check_executor
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix, build_matrix
from zone_opt.optimise.facilities.options import highs_options
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.sitebb import branch_on_sites
from zone_opt.optimise.solver import HighsSolver, SolveOptions, SolveStatus

__all__ = [
    "LOCAL_EXACT_PLAYERS",
    "MAX_EXACT_PLAYERS",
    "ROUND_ITEMS",
    "CoalitionCosts",
    "CoalitionGame",
    "CoalitionSolve",
    "CoalitionTask",
    "CoalitionValue",
    "exact_player_cap",
    "popcount",
    "solve_coalition",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Most players of an exact game on this machine (2^16 coalition solves).
LOCAL_EXACT_PLAYERS = 16
#: Most players of an exact game on any executor (2^20 coalitions, values as arrays).
MAX_EXACT_PLAYERS = 20
#: Most coalitions sent to the executor in one round (a size with more goes in several):
#: bounds the warm starts and plans in flight.
ROUND_ITEMS = 16_384
#: Statuses by code, for the value arrays (-1: not solved yet).
_STATUSES = tuple(SolveStatus)


def exact_player_cap(executor: Executor) -> int:
    """Most players whose 2^p coalitions ``executor`` may enumerate.

    16 on this machine (threads do not help much: building each coalition's model holds
    the GIL). On a remote executor, one more per doubling of its workers:
    ``16 + floor(log2(workers))``, at most 20 (2 workers: 17, 4: 18, 8: 19, 16 or more:
    20). Each player doubles the 2^p solves and each doubling of the workers absorbs one,
    so the wall time stays about that of 16 players on one machine (2^16 solves of a few
    ms each: minutes; see docs/guides/distributed.md for the measured figures).
    """
    if not executor.remote:
        return LOCAL_EXACT_PLAYERS
    extra = max(1, int(executor.workers)).bit_length() - 1
    return min(MAX_EXACT_PLAYERS, LOCAL_EXACT_PLAYERS + extra)


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


class _Values:
    """c(S) of the coalitions solved so far: arrays indexed by mask for games of up to
    :data:`MAX_EXACT_PLAYERS` players (cost, bound, status code: 17 bytes a coalition), a
    dict beyond (sampled games, which solve few of their coalitions)."""

    def __init__(self, num_players: int) -> None:
        self.dense = num_players <= MAX_EXACT_PLAYERS
        n = 1 << num_players if self.dense else 0
        self.cost = np.full(n, np.nan)
        self.bound = np.full(n, np.nan)
        self.status = np.full(n, -1, dtype=np.int8)
        self._sparse: dict[int, CoalitionValue] = {}

    def get(self, mask: int) -> CoalitionValue | None:
        if not self.dense:
            return self._sparse.get(mask)
        code = int(self.status[mask])
        if code < 0:
            return None
        return CoalitionValue(float(self.cost[mask]), float(self.bound[mask]), _STATUSES[code])

    def put(self, mask: int, value: CoalitionValue) -> None:
        if not self.dense:
            self._sparse[mask] = value
            return
        self.cost[mask] = value.cost_cny
        self.bound[mask] = value.bound_cny
        self.status[mask] = _STATUSES.index(value.status)

    def known(self, mask: int) -> bool:
        if self.dense:
            return bool(self.status[mask] >= 0)
        return mask in self._sparse


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
        self.executor: Executor = (
            LocalExecutor(max(1, int(workers))) if executor is None else check_executor(executor)
        )
        self.workers = self.executor.workers
        self._values = _Values(len(names))
        # Kept plans (warm starts of the next size down), sparse in full-model indexing.
        self._solutions: dict[int, tuple[NDArray[np.int32], F64]] = {}
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
        cached = self._values.get(mask)
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
            self._values.put(s.mask, value)
            self.solves += 1
            if s.x is not None:
                full = self._full(s.x, self.members(s.mask))
                kept = np.flatnonzero(full).astype(np.int32)
                self._solutions[s.mask] = kept, full[kept]
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
                index, value = self._solutions[bigger]
                out = np.zeros(self.fm.model.num_cols)
                out[index] = value
                return out
        return None

    def _sub_bound(self, mask: int) -> float:
        best = 0.0
        for k in range(self.num_players):
            smaller = mask & ~(1 << k)
            known = self._values.get(smaller) if smaller != mask else None
            if known is not None:
                best = max(best, known.bound_cny)
        return best

    def evaluate(self, masks: Sequence[int]) -> list[CoalitionValue]:
        """Evaluate many coalitions: largest first, one round of the executor per size,
        each coalition warm-started from a plan of the round before."""
        todo = sorted(
            {int(m) for m in masks if m and not self._values.known(int(m))},
            key=_size,
            reverse=True,
        )
        levels: dict[int, list[int]] = {}
        for m in todo:
            levels.setdefault(_size(m), []).append(m)
        self._solve_levels(levels)
        return [self.value(int(m)) for m in masks]

    def _solve_levels(self, levels: Mapping[int, Sequence[int]]) -> None:
        """Each size's coalitions (largest size first) in rounds of at most
        :data:`ROUND_ITEMS`; only the plans of the size just solved are kept."""
        for size in sorted(levels, reverse=True):
            level = levels[size]
            for start in range(0, len(level), ROUND_ITEMS):
                self._round(level[start : start + ROUND_ITEMS], size > 1, self.executor)
            # Solutions two levels up are no longer needed as starts.
            for m in [m for m in self._solutions if _size(m) > size]:
                del self._solutions[m]
        self._solutions.clear()

    def all_values(self) -> tuple[F64, F64]:
        """(cost, lower bound) arrays indexed by mask over all 2^p coalitions, for p up to
        :func:`exact_player_cap` of the executor (16 here, up to 20 on a cluster).

        Raises:
            InvalidInputError: naming ``exact_limit``, when p is over that cap.
        """
        p = self.num_players
        cap = exact_player_cap(self.executor)
        if p > cap:
            raise InvalidInputError.single("exact_limit", None, exact_cap_reason(p, self.executor))
        masks = np.arange(1 << p, dtype=np.int64)
        sizes = popcount(masks)
        missing = self._values.status[masks] < 0
        missing[0] = False
        levels = {size: masks[missing & (sizes == size)].tolist() for size in range(p, 0, -1)}
        self._solve_levels({k: v for k, v in levels.items() if v})
        cost, bound = self._values.cost.copy(), self._values.bound.copy()
        cost[0] = bound[0] = 0.0
        return cost, bound


def exact_cap_reason(players: int, executor: Executor) -> str:
    """Why a game of ``players`` is too large to enumerate on ``executor``, and what to do."""
    cap = exact_player_cap(executor)
    where = (
        f"a {executor.name} executor with {executor.workers} workers"
        if executor.remote
        else "this machine"
    )
    need = 1 << max(0, players - LOCAL_EXACT_PLAYERS)
    more = (
        f", or a Ray cluster of at least {need} workers"
        if players <= MAX_EXACT_PLAYERS
        else f" (exact games stop at {MAX_EXACT_PLAYERS} players on any executor)"
    )
    return (
        f"{players} players: enumerating all {1 << players:,} coalitions is capped at {cap} "
        f"players on {where}; set ShareOptions.exact_limit below {players} to sample Shapley "
        f"and use the separation oracle{more}"
    )


def _size(mask: int) -> int:
    return int(mask).bit_count()
