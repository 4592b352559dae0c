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

A park's ``player`` (default: its id) is who pays: parks of one player share a bill.
Top-level ``budget_cny``, ``max_distance_km`` and ``single_source`` apply to every scenario
unless it overrides them. Each scenario also reports the stand-alone total (every player
planning alone) so the saving of the joint plan is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from zone_opt.errors import InvalidInputError, Violation
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.results import FacilityPlan
from zone_opt.optimise.facilities.sharing import CostShares, ShareMethod, cost_shares
from zone_opt.optimise.facilities.solve import DEFAULT_OPTIONS, solve_facilities
from zone_opt.optimise.solver import SolveOptions

__all__ = ["Scenario", "ScenarioResult", "load_scenarios", "parse_scenarios", "run_scenarios"]

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
    """Read and validate a scenario file; returns (region name, scenarios)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InvalidInputError.single("scenario", None, f"{p}: {exc}") from None
    return parse_scenarios(text, default_name=p.stem)


def parse_scenarios(text: str, *, default_name: str = "scenario") -> tuple[str, list[Scenario]]:
    """Validate scenario YAML text; returns (region name, scenarios)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError.single("scenario", None, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInputError.single("scenario", None, "not a YAML mapping")
    parks = _list(doc, "parks")
    sites = _list(doc, "sites")
    violations: list[Violation] = []
    types: list[str] = []
    for section, rows, key in (("parks", parks, "demand"), ("sites", sites, "capacity")):
        for r, row in enumerate(rows):
            values = row.get(key, {})
            if not isinstance(values, dict):
                violations.append(Violation(f"{section}.{key}", r, "must map type -> amount"))
                continue
            types += [str(t) for t in values if str(t) not in types]
            for coord in ("x_km", "y_km"):
                if not _is_number(row.get(coord)):
                    violations.append(Violation(f"{section}.{coord}", r, "required number"))
            if "id" not in row:
                violations.append(Violation(f"{section}.id", r, "required"))
    for r, row in enumerate(sites):
        if not _is_number(row.get("fixed_cost_cny")):
            violations.append(Violation("sites.fixed_cost_cny", r, "required number"))
    rate = doc.get("transport_cost_cny_per_unit_km")
    if not _is_number(rate):
        violations.append(Violation("transport_cost_cny_per_unit_km", None, "required number"))
    error = InvalidInputError.collect(violations)
    if error is not None:
        raise error

    def table(rows: list[dict[str, Any]], key: str) -> np.ndarray:
        return np.array(
            [[float(row.get(key, {}).get(t, 0.0)) for t in types] for row in rows], dtype=float
        )

    park_xy = np.array([[float(r["x_km"]), float(r["y_km"])] for r in parks])
    site_xy = np.array([[float(r["x_km"]), float(r["y_km"])] for r in sites])
    dist = np.linalg.norm(park_xy[:, None, :] - site_xy[None, :, :], axis=2)
    base = FacilityProblem(
        demand_ids=tuple(str(r["id"]) for r in parks),
        site_ids=tuple(str(r["id"]) for r in sites),
        facility_types=tuple(types),
        demand=table(parks, "demand"),
        capacity=table(sites, "capacity"),
        fixed_cost_cny=np.array([float(r["fixed_cost_cny"]) for r in sites]),
        transport_cost_cny_per_unit=float(rate) * dist,  # type: ignore[arg-type]
        operating_cost_cny_per_unit=table(sites, "operating_cost_cny_per_unit"),
        distance_km=dist,
        demand_xy_km=park_xy,
        site_xy_km=site_xy,
        name=str(doc.get("name", default_name)),
        **_options(doc),
    )
    players = {str(r["id"]): str(r.get("player", r["id"])) for r in parks}
    methods = tuple(ShareMethod(m) for m in doc.get("sharing", ["proportional", "shapley"]))
    out = []
    for r, sc in enumerate(doc.get("scenarios") or [{"name": "joint plan"}]):
        if not isinstance(sc, dict) or "name" not in sc:
            raise InvalidInputError.single("scenarios", r, "each scenario needs a name")
        changes = _options(sc)
        problem = base.with_options(**changes, name=str(sc["name"])) if changes else base
        sharing = tuple(ShareMethod(m) for m in sc.get("sharing", [m.value for m in methods]))
        out.append(Scenario(str(sc["name"]), problem, players, sharing))
    return base.name, out


def _options(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _OPTION_KEYS:
        if key in doc:
            value = doc[key]
            out[key] = bool(value) if key == "single_source" else float(value)
    return out


def _is_number(value: object) -> bool:
    """Numbers, and strings YAML 1.1 leaves unparsed such as ``4.5e6``."""
    if isinstance(value, bool):
        return False
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _list(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = doc.get(key)
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise InvalidInputError.single(key, None, "a non-empty list of mappings is required")
    return rows


def run_scenarios(
    scenarios: list[Scenario], options: SolveOptions | None = None, *, workers: int = 2
) -> list[ScenarioResult]:
    """Solve each scenario's joint plan, its stand-alone total and the requested splits."""
    opts = options or DEFAULT_OPTIONS
    results = []
    for sc in scenarios:
        plan = solve_facilities(sc.problem, options=opts)
        standalone = None
        shares: list[CostShares] = []
        if plan.feasible:
            cc = CoalitionCosts(sc.problem, sc.players, options=opts, workers=workers)
            singles = [cc.value(1 << k) for k in range(cc.num_players)]
            if all(v.status.has_solution for v in singles):
                standalone = float(sum(v.cost_cny for v in singles))
                for method in sc.sharing:
                    shares.append(cost_shares(sc.problem, sc.players, method, costs=cc))
        results.append(ScenarioResult(sc, plan, standalone, tuple(shares)))
    return results
