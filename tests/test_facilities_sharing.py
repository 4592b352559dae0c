"""Cost sharing against independent references: fresh MILPs per coalition, brute-force
Shapley over all join orders, and the least core as one LP over all coalitions (scipy)."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from zone_opt.errors import InvalidInputError
from zone_opt.optimise import SolveOptions, SolveStatus
from zone_opt.optimise.facilities import FacilityProblem, read_orlib_cap, solve_facilities
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.sharing import ShareOptions, cost_shares

sys.path.insert(0, str(Path(__file__).parent))
from facilities_data import ORLIB, random_problem


def _game(seed: int) -> tuple[FacilityProblem, dict[str, str]]:
    problem = random_problem(seed, parks=8, sites=5, types=2)
    players = {d: f"park{j % 4}" for j, d in enumerate(problem.demand_ids)}
    return problem, players


def _reference_values(
    problem: FacilityProblem, players: dict[str, str]
) -> dict[frozenset[str], float]:
    """c(S) by a fresh HiGHS MILP per coalition (no reuse, no custom branch and bound)."""
    parks = sorted(set(players.values()))
    out: dict[frozenset[str], float] = {frozenset(): 0.0}
    for r in range(1, len(parks) + 1):
        for group in itertools.combinations(parks, r):
            rows = [j for j, d in enumerate(problem.demand_ids) if players[d] in group]
            plan = solve_facilities(problem.restrict(rows), options=SolveOptions(mip_rel_gap=1e-9))
            assert plan.status is SolveStatus.OPTIMAL
            out[frozenset(group)] = plan.objective_cny
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_coalition_values_match_fresh_milps(seed: int) -> None:
    problem, players = _game(seed)
    ref = _reference_values(problem, players)
    cc = CoalitionCosts(problem, players, workers=2)
    cost, bound = cc.all_values()
    for mask in range(1, 1 << cc.num_players):
        group = frozenset(cc.players[k] for k in range(cc.num_players) if mask >> k & 1)
        assert cost[mask] == pytest.approx(ref[group], rel=1e-6)
        assert bound[mask] <= cost[mask] + 1e-6


@pytest.mark.parametrize("seed", [0, 2])
def test_shapley_matches_brute_force_and_is_efficient(seed: int) -> None:
    problem, players = _game(seed)
    ref = _reference_values(problem, players)
    parks = sorted(set(players.values()))
    brute = dict.fromkeys(parks, 0.0)
    for order in itertools.permutations(parks):
        before: frozenset[str] = frozenset()
        for k in order:
            brute[k] += ref[before | {k}] - ref[before]
            before = before | {k}
    result = cost_shares(problem, players, "shapley")
    grand = ref[frozenset(parks)]
    assert result.total_cny == pytest.approx(grand, rel=1e-6)
    assert sum(s.share_cny for s in result.shares) == pytest.approx(grand, rel=1e-9)
    for s in result.shares:
        assert s.share_cny == pytest.approx(brute[s.park] / math.factorial(len(parks)), rel=1e-6)
        assert s.standalone_cny == pytest.approx(ref[frozenset([s.park])], rel=1e-6)
        assert s.saving_cny == pytest.approx(s.standalone_cny - s.share_cny)


def test_shapley_symmetry_for_identical_parks() -> None:
    base = random_problem(4, parks=3, sites=4, types=1)
    # Parks p0 and p1 are twins: same demand, same place.
    demand = base.demand.copy()
    demand[1] = demand[0]
    transport = base.transport_cost_cny_per_unit.copy()
    transport[1] = transport[0]
    twins = base.with_options(demand=demand, transport_cost_cny_per_unit=transport)
    players = {"p0": "A", "p1": "B", "p2": "C"}
    for method in ("shapley", "nucleolus"):
        result = cost_shares(twins, players, method)
        assert result.share("A") == pytest.approx(result.share("B"), rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_least_core_matches_lp_over_all_coalitions(seed: int) -> None:
    problem, players = _game(seed)
    ref = _reference_values(problem, players)
    parks = sorted(set(players.values()))
    p = len(parks)
    # min eps s.t. x(S) - eps <= c(S) for proper S, x(N) = c(N); variables (x, eps), free.
    a_ub, b_ub = [], []
    for group, value in ref.items():
        if 0 < len(group) < p:
            a_ub.append([1.0 if k in group else 0.0 for k in parks] + [-1.0])
            b_ub.append(value)
    lp = linprog(
        np.r_[np.zeros(p), 1.0],
        A_ub=np.array(a_ub),
        b_ub=b_ub,
        A_eq=np.array([[1.0] * p + [0.0]]),
        b_eq=[ref[frozenset(parks)]],
        bounds=[(None, None)] * (p + 1),
        method="highs",
    )
    assert lp.status == 0
    scale = max(1.0, abs(ref[frozenset(parks)]))
    for exact_limit in (12, 0):  # enumeration oracle, then the separation MILP
        result = cost_shares(
            problem, players, "least_core", share_options=ShareOptions(exact_limit=exact_limit)
        )
        assert result.least_core_epsilon_cny is not None
        assert result.least_core_epsilon_cny == pytest.approx(lp.fun, abs=1e-6 * scale)
        # The split attains epsilon: its worst excess is epsilon.
        assert result.worst_excess_cny == pytest.approx(lp.fun, abs=1e-6 * scale)
        nuc = cost_shares(
            problem, players, "nucleolus", share_options=ShareOptions(exact_limit=exact_limit)
        )
        assert nuc.worst_excess_cny == pytest.approx(lp.fun, abs=1e-6 * scale)
        assert sum(s.share_cny for s in nuc.shares) == pytest.approx(ref[frozenset(parks)])


def test_worst_excess_and_proportional_split() -> None:
    problem, players = _game(1)
    ref = _reference_values(problem, players)
    parks = sorted(set(players.values()))
    result = cost_shares(problem, players, "proportional")
    x = {s.park: s.share_cny for s in result.shares}
    assert sum(x.values()) == pytest.approx(ref[frozenset(parks)], rel=1e-9)
    excess = {g: sum(x[k] for k in g) - v for g, v in ref.items() if 0 < len(g) < len(parks)}
    worst = max(excess, key=lambda g: excess[g])
    assert result.worst_excess_cny == pytest.approx(excess[worst], abs=1e-3)


def test_sampled_shapley_is_close_to_exact() -> None:
    problem = read_orlib_cap(ORLIB / "cap133.txt").restrict(list(range(24)))
    players = {d: f"park{j // 4}" for j, d in enumerate(problem.demand_ids)}
    exact = cost_shares(problem, players, "shapley")
    sampled = cost_shares(
        problem,
        players,
        "shapley",
        share_options=ShareOptions(exact_limit=3, samples=60, seed=1),
    )
    assert not sampled.exact
    for e, s in zip(exact.shares, sampled.shares, strict=True):
        assert s.std_error_cny is not None
        assert abs(s.share_cny - e.share_cny) <= 5 * s.std_error_cny + 1e-6 * e.share_cny


def test_players_must_cover_every_demand_point() -> None:
    problem, players = _game(0)
    del players["p3"]
    with pytest.raises(InvalidInputError, match="without a player"):
        cost_shares(problem, players, "shapley")
