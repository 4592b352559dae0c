"""The shared-facility location problem: typed data in, validated once here.

Parks (demand points) need an amount of each facility type (a testing centre's test
slots, a logistics hub's pallet throughput, ...); candidate sites can be opened at a fixed
cost and then offer a capacity per type, at an operating cost per unit served; serving a
unit of a park's demand from a site costs a transport cost per unit. Optional rules: a
budget on the fixed cost of opened sites, a maximum park-to-site distance, and single
sourcing (each park's demand of a type is served by exactly one site).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from zone_opt.optimise.facilities.validate import validate_problem

__all__ = ["FacilityProblem"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class FacilityProblem:
    """A capacitated, multi-type facility location problem.

    Shapes: ``n`` demand points (parks), ``m`` candidate sites, ``k`` facility types.

    * ``demand``: (n, k) units of each type each park needs (>= 0);
    * ``capacity``: (m, k) units of each type an opened site can serve (>= 0);
    * ``fixed_cost_cny``: (m,) cost of opening each site;
    * ``transport_cost_cny_per_unit``: (n, m) cost of serving one unit of a park's demand
      (any type) from a site;
    * ``operating_cost_cny_per_unit``: (m, k) cost per unit served at a site (default 0);
    * ``distance_km``: (n, m) distances, needed with ``max_distance_km``;
    * ``budget_cny``: upper limit on the summed fixed cost of opened sites;
    * ``single_source``: each (park, type) demand served wholly by one site;
    * ``demand_xy_km`` / ``site_xy_km``: (n, 2) / (m, 2) plot coordinates (optional).

    Construction validates every field and raises :class:`InvalidInputError` listing each
    violation (field, row, reason). O(n m + (n + m) k).
    """

    demand_ids: tuple[str, ...]
    site_ids: tuple[str, ...]
    facility_types: tuple[str, ...]
    demand: F64
    capacity: F64
    fixed_cost_cny: F64
    transport_cost_cny_per_unit: F64
    operating_cost_cny_per_unit: F64 | None = None
    distance_km: F64 | None = None
    max_distance_km: float | None = None
    budget_cny: float | None = None
    single_source: bool = False
    demand_xy_km: F64 | None = None
    site_xy_km: F64 | None = None
    name: str = field(default="facilities")

    def __post_init__(self) -> None:
        validate_problem(self)  # normalises ids and arrays in place; raises every violation

    @property
    def num_demand(self) -> int:
        return len(self.demand_ids)

    @property
    def num_sites(self) -> int:
        return len(self.site_ids)

    @property
    def num_types(self) -> int:
        return len(self.facility_types)

    @property
    def operating(self) -> F64:
        """Operating cost per unit, (m, k), zeros when not given."""
        if self.operating_cost_cny_per_unit is None:
            return np.zeros((self.num_sites, self.num_types))
        return self.operating_cost_cny_per_unit

    def reachable(self) -> NDArray[np.bool_]:
        """(n, m): which sites may serve which park under the distance limit."""
        if self.max_distance_km is None or self.distance_km is None:
            return np.ones((self.num_demand, self.num_sites), dtype=bool)
        return np.asarray(self.distance_km <= self.max_distance_km + 1e-12)

    def with_options(self, **changes: object) -> FacilityProblem:
        """A copy with fields replaced (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def restrict(self, demand_rows: Sequence[int] | NDArray[np.int64]) -> FacilityProblem:
        """The same problem for a subset of demand points (all sites kept)."""
        rows = np.asarray(demand_rows, dtype=np.int64)
        return replace(
            self,
            demand_ids=tuple(self.demand_ids[r] for r in rows),
            demand=self.demand[rows],
            transport_cost_cny_per_unit=self.transport_cost_cny_per_unit[rows],
            distance_km=None if self.distance_km is None else self.distance_km[rows],
            demand_xy_km=None if self.demand_xy_km is None else self.demand_xy_km[rows],
        )

    def restrict_sites(self, site_rows: Sequence[int] | NDArray[np.int64]) -> FacilityProblem:
        """The same problem with only some candidate sites."""
        rows = np.asarray(site_rows, dtype=np.int64)
        op = self.operating_cost_cny_per_unit
        return replace(
            self,
            site_ids=tuple(self.site_ids[r] for r in rows),
            capacity=self.capacity[rows],
            fixed_cost_cny=self.fixed_cost_cny[rows],
            transport_cost_cny_per_unit=self.transport_cost_cny_per_unit[:, rows],
            operating_cost_cny_per_unit=None if op is None else op[rows],
            distance_km=None if self.distance_km is None else self.distance_km[:, rows],
            site_xy_km=None if self.site_xy_km is None else self.site_xy_km[rows],
        )

    @classmethod
    def single_type(
        cls,
        demand_ids: Sequence[str],
        site_ids: Sequence[str],
        *,
        demand: ArrayLike,
        capacity: ArrayLike,
        fixed_cost_cny: ArrayLike,
        transport_cost_cny_per_unit: ArrayLike,
        **options: object,
    ) -> FacilityProblem:
        """Convenience constructor for one facility type (demand and capacity 1-D)."""
        return cls(
            demand_ids=tuple(demand_ids),
            site_ids=tuple(site_ids),
            facility_types=("facility",),
            demand=np.asarray(demand, dtype=np.float64).reshape(-1, 1),
            capacity=np.asarray(capacity, dtype=np.float64).reshape(-1, 1),
            fixed_cost_cny=np.asarray(fixed_cost_cny, dtype=np.float64),
            transport_cost_cny_per_unit=np.asarray(transport_cost_cny_per_unit, dtype=np.float64),
            **options,  # type: ignore[arg-type]
        )
