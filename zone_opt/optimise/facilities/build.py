"""Fast matrix builder: the facility MILP assembled from numpy arrays in one pass.

Columns: ``y_i`` (site i open, binary) for every site, then ``x_a`` for every *arc*
``a = (park j, site i, type t)`` allowed by demand > 0, capacity > 0 and the distance limit:
the fraction of park j's type-t demand served by site i (binary under single sourcing).

Rows, in this order (each block's first index is kept in :class:`FacilityMatrix`):

1. demand ``sum_i x_(j,i,t) = 1`` for each (j, t) with demand;
2. capacity ``sum_j d_jt x_(j,i,t) - s_it y_i <= 0`` for each (i, t) with arcs;
3. aggregate capacity ``sum_i s_it y_i >= D_t`` per demanded type (a valid cut);
4. budget ``sum_i f_i y_i <= B`` when a budget is set;
5. linking ``x_a - y_i <= 0`` per arc (the strong formulation), unless ``linking=False``
   (the large-instance solver adds them lazily where violated).

Building is O(arcs) numpy work, ~10-85x cheaper than pyomo at 10^5 arcs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.solver import INF, MatrixModel

__all__ = ["FacilityMatrix", "build_matrix"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class FacilityMatrix:
    """The assembled model plus the index maps needed to read a solution or update it."""

    problem: FacilityProblem
    model: MatrixModel
    arc_demand: I64
    arc_site: I64
    arc_type: I64
    arc_amount: F64
    """d_jt of each arc (units served if x = 1)."""
    arc_transport_cny: F64
    """Transport cost if x = 1."""
    arc_operating_cny: F64
    """Operating cost if x = 1."""
    demand_row_park: I64
    demand_row_type: I64
    capacity_row_site: I64
    capacity_row_type: I64
    first_capacity_row: int
    first_aggregate_row: int
    aggregate_types: I64
    budget_row: int | None
    first_link_row: int | None

    @property
    def num_sites(self) -> int:
        return self.problem.num_sites

    @property
    def num_arcs(self) -> int:
        return int(self.arc_demand.shape[0])

    def x_cols(self) -> I64:
        return np.arange(self.num_sites, self.num_sites + self.num_arcs, dtype=np.int64)

    def coalition_bounds(
        self, members: NDArray[np.bool_]
    ) -> tuple[tuple[I64, F64, F64], tuple[I64, F64, F64]]:
        """Row and column bound updates that restrict the model to the parks in ``members``.

        Returns ``((rows, lower, upper), (cols, lower, upper))`` covering every demand row,
        aggregate row and arc column, so applying them to any earlier restriction is exact.
        """
        members = np.asarray(members, dtype=bool)
        keep = members[self.demand_row_park].astype(np.float64)
        n_dem = self.demand_row_park.shape[0]
        d = self.problem.demand * members[:, None]
        agg_lo = d.sum(axis=0)[self.aggregate_types]
        rows = np.concatenate(
            [
                np.arange(n_dem),
                self.first_aggregate_row + np.arange(self.aggregate_types.shape[0]),
            ]
        ).astype(np.int64)
        lower = np.concatenate([keep, agg_lo])
        upper = np.concatenate([keep, np.full(agg_lo.shape[0], INF)])
        cols = self.x_cols()
        cu = self._arc_upper() * members[self.arc_demand]
        return (rows, lower, upper), (cols, np.zeros(cols.shape[0]), cu)

    def _arc_upper(self) -> F64:
        return np.ones(self.num_arcs)

    def restricted_start(self, x: F64, members: NDArray[np.bool_]) -> F64:
        """A solution of a larger coalition cut down to ``members`` (feasible for it)."""
        out = np.array(x, dtype=np.float64)
        xs = out[self.num_sites :]
        xs[~np.asarray(members, dtype=bool)[self.arc_demand]] = 0.0
        return out

    def link_rows(self, arcs: I64) -> tuple[F64, F64, NDArray[np.int32], I64, F64]:
        """CSR rows ``x_a - y_site(a) <= 0`` for ``arcs`` (for :meth:`HighsSolver.add_rows`)."""
        k = arcs.shape[0]
        starts = (2 * np.arange(k)).astype(np.int32)
        index = np.empty(2 * k, dtype=np.int64)
        index[0::2] = self.num_sites + arcs
        index[1::2] = self.arc_site[arcs]
        value = np.tile(np.array([1.0, -1.0]), k)
        return np.full(k, -INF), np.zeros(k), starts, index, value


def build_matrix(problem: FacilityProblem, *, linking: bool = True) -> FacilityMatrix:
    """Assemble the facility MILP of ``problem`` (see the module docstring). O(arcs)."""
    p = problem
    m, k = p.num_sites, p.num_types
    reach = p.reachable()
    demand_mask = p.demand > 0  # (n, k)
    cap_mask = p.capacity > 0  # (m, k)
    # Arcs (j, i, t): demand j,t > 0, capacity i,t > 0, i reachable from j.
    allowed = demand_mask[:, None, :] & cap_mask[None, :, :] & reach[:, :, None]
    arc_demand, arc_site, arc_type = (a.astype(np.int64) for a in np.nonzero(allowed))
    n_arcs = arc_demand.shape[0]
    amount = p.demand[arc_demand, arc_type]
    transport = amount * p.transport_cost_cny_per_unit[arc_demand, arc_site]
    operating = amount * p.operating[arc_site, arc_type]

    x0 = m  # first x column
    arc_cols = x0 + np.arange(n_arcs, dtype=np.int64)

    # 1. demand rows, numbered over (j, t) pairs with demand.
    dem_j, dem_t = (a.astype(np.int64) for a in np.nonzero(demand_mask))
    dem_index = -np.ones(demand_mask.shape, dtype=np.int64)
    dem_index[dem_j, dem_t] = np.arange(dem_j.shape[0])
    n_dem = dem_j.shape[0]
    r1 = dem_index[arc_demand, arc_type]

    # 2. capacity rows per (i, t) that has at least one arc.
    used = np.zeros((m, k), dtype=bool)
    used[arc_site, arc_type] = True
    cap_i, cap_t = (a.astype(np.int64) for a in np.nonzero(used))
    cap_index = -np.ones((m, k), dtype=np.int64)
    cap_index[cap_i, cap_t] = n_dem + np.arange(cap_i.shape[0])
    first_cap = n_dem
    n_cap = cap_i.shape[0]
    r2_x = cap_index[arc_site, arc_type]

    # 3. aggregate capacity rows per demanded type.
    agg_types = np.flatnonzero(demand_mask.any(axis=0)).astype(np.int64)
    first_agg = n_dem + n_cap
    agg_site, agg_pos = np.nonzero(cap_mask[:, agg_types])
    total_demand = p.demand.sum(axis=0)

    next_row = first_agg + agg_types.shape[0]
    budget_row = None
    if p.budget_cny is not None:
        budget_row = next_row
        next_row += 1
    first_link = None
    if linking:
        first_link = next_row
        next_row += n_arcs

    rows = [r1, r2_x, cap_i * 0 + np.arange(first_cap, first_cap + n_cap), first_agg + agg_pos]
    cols = [arc_cols, arc_cols, cap_i, agg_site.astype(np.int64)]
    vals = [
        np.ones(n_arcs),
        amount,
        -p.capacity[cap_i, cap_t],
        p.capacity[agg_site, agg_types[agg_pos]],
    ]
    row_lo = [
        np.ones(n_dem),
        np.full(n_cap, -INF),
        total_demand[agg_types],
    ]
    row_hi = [np.ones(n_dem), np.zeros(n_cap), np.full(agg_types.shape[0], INF)]
    if budget_row is not None:
        rows.append(np.full(m, budget_row, dtype=np.int64))
        cols.append(np.arange(m, dtype=np.int64))
        vals.append(np.asarray(p.fixed_cost_cny, dtype=np.float64))
        row_lo.append(np.array([-INF]))
        row_hi.append(np.array([float(p.budget_cny or 0.0)]))
    if first_link is not None:
        link = first_link + np.arange(n_arcs, dtype=np.int64)
        rows += [link, link]
        cols += [arc_cols, arc_site]
        vals += [np.ones(n_arcs), -np.ones(n_arcs)]
        row_lo.append(np.full(n_arcs, -INF))
        row_hi.append(np.zeros(n_arcs))

    cost = np.concatenate([np.asarray(p.fixed_cost_cny, dtype=np.float64), transport + operating])
    integer = np.zeros(m + n_arcs, dtype=bool)
    integer[:m] = True
    if p.single_source:
        integer[m:] = True
    model = MatrixModel.from_coo(
        (np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)),
        cost=cost,
        col_bounds=(0.0, 1.0),
        row_bounds=(np.concatenate(row_lo), np.concatenate(row_hi)),
        integer=integer,
    )
    return FacilityMatrix(
        problem=p,
        model=model,
        arc_demand=arc_demand,
        arc_site=arc_site,
        arc_type=arc_type,
        arc_amount=amount,
        arc_transport_cny=transport,
        arc_operating_cny=operating,
        demand_row_park=dem_j,
        demand_row_type=dem_t,
        capacity_row_site=cap_i,
        capacity_row_type=cap_t,
        first_capacity_row=first_cap,
        first_aggregate_row=first_agg,
        aggregate_types=agg_types,
        budget_row=budget_row,
        first_link_row=first_link,
    )
