"""Low-level allocation of emissions in integer grams (the Rust core does the work).

Both functions work on a tenants x hours grid: ``use[i, h]`` is tenant ``i``'s metered use
in hour ``h`` (kWh, m3, GJ: any non-negative unit, the same for every tenant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.arguments import check_flag, check_int
from zone_opt.errors import InvalidInputError

__all__ = [
    "ProRataAllocation",
    "ShapleyAllocation",
    "allocate_pro_rata",
    "allocate_pro_rata_pooled",
    "shapley_allocation",
]

#: The largest hourly total accepted by :func:`allocate_pro_rata`, grams (2^42).
MAX_TOTAL_G: int = _core.CARBON_MAX_TOTAL_G
#: Most permutations per hour :func:`shapley_allocation` samples (the cost is
#: O(samples x tenants x log K) per hour).
MAX_SHAPLEY_SAMPLES: int = _core.CARBON_SHAPLEY_MAX_SAMPLES


def _int64_vector(values: npt.ArrayLike, field: str) -> npt.NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInputError.single(field, None, f"must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError.single(field, None, f"must hold integer grams, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def _float_array(values: npt.ArrayLike, field: str, ndim: int) -> npt.NDArray[np.float64]:
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError.single(field, None, f"must be numeric: {exc}") from None
    if array.ndim != ndim:
        raise InvalidInputError.single(field, None, f"must be {ndim}-D, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class ProRataAllocation:
    """The result of :func:`allocate_pro_rata_pooled`.

    Attributes:
        alloc_g: int64 (N, H), grams per tenant and hour.
        unallocated_g: int64 (H,), grams of the hours in which no tenant used anything;
            ``alloc_g.sum(axis=0) + unallocated_g == total_g`` exactly.
    """

    alloc_g: npt.NDArray[np.int64]
    unallocated_g: npt.NDArray[np.int64]


def allocate_pro_rata_pooled(total_g: npt.ArrayLike, use: npt.ArrayLike) -> ProRataAllocation:
    """Divide each hour's ``total_g`` among tenants by ``use``; see :func:`allocate_pro_rata`.

    Returns the allocation together with the explicit unallocated pool.
    """
    totals = _int64_vector(total_g, "total_g")
    weights = _float_array(use, "use", 2)
    alloc, pool = _core.carbon_allocate_pro_rata(totals, weights)
    return ProRataAllocation(alloc_g=alloc, unallocated_g=pool)


def allocate_pro_rata(total_g: npt.ArrayLike, use: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Split hourly totals (grams) among tenants in proportion to their use, exactly.

    Args:
        total_g: int64 (H,), grams to divide in each hour, each in ``[0, 2^42]``.
        use: float64 (N, H), non-negative use per tenant and hour (any one unit).

    Returns:
        int64 (N, H), grams per tenant and hour, non-negative. Every hour in which some use
        is positive sums **exactly** to ``total_g[h]``. In an hour in which nobody used
        anything, every tenant gets 0 and the whole total is left unallocated: use
        :func:`allocate_pro_rata_pooled` to get that pool explicitly.

    The rule (largest remainder, Hamilton), all in integer arithmetic: uses are quantised
    to integer weights keeping ``min(52, 61 - bitlen(N))`` significant bits relative to the
    hour's largest use (47 for 10^4 tenants; exact for integer readings), each tenant gets
    the exact floor of its quota ``total * w_i / sum(w)``, and the grams left over go one
    each to the largest remainders, ties to the lower tenant index. Deterministic;
    permuting tenants permutes the result except for single grams between exactly tied
    tenants.

    Worked example, checked by hand (``tests/test_carbon_allocation.py``):

    >>> allocate_pro_rata([100, 10, 5], [[1, 0, 1], [1, 2, 2], [1, 3, 0]]).tolist()
    [[34, 0, 2], [33, 4, 3], [33, 6, 0]]

    Hour 0: quotas 33.3 each, the leftover gram goes to tenant 0 (tie, lower index);
    hour 1: quotas 0, 4, 6 exactly; hour 2: quotas 1.67 and 3.33, floors 1 and 3, the
    larger remainder (0.67) takes the last gram.

    Raises:
        InvalidInputError: naming ``use`` and the tenant row (negative, NaN, infinite),
            ``total_g`` and the hour (negative, too large), or a shape mismatch.

    Complexity: O(N * H), parallel over hours.
    """
    return allocate_pro_rata_pooled(total_g, use).alloc_g


@dataclass(frozen=True)
class ShapleyAllocation:
    """The result of :func:`shapley_allocation`.

    Attributes:
        co2e_g: int64 (N,), grams per tenant over all hours, summing exactly to
            ``total_g - unallocated_g``.
        se_g: float64 (N,), standard error of each tenant's value, grams (0 when exact).
        value_g: float64 (N,), the real-valued Shapley values before rounding, grams.
        total_g: the facility's emissions, ``sum_h round(f(U_h))`` grams (half away
            from zero).
        unallocated_g: grams of the hours in which no tenant drew any load.
        exact: whether the values are exact.
        samples: permutations per hour when sampled (0 when exact).
    """

    co2e_g: npt.NDArray[np.int64]
    se_g: npt.NDArray[np.float64]
    value_g: npt.NDArray[np.float64]
    total_g: int
    unallocated_g: int
    exact: bool
    samples: int


def shapley_allocation(
    use: npt.ArrayLike,
    load_points: npt.ArrayLike,
    emission_points: npt.ArrayLike,
    *,
    exact: bool | None = None,
    samples: int | None = None,
    seed: int = 0,
) -> ShapleyAllocation:
    """Shapley allocation of a shared facility's emissions, summed over hours.

    In hour ``h`` the facility emits ``f(U_h)`` grams, ``U_h = use[:, h].sum()``, where
    ``f`` is piecewise linear through ``(load_points[k], emission_points[k])``. The players
    of the hour are the tenants with positive use; a coalition ``S`` costs
    ``v(S) = f(sum of S's use)`` and the empty coalition 0, so a standby emission
    ``f(0)`` is shared among the tenants present and a tenant with no use gets exactly 0.
    Hours with no use at all leave ``f(0)`` unallocated.

    Args:
        use: float64 (N, H), non-negative load per tenant and hour, in the unit of
            ``load_points``.
        load_points: float64 (K,), K >= 2, starting at 0, strictly increasing; every hour's
            total load must be at most the last point (no extrapolation).
        emission_points: float64 (K,), non-negative grams CO2e per hour at each load point.
        exact: ``True`` exact (at most 24 tenants), ``False`` sampled, ``None`` exact up to
            20 tenants and sampled beyond.
        samples: permutations per hour when sampling, even, from 4 to
            :data:`MAX_SHAPLEY_SAMPLES` (65,536; default 32); each random order is paired
            with its reverse (antithetic sampling).
        seed: seed of the per-hour random streams; results do not depend on thread count.

    Returns:
        A :class:`ShapleyAllocation`: integer grams per tenant (the real values rounded by
        largest remainder so that they conserve exactly), the standard errors and totals.

    Worked example, checked by hand (the boiler of the carbon reference, in tonnes as
    grams): 100 standby + 0.2 per unit, a 50 step above 500 units; A = 300, B = 200,
    C = 100 units, ``v(N) = 270``. By hand over the 6 orders, A pays 110, B 90, C 70;
    pro rata would give 135, 90, 45.

    >>> r = shapley_allocation([[300.0], [200.0], [100.0]],
    ...     [0, 500, 500.000001, 10_000], [100, 200, 250, 250 + 0.2 * 9_499.999999])
    >>> r.co2e_g.tolist(), r.total_g
    ([110, 90, 70], 270)

    Exact: meet in the middle over the hour's players, O(2^(n/2) * n * K) per hour.
    Sampled: O(samples * n * log K) per hour. Both parallel over hours.

    Raises:
        InvalidInputError: naming ``use`` (tenant row), ``load_points`` or
            ``emission_points`` (point index), ``exact`` or ``samples``.
    """
    loads = _float_array(use, "use", 2)
    xs = _float_array(load_points, "load_points", 1)
    ys = _float_array(emission_points, "emission_points", 1)
    if exact is not None:
        exact = check_flag("exact", exact)
    if samples is not None:
        samples = check_int("samples", samples, low=4, high=MAX_SHAPLEY_SAMPLES)
    seed = check_int("seed", seed, low=0, high=2**64 - 1)
    co2e_g, value_g, se_g, total_g, unallocated_g, was_exact, used_samples = _core.carbon_shapley(
        loads, xs, ys, exact, samples, seed
    )
    return ShapleyAllocation(
        co2e_g=co2e_g,
        se_g=se_g,
        value_g=value_g,
        total_g=total_g,
        unallocated_g=unallocated_g,
        exact=was_exact,
        samples=used_samples,
    )
