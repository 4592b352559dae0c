"""Dispatch sweeps: many scenarios over one horizon, each scenario's chain one task.

A sweep is typically one park with variations (a tariff, the PV size, a carbon cap), each
a :class:`~zone_opt.optimise.dispatch.scenario.Scenario`. :func:`dispatch_sweep` solves
every one over the same horizon, exactly as :func:`~zone_opt.optimise.dispatch.solve.dispatch`
does, on an :class:`~zone_opt.distributed.Executor`: threads here or tasks on Ray.

One scenario is one task: its rolling-horizon chain (window after window, the state of
each carried into the next) runs whole inside that task, so its windows stay sequential
and its in-place model updates and warm starts work as in a serial run ("one actor per
chain"). Chains of different scenarios are independent and run side by side. The task is
the pure function :func:`solve_chain` of the horizon and one scenario, so a sweep's
results equal ``[dispatch(s, ...) for s in scenarios]`` on every backend (timings aside).

An infeasible scenario is a result (its status, the windows solved, the conflicting
constraints), not an exception; the others are still solved. Input that cannot be solved
at all (a horizon outside a scenario's profiles, bad options) is refused on the driver
before any task starts, naming the scenario by its position (``row``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from zone_opt.distributed.executor import Executor, LocalExecutor, check_executor
from zone_opt.errors import InvalidInputError, Violation
from zone_opt.optimise.dispatch.results import DispatchResult
from zone_opt.optimise.dispatch.scenario import Scenario
from zone_opt.optimise.dispatch.solve import DispatchOptions, check_horizon, dispatch

__all__ = ["MAX_SCENARIOS", "SweepHorizon", "dispatch_sweep", "solve_chain"]

#: Most scenarios one sweep takes.
MAX_SCENARIOS = 10_000


@dataclass(frozen=True)
class SweepHorizon:
    """What every chain of a sweep shares (sent once per round): the horizon, its rolling
    window length (None: one model) and the solve options (without callbacks on a remote
    executor)."""

    start: dt.datetime
    hours: float
    rolling_h: float | None
    options: DispatchOptions


def solve_chain(horizon: SweepHorizon, scenario: Scenario) -> DispatchResult:
    """One scenario's whole chain of windows, in turn on this worker (a sweep's task: a
    pure function of its arguments)."""
    return dispatch(
        scenario,
        horizon.start,
        horizon.hours,
        rolling_h=horizon.rolling_h,
        options=horizon.options,
    )


def dispatch_sweep(
    scenarios: Sequence[Scenario],
    start: dt.datetime | str,
    hours: float,
    *,
    rolling_h: float | None = None,
    options: DispatchOptions | None = None,
    executor: Executor | None = None,
) -> list[DispatchResult]:
    """Every scenario over ``hours`` from ``start`` (optionally in ``rolling_h`` windows),
    each one task of ``executor`` (default: in turn on this thread); results in input
    order, each equal to ``dispatch(scenario, start, hours, rolling_h=..., options=...)``.

    ``options.on_window`` is not called (windows of different chains interleave; each
    result lists its windows). ``options.cancel`` reaches the chains on a local executor;
    on a remote one (Ray) it cannot cross the process boundary and the round finishes.

    Raises:
        InvalidInputError: naming ``scenarios`` (empty, more than :data:`MAX_SCENARIOS`,
            not a Scenario), ``hours``, ``rolling_h`` or ``start`` as :func:`dispatch`
            does, with ``row`` the scenario whose profiles do not cover the horizon.
    """
    items = _checked_scenarios(scenarios)
    opts = options if options is not None else DispatchOptions()
    if not isinstance(opts, DispatchOptions):
        raise InvalidInputError.single("options", None, "must be a DispatchOptions")
    when, hours, rolling_h = check_horizon(start, hours, rolling_h)
    _check_coverage(items, when, hours)
    ex = LocalExecutor(1) if executor is None else check_executor(executor)
    shipped = replace(opts, on_window=None, cancel=None if ex.remote else opts.cancel)
    horizon = SweepHorizon(when.to_pydatetime(), hours, rolling_h, shipped)
    return ex.map(solve_chain, horizon, items)


def _checked_scenarios(scenarios: Sequence[Scenario]) -> list[Scenario]:
    if isinstance(scenarios, Scenario) or not isinstance(scenarios, Sequence):
        raise InvalidInputError.single("scenarios", None, "must be a list of Scenario")
    items = list(scenarios)
    if not items:
        raise InvalidInputError.single("scenarios", None, "must name at least one scenario")
    if len(items) > MAX_SCENARIOS:
        raise InvalidInputError.single(
            "scenarios", None, f"{len(items)} scenarios, at most {MAX_SCENARIOS}"
        )
    bad = [
        ("scenarios", k, f"must be a Scenario, got {type(s).__name__}")
        for k, s in enumerate(items)
        if not isinstance(s, Scenario)
    ]
    if bad:
        raise InvalidInputError(None, bad)
    return items


def _check_coverage(scenarios: list[Scenario], start: object, hours: float) -> None:
    """Each scenario's profiles cover the horizon (checked here, before any task)."""
    found: list[Violation] = []
    for k, scenario in enumerate(scenarios):
        try:
            scenario.horizon(start, hours)  # type: ignore[arg-type]
        except InvalidInputError as exc:
            name = f" ({scenario.name})" if scenario.name else ""
            found += [Violation(v.field, k, f"{v.reason}{name}") for v in exc.violations]
    if found:
        raise InvalidInputError(None, found)
