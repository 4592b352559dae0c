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

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zone_opt.arguments import check_int
from zone_opt.distributed.executor import Executor, check_executor, share
from zone_opt.distributed.shared import Shared
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.matching.assignment import Assignment, assign_sparse
from zone_opt.matching.candidates import CandidateGraph, Columns, IndexInputs
from zone_opt.matching.components import (
    ComponentPlan,
    Cut,
    Part,
    cut_along_parks,
    edge_blocks,
    edges_of_rows,
    plan_components,
    relabel,
    row_components,
)
from zone_opt.matching.ledger import ShardLedger, decode_graph, encode_graph, shard_key
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


class _GraphBuffer:
    """The shards' graphs written one after another into arrays sized for the most edges
    they can hold (``k`` per seeking enterprise): pages past the last edge are never
    touched, so memory follows the edges written, and no shard is held twice."""

    def __init__(self, n_enterprises: int, max_edges: int) -> None:
        self.indptr = np.zeros(n_enterprises + 1, dtype=np.int64)
        self.cols = np.empty(max_edges, dtype=np.int64)
        self.scores = np.empty(max_edges, dtype=np.int64)
        self.chain = np.empty(max_edges, dtype=np.float64)
        self.reason = np.empty(n_enterprises, dtype=np.uint8)
        self.n_feasible = np.empty(n_enterprises, dtype=np.int64)
        self.rows = 0
        self.edges = 0

    def append(self, part: CandidateGraph) -> None:
        r, e = self.rows, self.edges
        n, m = part.reason.size, part.n_edges
        self.indptr[r + 1 : r + n + 1] = part.indptr[1:] + e
        for name, start, size in (("cols", e, m), ("scores", e, m), ("chain", e, m)):
            getattr(self, name)[start : start + size] = getattr(part, name)
        self.reason[r : r + n] = part.reason
        self.n_feasible[r : r + n] = part.n_feasible
        self.rows, self.edges = r + n, e + m

    def graph(self) -> CandidateGraph:
        m = self.edges
        return CandidateGraph(
            self.indptr, self.cols[:m], self.scores[:m], self.chain[:m], self.reason,
            self.n_feasible,
        )  # fmt: skip


def sharded_candidates(
    matcher: Matcher,
    executor: Executor,
    space_active: npt.NDArray[np.bool_],
    shards: ShardOptions,
    ledger: ShardLedger | None = None,
) -> CandidateGraph:
    """:meth:`Matcher.candidates` (``k = matcher.k``) as tasks over contiguous enterprise
    shards: the same graph, edge for edge. Shards run in rounds of two per worker, each
    round's graphs copied into the whole graph's arrays as it ends, so the driver holds
    the graph once plus one round. With ``ledger`` each shard's graph is committed to it
    as its round ends, and a shard already there (an earlier attempt's) is read back
    instead of computed."""
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
    seeking = int(np.count_nonzero(matcher.enterprise_active[:n]))
    out = _GraphBuffer(n, matcher.k * seeking)
    spans = list(itertools.pairwise(bounds))
    per_round = 2 * executor.workers
    for first in range(0, len(spans), per_round):
        batch = spans[first : first + per_round]
        kept = [ledger.committed(shard_key(a, b)) if ledger else None for a, b in batch]
        items = [
            EnterpriseShard(a, inputs.enterprises_slice(a, b), matcher.enterprise_active[a:b])
            for (a, b), data in zip(batch, kept, strict=True)
            if data is None
        ]
        made = iter(executor.map(generate_shard, side, items) if items else [])
        for i, ((a, b), data) in enumerate(zip(batch, kept, strict=True)):
            if data is not None:
                out.append(decode_graph(data, b - a))
                continue
            part = next(made)
            if ledger is not None:
                label = f"candidates shard {first + i + 1} of {len(spans)}"
                ledger.commit(shard_key(a, b), encode_graph(part), b - a, label)
            out.append(part)
    return out.graph()


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
    """What the solve rounds run: the component plan and each giant component's cut.

    Attributes:
        components: :class:`~zone_opt.matching.components.ComponentPlan` (rows per task).
        cuts: per giant component, its :class:`~zone_opt.matching.components.Cut`
            along park boundaries (optimal mode).
    """

    components: ComponentPlan
    cuts: list[Cut] = field(default_factory=list)


def plan_solve(matcher: Matcher, graph: CandidateGraph, shards: ShardOptions) -> DistributedPlan:
    """The components of ``graph`` packed into tasks, and each giant component (optimal
    mode) cut along park boundaries. A function of the graph and ``shards`` only; holds
    O(rows) memory besides the graph."""
    labels = row_components(graph.indptr, graph.cols, matcher.tables.occupied.size)
    giant = shards.giant_edges if matcher.mode == "optimal" else None
    plan = plan_components(
        labels, np.diff(graph.indptr), edges_per_task=shards.edges_per_task, giant_edges=giant
    )
    inputs = _inputs(matcher)
    cuts = [
        cut_along_parks(
            rows,
            graph.indptr,
            graph.cols,
            matcher.tables.space_park,
            inputs.parks["lat"],
            inputs.parks["lon"],
            shards.park_groups,
        )
        for rows in plan.giants
    ]
    return DistributedPlan(plan, cuts)


@dataclass(frozen=True)
class SolveInputs:
    """What every solve task reads: the graph's rows (``indptr``), columns and scores, the
    parks' priorities (stable mode), each stored once by :func:`_share_graph`, and each
    space's park."""

    mode: Mode
    indptr: Shared[IntArray]
    cols: Shared[IntArray]
    scores: Shared[IntArray]
    receiver: Shared[FloatArray] | None
    space_park: IntArray

    def piece(
        self, edges: IntArray, edge_rows: IntArray, prices: FloatArray | None = None
    ) -> tuple[Part, Piece]:
        """The piece of the graph's ``edges`` (increasing; ``edge_rows`` their rows)."""
        n_cols = int(self.space_park.size)
        part, r, c = relabel(edge_rows, self.cols.get()[edges], n_cols)
        shape = (part.row_ids.size, part.col_ids.size)
        receiver = None if self.receiver is None else self.receiver.get()[edges]
        warm = None if prices is None else prices[part.col_ids]
        scores = self.scores.get()[edges]
        return part, Piece(self.mode, r, c, scores, shape, receiver, warm)


@dataclass(frozen=True)
class PartTask:
    """One solve task: the edges of ``rows`` (increasing); with ``group``, only those into
    the parks of that group of ``park_group`` (a giant component's piece); ``prices``
    warm-start the solve (per space of the whole graph)."""

    rows: IntArray
    group: int | None = None
    park_group: IntArray | None = None
    prices: FloatArray | None = None


def solve_part(inputs: SolveInputs, task: PartTask) -> tuple[Part, PieceSolution]:
    """Cut a task's piece out of the shared graph and solve it (:func:`solve_piece`): the
    piece's edges exist only in the worker solving it."""
    edges, edge_rows = edges_of_rows(inputs.indptr.get(), task.rows)
    if task.group is not None and task.park_group is not None:
        keep = task.park_group[inputs.space_park[inputs.cols.get()[edges]]] == task.group
        edges, edge_rows = edges[keep], edge_rows[keep]
    part, piece = inputs.piece(edges, edge_rows, task.prices)
    del edges, edge_rows
    return part, solve_piece(None, piece)


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
    executor: Executor, inputs: SolveInputs, plan: DistributedPlan, solution: _Solution
) -> None:
    """Round 2 (whole-component batches and giant pieces), then round 3 (each giant
    component over all its edges, warm-started from its pieces' prices)."""
    batches = [PartTask(rows) for rows in plan.components.batches]
    n_batches = len(batches)
    pieces = [
        PartTask(cut.rows[cut.home == g], g, cut.park_group)
        for cut in plan.cuts
        for g in range(int(cut.park_group.max()) + 1)
        if np.any(cut.home == g)
    ]
    solved = executor.map(solve_part, inputs, batches + pieces)
    for part, sol in solved[:n_batches]:
        solution.add(part, sol)
    warm = np.zeros_like(solution.col_prices)
    for part, sol in solved[n_batches:]:
        if sol.col_prices is not None:
            warm[part.col_ids] = sol.col_prices
    del solved
    finals = [PartTask(rows, prices=warm) for rows in plan.components.giants]
    for part, sol in executor.map(solve_part, inputs, finals):
        solution.add(part, sol)


def _verify(
    mode: Mode, graph: CandidateGraph, receiver: FloatArray | None, solution: _Solution
) -> int:
    """Check the assembled matching on every edge of the graph, a block at a time; return
    its total score.

    Raises:
        VerificationError: the optimal duals fail on some edge, or an edge blocks the
            stable matching.
    """
    n_cols = solution.col_prices.size
    x = solution.row_to_col
    total = 0
    for a, rows in edge_blocks(graph.indptr):
        on = x[rows] == graph.cols[a : a + rows.size]
        total += int(graph.scores[a : a + rows.size][on].sum())
    if mode == "stable" and receiver is not None:
        blocking = blocking_pairs(
            graph.rows,
            graph.cols,
            graph.scores.astype(np.float64),
            receiver,
            np.ones(n_cols, dtype=np.int64),
            matching=x,
        )
        if blocking.size:
            raise VerificationError(f"edge {int(blocking[0])} blocks the assembled matching")
        return total
    matched = np.flatnonzero(x >= 0)
    y = np.full(n_cols, -1, dtype=np.int64)
    y[x[matched]] = matched
    Assignment(
        row_to_col=x,
        col_to_row=y,
        total=total,
        row_potentials=solution.row_potentials,
        col_prices=solution.col_prices,
    ).verify_csr(graph.indptr, graph.cols, graph.scores)
    return total


#: The graph's arrays the solve tasks read (the others stay in this process).
_SHARED_ARRAYS = ("indptr", "cols", "scores")


def _share_graph(
    executor: Executor, graph: CandidateGraph
) -> tuple[CandidateGraph, dict[str, Shared[IntArray]]]:
    """Store the arrays the tasks read once each (:func:`zone_opt.distributed.share`) and
    return the graph reading them from the store: on Ray each array moves to the object
    store in turn, so this process never holds more than one of them twice."""
    handles: dict[str, Shared[IntArray]] = {}
    for name in _SHARED_ARRAYS:
        handles[name] = share(executor, getattr(graph, name))
        view: dict[str, Any] = {name: handles[name].get()}
        graph = dataclasses.replace(graph, **view)
    return graph, handles


def _take_back(graph: CandidateGraph, handles: dict[str, Shared[IntArray]]) -> CandidateGraph:
    """The graph in this process's memory again, one array at a time, each stored copy
    released once read back (the result outlives the cluster)."""
    for name in _SHARED_ARRAYS:
        array = getattr(graph, name)
        if not array.flags.writeable:  # a view of the store
            copy: dict[str, Any] = {name: np.array(array)}
            graph = dataclasses.replace(graph, **copy)
        del array, handles[name]
    return graph


def solve_distributed(
    matcher: Matcher,
    executor: Executor,
    *,
    shards: ShardOptions | None = None,
    progress: Progress | None = None,
    ledger: ShardLedger | None = None,
) -> MatchResult:
    """:meth:`Matcher.solve` on ``executor``: candidates over enterprise shards, the graph
    solved by connected components, giant components cut along park boundaries and
    finished exactly (see the module). ``matcher`` must keep its index inputs
    (``Matcher(..., keep_index_inputs=True)``); the result is that of ``matcher.solve()``
    up to the choice among equally good optimal assignments, its certificate verified on
    every edge. :meth:`MatchResult.rematch` on it re-solves in this process. With
    ``ledger`` (:mod:`zone_opt.matching.ledger`) the candidate shards are committed as
    they are made and taken from it when an earlier attempt committed them.

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
    graph = sharded_candidates(matcher, executor, active, shards, ledger)
    seconds["candidates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report("solve")
    n_rows, n_cols = matcher.tables.tenant.size, matcher.tables.occupied.size
    # From here the tasks and this process read the graph from the shared store.
    graph, handles = _share_graph(executor, graph)
    receiver: FloatArray | None = None
    receiver_handle: Shared[FloatArray] | None = None
    if matcher.mode == "stable":
        receiver_handle = share(executor, matcher.park_priority(graph))
        receiver = receiver_handle.get()
    inputs = SolveInputs(
        matcher.mode,
        handles["indptr"],
        handles["cols"],
        handles["scores"],
        receiver_handle,
        matcher.tables.space_park,
    )
    solution = _Solution(np.full(n_rows, -1, dtype=np.int64), np.zeros(n_rows), np.zeros(n_cols))
    _solve_rounds(executor, inputs, plan_solve(matcher, graph, shards), solution)
    _verify(matcher.mode, graph, receiver, solution)
    del inputs, receiver, receiver_handle
    graph = _take_back(graph, handles)
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
