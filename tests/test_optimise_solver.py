"""The HiGHS matrix adapter against scipy's independent LP/MILP interfaces."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from zone_opt.errors import CancelledError, InvalidInputError
from zone_opt.optimise import INF, HighsSolver, MatrixModel, SolveOptions, SolveStatus, solve


def _random_lp(seed: int, integer: bool) -> tuple[MatrixModel, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m, n = 12, 9
    a = rng.integers(0, 6, size=(m, n)) * (rng.random((m, n)) < 0.5)
    b = a.sum(axis=1) * 2.0 + 1.0
    c = -rng.integers(1, 10, size=n).astype(float)
    rows, cols = np.nonzero(a)
    model = MatrixModel.from_coo(
        (rows, cols, a[rows, cols]),
        cost=c,
        col_bounds=(0.0, 3.0),
        row_bounds=(-INF, b),
        integer=np.full(n, integer),
    )
    return model, a.astype(float), b, c


@pytest.mark.parametrize("seed", range(5))
def test_lp_matches_scipy_with_duals(seed: int) -> None:
    model, a, b, c = _random_lp(seed, integer=False)
    ours = solve(model)
    ref = linprog(c, A_ub=a, b_ub=b, bounds=[(0, 3.0)] * len(c), method="highs-ds")
    assert ours.status is SolveStatus.OPTIMAL
    assert ours.objective == pytest.approx(ref.fun, rel=1e-9, abs=1e-9)
    assert ours.x is not None
    assert ours.row_dual is not None
    assert ours.col_dual is not None
    assert ours.row_activity is not None
    assert np.all(ours.row_activity <= b + 1e-9)
    # Strong duality: the dual objective (row duals on their active bounds plus reduced
    # costs on the column bounds) equals the primal objective.
    dual_obj = ours.row_dual @ b + np.sum(np.where(ours.col_dual < 0, ours.col_dual * 3.0, 0.0))
    assert dual_obj == pytest.approx(ours.objective, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_mip_matches_scipy_milp(seed: int) -> None:
    model, a, b, c = _random_lp(seed, integer=True)
    ours = solve(model, SolveOptions(mip_rel_gap=0.0))
    ref = milp(
        c,
        constraints=LinearConstraint(a, -np.inf, b),
        integrality=np.ones(len(c)),
        bounds=Bounds(0, 3.0),
    )
    assert ours.status is SolveStatus.OPTIMAL
    assert ours.objective == pytest.approx(ref.fun, abs=1e-9)
    assert ours.x is not None
    assert np.allclose(ours.x, np.round(ours.x))


def test_duplicate_entries_are_summed_and_maximize() -> None:
    # max x + y s.t. (1+1) x + y <= 4, x,y in [0, 3]  -> x=0.5,y=3 -> 3.5
    model = MatrixModel.from_coo(
        ([0, 0, 0], [0, 0, 1], [1.0, 1.0, 1.0]),
        cost=[1, 1],
        col_bounds=(0, 3),
        row_bounds=(-INF, [4]),
        maximize=True,
    )
    sol = solve(model)
    assert sol.objective == pytest.approx(3.5)


def test_infeasible_is_a_result() -> None:
    model = MatrixModel.from_coo(
        ([0], [0], [1.0]), cost=[1.0], col_bounds=(0, 1), row_bounds=([2], [INF])
    )
    sol = solve(model)
    assert sol.status is SolveStatus.INFEASIBLE
    assert sol.x is None


def test_in_place_update_and_start() -> None:
    model, a, b, c = _random_lp(3, integer=True)
    solver = HighsSolver(model)
    first = solver.solve()
    assert first.x is not None
    fixed = int(np.argmax(first.x))
    assert first.x[fixed] > 0.5
    solver.set_col_bounds([fixed], [0.0], [0.0])
    solver.set_start(np.where(np.arange(model.num_cols) == fixed, 0.0, first.x))
    second = solver.solve()
    ref = milp(
        c,
        constraints=LinearConstraint(a, -np.inf, b),
        integrality=np.ones(len(c)),
        bounds=Bounds(np.zeros(len(c)), np.where(np.arange(len(c)) == fixed, 0.0, 3.0)),
    )
    assert second.objective == pytest.approx(ref.fun, abs=1e-6 * abs(ref.fun) + 1e-9)


def test_cancel_before_start_raises_and_bad_shapes_name_field() -> None:
    model, *_ = _random_lp(0, integer=False)
    event = threading.Event()
    event.set()
    with pytest.raises(CancelledError):
        solve(model, SolveOptions(cancel=event))
    with pytest.raises(InvalidInputError) as info:
        MatrixModel.from_coo(
            ([0], [5], [1.0]), cost=[1.0], col_bounds=(0, 1), row_bounds=([0], [1])
        )
    assert info.value.violations[0].field == "cols"


def test_added_rows_can_be_deleted_again() -> None:
    model, a, b, c = _random_lp(4, integer=False)
    solver = HighsSolver(model)
    base = solver.solve()
    # A cut x_0 + x_1 <= 0.5 changes the optimum; deleting it restores the original one.
    solver.add_rows([-INF], [0.5], [0], [0, 1], [1.0, 1.0])
    assert solver.num_rows == model.num_rows + 1
    cut = solver.solve()
    ref = linprog(
        c,
        A_ub=np.vstack([a, np.r_[1.0, 1.0, np.zeros(len(c) - 2)]]),
        b_ub=np.r_[b, 0.5],
        bounds=[(0, 3.0)] * len(c),
        method="highs-ds",
    )
    assert cut.objective == pytest.approx(ref.fun, rel=1e-9, abs=1e-9)
    solver.delete_rows([model.num_rows])
    assert solver.num_rows == model.num_rows
    assert solver.solve().objective == pytest.approx(base.objective, rel=1e-9, abs=1e-9)
