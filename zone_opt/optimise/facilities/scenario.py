"""Scenario files: one region's parks and candidate sites, several planning variants.

YAML layout (units in the keys; see ``datasets/facilities/example_scenario.yaml``)::

    name: Riverside cluster
    transport_cost_cny_per_unit_km: 30     # cost = rate x straight-line distance
    parks:
      - {id: P1, x_km: 10, y_km: 20, demand: {testing: 120, logistics: 40}, player: West}
    sites:
      - id: S1
        x_km: 12
        y_km: 18
        fixed_cost_cny: 5.0e6
        capacity: {testing: 200, logistics: 100}
        operating_cost_cny_per_unit: {testing: 100}
    sharing: [proportional, shapley, least_core, nucleolus]   # methods for the joint plan
    scenarios:
      - {name: joint plan}
      - {name: budget 20M, budget_cny: 2.0e7}
      - {name: within 25 km, max_distance_km: 25, single_source: true}

The file is checked by :data:`zone_opt.formats.facilities.FACILITIES` (unknown keys,
types, physical bounds; each problem names the file, line and key path; reference:
``docs/formats/facilities-scenario.md``). A park's ``player`` (default: its id) is who
pays: parks of one player share a bill.
Top-level ``budget_cny``, ``max_distance_km`` and ``single_source`` apply to every scenario
unless it overrides them. Each scenario also reports the stand-alone total (every player
planning alone) so the saving of the joint plan is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zone_opt.distributed.executor import Executor, LocalExecutor, check_executor
from zone_opt.errors import InvalidInputError
from zone_opt.formats.document import Document
from zone_opt.formats.facilities import FACILITIES, FacilitiesFile, ScenarioEntry
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.results import FacilityPlan
from zone_opt.optimise.facilities.sharing import CostShares, ShareMethod, cost_shares
from zone_opt.optimise.facilities.solve import DEFAULT_OPTIONS, solve_facilities
from zone_opt.optimise.solver import SolveOptions

__all__ = [
    "Scenario",
    "ScenarioResult",
    "StageHook",
    "load_scenarios",
    "parse_scenarios",
    "run_scenarios",
    "solve_scenario",
]

_OPTION_KEYS = ("budget_cny", "max_distance_km", "single_source")


@dataclass(frozen=True)
class Scenario:
    name: str
    problem: FacilityProblem
    players: dict[str, str]
    sharing: tuple[ShareMethod, ...]


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    plan: FacilityPlan
    standalone_total_cny: float | None
    shares: tuple[CostShares, ...]


def load_scenarios(path: str | Path) -> tuple[str, list[Scenario]]:
    """Read and validate a scenario file; returns (region name, scenarios).

    Raises:
        InvalidInputError: naming the file, the line, the key path and the rule of every
            problem (the format: ``docs/formats/facilities-scenario.md``).
    """
    p = Path(path)
    file, doc = FACILITIES.load(p)
    return _scenarios(file, doc, p.stem)


def parse_scenarios(text: str, *, default_name: str = "scenario") -> tuple[str, list[Scenario]]:
    """Validate scenario YAML text; returns (region name, scenarios). Problems name the key
    path, with the line at the end of the reason."""
    file, doc = FACILITIES.parse(text)
    return _scenarios(file, doc, default_name)


def _scenarios(
    file: FacilitiesFile, doc: Document, default_name: str
) -> tuple[str, list[Scenario]]:
    try:
        base = _problem(file, default_name)
    except InvalidInputError as exc:
        raise FACILITIES.locate(exc, doc) from None
    players = {p.id: p.player if p.player is not None else p.id for p in file.parks}
    methods = tuple(
        ShareMethod(m) for m in (file.sharing if file.sharing is not None else _DEFAULT_SHARING)
    )
    out = []
    for entry in file.scenarios or [ScenarioEntry(name="joint plan")]:
        changes = _options(entry)
        problem = base.with_options(**changes, name=entry.name) if changes else base
        sharing = (
            tuple(ShareMethod(m) for m in entry.sharing) if entry.sharing is not None else methods
        )
        out.append(Scenario(entry.name, problem, players, sharing))
    return base.name, out


_DEFAULT_SHARING = ("proportional", "shapley")


def _problem(file: FacilitiesFile, default_name: str) -> FacilityProblem:
    """The base problem: facility types in order of first mention, parks' demand and sites'
    capacity and operating cost per type (0 where not given), straight-line distances."""
    types: list[str] = []
    for row in (*(p.demand for p in file.parks), *(s.capacity for s in file.sites)):
        types += [t for t in row if t not in types]

    def table(rows: list[dict[str, float]]) -> np.ndarray:
        return np.array([[float(row.get(t, 0.0)) for t in types] for row in rows], dtype=float)

    park_xy = np.array([[float(r.x_km), float(r.y_km)] for r in file.parks])
    site_xy = np.array([[float(r.x_km), float(r.y_km)] for r in file.sites])
    dist = np.linalg.norm(park_xy[:, None, :] - site_xy[None, :, :], axis=2)
    return FacilityProblem(
        demand_ids=tuple(r.id for r in file.parks),
        site_ids=tuple(r.id for r in file.sites),
        facility_types=tuple(types),
        demand=table([r.demand for r in file.parks]),
        capacity=table([r.capacity for r in file.sites]),
        fixed_cost_cny=np.array([float(r.fixed_cost_cny) for r in file.sites]),
        transport_cost_cny_per_unit=float(file.transport_cost_cny_per_unit_km) * dist,
        operating_cost_cny_per_unit=table([r.operating_cost_cny_per_unit for r in file.sites]),
        distance_km=dist,
        demand_xy_km=park_xy,
        site_xy_km=site_xy,
        name=file.name if file.name is not None else default_name,
        **_options(file),
    )


def _options(entry: FacilitiesFile | ScenarioEntry) -> dict[str, Any]:
    """The options ``entry`` sets (the top level's apply to every scenario)."""
    out: dict[str, Any] = {}
    for key in _OPTION_KEYS:
        value = getattr(entry, key)
        if value is not None:
            out[key] = bool(value) if key == "single_source" else float(value)
    return out


#: ``on_stage(scenario, stage)`` hears each scenario's stages: "plan" (the joint MILP
#: starts), "alone" (stand-alone costs), a ShareMethod value (that split starts), "done".
#: When scenarios run as tasks of a remote executor, it hears only "plan" (sent) and "done".
StageHook = Callable[[Scenario, str], None]


def run_scenarios(
    scenarios: list[Scenario],
    options: SolveOptions | None = None,
    *,
    workers: int = 2,
    on_stage: StageHook | None = None,
    executor: Executor | None = None,
) -> list[ScenarioResult]:
    """Solve each scenario's joint plan, its stand-alone total and the requested splits;
    ``on_stage`` (optional) is told where each scenario stands (:data:`StageHook`).

    Scenarios are independent. On ``executor`` (default: ``workers`` threads here) they
    run in turn, each one's coalitions spread over the executor; on a remote executor
    (Ray) with at least as many scenarios as workers, each scenario is one task instead
    (its coalitions solved in turn inside it). Either way the results are those of the
    serial run (timings aside): every solve is the same pure function of the same inputs.
    """
    opts = options or DEFAULT_OPTIONS
    ex = LocalExecutor(max(1, int(workers))) if executor is None else check_executor(executor)

    def stage(sc: Scenario, name: str) -> None:
        if on_stage is not None:
            on_stage(sc, name)

    if ex.remote and len(scenarios) > 1 and len(scenarios) >= ex.workers:
        for sc in scenarios:
            stage(sc, "plan")
        shipped = replace(opts, cancel=None, progress=None)
        results = ex.map(solve_scenario, shipped, scenarios)
        for sc in scenarios:
            stage(sc, "done")
        return results
    return [_scenario(sc, opts, ex, stage) for sc in scenarios]


def solve_scenario(options: SolveOptions, scenario: Scenario) -> ScenarioResult:
    """One scenario, all on this thread (a task of a sweep: a pure function)."""
    return _scenario(scenario, options, LocalExecutor(1), lambda _sc, _name: None)


def _scenario(sc: Scenario, opts: SolveOptions, ex: Executor, stage: StageHook) -> ScenarioResult:
    """The joint plan, then (if feasible) the stand-alone costs and each split."""
    stage(sc, "plan")
    plan = solve_facilities(sc.problem, options=opts)
    standalone = None
    shares: list[CostShares] = []
    if plan.feasible:
        stage(sc, "alone")
        cc = CoalitionCosts(sc.problem, sc.players, options=opts, executor=ex)
        singles = [cc.value(1 << k) for k in range(cc.num_players)]
        if all(v.status.has_solution for v in singles):
            standalone = float(sum(v.cost_cny for v in singles))
            for method in sc.sharing:
                stage(sc, method.value)
                shares.append(cost_shares(sc.problem, sc.players, method, costs=cc))
    stage(sc, "done")
    return ScenarioResult(sc, plan, standalone, tuple(shares))
