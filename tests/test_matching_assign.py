"""Exact assignment: optimal against scipy and OR-Tools, certified, and strict on input."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.matching import Assignment, assign_dense, assign_sparse

Edges = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]


def grid(scores: npt.NDArray[Any]) -> Edges:
    r, c = np.indices(scores.shape).reshape(2, -1)
    return r.astype(np.int64), c.astype(np.int64), scores.ravel()


def assert_perturbations_fail(a: Assignment, edges: Edges, distinct: bool) -> None:
    """A changed matching or changed prices must not pass verification.

    Swapping two matched rows' columns keeps an optimum when scores tie, so that part
    runs only on ``distinct`` (random float) scores.
    """
    matched = np.flatnonzero(a.row_to_col >= 0)
    if matched.size == 0:
        return
    i = int(matched[0])
    j = int(a.row_to_col[i])
    prices = a.col_prices.copy()
    prices[j] += 1.0 + 10 * a.tolerance
    with pytest.raises(VerificationError):
        dataclasses.replace(a, col_prices=prices).verify(*edges)
    x, y = a.row_to_col.copy(), a.col_to_row.copy()
    x[i], y[j] = -1, -1
    if a.row_potentials[i] != 0 or a.rows_must_match or a.cols_must_match or a.col_prices[j]:
        with pytest.raises(VerificationError):
            dataclasses.replace(a, row_to_col=x, col_to_row=y).verify(*edges)
    if distinct and matched.size >= 2:
        i2 = int(matched[1])
        j2 = int(a.row_to_col[i2])
        x, y = a.row_to_col.copy(), a.col_to_row.copy()
        x[i], x[i2], y[j], y[j2] = j2, j, i2, i
        swapped = dataclasses.replace(a, row_to_col=x, col_to_row=y)
        with pytest.raises(VerificationError):
            swapped.verify(*edges)


dense_shapes = st.tuples(st.integers(0, 9), st.integers(0, 9))


@settings(max_examples=80, deadline=None)
@given(
    shape=dense_shapes,
    seed=st.integers(0, 2**32 - 1),
    low=st.sampled_from([-1000, -50, 0]),
    span=st.sampled_from([1, 3, 1000]),
    maximize=st.booleans(),
    as_float=st.booleans(),
)
def test_dense_matches_scipy_and_certifies(
    *, shape: tuple[int, int], seed: int, low: int, span: int, maximize: bool, as_float: bool
) -> None:
    rng = np.random.default_rng(seed)
    scores: npt.NDArray[Any] = rng.integers(low, low + span, shape).astype(np.int64)
    if as_float:
        scores = scores + rng.random(shape)
    a = assign_dense(scores, maximize=maximize)
    r, c = linear_sum_assignment(scores, maximize=maximize)
    assert a.n_matched == min(shape)
    expected = scores[r, c].sum()
    if as_float:
        assert a.total == pytest.approx(float(expected), abs=1e-9)
    else:
        assert isinstance(a.total, int)
        assert a.total == int(expected)
    rows = np.flatnonzero(a.row_to_col >= 0)
    assert len(set(a.row_to_col[rows].tolist())) == rows.size
    a.verify(*grid(scores))
    assert_perturbations_fail(a, grid(scores), as_float)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 70),
    m=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["int1000", "tied", "float", "float_tied", "wide"]),
    maximize=st.booleans(),
)
def test_dense_random_matrices_match_scipy(
    *, n: int, m: int, seed: int, kind: str, maximize: bool
) -> None:
    """Random integer (narrowed to 32 bits in the core), heavily tied (values in 0..3),
    float, tied float and wide-range integer (past the 32-bit range: the 64-bit core)
    matrices, square and rectangular: scipy's optimum and a verified certificate."""
    rng = np.random.default_rng(seed)
    scores: npt.NDArray[Any]
    if kind == "int1000":
        scores = rng.integers(0, 1000, (n, m))
    elif kind == "tied":
        scores = rng.integers(0, 3, (n, m))
    elif kind == "float":
        scores = rng.random((n, m))
    elif kind == "float_tied":
        scores = rng.integers(0, 4, (n, m)) / 4.0
    else:
        scores = rng.integers(-(10**12), 10**12, (n, m))
    a = assign_dense(scores, maximize=maximize)
    r, c = linear_sum_assignment(scores, maximize=maximize)
    assert a.n_matched == min(n, m)
    if scores.dtype.kind == "f":
        assert a.total == pytest.approx(float(scores[r, c].sum()), abs=1e-9 * (n + m))
    else:
        assert a.total == int(scores[r, c].sum())
    rows = np.flatnonzero(a.row_to_col >= 0)
    assert len(set(a.row_to_col[rows].tolist())) == rows.size
    a.verify(*grid(scores))


def test_dense_large_int_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    for n, m in [(300, 300), (120, 400), (400, 90)]:
        scores = rng.integers(0, 10**4, (n, m))
        a = assign_dense(scores, maximize=False)
        r, c = linear_sum_assignment(scores)
        assert a.total == int(scores[r, c].sum())
        a.verify(*grid(scores))


def sparse_instance(
    rng: np.random.Generator, n: int, m: int, *, density: float, low: int, high: int
) -> Edges:
    mask = rng.random((n, m)) < density
    r, c = np.nonzero(mask)
    w = rng.integers(low, high + 1, r.size)
    return r.astype(np.int64), c.astype(np.int64), w.astype(np.int64)


def max_weight_oracle(n: int, m: int, edges: Edges) -> float:
    """Max-weight matching with unmatched allowed, via scipy on max(w, 0) (0 = stay out)."""
    r, c, w = edges
    dense = np.zeros((n, m))
    np.maximum.at(dense, (r, c), np.asarray(w, dtype=np.float64))
    if n == 0 or m == 0:
        return 0.0
    rr, cc = linear_sum_assignment(dense, maximize=True)
    return float(dense[rr, cc].sum())


def perfect_oracle(n: int, m: int, edges: Edges) -> float | None:
    """Every row matched, scores only on edges; None when impossible."""
    r, c, w = edges
    if n > m:
        return None
    if n == 0:
        return 0.0
    dense = np.full((n, m), -np.inf)
    np.maximum.at(dense, (r, c), np.asarray(w, dtype=np.float64))
    try:
        rr, cc = linear_sum_assignment(dense, maximize=True)
    except ValueError:
        return None
    return float(dense[rr, cc].sum())


@settings(max_examples=120, deadline=None)
@given(
    shape=dense_shapes,
    seed=st.integers(0, 2**32 - 1),
    density=st.sampled_from([0.1, 0.4, 1.0]),
    low=st.sampled_from([-30, -5, 1]),
    span=st.sampled_from([0, 2, 40]),
    duplicates=st.booleans(),
    as_float=st.booleans(),
)
def test_sparse_max_weight_matches_scipy_and_certifies(
    *,
    shape: tuple[int, int],
    seed: int,
    density: float,
    low: int,
    span: int,
    duplicates: bool,
    as_float: bool,
) -> None:
    rng = np.random.default_rng(seed)
    n, m = shape
    r, c, w = sparse_instance(rng, n, m, density=density, low=low, high=low + span)
    if duplicates and r.size:
        pick = rng.integers(0, r.size, 3)
        r, c = np.concatenate([r, r[pick]]), np.concatenate([c, c[pick]])
        w = np.concatenate([w, rng.integers(low, low + span + 1, 3)])
    scores: npt.NDArray[Any] = w + rng.random(w.size) if as_float else w
    a = assign_sparse(r, c, scores, (n, m))
    assert a.feasible
    assert a.total == pytest.approx(max_weight_oracle(n, m, (r, c, scores)), abs=1e-6)
    matched = np.flatnonzero(a.row_to_col >= 0)
    assert np.all(a.col_to_row[a.row_to_col[matched]] == matched)
    a.verify(r, c, scores)
    assert_perturbations_fail(a, (r, c, scores), as_float)


@settings(max_examples=100, deadline=None)
@given(
    shape=dense_shapes,
    seed=st.integers(0, 2**32 - 1),
    density=st.sampled_from([0.2, 0.5, 1.0]),
    low=st.sampled_from([-40, 1]),
)
def test_sparse_perfect_matches_scipy(
    shape: tuple[int, int], seed: int, density: float, low: int
) -> None:
    rng = np.random.default_rng(seed)
    n, m = shape
    edges = sparse_instance(rng, n, m, density=density, low=low, high=low + 30)
    a = assign_sparse(*edges, (n, m), perfect=True)
    expected = perfect_oracle(n, m, edges)
    if expected is None:
        assert not a.feasible
        assert a.n_matched < n
        with pytest.raises(VerificationError):
            a.verify(*edges)
    else:
        assert a.feasible
        assert a.n_matched == n
        assert a.total == int(expected)
        a.verify(*edges)
        assert_perturbations_fail(a, edges, False)


def permutation_instance(n: int, k: int, seed: int) -> Edges:
    """The reference generator: one column per row on a permutation, k-1 uniform."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, (n, k))
    cols[:, 0] = rng.permutation(n)
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    return rows, cols.ravel().astype(np.int64), rng.integers(1, 1001, n * k).astype(np.int64)


def test_sparse_matches_ortools_min_cost_flow() -> None:
    n, k = 400, 6
    r, c, w = permutation_instance(n, k, 3)
    mcf = min_cost_flow.SimpleMinCostFlow()
    source, sink = 2 * n, 2 * n + 1
    mcf.add_arcs_with_capacity_and_unit_cost(r, n + c, np.ones_like(r), -w)
    rows = np.arange(n)
    mcf.add_arcs_with_capacity_and_unit_cost(np.full(n, source), rows, np.ones(n), np.zeros(n))
    mcf.add_arcs_with_capacity_and_unit_cost(rows, np.full(n, sink), np.ones(n), np.zeros(n))
    mcf.add_arcs_with_capacity_and_unit_cost(n + rows, np.full(n, sink), np.ones(n), np.zeros(n))
    mcf.set_nodes_supplies([source, sink], [n, -n])
    assert mcf.solve() == mcf.OPTIMAL
    a = assign_sparse(r, c, w, (n, n))
    assert a.total == -mcf.optimal_cost()
    a.verify(r, c, w)
    p = assign_sparse(r, c, w, (n, n), perfect=True)
    assert p.feasible
    assert p.n_matched == n
    assert p.total == int(perfect_oracle(n, n, (r, c, w)) or 0)
    p.verify(r, c, w)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), perfect=st.booleans(), as_float=st.booleans())
def test_warm_start_after_column_changes_is_exact(seed: int, perfect: bool, as_float: bool) -> None:
    rng = np.random.default_rng(seed)
    n, m = 30, 30
    r, c, w_int = sparse_instance(rng, n, m, density=0.2, low=1, high=50)
    w: npt.NDArray[Any] = w_int + rng.random(w_int.size) if as_float else w_int
    first = assign_sparse(r, c, w, (n, m), perfect=perfect)
    # Spaces taken (columns removed) and released (new columns with fresh edges).
    removed = rng.choice(m, 5, replace=False)
    keep = ~np.isin(c, removed)
    extra = 4
    nr, nc, nw = sparse_instance(rng, n, extra, density=0.3, low=1, high=50)
    r2 = np.concatenate([r[keep], nr])
    c2 = np.concatenate([c[keep], nc + m])
    w2: npt.NDArray[Any] = np.concatenate([w[keep], nw + (rng.random(nw.size) if as_float else 0)])
    prices = np.concatenate([first.col_prices, np.zeros(extra)])
    warm = assign_sparse(r2, c2, w2, (n, m + extra), col_prices=prices, perfect=perfect)
    cold = assign_sparse(r2, c2, w2, (n, m + extra), perfect=perfect)
    assert warm.feasible == cold.feasible
    if cold.feasible:
        assert warm.total == pytest.approx(cold.total, abs=1e-9)
        warm.verify(r2, c2, w2)
        # Arbitrary non-negative prices also warm-start exactly.
        noisy = assign_sparse(
            r2, c2, w2, (n, m + extra), col_prices=rng.random(m + extra) * 80, perfect=perfect
        )
        assert noisy.total == pytest.approx(cold.total, abs=1e-9)
        noisy.verify(r2, c2, w2)


def test_empty_and_tied_inputs() -> None:
    e = np.zeros(0, dtype=np.int64)
    a = assign_sparse(e, e, e, (0, 0))
    assert a.n_matched == 0
    assert a.total == 0
    a.verify(e, e, e)
    a = assign_sparse(e, e, np.zeros(0), (3, 2))
    assert a.row_to_col.tolist() == [-1, -1, -1]
    assert a.total == 0.0
    a = assign_dense(np.zeros((0, 4)))
    assert a.col_to_row.tolist() == [-1] * 4
    ties = np.ones((6, 6), dtype=np.int64)
    a = assign_dense(ties)
    assert a.total == 6
    a.verify(*grid(ties))
    r, c, w = grid(ties)
    a = assign_sparse(r, c, w, (6, 6))
    assert a.total == 6
    a.verify(r, c, w)
    # All-negative scores: nothing is worth matching, unless every row must be.
    a = assign_sparse(r, c, -w, (6, 6))
    assert a.n_matched == 0
    assert a.total == 0
    a.verify(r, c, -w)
    a = assign_sparse(r, c, -w, (6, 6), perfect=True)
    assert a.n_matched == 6
    assert a.total == -6
    a.verify(r, c, -w)


def test_float_quantisation_is_documented_and_exact_on_dyadic_scores() -> None:
    r = np.array([0, 0, 1, 1], dtype=np.int64)
    c = np.array([0, 1, 0, 1], dtype=np.int64)
    w = np.array([0.5, 0.25, 0.375, 0.0625])
    a = assign_sparse(r, c, w, (2, 2))
    assert a.total == 0.625  # 0.25 + 0.375 beats 0.5 + 0.0625
    assert 0 < a.tolerance <= 2.0**-38
    a.verify(r, c, w)


def violation(exc: pytest.ExceptionInfo[InvalidInputError]) -> tuple[str, int | None]:
    v = exc.value.violations[0]
    return v.field, v.row


def test_bad_input_names_field_and_row() -> None:
    r = np.array([0, 1, 2], dtype=np.int64)
    c = np.array([0, 1, 1], dtype=np.int64)
    w = np.array([1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r[:2], c, w, (3, 3))
    assert violation(exc)[0] == "cols"
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, w[:2], (3, 3))
    assert violation(exc)[0] == "scores"
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(np.array([0, -1, 2]), c, w, (3, 3))
    assert violation(exc) == ("rows", 1)
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, np.array([0, 1, 3]), w, (3, 3))
    assert violation(exc) == ("cols", 2)
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, np.array([1.0, np.nan, 2.0]), (3, 3))
    assert violation(exc) == ("scores", 1)
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, np.array([1.0, 2.0, np.inf]), (3, 3))
    assert violation(exc) == ("scores", 2)
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, w.astype(str), (3, 3))
    assert violation(exc)[0] == "scores"
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r.astype(float), c, w, (3, 3))
    assert violation(exc)[0] == "rows"
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, w, (3, -1))
    assert violation(exc)[0] == "shape"
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, w.reshape(3, 1), (3, 3))
    assert violation(exc)[0] == "scores"
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, np.array([1, 2**62, 3]), (3, 3))
    assert violation(exc) == ("scores", 1)
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, w, (3, 3), col_prices=np.array([0.0, -1.0, 0.0]))
    assert violation(exc) == ("col_prices", 1)
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse(r, c, w, (3, 3), col_prices=np.zeros(2))
    assert violation(exc)[0] == "col_prices"
    with pytest.raises(InvalidInputError) as exc:
        assign_dense(np.array([[1.0, 2.0], [np.nan, 0.0]]))
    assert violation(exc) == ("scores", 1)
    with pytest.raises(InvalidInputError) as exc:
        assign_dense(np.ones(3))
    assert violation(exc)[0] == "scores"
    with pytest.raises(InvalidInputError) as exc:
        assign_dense(np.array([[1, 2], [3, 2**62]]))
    assert violation(exc) == ("scores", 1)
    a = assign_sparse(r, c, w, (3, 3))
    with pytest.raises(InvalidInputError) as exc:
        a.verify(r, np.array([0, 1, 5]), w)
    assert violation(exc) == ("cols", 2)


def _csr(r: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))]).astype(np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_verify_in_blocks_and_by_row_equals_the_whole(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    n, m = 40, 30
    r, c, w = sparse_instance(rng, n, m, density=0.3, low=-5, high=40)
    order = np.lexsort((c, r))
    r, c, w = r[order], c[order], w[order]
    a = assign_sparse(r, c, w, (n, m))
    indptr = _csr(r, n)
    # blocks of 7 edges: every check crosses block boundaries
    monkeypatch.setattr("zone_opt.matching.assignment.EDGE_BLOCK", 7)
    monkeypatch.setattr("zone_opt.matching.components.EDGE_BLOCK", 7)
    a.verify(r, c, w)
    a.verify_csr(indptr, c, w)
    assert_perturbations_fail(a, (r, c, w), False)
    k = int(rng.integers(0, r.size))
    low = w.copy()
    low[k] = int(a.row_potentials[r[k]] + a.col_prices[c[k]]) + 1
    where = rf"edge {k} \(row {r[k]}, col {c[k]}\)"
    with pytest.raises(VerificationError, match=where):
        a.verify(r, c, low)
    with pytest.raises(VerificationError, match=where):
        a.verify_csr(indptr, c, low)
    # a matched edge missing from the graph is found by row, wherever its block is
    i = int(np.flatnonzero(a.row_to_col >= 0)[-1])
    keep = ~((r == i) & (c == a.row_to_col[i]))
    with pytest.raises(VerificationError, match=f"row {i}: .* not an edge"):
        a.verify_csr(_csr(r[keep], n), c[keep], w[keep])


def test_verify_csr_refuses_bad_offsets() -> None:
    a = assign_sparse(np.array([0, 1]), np.array([0, 0]), np.array([3, 4]), (2, 1))
    c, w = np.array([0, 0]), np.array([3, 4])
    for ptr, why in (
        ([0, 1], "3 offsets"),
        ([1, 1, 2], "from 0 to 2"),
        ([0, 1, 3], "from 0 to 2"),
    ):
        with pytest.raises(InvalidInputError, match=why) as e:
            a.verify_csr(np.array(ptr), c, w)
        assert e.value.violations[0].field == "indptr"
    a3 = assign_sparse(np.array([0, 2]), np.array([0, 0]), np.array([3, 4]), (3, 1))
    with pytest.raises(InvalidInputError, match="must not decrease"):
        a3.verify_csr(np.array([0, 2, 1, 2]), c, w)
    with pytest.raises(InvalidInputError, match="scores"):
        a.verify_csr(np.array([0, 1, 2]), c, np.array([3]))
