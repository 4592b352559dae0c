"""Matrix-form LP/MILP models and the HiGHS adapter every planner in this package uses.

A planner assembles its constraint matrix from arrays (:class:`MatrixModel`, built with
:meth:`MatrixModel.from_coo` in one vectorised pass) and hands it to HiGHS directly through
:class:`HighsSolver`, which also keeps the model alive for in-place updates (new bounds,
costs, rows; a MIP start) between solves, the pattern a rolling horizon or a constraint
generation loop needs. Deadlines, cancellation and progress (incumbent, bound, gap) go
through HiGHS's callbacks; the outcome is a :class:`Solution` whose :class:`SolveStatus` says
what happened: infeasible is a result, not an exception.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import highspy
import numpy as np
from numpy.typing import ArrayLike, NDArray

from zone_opt.arguments import check_flag, check_int, check_real
from zone_opt.errors import CancelledError, InvalidInputError

__all__ = [
    "INF",
    "HighsSolver",
    "MatrixModel",
    "Progress",
    "Solution",
    "SolveOptions",
    "SolveStatus",
    "solve",
]

INF = float(highspy.kHighsInf)

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]


class SolveStatus(enum.StrEnum):
    """What a solve ended with. Only ``OPTIMAL`` and ``FEASIBLE`` carry a solution."""

    OPTIMAL = "optimal"
    """Proven optimal (for a MIP: within the requested relative gap)."""
    FEASIBLE = "feasible"
    """A feasible solution, stopped by a time or node limit before proof; see ``gap``."""
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    """Stopped by the time limit with no feasible solution found."""
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


@dataclass(frozen=True)
class Progress:
    """A MIP progress report: best objective found, best bound, relative gap, time."""

    incumbent: float
    bound: float
    gap: float
    elapsed_s: float
    nodes: int


@dataclass(frozen=True)
class SolveOptions:
    """How to solve.

    ``time_limit_s``: wall-clock limit (None: none); ``mip_rel_gap``: stop when the relative
    gap between incumbent and bound falls to this; ``threads``: HiGHS threads (None: its
    default); ``cancel``: polled from HiGHS's interrupt callbacks, the solve stops soon after
    it is set; ``progress``: called on each improved MIP solution and on MIP log lines;
    ``presolve``: HiGHS presolve on or off; ``extra``: further HiGHS options by name.
    """

    time_limit_s: float | None = None
    mip_rel_gap: float = 1e-4
    threads: int | None = None
    cancel: threading.Event | None = None
    progress: Callable[[Progress], None] | None = None
    presolve: bool = True
    extra: dict[str, bool | int | float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_solve_limits(self.time_limit_s, self.mip_rel_gap, self.threads)
        check_flag("presolve", self.presolve)


#: Most solver threads an option may ask for.
MAX_THREADS = 1024


def check_solve_limits(time_limit_s: object, mip_rel_gap: object, threads: object) -> None:
    """Refuse a time limit that is not a finite non-negative number of seconds (or None), a
    relative gap that is NaN, infinite or negative, or a thread count outside
    ``[1, MAX_THREADS]`` (or None); each error names the option."""
    if time_limit_s is not None:
        check_real("time_limit_s", time_limit_s, low=0.0)
    check_real("mip_rel_gap", mip_rel_gap, low=0.0)
    if threads is not None:
        check_int("threads", threads, low=1, high=MAX_THREADS)


@dataclass(frozen=True)
class MatrixModel:
    """``min/max c·x + offset`` s.t. ``row_lower <= A x <= row_upper`` and bounds on x.

    ``A`` is stored column-wise (CSC: ``a_start`` of length n+1, ``a_index`` row indices,
    ``a_value``), the form HiGHS takes without a copy. ``integer`` marks integer columns
    (None: a pure LP). Infinite bounds are ``±INF``.
    """

    cost: F64
    col_lower: F64
    col_upper: F64
    row_lower: F64
    row_upper: F64
    a_start: I32
    a_index: I32
    a_value: F64
    integer: NDArray[np.bool_] | None = None
    maximize: bool = False
    offset: float = 0.0

    @property
    def num_cols(self) -> int:
        return int(self.cost.shape[0])

    @property
    def num_rows(self) -> int:
        return int(self.row_lower.shape[0])

    @property
    def is_mip(self) -> bool:
        return self.integer is not None and bool(self.integer.any())

    @classmethod
    def from_coo(
        cls,
        coo: tuple[ArrayLike, ArrayLike, ArrayLike],
        *,
        cost: ArrayLike,
        col_bounds: tuple[ArrayLike, ArrayLike],
        row_bounds: tuple[ArrayLike, ArrayLike],
        integer: ArrayLike | None = None,
        maximize: bool = False,
        offset: float = 0.0,
    ) -> MatrixModel:
        """Build from coordinate triplets ``coo = (rows, cols, values)``; duplicate (row, col)
        entries are summed.

        ``col_bounds`` and ``row_bounds`` are ``(lower, upper)`` pairs of arrays or scalars
        (broadcast); the row count is the longer of the two row bounds, the column count the
        length of ``cost``.

        O(nnz log nnz). Shapes are checked here, once, so HiGHS never sees a malformed model.
        """
        rows, cols, values = coo
        col_lower, col_upper = col_bounds
        row_lower, row_upper = row_bounds
        c = np.ascontiguousarray(cost, dtype=np.float64)
        n = c.shape[0]
        r = np.asarray(rows, dtype=np.int64).ravel()
        k = np.asarray(cols, dtype=np.int64).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
        m = max(np.size(row_lower), np.size(row_upper))
        lo_r = _vector(row_lower, m, "row_lower")
        if not (r.shape == k.shape == v.shape):
            raise InvalidInputError.single(
                "values",
                None,
                f"rows, cols and values differ in length ({r.size}, {k.size}, {v.size})",
            )
        if r.size and (r.min() < 0 or r.max() >= m):
            raise InvalidInputError.single(
                "rows", int(np.argmax((r < 0) | (r >= m))), f"row index outside 0..{m - 1}"
            )
        if k.size and (k.min() < 0 or k.max() >= n):
            raise InvalidInputError.single(
                "cols", int(np.argmax((k < 0) | (k >= n))), f"column index outside 0..{n - 1}"
            )
        if not np.isfinite(v).all():
            raise InvalidInputError.single(
                "values", int(np.argmin(np.isfinite(v))), "not a finite number"
            )
        order = np.lexsort((r, k))
        r, k, v = r[order], k[order], v[order]
        if r.size:
            first = np.ones(r.size, dtype=bool)
            first[1:] = (r[1:] != r[:-1]) | (k[1:] != k[:-1])
            starts = np.flatnonzero(first)
            v = np.add.reduceat(v, starts)
            r, k = r[starts], k[starts]
        a_start = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(k, minlength=n), out=a_start[1:])
        return cls(
            cost=c,
            col_lower=_vector(col_lower, n, "col_lower"),
            col_upper=_vector(col_upper, n, "col_upper"),
            row_lower=lo_r,
            row_upper=_vector(row_upper, m, "row_upper"),
            a_start=a_start,
            a_index=r.astype(np.int32),
            a_value=v,
            integer=None if integer is None else np.asarray(integer, dtype=bool).ravel(),
            maximize=maximize,
            offset=float(offset),
        )


def _vector(values: ArrayLike, length: int | None, name: str) -> F64:
    out = np.array(values, dtype=np.float64).ravel()
    if out.size == 1 and length is not None and length != 1:
        out = np.full(length, out[0])
    if length is not None and out.shape[0] != length:
        raise InvalidInputError.single(name, None, f"length {out.shape[0]}, expected {length}")
    return out


@dataclass(frozen=True)
class Solution:
    """The outcome of one solve.

    ``x`` (column values), ``row_activity`` (A x), ``row_dual`` and ``col_dual`` (reduced
    costs; LP only, None for a MIP) are present when ``status.has_solution``. ``objective``
    includes the offset; ``bound`` is the best proven bound (equal to ``objective`` for an
    optimal LP), ``gap`` the relative gap HiGHS reports (0 for an LP).
    """

    status: SolveStatus
    objective: float
    bound: float
    gap: float
    x: F64 | None
    row_activity: F64 | None
    row_dual: F64 | None
    col_dual: F64 | None
    solve_s: float
    nodes: int
    message: str


_STATUS = {
    highspy.HighsModelStatus.kOptimal: SolveStatus.OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: SolveStatus.UNBOUNDED,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kTimeLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kIterationLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kSolutionLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kInterrupt: SolveStatus.CANCELLED,
    highspy.HighsModelStatus.kObjectiveBound: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kObjectiveTarget: SolveStatus.TIME_LIMIT,
}


class HighsSolver:
    """One HiGHS instance holding one model, for repeated solves with in-place updates.

    Not thread-safe: use one per thread. HiGHS releases the GIL while it runs; callbacks
    (cancel, progress) take it back briefly.
    """

    def __init__(self, model: MatrixModel) -> None:
        self._highs = highspy.Highs()
        self._highs.silent()
        self._maximize = model.maximize
        self._is_mip = model.is_mip
        integrality = (
            np.zeros(model.num_cols, dtype=np.int32)
            if model.integer is None
            else model.integer.astype(np.int32)
        )
        status = self._highs.passModel(
            model.num_cols,
            model.num_rows,
            int(model.a_value.shape[0]),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize),
            model.offset,
            model.cost,
            model.col_lower,
            model.col_upper,
            model.row_lower,
            model.row_upper,
            model.a_start,
            model.a_index,
            model.a_value,
            integrality,
        )
        if status == highspy.HighsStatus.kError:
            raise InvalidInputError.single(
                "model", None, "HiGHS rejected the model (inconsistent bounds or indices)"
            )
        self._num_cols = model.num_cols
        self._num_rows = model.num_rows
        self._cancel: threading.Event | None = None
        self._progress: Callable[[Progress], None] | None = None
        self._started = 0.0

    @property
    def highs(self) -> highspy.Highs:
        """The underlying ``highspy.Highs`` for what this adapter does not wrap (lazy rows, IIS)."""
        return self._highs

    @property
    def num_cols(self) -> int:
        return self._num_cols

    @property
    def num_rows(self) -> int:
        return self._num_rows

    def set_col_bounds(self, cols: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> None:
        idx = np.asarray(cols, dtype=np.int32).ravel()
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), idx.shape).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), idx.shape).copy()
        self._highs.changeColsBounds(int(idx.size), idx, lo, hi)

    def set_row_bounds(self, rows: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> None:
        idx = np.asarray(rows, dtype=np.int32).ravel()
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), idx.shape).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), idx.shape).copy()
        self._highs.changeRowsBounds(int(idx.size), idx, lo, hi)

    def set_costs(self, cols: ArrayLike, cost: ArrayLike) -> None:
        idx = np.asarray(cols, dtype=np.int32).ravel()
        c = np.broadcast_to(np.asarray(cost, dtype=np.float64), idx.shape).copy()
        self._highs.changeColsCost(int(idx.size), idx, c)

    def add_rows(
        self,
        lower: ArrayLike,
        upper: ArrayLike,
        starts: ArrayLike,
        index: ArrayLike,
        value: ArrayLike,
    ) -> None:
        """Append rows given row-wise (CSR: ``starts`` per row, column ``index``, ``value``)."""
        lo = np.asarray(lower, dtype=np.float64).ravel()
        idx = np.asarray(index, dtype=np.int32).ravel()
        self._highs.addRows(
            int(lo.size),
            lo,
            np.asarray(upper, dtype=np.float64).ravel(),
            int(idx.size),
            np.asarray(starts, dtype=np.int32).ravel(),
            idx,
            np.asarray(value, dtype=np.float64).ravel(),
        )
        self._num_rows += int(lo.size)

    def delete_rows(self, rows: ArrayLike) -> None:
        """Remove rows by index; later rows move up to fill the gaps."""
        idx = np.unique(np.asarray(rows, dtype=np.int32).ravel())
        if idx.size:
            self._highs.deleteRows(int(idx.size), idx)
            self._num_rows -= int(idx.size)

    def set_start(self, x: ArrayLike) -> None:
        """A MIP start (all columns); HiGHS repairs or ignores it if it is infeasible."""
        values = np.asarray(x, dtype=np.float64).ravel()
        self._highs.setSolution(self._num_cols, np.arange(self._num_cols, dtype=np.int32), values)

    def solve(self, options: SolveOptions | None = None) -> Solution:
        """Run HiGHS to the options' limits. Raises ``CancelledError`` only if the cancel
        event was already set before starting; a cancel during the solve is ``CANCELLED``."""
        opts = options or SolveOptions()
        if opts.cancel is not None and opts.cancel.is_set():
            raise CancelledError("solve cancelled before it started")
        h = self._highs
        h.setOptionValue("time_limit", float(opts.time_limit_s) if opts.time_limit_s else INF)
        h.setOptionValue("mip_rel_gap", float(opts.mip_rel_gap))
        h.setOptionValue("presolve", "on" if opts.presolve else "off")
        if opts.threads:
            h.setOptionValue("threads", int(opts.threads))
        for name, value in opts.extra.items():
            h.setOptionValue(name, value)
        self._cancel, self._progress = opts.cancel, opts.progress
        # Python callbacks take the GIL on every call: subscribe only those this solve needs,
        # so solves in parallel threads without cancel or progress run GIL-free throughout.
        hooks = []
        if opts.cancel is not None:
            hooks += [(cb, self._on_interrupt) for cb in self._interrupt_callbacks()]
        if opts.progress is not None:
            hooks.append((h.cbMipImprovingSolution, self._on_progress))
        for cb, fn in hooks:
            cb.subscribe(fn)
        self._started = time.perf_counter()
        try:
            h.run()
        finally:
            for cb, fn in hooks:
                cb.unsubscribe(fn)
            self._cancel = self._progress = None
        return self._solution(time.perf_counter() - self._started)

    def _interrupt_callbacks(self) -> list[highspy.highs.HighsCallback]:
        h = self._highs
        return [h.cbMipInterrupt, h.cbSimplexInterrupt, h.cbIpmInterrupt]

    def _solution(self, elapsed_s: float) -> Solution:
        h = self._highs
        model_status = h.getModelStatus()
        info = h.getInfo()
        status = _STATUS.get(model_status, SolveStatus.ERROR)
        has_primal = info.primal_solution_status == highspy.kSolutionStatusFeasible
        if has_primal and status in (SolveStatus.TIME_LIMIT, SolveStatus.CANCELLED):
            status = SolveStatus.FEASIBLE if status is SolveStatus.TIME_LIMIT else status
        x = activity = row_dual = col_dual = None
        if has_primal:
            sol = h.getSolution()
            x = np.asarray(sol.col_value, dtype=np.float64)
            activity = np.asarray(sol.row_value, dtype=np.float64)
            if not self._is_mip and sol.dual_valid:
                row_dual = np.asarray(sol.row_dual, dtype=np.float64)
                col_dual = np.asarray(sol.col_dual, dtype=np.float64)
        objective = float(info.objective_function_value) if has_primal else float("nan")
        if self._is_mip:
            bound, gap = float(info.mip_dual_bound), float(info.mip_gap)
        else:
            bound, gap = objective, 0.0
        return Solution(
            status=status,
            objective=objective,
            bound=bound,
            gap=gap,
            x=x,
            row_activity=activity,
            row_dual=row_dual,
            col_dual=col_dual,
            solve_s=elapsed_s,
            nodes=int(info.mip_node_count) if self._is_mip else 0,
            message=h.modelStatusToString(model_status),
        )

    def _on_interrupt(self, event: highspy.highs.HighsCallbackEvent) -> None:
        if self._cancel is not None and self._cancel.is_set():
            event.interrupt()

    def _on_progress(self, event: highspy.highs.HighsCallbackEvent) -> None:
        if self._progress is None:
            return
        out = event.data_out
        self._progress(
            Progress(
                incumbent=float(out.objective_function_value),
                bound=float(out.mip_dual_bound),
                gap=float(out.mip_gap),
                elapsed_s=time.perf_counter() - self._started,
                nodes=int(out.mip_node_count),
            )
        )


def solve(model: MatrixModel, options: SolveOptions | None = None) -> Solution:
    """Solve a model once with HiGHS (see :class:`HighsSolver` for repeated solves)."""
    return HighsSolver(model).solve(options)
