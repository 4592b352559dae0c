"""Checks of a :class:`~zone_opt.optimise.facilities.problem.FacilityProblem`, run once
when it is built: ids, array shapes and values, scalar options, and whether every
demanded type has some capacity. Each failure names the field and the row; all are
raised together."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from zone_opt.errors import InvalidInputError, Violation

if TYPE_CHECKING:
    from zone_opt.optimise.facilities.problem import FacilityProblem

__all__ = ["validate_problem"]


def validate_problem(problem: FacilityProblem) -> None:
    """Normalise ``problem`` in place (ids to ``str`` tuples, arrays to read-only
    float64) and raise :class:`InvalidInputError` listing every violation."""
    violations: list[Violation] = []
    n, m, k = _ids(problem, violations)
    _arrays(problem, (n, m, k), violations)
    _scalars(problem, violations)
    if not violations:
        _supply(problem, violations)
    error = InvalidInputError.collect(violations)
    if error is not None:
        raise error


def _ids(problem: FacilityProblem, violations: list[Violation]) -> tuple[int, int, int]:
    ids = {
        "demand_ids": tuple(str(x) for x in problem.demand_ids),
        "site_ids": tuple(str(x) for x in problem.site_ids),
        "facility_types": tuple(str(x) for x in problem.facility_types),
    }
    for name, values in ids.items():
        object.__setattr__(problem, name, values)
        seen: dict[str, int] = {}
        for row, value in enumerate(values):
            if value == "":
                violations.append(Violation(name, row, "empty id"))
            elif value in seen:
                violations.append(
                    Violation(name, row, f"duplicate id {value!r} (first at row {seen[value]})")
                )
            else:
                seen[value] = row
    n, m, k = len(ids["demand_ids"]), len(ids["site_ids"]), len(ids["facility_types"])
    for name, count, what in (
        ("demand_ids", n, "no demand points"),
        ("site_ids", m, "no candidate sites"),
        ("facility_types", k, "no facility types"),
    ):
        if count == 0:
            violations.append(Violation(name, None, what))
    return n, m, k


def _arrays(
    problem: FacilityProblem, shape_nmk: tuple[int, int, int], violations: list[Violation]
) -> None:
    n, m, k = shape_nmk
    arrays: dict[str, tuple[tuple[int, ...], bool]] = {
        "demand": ((n, k), True),
        "capacity": ((m, k), True),
        "fixed_cost_cny": ((m,), True),
        "transport_cost_cny_per_unit": ((n, m), True),
        "operating_cost_cny_per_unit": ((m, k), False),
        "distance_km": ((n, m), False),
        "demand_xy_km": ((n, 2), False),
        "site_xy_km": ((m, 2), False),
    }
    for name, (shape, required) in arrays.items():
        raw = getattr(problem, name)
        if raw is None:
            if required:
                violations.append(Violation(name, None, "required"))
            continue
        arr = np.array(raw, dtype=np.float64)
        if arr.ndim == 1 and len(shape) == 2 and shape[1] == 1:
            arr = arr.reshape(-1, 1)
        if arr.shape != shape:
            violations.append(Violation(name, None, f"shape {arr.shape}, expected {shape}"))
            continue
        bad = ~np.isfinite(arr)
        if name not in ("demand_xy_km", "site_xy_km"):
            bad |= arr < 0
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            violations.append(Violation(name, row, "must be a finite number >= 0"))
        arr.setflags(write=False)
        object.__setattr__(problem, name, arr)


def _scalars(problem: FacilityProblem, violations: list[Violation]) -> None:
    for name in ("max_distance_km", "budget_cny"):
        value = getattr(problem, name)
        if value is not None and not (np.isfinite(value) and value >= 0):
            violations.append(Violation(name, None, "must be a finite number >= 0"))
    if problem.max_distance_km is not None and problem.distance_km is None:
        violations.append(Violation("distance_km", None, "required with max_distance_km"))


def _supply(problem: FacilityProblem, violations: list[Violation]) -> None:
    total = problem.demand.sum(axis=0)
    supply = problem.capacity.sum(axis=0)
    for t in np.flatnonzero((total > 0) & (supply <= 0)):
        violations.append(
            Violation(
                "capacity",
                None,
                f"no site has capacity for the demanded type {problem.facility_types[t]!r}",
            )
        )
