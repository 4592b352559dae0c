"""OR-Tools backend for a :class:`MatrixModel`: SCIP (or another pywraplp MIP solver).

The second, independent backend beside HiGHS. It runs in this process: highspy 1.14 links
HiGHS statically, so it coexists with the ``libhighs.so.1`` OR-Tools 9.15 ships (see
``shared/reference/facilities.md`` §4). Building is a Python loop over the nonzeros (about
7-10x slower than the HiGHS matrix path), fine for the models it serves as a cross-check.
Deadline: ``time_limit_s``; cancellation: a watcher thread calls ``InterruptSolve`` when
the event is set.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from zone_opt.errors import CancelledError, SolverError
from zone_opt.optimise.solver import INF, MatrixModel, Solution, SolveOptions, SolveStatus

__all__ = ["solve_ortools"]

_STATUS = {
    pywraplp.Solver.OPTIMAL: SolveStatus.OPTIMAL,
    pywraplp.Solver.FEASIBLE: SolveStatus.FEASIBLE,
    pywraplp.Solver.INFEASIBLE: SolveStatus.INFEASIBLE,
    pywraplp.Solver.UNBOUNDED: SolveStatus.UNBOUNDED,
    pywraplp.Solver.ABNORMAL: SolveStatus.ERROR,
    pywraplp.Solver.NOT_SOLVED: SolveStatus.TIME_LIMIT,
}


def solve_ortools(
    model: MatrixModel, options: SolveOptions | None = None, *, solver_id: str = "SCIP"
) -> Solution:
    """Solve ``model`` with OR-Tools' ``solver_id`` (``SCIP``, ``CBC``, ``GLOP``...).

    O(nnz) Python calls to build, then the solver's own time. Row duals are not reported.
    """
    opts = options or SolveOptions()
    if opts.cancel is not None and opts.cancel.is_set():
        raise CancelledError("solve cancelled before it started")
    solver = pywraplp.Solver.CreateSolver(solver_id)
    if solver is None:
        raise SolverError(f"OR-Tools has no solver {solver_id!r} in this build")
    xs = _load(solver, model)
    run = _run(solver, _parameters(solver, opts), opts.cancel)
    return _solution(solver, model, xs, run, solver_id)


def _load(solver: pywraplp.Solver, model: MatrixModel) -> list[pywraplp.Variable]:
    """Variables, rows, coefficients and objective of ``model`` into ``solver``."""
    inf = solver.infinity()

    def bound(v: float) -> float:
        return inf if v >= INF else (-inf if v <= -INF else float(v))

    integer = model.integer if model.integer is not None else np.zeros(model.num_cols, bool)
    xs = [
        solver.Var(bound(lo), bound(hi), bool(it), "")
        for lo, hi, it in zip(
            model.col_lower.tolist(), model.col_upper.tolist(), integer.tolist(), strict=True
        )
    ]
    rows = [
        solver.Constraint(bound(lo), bound(hi))
        for lo, hi in zip(model.row_lower.tolist(), model.row_upper.tolist(), strict=True)
    ]
    starts = model.a_start.tolist()
    index = model.a_index.tolist()
    value = model.a_value.tolist()
    for j, var in enumerate(xs):
        for pos in range(starts[j], starts[j + 1]):
            rows[index[pos]].SetCoefficient(var, value[pos])
    objective = solver.Objective()
    for var, c in zip(xs, model.cost.tolist(), strict=True):
        if c:
            objective.SetCoefficient(var, c)
    objective.SetOffset(model.offset)
    if model.maximize:
        objective.SetMaximization()
    else:
        objective.SetMinimization()
    return xs


def _parameters(solver: pywraplp.Solver, opts: SolveOptions) -> pywraplp.MPSolverParameters:
    """The time limit and threads set on ``solver``; the relative gap as parameters."""
    if opts.time_limit_s:
        solver.SetTimeLimit(max(1, int(opts.time_limit_s * 1000)))
    if opts.threads:
        solver.SetNumThreads(int(opts.threads))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, float(opts.mip_rel_gap))
    return params


@dataclass(frozen=True)
class _Run:
    code: int
    """OR-Tools' result status."""
    interrupted: bool
    """Whether the cancel event stopped the solve."""
    elapsed_s: float


def _run(
    solver: pywraplp.Solver,
    params: pywraplp.MPSolverParameters,
    cancel: threading.Event | None,
) -> _Run:
    """Solve; a watcher thread calls ``InterruptSolve`` when ``cancel`` is set."""
    done = threading.Event()
    interrupted = threading.Event()

    def watch() -> None:
        assert cancel is not None
        while not done.is_set():
            if cancel.wait(0.05):
                interrupted.set()
                solver.InterruptSolve()
                return

    watcher = None
    if cancel is not None:
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    started = time.perf_counter()
    try:
        code = solver.Solve(params)
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    return _Run(code, interrupted.is_set(), time.perf_counter() - started)


def _solution(
    solver: pywraplp.Solver,
    model: MatrixModel,
    xs: list[pywraplp.Variable],
    run: _Run,
    solver_id: str,
) -> Solution:
    """The :class:`Solution` of a finished run: status, values, bound, gap, row activity."""
    code = run.code
    status = _STATUS.get(code, SolveStatus.ERROR)
    if run.interrupted and status is not SolveStatus.OPTIMAL:
        status = SolveStatus.CANCELLED
    objective = solver.Objective()
    x = None
    obj = float("nan")
    if code in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        x = np.array([v.solution_value() for v in xs], dtype=np.float64)
        obj = float(objective.Value())
    is_mip = model.is_mip
    best = float(objective.BestBound()) if is_mip and x is not None else obj
    gap = 0.0
    if is_mip and x is not None:
        gap = abs(obj - best) / max(abs(obj), 1e-9)
    activity = None
    if x is not None:
        activity = np.zeros(model.num_rows)
        cols = np.repeat(np.arange(model.num_cols), np.diff(model.a_start))
        np.add.at(activity, model.a_index, model.a_value * x[cols])
    return Solution(
        status=status,
        objective=obj,
        bound=best,
        gap=gap,
        x=x,
        row_activity=activity,
        row_dual=None,
        col_dual=None,
        solve_s=run.elapsed_s,
        nodes=int(solver.nodes()) if is_mip else 0,
        message=f"OR-Tools {solver_id}: status {code}",
    )
