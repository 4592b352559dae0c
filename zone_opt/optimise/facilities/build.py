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


@dataclass(frozen=True)
class _Arcs:
    """The model's arcs (park j, site i, type t) and what serving one in full brings."""

    demand: I64
    site: I64
    type: I64
    amount: F64
    transport: F64
    operating: F64
    cols: I64
    """Each arc's x column (after the m site columns)."""

    @property
    def size(self) -> int:
        return int(self.demand.shape[0])


class _Rows:
    """Matrix triplets and row bounds collected block by block; rows are numbered in order."""

    def __init__(self) -> None:
        self.rows: list[I64] = []
        self.cols: list[I64] = []
        self.vals: list[F64] = []
        self.lower: list[F64] = []
        self.upper: list[F64] = []
        self.count = 0

    def block(self, lower: F64, upper: F64) -> int:
        """Append a block of rows with these bounds; returns its first row."""
        first = self.count
        self.lower.append(lower)
        self.upper.append(upper)
        self.count += int(lower.shape[0])
        return first

    def add(self, rows: I64, cols: I64, vals: F64) -> None:
        self.rows.append(rows)
        self.cols.append(cols)
        self.vals.append(vals)


def build_matrix(problem: FacilityProblem, *, linking: bool = True) -> FacilityMatrix:
    """Assemble the facility MILP of ``problem`` (see the module docstring). O(arcs)."""
    p = problem
    m = p.num_sites
    arcs = _arcs(p)
    out = _Rows()
    dem_j, dem_t = _demand_rows(p, arcs, out)
    cap_i, cap_t, first_cap = _capacity_rows(p, arcs, out)
    agg_types, first_agg = _aggregate_rows(p, out)
    budget_row = _budget_row(p, out)
    first_link = _link_rows(arcs, out) if linking else None
    integer = np.zeros(m + arcs.size, dtype=bool)
    integer[:m] = True
    if p.single_source:
        integer[m:] = True
    model = MatrixModel.from_coo(
        (np.concatenate(out.rows), np.concatenate(out.cols), np.concatenate(out.vals)),
        cost=np.concatenate(
            [np.asarray(p.fixed_cost_cny, dtype=np.float64), arcs.transport + arcs.operating]
        ),
        col_bounds=(0.0, 1.0),
        row_bounds=(np.concatenate(out.lower), np.concatenate(out.upper)),
        integer=integer,
    )
    return FacilityMatrix(
        problem=p,
        model=model,
        arc_demand=arcs.demand,
        arc_site=arcs.site,
        arc_type=arcs.type,
        arc_amount=arcs.amount,
        arc_transport_cny=arcs.transport,
        arc_operating_cny=arcs.operating,
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


def _arcs(p: FacilityProblem) -> _Arcs:
    """Arcs (j, i, t): demand j,t > 0, capacity i,t > 0, i reachable from j."""
    allowed = (p.demand > 0)[:, None, :] & (p.capacity > 0)[None, :, :] & p.reachable()[:, :, None]
    demand, site, type_ = (a.astype(np.int64) for a in np.nonzero(allowed))
    amount = p.demand[demand, type_]
    return _Arcs(
        demand=demand,
        site=site,
        type=type_,
        amount=amount,
        transport=amount * p.transport_cost_cny_per_unit[demand, site],
        operating=amount * p.operating[site, type_],
        cols=p.num_sites + np.arange(demand.shape[0], dtype=np.int64),
    )


def _demand_rows(p: FacilityProblem, arcs: _Arcs, out: _Rows) -> tuple[I64, I64]:
    """1. ``sum_i x_(j,i,t) = 1`` per (j, t) with demand; returns each row's (j, t)."""
    demand_mask = p.demand > 0
    dem_j, dem_t = (a.astype(np.int64) for a in np.nonzero(demand_mask))
    n_dem = dem_j.shape[0]
    first = out.block(np.ones(n_dem), np.ones(n_dem))
    dem_index = -np.ones(demand_mask.shape, dtype=np.int64)
    dem_index[dem_j, dem_t] = first + np.arange(n_dem)
    out.add(dem_index[arcs.demand, arcs.type], arcs.cols, np.ones(arcs.size))
    return dem_j, dem_t


def _capacity_rows(p: FacilityProblem, arcs: _Arcs, out: _Rows) -> tuple[I64, I64, int]:
    """2. ``sum_j d_jt x_(j,i,t) - s_it y_i <= 0`` per (i, t) with arcs; returns each row's
    (i, t) and the first row."""
    used = np.zeros((p.num_sites, p.num_types), dtype=bool)
    used[arcs.site, arcs.type] = True
    cap_i, cap_t = (a.astype(np.int64) for a in np.nonzero(used))
    n_cap = cap_i.shape[0]
    first = out.block(np.full(n_cap, -INF), np.zeros(n_cap))
    cap_index = -np.ones((p.num_sites, p.num_types), dtype=np.int64)
    cap_index[cap_i, cap_t] = first + np.arange(n_cap)
    out.add(cap_index[arcs.site, arcs.type], arcs.cols, arcs.amount)
    out.add(cap_i * 0 + np.arange(first, first + n_cap), cap_i, -p.capacity[cap_i, cap_t])
    return cap_i, cap_t, first


def _aggregate_rows(p: FacilityProblem, out: _Rows) -> tuple[I64, int]:
    """3. ``sum_i s_it y_i >= D_t`` per demanded type (a valid cut); returns the types and
    the first row."""
    agg_types = np.flatnonzero((p.demand > 0).any(axis=0)).astype(np.int64)
    agg_site, agg_pos = np.nonzero((p.capacity > 0)[:, agg_types])
    total_demand = p.demand.sum(axis=0)
    first = out.block(total_demand[agg_types], np.full(agg_types.shape[0], INF))
    out.add(first + agg_pos, agg_site.astype(np.int64), p.capacity[agg_site, agg_types[agg_pos]])
    return agg_types, first


def _budget_row(p: FacilityProblem, out: _Rows) -> int | None:
    """4. ``sum_i f_i y_i <= B`` when a budget is set; returns its row."""
    if p.budget_cny is None:
        return None
    m = p.num_sites
    row = out.block(np.array([-INF]), np.array([float(p.budget_cny or 0.0)]))
    out.add(
        np.full(m, row, dtype=np.int64),
        np.arange(m, dtype=np.int64),
        np.asarray(p.fixed_cost_cny, dtype=np.float64),
    )
    return row


def _link_rows(arcs: _Arcs, out: _Rows) -> int:
    """5. ``x_a - y_i <= 0`` per arc; returns the first row."""
    first = out.block(np.full(arcs.size, -INF), np.zeros(arcs.size))
    link = first + np.arange(arcs.size, dtype=np.int64)
    out.add(link, arcs.cols, np.ones(arcs.size))
    out.add(link, arcs.site, -np.ones(arcs.size))
    return first
