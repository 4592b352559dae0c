"""The engine wrapper of the single-source plan search (Rust, ``_core.single_source_search``).

The only module of the MILP layer that calls the compiled core: it hands numpy buffers
over (cost ``(sites, customers)`` C-contiguous float64, ``+inf`` where a site may not serve
a customer) and returns a typed result. The search itself, its moves and why: the Rust
module ``core_rs/src/facilities/single_source.rs`` and ``docs/facilities-single-source.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from zone_opt import _core

__all__ = ["SearchLimits", "SearchedPlan", "search_plan"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class SearchLimits:
    """When a search stops: ``time_limit_s`` (``inf``: none), ``iterations`` moves in all,
    or a plan costing at most ``stop_at_cost`` (a proven bound); ``stall_iterations``
    moves without a better plan before the open sites change. Reproducible per ``seed``
    when the move budget binds first."""

    time_limit_s: float
    iterations: int
    stall_iterations: int
    seed: int = 0
    stop_at_cost: float = -math.inf


@dataclass(frozen=True)
class SearchedPlan:
    """The best feasible plan met: a site per customer, its cost, the moves made."""

    assign: I64
    cost: float
    iterations: int


def search_plan(
    cost: F64, demand: F64, capacity: F64, fixed: F64, start: I64, limits: SearchLimits
) -> SearchedPlan | None:
    """Iterated tabu search from ``start`` (a site per customer; it may overload sites);
    ``None`` when no feasible plan was met. O(n (n + m)) per move; the GIL is released.

    Raises:
        InvalidInputError: shapes disagree, a demand, capacity or fixed cost is negative or
            not finite, a cost is NaN or ``-inf``, ``start`` names a site that may not
            serve its customer (each naming the field and the row).
    """
    found = _core.single_source_search(
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(demand, dtype=np.float64),
        np.ascontiguousarray(capacity, dtype=np.float64),
        np.ascontiguousarray(fixed, dtype=np.float64),
        np.ascontiguousarray(start, dtype=np.int64),
        time_limit_s=max(0.0, limits.time_limit_s),
        max_iterations=max(0, limits.iterations),
        stall_iterations=max(1, limits.stall_iterations),
        seed=limits.seed,
        stop_at_cost=limits.stop_at_cost,
    )
    if found is None:
        return None
    assign, value, iterations = found
    return SearchedPlan(assign=assign, cost=value, iterations=iterations)
