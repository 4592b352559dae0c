"""Matching past one machine: the same result as :meth:`Matcher.solve`, computed as tasks
of an :class:`~zone_opt.distributed.Executor` (threads here, or a Ray cluster).

:func:`solve_distributed` runs three rounds, each planned on the driver from the data
alone, so the answer does not depend on the backend or its number of workers:

1. **Candidates over enterprise shards.** The park and space side of the index (its
   numpy columns, :class:`~zone_opt.matching.candidates.IndexInputs`) is the round's
   shared context, sent once; each task takes a contiguous slice of the enterprises,
   builds the Rust index over it and generates its rows. An enterprise's candidates
   depend only on its own row and the park and space side, so the concatenated graph
   is the single call's: same edges, same scores, same order.
2. **Connected components.** The graph splits into components
   (:mod:`zone_opt.matching.components`) packed into tasks of about
   :attr:`ShardOptions.edges_per_task` edges; each task solves its components exactly and
   checks its piece's certificate (the optimal mode's duals on every edge of the piece;
   the stable mode's absence of blocking pairs). In optimal mode a component of more
   than :attr:`ShardOptions.giant_edges` edges is cut along park boundaries into
   :attr:`ShardOptions.park_groups` pieces solved in the same round.
3. **Giant components finished exactly.** One solve of each giant component over all
   its edges, warm-started with the pieces' space prices (``col_prices``), its
   certificate checked.

The driver then assembles the matching and the duals, verifies the certificate on every
edge of the graph (optimal: :meth:`Assignment.verify`; stable: no blocking pair), and
builds the same :class:`~zone_opt.matching.domain.MatchResult` as :meth:`Matcher.solve`.

Why the results equal the single-machine path's: components share no edge, so a
maximum-score matching is a union of per-component maxima (the total is the optimum's,
proven by the global certificate); the proposer-optimal stable matching is unique
(strict preferences), and its restriction to a component is that component's, so the
stable matching is identical row for row.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zone_opt.arguments import check_int
from zone_opt.distributed.executor import Executor, check_executor
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.matching.assignment import Assignment, assign_sparse
from zone_opt.matching.candidates import CandidateGraph, Columns, IndexInputs
from zone_opt.matching.components import (
    ComponentPlan,
    Part,
    component_labels,
    cut_along_parks,
    plan_components,
    relabel,
)
from zone_opt.matching.options import Mode
from zone_opt.matching.stable import blocking_pairs, deferred_acceptance

if TYPE_CHECKING:
    from zone_opt.matching.domain import Matcher, MatchResult

__all__ = [
    "DistributedPlan",
    "ShardOptions",
    "plan_solve",
    "sharded_candidates",
    "solve_distributed",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ShardOptions:
    """How the distributed path splits its work. None of these changes the total score,
    the candidate graph or a stable matching; they change where and how fast the work runs.

    Attributes:
        enterprises_per_shard: enterprises per candidate-generation task (at least one
            task per worker).
        edges_per_task: candidate edges per solve task (whole components are packed into
            a task until it holds about this many).
        giant_edges: a component with more edges is cut along park boundaries, its pieces
            solved in parallel, then finished by one exact solve warm-started from their
            prices (optimal mode; a stable matching is solved per whole component).
        park_groups: pieces a giant component is cut into (groups of parks).
    """

    enterprises_per_shard: int = 250_000
    edges_per_task: int = 1 << 20
    giant_edges: int = 1 << 22
    park_groups: int = 8

    def __post_init__(self) -> None:
        for name in ("enterprises_per_shard", "edges_per_task", "giant_edges", "park_groups"):
            check_int(name, getattr(self, name), low=1)


# --- round 1: candidates over enterprise shards -------------------------------------------


@dataclass(frozen=True)
class SpaceSide:
    """What every candidate shard shares: the park and space columns, the affinity, and
    how candidates are scored and cut."""

    inputs: IndexInputs
    weights: tuple[float, float, float, float, float]
    k: int
    now_day: int
    space_active: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class EnterpriseShard:
    """One candidate task: enterprise rows ``start:start + len``, their columns and
    which of them seek space."""

    start: int
    enterprises: Columns
    active: npt.NDArray[np.bool_]


def generate_shard(side: SpaceSide, shard: EnterpriseShard) -> CandidateGraph:
    """The candidate rows of one shard's enterprises (a task: builds the index over the
    shared park and space columns and the shard's enterprises)."""
    index = side.inputs.build(shard.enterprises)
    out = index.generate(
        side.weights,
        side.k,
        side.now_day,
        np.ascontiguousarray(side.space_active, dtype=np.bool_),
        np.ascontiguousarray(shard.active, dtype=np.bool_),
    )
    return CandidateGraph(*out)


def _concat(parts: list[CandidateGraph]) -> CandidateGraph:
    """The shards' graphs as one, rows in shard order."""
    offsets = np.cumsum([0] + [p.n_edges for p in parts[:-1]], dtype=np.int64)
    indptr = np.concatenate(
        [np.zeros(1, dtype=np.int64)]
        + [p.indptr[1:] + o for p, o in zip(parts, offsets, strict=True)]
    )
    return CandidateGraph(
        indptr=indptr,
        cols=np.concatenate([p.cols for p in parts]),
        scores=np.concatenate([p.scores for p in parts]),
        chain=np.concatenate([p.chain for p in parts]),
        reason=np.concatenate([p.reason for p in parts]),
        n_feasible=np.concatenate([p.n_feasible for p in parts]),
    )


def sharded_candidates(
    matcher: Matcher,
    executor: Executor,
    space_active: npt.NDArray[np.bool_],
    shards: ShardOptions,
) -> CandidateGraph:
    """:meth:`Matcher.candidates` (``k = matcher.k``) as tasks over contiguous enterprise
    shards: the same graph, edge for edge."""
    inputs = _inputs(matcher)
    n = inputs.n_enterprises
    count = max(1, min(n, max(executor.workers, math.ceil(n / shards.enterprises_per_shard))))
    bounds = [n * i // count for i in range(count + 1)]
    side = SpaceSide(
        inputs=IndexInputs(inputs.parks, inputs.spaces, {}, inputs.affinity),
        weights=matcher.weights.as_tuple(),
        k=matcher.k,
        now_day=matcher.tables.now_day,
        space_active=np.ascontiguousarray(space_active, dtype=np.bool_),
    )
    items = [
        EnterpriseShard(a, inputs.enterprises_slice(a, b), matcher.enterprise_active[a:b])
        for a, b in itertools.pairwise(bounds)
    ]
    return _concat(executor.map(generate_shard, side, items))


def _inputs(matcher: Matcher) -> IndexInputs:
    inputs = matcher.tables.inputs
    if inputs is None:
        raise InvalidInputError.single(
            "matcher", None, "make it with Matcher(..., keep_index_inputs=True)"
        )
    return inputs


# --- rounds 2 and 3: the pieces, then the giant components ---------------------------------


@dataclass(frozen=True)
class Piece:
    """One solve task: edges in local indices (see :func:`components.relabel`).

    ``receiver`` holds the parks' priorities (stable mode); ``col_prices`` warm-starts the
    optimal solve."""

    mode: Mode
    rows: IntArray
    cols: IntArray
    scores: IntArray
    shape: tuple[int, int]
    receiver: FloatArray | None = None
    col_prices: FloatArray | None = None


@dataclass(frozen=True)
class PieceSolution:
    """A piece's matching (local column per local row, -1: none) and, in optimal mode,
    its certified duals."""

    row_to_col: IntArray
    row_potentials: FloatArray | None
    col_prices: FloatArray | None


def solve_piece(_shared: None, piece: Piece) -> PieceSolution:
    """Solve one piece exactly and check its certificate (a task).

    Raises:
        VerificationError: the certificate does not hold on the piece's edges.
    """
    if piece.mode == "stable":
        if piece.receiver is None:
            raise InvalidInputError.single("receiver", None, "a stable piece needs it")
        proposer = piece.scores.astype(np.float64)
        seats = np.ones(piece.shape[1], dtype=np.int64)
        x = deferred_acceptance(
            piece.rows, piece.cols, proposer, piece.receiver, seats, n_proposers=piece.shape[0]
        )
        blocking = blocking_pairs(
            piece.rows, piece.cols, proposer, piece.receiver, seats, matching=x
        )
        if blocking.size:
            raise VerificationError(f"stable piece: edge {int(blocking[0])} blocks the matching")
        return PieceSolution(x, None, None)
    solution = assign_sparse(
        piece.rows, piece.cols, piece.scores, piece.shape, col_prices=piece.col_prices
    )
    solution.verify(piece.rows, piece.cols, piece.scores)
    return PieceSolution(
        np.asarray(solution.row_to_col, dtype=np.int64),
        np.asarray(solution.row_potentials, dtype=np.float64),
        np.asarray(solution.col_prices, dtype=np.float64),
    )


@dataclass(frozen=True)
class DistributedPlan:
    """What the solve rounds run: the component plan and, per giant component, its
    pieces (edge indices into the graph) and the edges dropped by the cut.

    Attributes:
        components: :class:`~zone_opt.matching.components.ComponentPlan`.
        giant_pieces: per giant component, the edge indices of each piece.
        dropped_edges: per giant component, the edges crossing its park groups.
    """

    components: ComponentPlan
    giant_pieces: list[list[IntArray]] = field(default_factory=list)
    dropped_edges: list[int] = field(default_factory=list)


def plan_solve(matcher: Matcher, graph: CandidateGraph, shards: ShardOptions) -> DistributedPlan:
    """The components of ``graph`` packed into tasks, and each giant component (optimal
    mode) cut along park boundaries. A function of the graph and ``shards`` only."""
    rows = graph.rows
    n_rows, n_cols = matcher.tables.tenant.size, matcher.tables.occupied.size
    labels = component_labels(rows, graph.cols, n_rows, n_cols)
    giant = shards.giant_edges if matcher.mode == "optimal" else None
    plan = plan_components(labels, edges_per_task=shards.edges_per_task, giant_edges=giant)
    inputs = _inputs(matcher)
    space_park = matcher.tables.space_park
    pieces: list[list[IntArray]] = []
    dropped: list[int] = []
    for edges in plan.giants:
        cut = cut_along_parks(
            rows[edges],
            space_park[graph.cols[edges]],
            inputs.parks["lat"],
            inputs.parks["lon"],
            shards.park_groups,
        )
        pieces.append([edges[p] for p in cut])
        dropped.append(int(edges.size - sum(p.size for p in cut)))
    return DistributedPlan(plan, pieces, dropped)


@dataclass(frozen=True)
class _Edges:
    """The whole graph's edges, for cutting pieces out of it."""

    mode: Mode
    rows: IntArray
    cols: IntArray
    scores: IntArray
    receiver: FloatArray | None

    def piece(self, edges: IntArray, prices: FloatArray | None = None) -> tuple[Part, Piece]:
        part, r, c = relabel(self.rows[edges], self.cols[edges])
        shape = (part.row_ids.size, part.col_ids.size)
        receiver = None if self.receiver is None else self.receiver[edges]
        warm = None if prices is None else prices[part.col_ids]
        return part, Piece(self.mode, r, c, self.scores[edges], shape, receiver, warm)


@dataclass
class _Solution:
    """The matching and duals being assembled on the driver, in global indices."""

    row_to_col: IntArray
    row_potentials: FloatArray
    col_prices: FloatArray

    def add(self, part: Part, sol: PieceSolution) -> None:
        matched = sol.row_to_col >= 0
        self.row_to_col[part.row_ids[matched]] = part.col_ids[sol.row_to_col[matched]]
        if sol.row_potentials is not None and sol.col_prices is not None:
            self.row_potentials[part.row_ids] = sol.row_potentials
            self.col_prices[part.col_ids] = sol.col_prices


def _solve_rounds(
    executor: Executor, edges: _Edges, plan: DistributedPlan, solution: _Solution
) -> None:
    """Round 2 (whole-component batches and giant pieces), then round 3 (each giant
    component over all its edges, warm-started from its pieces' prices)."""
    jobs = [edges.piece(b) for b in plan.components.batches]
    n_batches = len(jobs)
    for pieces in plan.giant_pieces:
        jobs.extend(edges.piece(p) for p in pieces)
    solved = executor.map(solve_piece, None, [piece for _, piece in jobs])
    for (part, _), sol in zip(jobs[:n_batches], solved[:n_batches], strict=True):
        solution.add(part, sol)
    warm = np.zeros_like(solution.col_prices)
    for (part, _), sol in zip(jobs[n_batches:], solved[n_batches:], strict=True):
        if sol.col_prices is not None:
            warm[part.col_ids] = sol.col_prices
    finals = [edges.piece(g, warm) for g in plan.components.giants]
    for (part, _), sol in zip(
        finals, executor.map(solve_piece, None, [p for _, p in finals]), strict=True
    ):
        solution.add(part, sol)


def _verify(edges: _Edges, solution: _Solution, n_cols: int) -> int:
    """Check the assembled matching on every edge of the graph; return its total score.

    Raises:
        VerificationError: the optimal duals fail on some edge, or an edge blocks the
            stable matching.
    """
    x = solution.row_to_col
    matched = np.flatnonzero(x >= 0)
    on = x[edges.rows] == edges.cols
    total = int(edges.scores[on].sum())
    if edges.mode == "stable" and edges.receiver is not None:
        blocking = blocking_pairs(
            edges.rows,
            edges.cols,
            edges.scores.astype(np.float64),
            edges.receiver,
            np.ones(n_cols, dtype=np.int64),
            matching=x,
        )
        if blocking.size:
            raise VerificationError(f"edge {int(blocking[0])} blocks the assembled matching")
        return total
    y = np.full(n_cols, -1, dtype=np.int64)
    y[x[matched]] = matched
    Assignment(
        row_to_col=x,
        col_to_row=y,
        total=total,
        row_potentials=solution.row_potentials,
        col_prices=solution.col_prices,
    ).verify(edges.rows, edges.cols, edges.scores)
    return total


def solve_distributed(
    matcher: Matcher,
    executor: Executor,
    *,
    shards: ShardOptions | None = None,
    progress: Progress | None = None,
) -> MatchResult:
    """:meth:`Matcher.solve` on ``executor``: candidates over enterprise shards, the graph
    solved by connected components, giant components cut along park boundaries and
    finished exactly (see the module). ``matcher`` must keep its index inputs
    (``Matcher(..., keep_index_inputs=True)``); the result is that of ``matcher.solve()``
    up to the choice among equally good optimal assignments, its certificate verified on
    every edge. :meth:`MatchResult.rematch` on it re-solves in this process.

    Raises:
        InvalidInputError: ``executor`` is not an executor, ``shards`` not a
            :class:`ShardOptions`, or the matcher keeps no index inputs.
        VerificationError: a certificate failed (a bug, never expected).
    """
    executor = check_executor(executor)
    shards = ShardOptions() if shards is None else shards
    if not isinstance(shards, ShardOptions):
        raise InvalidInputError.single("shards", None, "must be a ShardOptions")
    _inputs(matcher)
    report = progress or (lambda _stage: None)
    seconds: dict[str, float] = {}
    active = matcher.initial_space_active
    t0 = time.perf_counter()
    report("candidates")
    graph = sharded_candidates(matcher, executor, active, shards)
    seconds["candidates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report("solve")
    n_rows, n_cols = matcher.tables.tenant.size, matcher.tables.occupied.size
    rows = graph.rows
    receiver = matcher.park_priority(graph) if matcher.mode == "stable" else None
    edges = _Edges(matcher.mode, rows, graph.cols, graph.scores, receiver)
    solution = _Solution(np.full(n_rows, -1, dtype=np.int64), np.zeros(n_rows), np.zeros(n_cols))
    _solve_rounds(executor, edges, plan_solve(matcher, graph, shards), solution)
    _verify(edges, solution, n_cols)
    seconds["solve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report("results")
    optimal = matcher.mode == "optimal"
    prices: Any = solution.col_prices if optimal else None
    potentials: Any = solution.row_potentials if optimal else None
    result = matcher._result(
        graph,
        row_to_col=solution.row_to_col,
        prices=prices,
        potentials=potentials,
        active=active,
        previous=None,
        seconds=seconds,
    )
    seconds["results"] = time.perf_counter() - t0
    return result
