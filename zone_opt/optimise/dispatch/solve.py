"""Solving a scenario over one horizon, or over many windows with a rolling horizon.

:func:`dispatch` is the entry point. ``rolling_h=None`` solves ``hours`` in one model
(batteries cyclic if the scenario says so). With ``rolling_h`` it solves consecutive
windows of that length (the last may be shorter), carrying the state between them: SoC,
each CHP's status, time in status (for min up/down) and last output (for ramps).

Windows of equal shape share one :class:`~zone_opt.optimise.solver.HighsSolver` whose
bounds, row bounds and costs are updated in place (only the entries that changed), so HiGHS
warm-starts LPs from the previous basis; a MIP gets the previous window's schedule as a
start. With ``workers=2`` the next window is solved speculatively in parallel from a
predicted initial state (the state the previous window started from: weekly patterns
repeat); it is kept only if its start state proves exactly equal to the true one, else that
same model is updated in place to the true state and solved again, warm-started from the
speculative basis (LP) or schedule (MIP start), so the result never depends on the guess.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zone_opt.arguments import check_choice, check_datetime, check_flag, check_real
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch.assets import Park, UnitState
from zone_opt.optimise.dispatch.build import fill
from zone_opt.optimise.dispatch.diagnose import Conflict, diagnose
from zone_opt.optimise.dispatch.inputs import DispatchState, HorizonInputs
from zone_opt.optimise.dispatch.results import (
    BindingConstraint,
    DispatchResult,
    WindowReport,
    binding_constraints,
    extract_blocks,
    timeseries,
)
from zone_opt.optimise.dispatch.scenario import Scenario
from zone_opt.optimise.dispatch.structure import ModelData, Structure, build_structure
from zone_opt.optimise.solver import (
    HighsSolver,
    MatrixModel,
    Solution,
    SolveOptions,
    SolveStatus,
    check_solve_limits,
)

__all__ = ["DispatchOptions", "WindowProgress", "check_horizon", "dispatch"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class WindowProgress:
    """Reported after each window: how many are done, and the last one's report."""

    done: int
    total: int
    report: WindowReport


@dataclass(frozen=True)
class DispatchOptions:
    """How to solve: HiGHS limits per window, parallel windows, MIP starts, callbacks.

    ``time_limit_s`` applies to each window; ``workers`` (1 or 2) enables speculative
    parallel windows; ``cancel`` stops between and inside windows; ``on_window`` is called
    after each window.
    """

    mip_rel_gap: float = 1e-4
    time_limit_s: float | None = None
    threads: int = 1
    workers: int = 1
    mip_start: bool = True
    cancel: threading.Event | None = None
    on_window: Callable[[WindowProgress], None] | None = None
    binding: bool = True

    def __post_init__(self) -> None:
        check_solve_limits(self.time_limit_s, self.mip_rel_gap, self.threads)
        check_choice("workers", self.workers, (1, 2))
        check_flag("mip_start", self.mip_start)
        check_flag("binding", self.binding)

    def solve_options(self) -> SolveOptions:
        return SolveOptions(
            time_limit_s=self.time_limit_s,
            mip_rel_gap=self.mip_rel_gap,
            threads=self.threads,
            cancel=self.cancel,
            extra={"random_seed": 1},
        )


class _WindowModel:
    """A structure and its HiGHS instance, updated in place between windows."""

    def __init__(self, structure: Structure, data: ModelData) -> None:
        self.structure = structure
        m = structure.model
        self.solver = HighsSolver(
            MatrixModel(
                cost=data.cost,
                col_lower=data.col_lower,
                col_upper=data.col_upper,
                row_lower=data.row_lower,
                row_upper=data.row_upper,
                a_start=m.a_start,
                a_index=m.a_index,
                a_value=m.a_value,
                integer=m.integer,
            )
        )
        self.data = data
        self.last_x: F64 | None = None

    def update(self, data: ModelData) -> None:
        """Push only the changed bounds and costs. O(columns + rows)."""
        old = self.data
        c = np.flatnonzero((old.col_lower != data.col_lower) | (old.col_upper != data.col_upper))
        if c.size:
            self.solver.set_col_bounds(c, data.col_lower[c], data.col_upper[c])
        r = np.flatnonzero((old.row_lower != data.row_lower) | (old.row_upper != data.row_upper))
        if r.size:
            self.solver.set_row_bounds(r, data.row_lower[r], data.row_upper[r])
        k = np.flatnonzero(old.cost != data.cost)
        if k.size:
            self.solver.set_costs(k, data.cost[k])
        self.data = data


@dataclass
class _Solved:
    inputs: HorizonInputs
    start_state: DispatchState
    solution: Solution
    structure: Structure
    data: ModelData
    blocks: dict[str, F64] | None
    end_state: DispatchState | None
    fill_s: float
    read_s: float
    conflicts: list[Conflict]


#: Longest horizon :func:`dispatch` accepts, hours (ten years).
MAX_HOURS = 10 * 8784.0
#: Most rolling windows one :func:`dispatch` call solves.
MAX_WINDOWS = 10_000


def _timestamp(name: str, value: object) -> pd.Timestamp:
    """A datetime or ISO 8601 string as a pandas timestamp (within pandas' range)."""
    when = check_datetime(name, value)
    try:
        return pd.Timestamp(when)
    except (ValueError, OverflowError):
        raise InvalidInputError.single(
            name, None, f"{when.isoformat()} is outside the supported range"
        ) from None


def check_horizon(
    start: dt.datetime | str, hours: float, rolling_h: float | None
) -> tuple[pd.Timestamp, float, float | None]:
    """``(start, hours, rolling_h)`` checked as :func:`dispatch` takes them."""
    hours = check_real("hours", hours, low=0.0, high=MAX_HOURS, low_open=True)
    if rolling_h is not None:
        rolling_h = check_real("rolling_h", rolling_h, low=0.0, low_open=True)
        if hours / rolling_h > MAX_WINDOWS:
            raise InvalidInputError.single(
                "rolling_h",
                None,
                f"{rolling_h} h cuts {hours} h into more than {MAX_WINDOWS} windows",
            )
    return _timestamp("start", start), hours, rolling_h


def _windows(
    start: pd.Timestamp, hours: float, rolling_h: float | None
) -> list[tuple[pd.Timestamp, float]]:
    if rolling_h is None or rolling_h >= hours:
        return [(start, hours)]
    out = []
    done = 0.0
    while done < hours - 1e-9:
        h = min(rolling_h, hours - done)
        out.append((start + pd.Timedelta(hours=done), h))
        done += h
    return out


def next_state(
    park: Park, structure: Structure, blocks: dict[str, F64], before: DispatchState
) -> DispatchState:
    """The state after a window: last SoC, each CHP's status, time in it and last output."""
    soc = tuple(float(blocks[f"{b.name}.soc"][-1]) for b in park.batteries)
    units: list[UnitState] = []
    for k, c in enumerate(park.chps):
        g = float(blocks[f"{c.name}.fuel"][-1])
        if not c.committable:
            units.append(UnitState(is_on=g > 1e-9, steps_in_state=0, output_mw_fuel=g))
            continue
        u = np.round(blocks[f"{c.name}.on"]).astype(np.int8)
        last = int(u[-1])
        changes = np.flatnonzero(u != last)
        if changes.size:
            steps = int(u.size - 1 - changes[-1])
        else:
            prev = before.units[k]
            steps = u.size + (prev.steps_in_state if prev.is_on == bool(last) else 0)
        steps = min(steps, 10**6)
        units.append(
            UnitState(is_on=bool(last), steps_in_state=steps, output_mw_fuel=g if last else 0.0)
        )
    return DispatchState(soc_mwh=soc, units=tuple(units), cyclic=(False,) * len(park.batteries))


def _same_state(a: DispatchState, b: DispatchState, tol: float = 1e-7) -> bool:
    if any(abs(x - y) > tol for x, y in zip(a.soc_mwh, b.soc_mwh, strict=True)):
        return False
    for ua, ub in zip(a.units, b.units, strict=True):
        if ua.is_on != ub.is_on:
            return False
        if (
            ua.steps_in_state != ub.steps_in_state
            and min(ua.steps_in_state, ub.steps_in_state) < 10**3
        ):
            return False
        oa, ob = ua.output_mw_fuel, ub.output_mw_fuel
        if (oa is None) != (ob is None) or (
            oa is not None and ob is not None and abs(oa - ob) > tol
        ):
            return False
    return True


class _Runner:
    """Solves windows, each worker slot keeping its own in-place-updated models."""

    def __init__(self, scenario: Scenario, options: DispatchOptions) -> None:
        self.scenario = scenario
        self.park = scenario.park
        self.options = options
        self.models: list[dict[tuple[object, ...], _WindowModel]] = [{}, {}]

    def solve(self, slot: int, inputs: HorizonInputs, state: DispatchState) -> _Solved:
        t0 = time.perf_counter()
        cyclic = state.cyclic or (False,) * len(self.park.batteries)
        key = (*inputs.structure_key(), cyclic)
        cache = self.models[slot]
        wm = cache.get(key)
        if wm is None or inputs.carbon_cap_t is not None:
            structure = build_structure(self.park, inputs, cyclic)
            data = fill(structure, inputs, state)
            wm = _WindowModel(structure, data)
            if inputs.carbon_cap_t is not None:
                _set_cap_coefficients(wm, inputs)
            cache[key] = wm
        else:
            wm.update(fill(wm.structure, inputs, state))
        if self.options.mip_start and wm.last_x is not None and wm.structure.model.is_mip:
            wm.solver.set_start(wm.last_x)
        t1 = time.perf_counter()
        sol = wm.solver.solve(self.options.solve_options())
        t2 = time.perf_counter()
        blocks = end = None
        iis: list[Conflict] = []
        if sol.status.has_solution and sol.x is not None:
            blocks = extract_blocks(wm.structure, sol.x)
            end = next_state(self.park, wm.structure, blocks, state)
            wm.last_x = sol.x
        elif sol.status is SolveStatus.INFEASIBLE:
            iis = diagnose(wm.solver, wm.structure, wm.data, inputs.time, message=sol.message)
        t3 = time.perf_counter()
        return _Solved(
            inputs, state, sol, wm.structure, wm.data, blocks, end, t1 - t0, t3 - t2, iis
        )


def _set_cap_coefficients(wm: _WindowModel, inputs: HorizonInputs) -> None:
    row = wm.structure.rows["carbon.cap"].start
    imp = wm.structure.cols["grid.import"].start
    h = wm.solver.highs
    for t in range(inputs.n_steps):
        h.changeCoeff(row, imp + t, float(inputs.intensity_t_per_mwh[t] * inputs.dt_h))


def dispatch(
    scenario: Scenario,
    start: dt.datetime | str,
    hours: float,
    *,
    rolling_h: float | None = None,
    options: DispatchOptions | None = None,
) -> DispatchResult:
    """Cheapest schedule of ``scenario`` for ``hours`` from ``start`` (see module docstring).

    Infeasible or cancelled windows stop the run; the result then carries the status, the
    windows solved so far and, if infeasible, the conflicting constraints (HiGHS IIS).
    Complexity: HiGHS's time plus O(steps x assets) per window outside it.

    Raises:
        InvalidInputError: naming ``hours`` (not a finite number in ``(0, MAX_HOURS]``),
            ``rolling_h`` (not finite and positive, or more than ``MAX_WINDOWS`` windows),
            ``start`` (not a datetime or ISO 8601 string, or outside pandas' range) or an
            option of :class:`DispatchOptions`.
    """
    opts = options or DispatchOptions()
    t0, hours, rolling_h = check_horizon(start, hours, rolling_h)
    wall0 = time.perf_counter()
    plan = _windows(t0, hours, rolling_h)
    one_shot = len(plan) == 1
    cap = scenario.park.carbon.cap_t
    caps = [None if cap is None else cap * h / hours for _, h in plan]
    t_in = time.perf_counter()
    inputs = [scenario.horizon(s, h, carbon_cap_t=c) for (s, h), c in zip(plan, caps, strict=True)]
    cut_s = time.perf_counter() - t_in
    runner = _Runner(scenario, opts)
    state = DispatchState.initial(scenario.park, one_shot=one_shot)
    solved: list[_Solved] = []
    speculative: list[bool] = []
    reports: list[WindowReport] = []
    pool = ThreadPoolExecutor(max_workers=1) if opts.workers == 2 else None
    try:
        i = 0
        while i < len(plan):
            guess: Future[_Solved] | None = None
            if pool is not None and i + 1 < len(plan):
                # Predict window i+1 starts where window i starts (weekly repetition).
                guess_state = replace(state, cyclic=(False,) * len(state.soc_mwh))
                guess = pool.submit(runner.solve, 1, inputs[i + 1], guess_state)
            cur = runner.solve(0, inputs[i], state)
            batch = [(cur, False)]
            ok = cur.end_state is not None
            if guess is not None:
                spec = guess.result()
                if ok and cur.end_state is not None:
                    if _same_state(spec.start_state, cur.end_state):
                        batch.append((spec, True))
                    else:
                        # Re-solve on the speculative model, updated in place to the true
                        # state: an LP warm-starts from its basis, a MIP from its schedule.
                        batch.append((runner.solve(1, inputs[i + 1], cur.end_state), False))
            for s, was_spec in batch:
                solved.append(s)
                speculative.append(was_spec)
                rep = _report(len(reports), s, was_spec, cut_s / len(plan))
                reports.append(rep)
                if opts.on_window is not None:
                    opts.on_window(WindowProgress(len(reports), len(plan), rep))
            last = batch[-1][0]
            if last.end_state is None or (opts.cancel is not None and opts.cancel.is_set()):
                break
            state = last.end_state
            i += len(batch)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return _assemble(
        scenario.park,
        solved,
        reports,
        opts=opts,
        wall_s=time.perf_counter() - wall0,
        n_windows=len(plan),
    )


def _concat_inputs(parts: list[HorizonInputs]) -> HorizonInputs:
    """The per-step arrays of consecutive horizons as one (day grouping not kept)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return HorizonInputs(
        time=np.concatenate([p.time for p in parts]),
        dt_h=first.dt_h,
        cf=np.concatenate([p.cf for p in parts], axis=1),
        load_mw=np.concatenate([p.load_mw for p in parts]),
        heat_load_mwth=np.concatenate([p.heat_load_mwth for p in parts]),
        price_cny_per_mwh=np.concatenate([p.price_cny_per_mwh for p in parts]),
        export_price_cny_per_mwh=np.concatenate([p.export_price_cny_per_mwh for p in parts]),
        intensity_t_per_mwh=np.concatenate([p.intensity_t_per_mwh for p in parts]),
        window=np.concatenate([p.window for p in parts], axis=1),
        period=np.zeros(0, dtype=np.int64),
        period_share=np.zeros((first.window.shape[0], 0)),
    )


def _report(index: int, s: _Solved, spec: bool, cut_s: float) -> WindowReport:
    sol = s.solution
    return WindowReport(
        index=index,
        start=str(pd.Timestamp(s.inputs.time[0])),
        hours=s.inputs.n_steps * s.inputs.dt_h,
        status=sol.status,
        objective_cny=sol.objective,
        mip_gap=sol.gap,
        build_s=s.fill_s + s.read_s + cut_s,
        solve_s=sol.solve_s,
        speculative=spec,
    )


def _assemble(
    park: Park,
    solved: list[_Solved],
    reports: list[WindowReport],
    *,
    opts: DispatchOptions,
    wall_s: float,
    n_windows: int,
) -> DispatchResult:
    good = [s for s in solved if s.blocks is not None]
    bad = [s for s in solved if s.blocks is None]
    status = SolveStatus.OPTIMAL
    if bad:
        status = bad[0].solution.status
    elif len(solved) < n_windows:
        status = SolveStatus.CANCELLED
    elif any(s.solution.status is SolveStatus.FEASIBLE for s in solved):
        status = SolveStatus.FEASIBLE
    frame = pd.DataFrame()
    if good:
        frame = timeseries(
            park,
            _concat_inputs([s.inputs for s in good]),
            {
                k: np.concatenate([s.blocks[k] for s in good if s.blocks])
                for k in good[0].blocks or {}
            },
        )
    objective = float(sum(s.solution.objective for s in good)) if not bad else float("nan")
    gaps = [s.solution.gap for s in good]
    binding: list[BindingConstraint] = []
    if opts.binding and len(good) == 1:
        s = good[0]
        sol = s.solution
        if sol.row_activity is not None:
            binding = binding_constraints(
                s.structure, sol.row_activity, s.data.row_lower, s.data.row_upper, sol.row_dual
            )
    return DispatchResult(
        park=park,
        status=status,
        objective_cny=objective,
        mip_gap=max(gaps) if gaps else float("nan"),
        build_s=float(sum(r.build_s for r in reports)),
        solve_s=float(sum(r.solve_s for r in reports)),
        wall_s=wall_s,
        timeseries=frame,
        windows=reports,
        binding=binding,
        infeasibility=[c.describe("en") for c in bad[0].conflicts] if bad else [],
        conflicts=bad[0].conflicts if bad else [],
        message=bad[0].solution.message if bad else "",
    )
