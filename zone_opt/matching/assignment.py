"""Exact assignment with an optimality certificate: dense and sparse.

Both solvers return an :class:`Assignment` that carries, besides the matching, dual
variables proving it optimal. Whatever the call, the certificate is stated for the
*maximisation* LP

    max  sum w_ij x_ij   s.t.  sum_j x_ij (<= or =) 1,  sum_i x_ij (<= or =) 1,  x >= 0

where ``w`` is the score (``-cost`` for ``assign_dense(..., maximize=False)``): the row
potentials ``u`` and column prices ``p`` satisfy ``u_i + p_j >= w_ij`` on every edge, with
equality on matched edges; a side whose constraint is ``<=`` has non-negative duals that
are zero on its unmatched nodes. :meth:`Assignment.verify` checks all of this in O(edges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.arguments import check_flag, check_int
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.matching.components import EDGE_BLOCK, edge_blocks

__all__ = ["Assignment", "assign_dense", "assign_sparse"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Significant bits kept when float scores are quantised for the sparse solver.
FLOAT_SCORE_BITS = 40
#: Largest ``n_rows`` or ``n_cols`` of :func:`assign_sparse` (indices are 32-bit, one value
#: reserved). A shape within it whose working memory exceeds the engine's memory budget
#: (:func:`zone_opt.memory_budget`) raises :class:`~zone_opt.errors.ResourceExhaustedError`.
MAX_SPARSE_DIM = 2**32 - 2


@dataclass(frozen=True, eq=False)
class Assignment:
    """A matching and the duals that certify it optimal.

    Attributes:
        row_to_col: column matched to each row, ``-1`` when unmatched (int64).
        col_to_row: row matched to each column, ``-1`` when unmatched (int64).
        total: sum of the matched scores (costs for a minimising dense call); ``int``
            for integer input, ``float`` otherwise.
        row_potentials: dual ``u`` per row (float64, score units).
        col_prices: dual ``p`` per column (float64, score units); feed it back as
            ``assign_sparse(..., col_prices=...)`` to warm-start a re-solve.
        feasible: ``False`` only when every row had to be matched and cannot be; the
            matching is then partial and carries no certificate.
        maximize: whether the scores are maximised (``False``: costs minimised; the
            certificate is then stated for ``w = -cost``).
        rows_must_match: the row constraints are equalities (``u`` is free in sign).
        cols_must_match: the column constraints are equalities (``p`` is free in sign).
        tolerance: absolute slack allowed by :meth:`verify` (0 for integer scores; the
            quantisation step or a round-off bound for float scores).
    """

    row_to_col: IntArray
    col_to_row: IntArray
    total: int | float
    row_potentials: FloatArray
    col_prices: FloatArray
    feasible: bool = True
    maximize: bool = True
    rows_must_match: bool = False
    cols_must_match: bool = False
    tolerance: float = 0.0

    @property
    def n_matched(self) -> int:
        """Number of matched pairs."""
        return int(np.count_nonzero(self.row_to_col >= 0))

    def verify(self, rows: Any, cols: Any, scores: Any) -> None:
        """Check the optimality certificate on the edges ``(rows[k], cols[k], scores[k])``.

        Pass the same edges the solver saw (for a dense matrix ``S``:
        ``r, c = np.indices(S.shape).reshape(2, -1)`` and ``S.ravel()``). Checks dual
        feasibility on every edge, tightness of every matched edge, the sign and
        complementary-slackness conditions of each side, the consistency of
        ``row_to_col`` / ``col_to_row`` and ``total``. O(edges + rows + cols) time,
        vectorised over blocks of
        :data:`~zone_opt.matching.components.EDGE_BLOCK` edges (working memory bounded by
        the block, not the graph).

        Raises:
            VerificationError: naming the first violated edge, row or column.
            InvalidInputError: the edges themselves are malformed.
        """
        n_rows, n_cols = len(self.row_to_col), len(self.col_to_row)
        r, c, w = _edges(rows, cols, scores, (n_rows, n_cols))
        self._verify_blocks((r[a:b], c[a:b], w[a:b], a) for a, b in _blocks(r.size, EDGE_BLOCK))

    def verify_csr(self, indptr: Any, cols: Any, scores: Any) -> None:
        """:meth:`verify` on edges stored by row (row ``i`` owns
        ``cols[indptr[i]:indptr[i + 1]]``, as a
        :class:`~zone_opt.matching.candidates.CandidateGraph` keeps them), without
        expanding the rows of all edges at once.

        Raises:
            VerificationError: as :meth:`verify`.
            InvalidInputError: ``indptr`` is not a non-decreasing array of
                ``n_rows + 1`` offsets from 0 to the number of edges, or as :meth:`verify`.
        """
        n_rows, n_cols = len(self.row_to_col), len(self.col_to_row)
        ptr = _index_array("indptr", indptr, 0, check_range=False)
        c = _index_array("cols", cols, n_cols)
        w = _scores_array("scores", scores, 1)
        if ptr.size != n_rows + 1 or ptr[0] != 0 or ptr[-1] != c.size:
            raise InvalidInputError.single(
                "indptr", None, f"must hold {n_rows + 1} offsets from 0 to {c.size}"
            )
        if np.any(ptr[1:] < ptr[:-1]):
            raise InvalidInputError.single(
                "indptr", _first_bad_row(ptr[1:] < ptr[:-1]), "offsets must not decrease"
            )
        if w.size != c.size:
            raise InvalidInputError.single(
                "scores", None, f"has {w.size} entries, cols has {c.size}"
            )
        self._verify_blocks(
            (r, c[a : a + r.size], w[a : a + r.size], a) for a, r in edge_blocks(ptr)
        )

    def _verify_blocks(self, blocks: Any) -> None:
        """The checks of :meth:`verify`, the per-edge ones block by block: each block is
        ``(rows, cols, scores, offset of its first edge)``."""
        n_rows, n_cols = len(self.row_to_col), len(self.col_to_row)
        if not self.feasible:
            raise VerificationError("infeasible: some rows cannot be matched; no certificate")
        u, p, tol = self.row_potentials, self.col_prices, self.tolerance
        x, y = self.row_to_col, self.col_to_row
        best = np.full(n_rows, -np.inf)
        for r, c, w_in, offset in blocks:
            w = np.asarray(w_in, dtype=np.float64)
            if not self.maximize:
                w = -w
            bad = np.flatnonzero(u[r] + p[c] < w - tol)
            if bad.size:
                k = int(bad[0])
                raise VerificationError(
                    f"edge {offset + k} (row {r[k]}, col {c[k]}): "
                    f"u + p = {u[r[k]] + p[c[k]]!r} < score {w[k]!r}"
                )
            on = x[r] == c
            np.maximum.at(best, r[on], w[on])
        matched = np.flatnonzero(x >= 0)
        back = np.flatnonzero(y[x[matched]] != matched) if matched.size else matched
        if back.size:
            i = int(matched[back[0]])
            raise VerificationError(f"row {i}: matched to col {x[i]}, which is not matched back")
        if np.count_nonzero(y >= 0) != matched.size:
            j = int(np.flatnonzero((y >= 0) & (x[np.maximum(y, 0)] != np.arange(n_cols)))[0])
            raise VerificationError(f"col {j}: matched to row {y[j]}, which is not matched back")
        missing = matched[best[matched] == -np.inf]
        if missing.size:
            i = int(missing[0])
            raise VerificationError(f"row {i}: matched to col {x[i]}, which is not an edge")
        gap = np.abs(u[matched] + p[x[matched]] - best[matched])
        loose = np.flatnonzero(gap > tol)
        if loose.size:
            i = int(matched[loose[0]])
            raise VerificationError(f"row {i}: matched edge to col {x[i]} is not tight")
        _check_side("row", u, x, self.rows_must_match, tol)
        _check_side("col", p, y, self.cols_must_match, tol)
        total = float(best[matched].sum())
        if not self.maximize:
            total = -total
        if abs(total - float(self.total)) > tol * max(1, matched.size) + 1e-9 * abs(total):
            raise VerificationError(f"total {self.total!r} differs from the matched sum {total!r}")


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    """``[(0, size), (size, 2 size), ...]`` covering ``0..n`` (one empty block when n is 0)."""
    return [(a, min(n, a + size)) for a in range(0, max(n, 1), size)]


def _check_side(name: str, dual: FloatArray, mate: IntArray, must: bool, tol: float) -> None:
    if must:
        free = np.flatnonzero(mate < 0)
        if free.size:
            raise VerificationError(f"{name} {int(free[0])}: must be matched but is not")
        return
    negative = np.flatnonzero(dual < -tol)
    if negative.size:
        k = int(negative[0])
        raise VerificationError(f"{name} {k}: dual {dual[k]!r} is negative")
    slack = np.flatnonzero((mate < 0) & (np.abs(dual) > tol))
    if slack.size:
        k = int(slack[0])
        raise VerificationError(f"{name} {k}: unmatched with a non-zero dual {dual[k]!r}")


def _first_bad_row(mask: npt.NDArray[np.bool_], width: int = 1) -> int:
    return int(np.flatnonzero(mask.ravel())[0]) // width


def _scores_array(field: str, values: Any, ndim: int) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim != ndim:
        raise InvalidInputError.single(field, None, f"must be {ndim}-D, got {arr.ndim}-D")
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise InvalidInputError.single(field, None, "values exceed int64")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if arr.dtype.kind == "f":
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():
            row = _first_bad_row(bad, arr.shape[1] if ndim == 2 else 1)
            raise InvalidInputError.single(field, row, "NaN or infinite score")
        return arr
    raise InvalidInputError.single(field, None, f"must be int64 or float64, got {arr.dtype}")


def _dense_scores(values: Any) -> npt.NDArray[Any]:
    """A C-contiguous int64 or float64 matrix, without a pass over the values: the core
    validates them (finite, in range) where it reads them anyway."""
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise InvalidInputError.single("scores", None, f"must be 2-D, got {arr.ndim}-D")
    if arr.dtype.kind == "f":
        return np.ascontiguousarray(arr, dtype=np.float64)
    return _scores_array("scores", arr, 2)


def _index_array(field: str, values: Any, bound: int, *, check_range: bool = True) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidInputError.single(field, None, f"must be 1-D, got {arr.ndim}-D")
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise InvalidInputError.single(field, None, f"must be integers, got {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if not check_range:
        return out
    bad = (out < 0) | (out >= bound)
    if bad.any():
        k = _first_bad_row(bad)
        raise InvalidInputError.single(field, k, f"index {out[k]} outside 0..{bound}")
    return out


def _shape(shape: Any) -> tuple[int, int]:
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        raise InvalidInputError.single("shape", None, "must be (n_rows, n_cols)")
    n_rows, n_cols = (check_int("shape", v, low=0, high=MAX_SPARSE_DIM) for v in shape)
    return n_rows, n_cols


def _edges(
    rows: Any, cols: Any, scores: Any, shape: tuple[int, int], *, check_range: bool = True
) -> tuple[IntArray, IntArray, npt.NDArray[Any]]:
    r = _index_array("rows", rows, shape[0], check_range=check_range)
    c = _index_array("cols", cols, shape[1], check_range=check_range)
    w = _scores_array("scores", scores, 1)
    if len(c) != len(r):
        raise InvalidInputError.single("cols", None, f"has {len(c)} entries, rows has {len(r)}")
    if len(w) != len(r):
        raise InvalidInputError.single("scores", None, f"has {len(w)} entries, rows has {len(r)}")
    return r, c, w


def assign_dense(scores: Any, maximize: bool = True) -> Assignment:
    """Optimal assignment on a dense ``n x m`` matrix, as ``scipy.optimize.linear_sum_assignment``.

    Matches ``min(n, m)`` pairs maximising (or, with ``maximize=False``, minimising) the
    sum of ``scores`` (int64 or float64, any unit). Jonker-Volgenant (LAPJV) in Rust with
    the GIL released; ``n > m`` is solved on the transpose. O(n^2 m) worst case time,
    O(n m) memory.

    The certificate is for the rectangular-perfect LP: the shorter side must be matched
    (free duals), the longer side's duals are >= 0 and zero where unmatched; for a square
    matrix both sides must be matched. Integer scores are solved exactly; float scores in
    float64 (``tolerance`` is a round-off bound).

    Raises:
        InvalidInputError: ``scores`` is not 2-D, not numeric, holds NaN or inf (naming the
            row), or integers too large to sum exactly.
    """
    maximize = check_flag("maximize", maximize)
    s = _dense_scores(scores)
    n, m = s.shape
    if s.dtype == np.int64:
        # The core checks the exact range (|score| * 8 * (n + m + 2) <= 2^62), naming the row,
        # and negates while it narrows the matrix (no negated copy here).
        x, y, ui, vi, _ = _core.assign_dense_i64(s, maximize)
        u, v = ui.astype(np.float64), vi.astype(np.float64)
        tol = 0.0
    else:
        # The core rejects NaN and infinity, naming the row, and returns max |score|.
        x, y, u, v, scale = _core.assign_dense_f64(s, maximize)
        tol = 1e-9 * max(1.0, scale) * (1 + min(n, m))
    matched = np.flatnonzero(x >= 0)
    picked = s[matched, x[matched]]
    total: int | float = int(picked.sum()) if s.dtype == np.int64 else float(picked.sum())
    return Assignment(
        row_to_col=x,
        col_to_row=y,
        total=total,
        row_potentials=-u,
        col_prices=-v,
        feasible=True,
        maximize=maximize,
        rows_must_match=n <= m,
        cols_must_match=m <= n,
        tolerance=tol,
    )


def float_scale_exponent(max_abs_score: float, shape: tuple[int, int]) -> int:
    """The exponent ``k`` of the power-of-two scale ``2^k`` used to quantise float scores.

    ``k`` keeps :data:`FLOAT_SCORE_BITS` significant bits of the largest ``|score|`` (fewer
    when the shape needs head-room against overflow), so the resolution is
    ``2^-k ~= max|score| * 2^-40``.
    """
    limit = _core.SPARSE_SCORE_SPAN // (8 * (shape[0] + shape[1] + 2))
    bits = min(FLOAT_SCORE_BITS, int(math.log2(limit)))
    if max_abs_score == 0.0:
        return 0
    return bits - math.frexp(max_abs_score)[1]


def assign_sparse(
    rows: Any,
    cols: Any,
    scores: Any,
    shape: tuple[int, int],
    *,
    col_prices: Any = None,
    perfect: bool = False,
) -> Assignment:
    """Maximum-weight matching over the edges ``(rows[k], cols[k], scores[k])``.

    Any row or column may stay unmatched (an outside option worth 0, native to the
    solver: no dummy nodes); a non-positive edge is never used. Duplicate edges count
    with their best score. With ``perfect=True`` every row must be matched instead
    (the classic sparse LAP, negative scores allowed); when no matching covers every row
    the result has ``feasible=False``, ``n_matched < n_rows`` and no certificate.

    Exactness: int64 scores give the exact optimum. float64 scores are quantised to
    ``round(score * 2^k) / 2^k`` with ``k`` from :func:`float_scale_exponent` (40
    significant bits of the largest ``|score|``: resolution ``~max|score| * 9.1e-13``), and
    the result is the exact optimum of the quantised scores; ``tolerance`` is the step.

    ``col_prices`` (float64, one per column, >= 0; e.g. a previous result's
    ``col_prices``) warm-starts the solve after columns or rows changed; the result is
    exactly optimal either way.

    Algorithm (Rust, GIL released): with the outside option, an epsilon-scaling
    forward/reverse auction (scores scaled by a power of two above ``n_rows``; rows bid for
    columns, then unmatched columns with a positive price bid back for rows, so unmatched
    rows end with profit 0 and unmatched columns with price 0) gives an almost optimal
    matching and prices within a fraction of a score unit of exact duals; rounding the
    prices up to score units keeps almost every matched edge exactly tight, and the few
    other rows go through the exact phase: one Dijkstra shortest augmenting path each with
    the duals as potentials (integer arithmetic), bounded by the outside option, then a
    phased repair of any column left free with a positive price. With ``perfect=True`` a
    forward auction with a work budget, then the same exact phase. O(E) memory (the graph
    and its transpose, int32 scores when they fit). Measured (bench suite
    ``matching_assign``, results in ``bench/results``): see the table there; with the
    outside option several times faster than OR-Tools ``SimpleMinCostFlow`` at 10^5 and
    10^6 rows, k = 16, with a fraction of its memory.

    Raises:
        InvalidInputError: mismatched lengths, indices negative or out of range, NaN or
            infinite scores, wrong dtype or ndim, a shape that is not two integers in
            ``[0, MAX_SPARSE_DIM]``, a non-bool ``perfect``, or bad ``col_prices``; the
            violation names the field and the row.
        ResourceExhaustedError: the shape and edges need more working memory than the
            engine's budget (:func:`zone_opt.memory_budget`); the message names ``shape``.
    """
    n_rows, n_cols = _shape(shape)
    perfect = check_flag("perfect", perfect)
    # The core checks every index against the shape, naming the field and the row as
    # _index_array would (two passes over the edges saved here).
    r, c, w = _edges(rows, cols, scores, (n_rows, n_cols), check_range=False)
    is_float = w.dtype == np.float64
    if is_float:
        max_abs = float(np.abs(w).max()) if w.size else 0.0
        k = float_scale_exponent(max_abs, (n_rows, n_cols))
        wi = np.rint(np.ldexp(w, k)).astype(np.int64)
        scale = math.ldexp(1.0, k)
    else:
        wi, scale = w, 1.0
    prices = None
    if col_prices is not None:
        q = np.asarray(col_prices)
        if q.ndim != 1 or q.dtype.kind not in "iuf":
            raise InvalidInputError.single("col_prices", None, "must be a 1-D numeric array")
        if len(q) != n_cols:
            raise InvalidInputError.single(
                "col_prices", None, f"has {len(q)} entries, shape has {n_cols} columns"
            )
        qf = q.astype(np.float64)
        bad = ~np.isfinite(qf) | (qf < 0)
        if bad.any():
            k_bad = _first_bad_row(bad)
            raise InvalidInputError.single("col_prices", k_bad, "must be finite and >= 0")
        prices = np.minimum(qf * scale, 2.0**62)
    x, y, u, p, feasible, total_i, dual_scale = _core.assign_sparse_i64(
        (r, c, wi), (n_rows, n_cols), perfect, prices
    )
    total: int | float
    if is_float:
        on = x[r] == c
        best = np.full(n_rows, -np.inf)
        np.maximum.at(best, r[on], w[on])
        total = float(best[x >= 0].sum())
    else:
        total = int(total_i)
    return Assignment(
        row_to_col=x,
        col_to_row=y,
        total=total,
        row_potentials=np.asarray(u, dtype=np.float64) / (scale * dual_scale),
        col_prices=np.asarray(p, dtype=np.float64) / (scale * dual_scale),
        feasible=bool(feasible),
        maximize=True,
        rows_must_match=perfect,
        cols_must_match=False,
        tolerance=(1.0 / scale) if is_float else 0.0,
    )
