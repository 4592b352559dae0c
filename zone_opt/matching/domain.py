"""The domain layer: match enterprises to idle spaces, recommend, re-match incrementally.

Data in (Arrow tables under ``zone_opt.schemas``), candidates (Rust, hard constraints and
the documented score of :mod:`zone_opt.matching.scoring`), solve, typed result out:

* ``mode="optimal"``: the maximum-total-score assignment over the candidate graph
  (``zone_opt.matching.assign_sparse``, exact on the integer scores); every space's dual
  price and every enterprise's margin come with it.
* ``mode="stable"``: enterprise-proposing deferred acceptance, capacity 1 per space.
  Enterprises rank spaces by score; a space ranks enterprises by its park's priority:
  the industry-chain component, in whole thousandths, first, then the enterprise's
  annual output value per m2 of that space in whole CNY (higher first), then the lower
  enterprise row (:meth:`Matcher.park_priority`). The result has no blocking pair
  among the candidates.

Occupied spaces (a tenancy active at ``now``) are not offered, and enterprises holding
such a tenancy are tenants, not seekers (``MatchOptions(include_tenants=True)`` lets them
seek too). Every option is a field of :class:`~zone_opt.matching.options.MatchOptions`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.arguments import check_flag, check_int
from zone_opt.distributed.executor import Executor, check_executor
from zone_opt.errors import InvalidInputError
from zone_opt.industries import chain_affinity
from zone_opt.matching.assignment import Assignment, assign_sparse
from zone_opt.matching.candidates import CandidateGraph, IndexedTables, build_index
from zone_opt.matching.distributed import solve_distributed
from zone_opt.matching.options import MAX_K, MatchOptions, Mode, resolve_options
from zone_opt.matching.scoring import COMPONENTS, REASONS, ScoreWeights
from zone_opt.matching.stable import deferred_acceptance
from zone_opt.schemas import ENTERPRISES, PARKS, SPACES, TENANCIES, TableSpec
from zone_opt.validation import validate_table

__all__ = [
    "MAX_K",
    "UNMATCHED_REASONS",
    "MatchOptions",
    "MatchResult",
    "MatchSummary",
    "Matcher",
    "match",
    "recommend",
]

Progress = Callable[[str], None]

#: ``unmatched.reason``: no space passes the enterprise's hard constraints (``constraint``
#: names the one that removed its last candidate), or it had candidates and the
#: assignment gave every one of them to another enterprise.
UNMATCHED_REASONS: tuple[str, ...] = ("NO_CANDIDATES", "OUTCOMPETED")


def _validate(table: pa.Table, spec: TableSpec, argument: str) -> pa.Table:
    if not isinstance(table, pa.Table):
        raise InvalidInputError.single(argument, None, "must be a pyarrow.Table")
    checked: pa.Table = validate_table(table, spec)
    return checked


@dataclass(frozen=True)
class MatchSummary:
    """Counts and timings of one matching run.

    Attributes:
        mode: ``"optimal"`` or ``"stable"``.
        n_seekers: enterprises taking part (tenants excluded unless asked).
        n_spaces_offered: spaces neither occupied nor taken.
        n_edges: candidate pairs kept (at most k per enterprise).
        n_matched: enterprises assigned a space.
        n_no_candidates: seekers no space passes the hard constraints for.
        n_outcompeted: seekers with candidates left without a space.
        total_score: sum of the integer scores of the assignment.
        seconds: wall time per stage (candidates, solve, results).
    """

    mode: str
    n_seekers: int
    n_spaces_offered: int
    n_edges: int
    n_matched: int
    n_no_candidates: int
    n_outcompeted: int
    total_score: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MatchResult:
    """Assignments, unmatched enterprises with reasons, summary, and what changed.

    Attributes:
        assignments: one row per matched enterprise: ``enterprise_id, space_id, park_id,
            score`` (int64), ``distance_km``, the five components, and in optimal mode
            ``space_price`` (the space's dual price) and ``enterprise_margin`` (score minus
            price: the enterprise's dual), null in stable mode.
        unmatched: ``enterprise_id, reason`` (``NO_CANDIDATES`` or ``OUTCOMPETED``),
            ``constraint`` (for ``NO_CANDIDATES``: the hard constraint that eliminated the
            last candidates, e.g. ``AREA``, ``NO_PARK_IN_RADIUS``) and ``n_candidates``.
        summary: :class:`MatchSummary`.
        churn: after :meth:`rematch`, ``enterprise_id, old_space_id, new_space_id`` for
            each enterprise whose space changed; ``None`` for a first solve.
        row_to_col: space row per enterprise row (-1: none).
        space_active: which spaces were offered.
        col_prices: the solver's dual prices per space (optimal mode), else ``None``.
        graph: the candidate graph solved over.
    """

    assignments: pa.Table
    unmatched: pa.Table
    summary: MatchSummary
    churn: pa.Table | None
    row_to_col: npt.NDArray[np.int64]
    space_active: npt.NDArray[np.bool_]
    col_prices: npt.NDArray[Any] | None
    graph: CandidateGraph
    matcher: Matcher = field(repr=False)

    def rematch(
        self,
        *,
        taken_space_ids: Iterable[str] | pa.Array = (),
        released_space_ids: Iterable[str] | pa.Array = (),
        progress: Progress | None = None,
    ) -> MatchResult:
        """Re-solve after spaces are taken (no longer offered) or released (offered again).

        Candidates are regenerated for the new set of offered spaces (the cheap part),
        and in optimal mode the solver is warm-started from this result's dual prices.
        The result equals a cold solve on the same offer; ``churn`` lists what changed.
        """
        active = self.space_active.copy()
        taken = self.matcher.space_rows(taken_space_ids, "taken_space_ids")
        released = self.matcher.space_rows(released_space_ids, "released_space_ids")
        active[taken] = False
        active[released] = True
        return self.matcher.solve(space_active=active, previous=self, progress=progress)


class Matcher:
    """Matching over fixed tables: holds the converted index; solves and re-solves.

    Args:
        spaces: table under ``SPACES``.
        enterprises: table under ``ENTERPRISES``.
        parks: ``PARKS`` table (coordinates, permitted industries, carbon budgets).
        tenancies: ``TENANCIES`` table (current tenants; optional).
        options: :class:`MatchOptions` (mode, k, weights, now, include_tenants); the
            defaults when None. The same fields as keywords (``mode="stable"``) are
            deprecated.
        keep_index_inputs: keep the candidate index's numpy columns
            (``tables.inputs``), which the distributed path
            (:func:`zone_opt.matching.distributed.solve_distributed`) ships to its workers.
    """

    def __init__(
        self,
        spaces: pa.Table,
        enterprises: pa.Table,
        *,
        parks: pa.Table,
        tenancies: pa.Table | None = None,
        options: MatchOptions | None = None,
        keep_index_inputs: bool = False,
        **deprecated: Any,
    ) -> None:
        self.options = resolve_options(options, deprecated, caller="Matcher")
        #: The matching date, fixed when the matcher is made (today when ``options.now``
        #: is None).
        self.now = self.options.date()
        self.tables: IndexedTables = build_index(
            _validate(spaces, SPACES, "spaces"),
            _validate(enterprises, ENTERPRISES, "enterprises"),
            _validate(parks, PARKS, "parks"),
            None if tenancies is None else _validate(tenancies, TENANCIES, "tenancies"),
            now=self.now,
            affinity=chain_affinity(),
            keep_inputs=check_flag("keep_index_inputs", keep_index_inputs),
        )
        self.enterprise_active = (
            np.ones(self.tables.tenant.size, dtype=np.bool_)
            if self.options.include_tenants
            else ~self.tables.tenant
        )

    @property
    def mode(self) -> Mode:
        return self.options.mode

    @property
    def k(self) -> int:
        return self.options.k

    @property
    def weights(self) -> ScoreWeights:
        return self.options.weights

    @property
    def initial_space_active(self) -> npt.NDArray[np.bool_]:
        """Spaces offered at first: those no tenancy holds at ``now``."""
        return ~self.tables.occupied

    def space_rows(self, ids: Iterable[str] | pa.Array, argument: str) -> npt.NDArray[np.int64]:
        """Row of each space id; unknown ids are an error naming the argument."""
        arr = ids if isinstance(ids, pa.Array) else pa.array(list(ids), pa.string())
        idx = pc.index_in(arr, value_set=self.tables.space_ids)
        if idx.null_count:
            row = int(np.nonzero(idx.is_null().to_numpy(zero_copy_only=False))[0][0])
            raise InvalidInputError.single(argument, row, f"unknown space id {arr[row]}")
        return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)

    def candidates(
        self, k: int, space_active: npt.NDArray[np.bool_] | None = None
    ) -> CandidateGraph:
        """The best ``k`` candidates of each seeker among the offered spaces."""
        k = check_int("k", k, low=1, high=MAX_K)
        active = self.initial_space_active if space_active is None else space_active
        indptr, cols, scores, chain, reason, n_feasible = self.tables.index.generate(
            self.weights.as_tuple(),
            k,
            self.tables.now_day,
            np.ascontiguousarray(active, dtype=np.bool_),
            np.ascontiguousarray(self.enterprise_active),
        )
        return CandidateGraph(indptr, cols, scores, chain, reason, n_feasible)

    def pair_scores(
        self, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Distance (km), components (n x 5) and integer score of given pairs."""
        return self.tables.index.score_pairs(
            self.weights.as_tuple(),
            np.ascontiguousarray(rows, dtype=np.int64),
            np.ascontiguousarray(cols, dtype=np.int64),
        )

    def solve(
        self,
        *,
        space_active: npt.NDArray[np.bool_] | None = None,
        previous: MatchResult | None = None,
        progress: Progress | None = None,
    ) -> MatchResult:
        """Generate candidates, solve in this matcher's mode, build the result tables.

        ``previous`` warm-starts the optimal solver from its dual prices and makes the
        result report the churn against it.
        """
        report = progress or (lambda _stage: None)
        seconds: dict[str, float] = {}
        active = self.initial_space_active if space_active is None else space_active
        t0 = time.perf_counter()
        report("candidates")
        graph = self.candidates(self.k, active)
        rows = graph.rows
        seconds["candidates"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report("solve")
        n_ent, n_sp = self.tables.tenant.size, self.tables.occupied.size
        prices: npt.NDArray[Any] | None = None
        potentials: npt.NDArray[Any] | None = None
        if self.mode == "optimal":
            warm = previous.col_prices if previous is not None else None
            solution = _assign(rows, graph.cols, graph.scores, (n_ent, n_sp), warm)
            row_to_col = np.asarray(solution.row_to_col, dtype=np.int64)
            prices = np.asarray(solution.col_prices)
            potentials = np.asarray(solution.row_potentials)
        else:
            receiver = self.park_priority(graph)
            row_to_col = deferred_acceptance(
                rows,
                graph.cols,
                graph.scores.astype(np.float64),
                receiver,
                np.ones(n_sp, dtype=np.int64),
                n_proposers=n_ent,
            )
        seconds["solve"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report("results")
        result = self._result(
            graph,
            row_to_col=row_to_col,
            prices=prices,
            potentials=potentials,
            active=active,
            previous=previous,
            seconds=seconds,
        )
        seconds["results"] = time.perf_counter() - t0
        return result

    def park_priority(self, graph: CandidateGraph) -> npt.NDArray[np.float64]:
        """Receiver scores of the stable mode, one per candidate edge.

        ``chain_q * 2**40 + min(output_per_m2, 2**40 - 1)``: the industry-chain component
        in whole thousandths first, then the enterprise's annual output value per m2 of
        the space in whole CNY (capped at 2**40 - 1). Both parts are integers below
        2**53, so the float64 comparison is exactly lexicographic. O(edges).
        """
        rows = graph.rows
        chain_q = np.rint(graph.chain * 1000.0)
        per_m2 = np.floor(
            self.tables.enterprise_output_cny[rows] / self.tables.space_area_m2[graph.cols]
        )
        cap = float(2**40 - 1)
        key: npt.NDArray[np.float64] = chain_q * float(2**40) + np.minimum(per_m2, cap)
        return key

    def _result(
        self,
        graph: CandidateGraph,
        *,
        row_to_col: npt.NDArray[np.int64],
        prices: npt.NDArray[Any] | None,
        potentials: npt.NDArray[Any] | None,
        active: npt.NDArray[np.bool_],
        previous: MatchResult | None,
        seconds: dict[str, float],
    ) -> MatchResult:
        t = self.tables
        ent = np.nonzero(row_to_col >= 0)[0].astype(np.int64)
        sp = row_to_col[ent]
        dist, comps, score = self.pair_scores(ent, sp)
        columns: dict[str, Any] = {
            "enterprise_id": t.enterprise_ids.take(pa.array(ent)),
            "space_id": t.space_ids.take(pa.array(sp)),
            "park_id": t.park_ids.take(pa.array(t.space_park[sp])),
            "score": pa.array(score, pa.int64()),
            "distance_km": pa.array(dist, pa.float64()),
        }
        for i, name in enumerate(COMPONENTS):
            columns[name] = pa.array(comps[:, i], pa.float64())
        if prices is not None and potentials is not None:
            columns["space_price"] = pa.array(prices[sp].astype(np.float64), pa.float64())
            columns["enterprise_margin"] = pa.array(
                potentials[ent].astype(np.float64), pa.float64()
            )
        else:
            columns["space_price"] = pa.nulls(ent.size, pa.float64())
            columns["enterprise_margin"] = pa.nulls(ent.size, pa.float64())
        assignments = pa.table(columns)

        seeking = self.enterprise_active
        lost = np.nonzero(seeking & (row_to_col < 0))[0]
        no_cand = graph.reason[lost] != 0
        reasons = np.array(REASONS, dtype=object)
        unmatched = pa.table(
            {
                "enterprise_id": t.enterprise_ids.take(pa.array(lost)),
                "reason": pa.array(np.where(no_cand, *UNMATCHED_REASONS), pa.string()),
                "constraint": pa.array(reasons[graph.reason[lost]], pa.string(), mask=~no_cand),
                "n_candidates": pa.array(graph.n_feasible[lost], pa.int64()),
            }
        )
        churn = None
        if previous is not None:
            changed = np.nonzero(previous.row_to_col != row_to_col)[0]
            old = previous.row_to_col[changed]
            new = row_to_col[changed]
            churn = pa.table(
                {
                    "enterprise_id": t.enterprise_ids.take(pa.array(changed)),
                    "old_space_id": _space_ids_or_null(t.space_ids, old),
                    "new_space_id": _space_ids_or_null(t.space_ids, new),
                }
            )
        summary = MatchSummary(
            mode=self.mode,
            n_seekers=int(seeking.sum()),
            n_spaces_offered=int(active.sum()),
            n_edges=graph.n_edges,
            n_matched=int(ent.size),
            n_no_candidates=int(no_cand.sum()),
            n_outcompeted=int((~no_cand).sum()),
            total_score=int(score.sum()),
            seconds=seconds,
        )
        return MatchResult(
            assignments=assignments,
            unmatched=unmatched,
            summary=summary,
            churn=churn,
            row_to_col=row_to_col,
            space_active=active,
            col_prices=prices,
            graph=graph,
            matcher=self,
        )


def _space_ids_or_null(ids: pa.ChunkedArray, rows: npt.NDArray[np.int64]) -> pa.ChunkedArray:
    """The id of each space row; null where the row is -1."""
    return ids.take(pa.array(rows, mask=rows < 0))


def _assign(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    scores: npt.NDArray[np.int64],
    shape: tuple[int, int],
    warm: npt.NDArray[Any] | None,
) -> Assignment:
    return assign_sparse(rows, cols, scores, shape, col_prices=warm)


def match(
    spaces: pa.Table,
    enterprises: pa.Table,
    *,
    parks: pa.Table,
    tenancies: pa.Table | None = None,
    options: MatchOptions | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    **deprecated: Any,
) -> MatchResult:
    """Match enterprises to idle spaces; see :class:`Matcher` for the arguments and
    :class:`MatchOptions` for the options (``progress`` is told each stage's name).

    ``executor`` (a :class:`zone_opt.distributed.Executor`: threads here or a Ray
    cluster) runs the distributed path
    (:func:`zone_opt.matching.distributed.solve_distributed` with the default
    :class:`~zone_opt.matching.distributed.ShardOptions`): candidates generated over
    enterprise shards, the graph solved by connected components, giant components cut
    along park boundaries and finished by one warm-started exact solve. The candidate
    graph, the total score and (stable mode) the matching are those of the default
    path; in optimal mode an equally good assignment may differ where scores tie. None
    (the default): everything in this process, as before.

    Returns a :class:`MatchResult` (assignments, unmatched with reasons, summary); call
    :meth:`MatchResult.rematch` when spaces are taken or released.

    Raises:
        InvalidInputError: a table breaks its schema, or an argument is out of range
            (``executor`` not an executor).

    Complexity: candidate generation O(sum over enterprises of the spaces in their
    radius) in parallel; the solve runs on at most ``k`` candidates per enterprise.
    """
    options = resolve_options(options, deprecated, caller="match")
    if executor is not None:
        checked = check_executor(executor)
        matcher = Matcher(
            spaces,
            enterprises,
            parks=parks,
            tenancies=tenancies,
            options=options,
            keep_index_inputs=True,
        )
        return solve_distributed(matcher, checked, progress=progress)
    matcher = Matcher(spaces, enterprises, parks=parks, tenancies=tenancies, options=options)
    return matcher.solve(progress=progress)


def recommend(
    spaces: pa.Table,
    enterprises: pa.Table,
    *,
    parks: pa.Table,
    tenancies: pa.Table | None = None,
    options: MatchOptions | None = None,
    **deprecated: Any,
) -> pa.Table:
    """The best ``options.k`` feasible spaces of each seeking enterprise, by score (10 when
    ``options`` is None; ``options.mode`` plays no part).

    Returns a table ``enterprise_id, rank`` (1 = best), ``space_id, park_id, score,
    distance_km`` and the five components; ties in score go to the earlier space row.
    Enterprises without candidates have no rows (see :func:`match` for reasons).
    """
    options = resolve_options(options, deprecated, caller="recommend", default_k=10)
    matcher = Matcher(spaces, enterprises, parks=parks, tenancies=tenancies, options=options)
    graph = matcher.candidates(options.k)
    rows = graph.rows
    dist, comps, score = matcher.pair_scores(rows, graph.cols)
    rank = np.arange(rows.size, dtype=np.int64) - graph.indptr[rows] + 1
    t = matcher.tables
    columns: dict[str, Any] = {
        "enterprise_id": t.enterprise_ids.take(pa.array(rows)),
        "rank": pa.array(rank, pa.int64()),
        "space_id": t.space_ids.take(pa.array(graph.cols)),
        "park_id": t.park_ids.take(pa.array(t.space_park[graph.cols])),
        "score": pa.array(score, pa.int64()),
        "distance_km": pa.array(dist, pa.float64()),
    }
    for i, name in enumerate(COMPONENTS):
        columns[name] = pa.array(comps[:, i], pa.float64())
    return pa.table(columns)
