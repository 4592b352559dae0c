"""Seeded random facility problems shared by the facility tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zone_opt.optimise.facilities import FacilityProblem

ORLIB = Path(__file__).resolve().parents[1] / "datasets" / "orlib_cflp"


def random_problem(
    seed: int,
    *,
    parks: int = 7,
    sites: int = 5,
    types: int = 2,
    single_source: bool = False,
    budget: bool = False,
    max_distance: bool = False,
) -> FacilityProblem:
    """Parks and sites on a 100 km square; transport cost proportional to distance."""
    rng = np.random.default_rng(seed)
    park_xy = rng.uniform(0, 100, size=(parks, 2))
    site_xy = rng.uniform(0, 100, size=(sites, 2))
    dist = np.linalg.norm(park_xy[:, None, :] - site_xy[None, :, :], axis=2)
    demand = rng.integers(1, 20, size=(parks, types)).astype(float)
    demand[rng.random((parks, types)) < 0.2] = 0.0
    demand[0] = np.maximum(demand[0], 1.0)
    capacity = rng.integers(15, 60, size=(sites, types)).astype(float)
    capacity[rng.random((sites, types)) < 0.2] = 0.0
    capacity[0] = np.maximum(capacity[0], demand.sum(axis=0))  # one big site: feasible
    fixed = rng.integers(200, 900, size=sites).astype(float)
    operating = rng.uniform(0.5, 2.0, size=(sites, types))
    total_fixed = float(fixed.sum())
    return FacilityProblem(
        demand_ids=tuple(f"p{j}" for j in range(parks)),
        site_ids=tuple(f"s{i}" for i in range(sites)),
        facility_types=tuple(f"t{t}" for t in range(types)),
        demand=demand,
        capacity=capacity,
        fixed_cost_cny=fixed,
        transport_cost_cny_per_unit=0.4 * dist,
        operating_cost_cny_per_unit=operating,
        distance_km=dist,
        max_distance_km=float(np.max(dist[:, 0])) if max_distance else None,
        budget_cny=0.7 * total_fixed if budget else None,
        single_source=single_source,
        demand_xy_km=park_xy,
        site_xy_km=site_xy,
    )
