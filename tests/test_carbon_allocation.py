"""zone_opt.carbon allocation: exact conservation, the Hamilton rule, Shapley axioms."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.suites.carbon import numpy_pro_rata
from zone_opt.carbon import allocate_pro_rata, allocate_pro_rata_pooled, shapley_allocation
from zone_opt.errors import InvalidInputError

# -- pro rata -------------------------------------------------------------------------


def hamilton(total: int, use: list[int]) -> list[int]:
    """Largest remainder in exact rationals, ties to the lower index: the oracle."""
    s = sum(use)
    if s == 0:
        return [0] * len(use)
    quotas = [Fraction(total * u, s) for u in use]
    alloc = [math.floor(q) for q in quotas]
    left = total - sum(alloc)
    order = sorted(range(len(use)), key=lambda i: (-(quotas[i] - alloc[i]), i))
    for i in order[:left]:
        alloc[i] += 1
    return alloc


@st.composite
def grids(draw: st.DrawFn) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    n = draw(st.integers(1, 6))
    hours = draw(st.integers(1, 12))
    total = draw(st.lists(st.integers(0, 10**9), min_size=hours, max_size=hours))
    use = draw(st.lists(st.integers(0, 40), min_size=n * hours, max_size=n * hours))
    return np.array(total, dtype=np.int64), np.array(use, dtype=np.float64).reshape(n, hours)


def test_worked_example_by_hand() -> None:
    # Hour 0: 100 g over 1, 1, 1 -> 33.3 each, the tie gram to tenant 0.
    # Hour 1: 10 g over 0, 2, 3 -> 0, 4, 6. Hour 2: 7 g, nobody used anything -> pool.
    # Hour 3: 5 g over 1, 2, 0 -> 1.67, 3.33 -> floors 1, 3; remainder 0.67 wins the gram.
    total = np.array([100, 10, 7, 5])
    use = np.array([[1, 0, 0, 1], [1, 2, 0, 2], [1, 3, 0, 0]], dtype=np.float64)
    r = allocate_pro_rata_pooled(total, use)
    assert r.alloc_g.tolist() == [[34, 0, 0, 2], [33, 4, 0, 3], [33, 6, 0, 0]]
    assert r.unallocated_g.tolist() == [0, 0, 7, 0]
    assert r.alloc_g.dtype == np.int64
    assert allocate_pro_rata(total, use).tolist() == r.alloc_g.tolist()


@settings(max_examples=150, deadline=None)
@given(grids())
def test_matches_exact_rational_hamilton(
    case: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]],
) -> None:
    total, use = case
    r = allocate_pro_rata_pooled(total, use)
    for h in range(total.size):
        column = [int(u) for u in use[:, h]]
        assert r.alloc_g[:, h].tolist() == hamilton(int(total[h]), column)
        assert r.unallocated_g[h] == (0 if any(column) else total[h])
    # Conservation, exactly, every hour; never negative.
    assert (r.alloc_g.sum(axis=0) + r.unallocated_g == total).all()
    assert (r.alloc_g >= 0).all()


@settings(max_examples=60, deadline=None)
@given(grids(), st.data())
def test_monotone_in_own_use(
    case: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]], data: st.DataObject
) -> None:
    total, use = case
    i = data.draw(st.integers(0, use.shape[0] - 1))
    h = data.draw(st.integers(0, use.shape[1] - 1))
    more = use.copy()
    more[i, h] += data.draw(st.integers(1, 50))
    assert allocate_pro_rata(total, more)[i, h] >= allocate_pro_rata(total, use)[i, h]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            st.lists(
                st.one_of(st.just(0.0), st.floats(1e-200, 1e6)), min_size=n * 3, max_size=n * 3
            ),
            st.permutations(list(range(n))),
        )
    ),
    st.integers(-60, 60),
)
def test_real_valued_use_order_and_scale(case: tuple[list[float], list[int]], k: int) -> None:
    values, perm = case
    n = len(perm)
    use = np.array(values).reshape(n, 3)
    total = np.array([12_345_678, 1, 999], dtype=np.int64)
    base = allocate_pro_rata(total, use)
    # Row order: the permuted result, up to one tied gram.
    assert np.abs(allocate_pro_rata(total, use[perm]) - base[perm]).max(initial=0) <= 1
    # Units do not matter: scaling every use by 2^k changes nothing at all.
    assert (allocate_pro_rata(total, np.ldexp(use, k)) == base).all()
    # Within a gram of the real quota.
    s = use.sum(axis=0)
    quota = np.divide(total * use, s, out=np.zeros_like(use), where=s > 0)
    assert np.abs(base - quota).max(initial=0) < 1 + 1e-6


@pytest.mark.parametrize(
    ("total", "use", "field", "row"),
    [
        ([1, 2], [[1.0, 2.0], [-1.0, 0.0]], "use", 1),
        ([1, 2], [[1.0, math.nan], [1.0, 0.0]], "use", 0),
        ([1, 2], [[1.0, 2.0], [1.0, math.inf]], "use", 1),
        ([1, -2], [[1.0, 2.0]], "total_g", 1),
        ([1, 2**43], [[1.0, 2.0]], "total_g", 1),
        ([1, 2, 3], [[1.0, 2.0]], "use", None),
        ([1.5, 2.0], [[1.0, 2.0]], "total_g", None),
        ([[1, 2]], [[1.0, 2.0]], "total_g", None),
        ([1, 2], [1.0, 2.0], "use", None),
        ([1, 2], [["a", "b"]], "use", None),
    ],
)
def test_bad_input_names_field_and_row(
    total: list[float], use: list[list[float]], field: str, row: int | None
) -> None:
    with pytest.raises(InvalidInputError) as info:
        allocate_pro_rata(total, use)
    (violation,) = info.value.violations
    assert (violation.field, violation.row) == (field, row)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 30),
    st.integers(0, 2**42),
    st.floats(-300, 300),
    st.integers(0, 2**32 - 1),
)
def test_matches_the_vectorised_numpy_rule_on_real_valued_use(
    n: int, hours: int, max_total: int, log2_scale: float, seed: int
) -> None:
    """The rule in the docstring, re-implemented in numpy (the benchmark's peer), agrees
    gram for gram on real-valued use spanning hundreds of binary orders of magnitude."""
    rng = np.random.default_rng(seed)
    use = np.ldexp(rng.random((n, hours)), rng.integers(-60, 60, size=(n, hours)))
    use *= 2.0**log2_scale
    use[rng.random((n, hours)) < 0.2] = 0.0
    total = rng.integers(0, max_total + 1, size=hours, dtype=np.int64)
    r = allocate_pro_rata_pooled(total, use)
    alloc, pool = numpy_pro_rata(total, use)
    assert (r.alloc_g == alloc).all()
    assert (r.unallocated_g == pool).all()
    # Within a gram of the real quota even for totals near 2^42 g.
    s = use.sum(axis=0)
    quota = np.divide(total * (use / np.where(s > 0, s, 1)), 1.0)
    assert np.abs(r.alloc_g - quota).max(initial=0) < 1 + 1e-3


def test_no_tenants_leave_everything_in_the_pool() -> None:
    r = allocate_pro_rata_pooled([5, 6], np.zeros((0, 2)))
    assert r.alloc_g.shape == (0, 2)
    assert r.unallocated_g.tolist() == [5, 6]


# -- Shapley --------------------------------------------------------------------------

BOILER_X = [0.0, 500.0, 500.000001, 10_000.0]
BOILER_Y = [100.0, 200.0, 250.0, 250.0 + 0.2 * 9_499.999999]


def test_shapley_worked_example_by_hand() -> None:
    # carbon.md 2.3: orders A-first (1/3): 160; A second (1/6 each): 200-140, 180-120;
    # A last (1/3): 270-160 -> A = 53.33 + 20 + 36.67 = 110. Likewise B 90, C 70.
    r = shapley_allocation([[300.0], [200.0], [100.0]], BOILER_X, BOILER_Y)
    assert r.exact
    assert r.samples == 0
    assert r.co2e_g.tolist() == [110, 90, 70]
    np.testing.assert_allclose(r.value_g, [110, 90, 70], atol=1e-6)
    assert (r.total_g, r.unallocated_g) == (270, 0)
    assert r.se_g.tolist() == [0.0, 0.0, 0.0]


def curve(xs: list[float], ys: list[float], z: float) -> float:
    return float(np.interp(z, xs, ys))


def shapley_by_permutations(loads: list[float], xs: list[float], ys: list[float]) -> list[float]:
    """The definition: average marginal contribution over all orders of the players."""
    players = [i for i, u in enumerate(loads) if u > 0]
    phi = [0.0] * len(loads)
    orders = list(itertools.permutations(players))
    for order in orders:
        load, before = 0.0, 0.0
        for i in order:
            load += loads[i]
            after = curve(xs, ys, load)
            phi[i] += (after - before) / len(orders)
            before = after
    return phi


@st.composite
def games(draw: st.DrawFn) -> tuple[list[float], list[float], list[float]]:
    n = draw(st.integers(1, 6))
    loads = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.5, 50.0)), min_size=n, max_size=n))
    k = draw(st.integers(2, 5))
    gaps = draw(st.lists(st.floats(1.0, 100.0), min_size=k - 1, max_size=k - 1))
    ys = draw(st.lists(st.floats(0.0, 1000.0), min_size=k, max_size=k))
    xs = [0.0, *itertools.accumulate(gaps)]
    scale = max(sum(loads) / xs[-1], 1.0) * 1.01
    return loads, [x * scale for x in xs], ys


@settings(max_examples=80, deadline=None)
@given(games())
def test_exact_shapley_equals_the_permutation_definition(
    game: tuple[list[float], list[float], list[float]],
) -> None:
    loads, xs, ys = game
    r = shapley_allocation(np.array(loads)[:, None], xs, ys, exact=True)
    want = shapley_by_permutations(loads, xs, ys)
    np.testing.assert_allclose(r.value_g, want, atol=1e-8 * max([*ys, 1.0]))
    # Efficiency, null player, exact grams.
    if any(loads):
        assert math.isclose(
            r.value_g.sum(), curve(xs, ys, sum(loads)), abs_tol=1e-8 * max([*ys, 1.0])
        )
    for i, u in enumerate(loads):
        if u == 0:
            assert r.co2e_g[i] == 0
            assert r.value_g[i] == 0
    total_g = math.floor(curve(xs, ys, sum(loads)) + 0.5)  # round half away from zero
    assert r.co2e_g.sum() + r.unallocated_g == r.total_g == total_g


@settings(max_examples=40, deadline=None)
@given(games(), st.permutations(list(range(7))))
def test_shapley_symmetry_and_order_invariance(
    game: tuple[list[float], list[float], list[float]], perm: list[int]
) -> None:
    loads, xs, ys = game
    loads = [*loads, loads[0]]  # a twin of tenant 0
    xs = [x * 2 for x in xs]  # room for the twin's load
    use = np.array(loads)[:, None]
    r = shapley_allocation(use, xs, ys)
    tol = 1e-8 * max([*ys, 1.0])
    assert math.isclose(r.value_g[0], r.value_g[-1], abs_tol=tol)
    order = [p for p in perm if p < len(loads)]
    shuffled = shapley_allocation(use[order], xs, ys)
    np.testing.assert_allclose(shuffled.value_g, r.value_g[order], atol=tol)


def test_sampled_shapley_is_within_a_few_standard_errors_of_exact() -> None:
    rng = np.random.default_rng(3)
    use = rng.gamma(2.0, 10.0, size=(10, 300))
    use[rng.random(use.shape) < 0.2] = 0.0
    xs, ys = [0.0, 150.0, 300.0, 600.0], [1e3, 4e3, 2e4, 3e4]
    exact = shapley_allocation(use, xs, ys, exact=True)
    sampled = shapley_allocation(use, xs, ys, exact=False, samples=8, seed=11)
    assert not sampled.exact
    assert sampled.samples == 8
    z = (sampled.value_g - exact.value_g) / sampled.se_g
    assert np.abs(z).max() < 5.0
    assert sampled.total_g == exact.total_g
    assert sampled.co2e_g.sum() + sampled.unallocated_g == sampled.total_g
    again = shapley_allocation(use, xs, ys, exact=False, samples=8, seed=11)
    assert (again.co2e_g == sampled.co2e_g).all()
    assert (again.se_g == sampled.se_g).all()


def test_shapley_limits() -> None:
    xs, ys = [0.0, 10.0, 100.0], [5.0, 25.0, 400.0]
    # All-zero hours: nothing allocated, the standby goes to the pool.
    r = shapley_allocation(np.zeros((3, 4)), xs, ys)
    assert r.co2e_g.tolist() == [0, 0, 0]
    assert (r.total_g, r.unallocated_g) == (20, 20)
    # No tenants at all: every hour's standby is unallocated.
    r = shapley_allocation(np.zeros((0, 3)), xs, ys)
    assert r.co2e_g.shape == (0,)
    assert (r.total_g, r.unallocated_g) == (15, 15)
    # A lone tenant pays the whole curve.
    r = shapley_allocation([[7.0, 0.0], [0.0, 0.0]], xs, ys)
    assert r.co2e_g.tolist() == [19, 0]
    assert (r.total_g, r.unallocated_g) == (24, 5)
    # Default: exact up to 20 tenants, sampled beyond.
    many = np.full((21, 2), 1.0)
    assert not shapley_allocation(many, xs, ys).exact
    assert shapley_allocation(many[:20], xs, ys).exact


@pytest.mark.parametrize(
    ("kwargs", "field", "row"),
    [
        ({"use": [[1.0], [-1.0]]}, "use", 1),
        ({"use": [[500.0]]}, "use", None),
        ({"load_points": [1.0, 2.0]}, "load_points", 0),
        ({"load_points": [0.0, 0.0]}, "load_points", 1),
        ({"emission_points": [0.0, -1.0]}, "emission_points", 1),
        ({"emission_points": [0.0]}, "emission_points", None),
        ({"exact": True, "use": np.ones((25, 1))}, "exact", None),
        ({"exact": False, "samples": 3}, "samples", None),
        ({"seed": -1}, "seed", None),
        ({"use": [1.0, 2.0]}, "use", None),
    ],
)
def test_shapley_bad_input_names_field_and_row(
    kwargs: dict[str, object], field: str, row: int | None
) -> None:
    args: dict[str, object] = {
        "use": [[1.0]],
        "load_points": [0.0, 100.0],
        "emission_points": [0.0, 1.0],
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError) as info:
        shapley_allocation(
            args.pop("use"),  # type: ignore[arg-type]
            args.pop("load_points"),  # type: ignore[arg-type]
            args.pop("emission_points"),  # type: ignore[arg-type]
            **args,  # type: ignore[arg-type]
        )
    (violation,) = info.value.violations
    assert (violation.field, violation.row) == (field, row)
