"""Cost-sharing games past one machine, without Ray: the exact-game cap follows the
executor (16 players here, up to 20 on a cluster), a game over it is refused naming
``exact_limit`` before anything is solved, values are kept as arrays, the enumeration
oracle goes in blocks, and sampled Shapley's coalitions go through the executor's rounds."""

from __future__ import annotations

import numpy as np
import pytest
from distributed_cases import PicklingExecutor, RecordingExecutor, game

from zone_opt.distributed import LocalExecutor
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.coalitions import (
    LOCAL_EXACT_PLAYERS,
    MAX_EXACT_PLAYERS,
    CoalitionCosts,
    exact_player_cap,
)
from zone_opt.optimise.facilities.sharing import (
    ORACLE_BLOCK,
    ShareOptions,
    _Game,
    cost_shares,
)


@pytest.mark.parametrize(
    ("remote", "workers", "cap"),
    [(False, 1, 16), (False, 64, 16), (True, 1, 16), (True, 2, 17), (True, 3, 17),
     (True, 4, 18), (True, 8, 19), (True, 16, 20), (True, 1000, 20)],
)  # fmt: skip
def test_the_cap_follows_the_executor(remote: bool, workers: int, cap: int) -> None:
    ex = PicklingExecutor(workers) if remote else LocalExecutor(workers)
    assert exact_player_cap(ex) == cap
    assert LOCAL_EXACT_PLAYERS <= cap <= MAX_EXACT_PLAYERS


def test_a_game_over_the_cap_is_refused_before_any_solve() -> None:
    problem, players = game(31, parks=17, sites=3)
    cc = CoalitionCosts(problem, players, executor=LocalExecutor(2))
    with pytest.raises(InvalidInputError, match=r"exact_limit: 17 players: .* capped at 16"):
        cost_shares(problem, players, "shapley", share_options=ShareOptions(17), costs=cc)
    with pytest.raises(InvalidInputError, match="Ray cluster of at least 2 workers"):
        cc.all_values()
    assert cc.solves == 0
    # two remote workers lift the cap to 17: the check passes (the solve is not run here)
    remote = CoalitionCosts(problem, players, executor=PicklingExecutor(2))
    assert exact_player_cap(remote.executor) == 17


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"exact_limit": 21}, "exact_limit"), ({"exact_limit": -1}, "exact_limit"),
     ({"exact_limit": True}, "exact_limit"), ({"samples": 0}, "samples"),
     ({"samples": 2.5}, "samples"), ({"seed": -1}, "seed")],
)  # fmt: skip
def test_share_options_are_checked(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"invalid input: {field}: must be an integer"):
        ShareOptions(**kwargs)  # type: ignore[arg-type]


def test_values_of_a_20_player_game_are_arrays() -> None:
    """Memory stays bounded at the largest exact game: 17 bytes per coalition (17 MiB)."""
    problem, players = game(32, parks=MAX_EXACT_PLAYERS, sites=2)
    values = CoalitionCosts(problem, players)._values
    assert values.dense
    held = values.cost.nbytes + values.bound.nbytes + values.status.nbytes
    assert held == 17 * 2**MAX_EXACT_PLAYERS
    sampled = CoalitionCosts(*game(33, parks=MAX_EXACT_PLAYERS + 1, sites=2))._values
    assert not sampled.dense
    assert sampled.cost.nbytes == 0


def test_all_values_equal_value_by_value() -> None:
    problem, players = game(34, parks=5)
    cc = CoalitionCosts(problem, players, executor=PicklingExecutor(2))
    cost, bound = cc.all_values()
    assert cc.solves == 31
    assert (cost[0], bound[0]) == (0.0, 0.0)
    for mask in range(1, 32):
        v = cc.value(mask)
        assert (v.cost_cny, v.bound_cny) == (cost[mask], bound[mask])
        assert v.bound_cny <= v.cost_cny * (1 + 1e-6)
    assert cc.solves == 31  # every value came from the arrays


def test_the_oracle_in_blocks_equals_one_matrix() -> None:
    """Over several blocks, the most violated coalition is the one a single membership
    matrix finds (the first of equal excesses), also with exclusions."""
    p = 17
    assert 1 << p > ORACLE_BLOCK
    problem, players = game(35, parks=p, sites=2)
    g = _Game(CoalitionCosts(problem, players), exact=False)
    rng = np.random.default_rng(0)
    g.exact = True
    g.bound = np.round(rng.uniform(0, 50, 1 << p))  # ties on purpose
    masks = np.arange(1 << p, dtype=np.int64)
    member = ((masks[:, None] >> np.arange(p)) & 1).astype(np.float64)

    def excluded(vectors: np.ndarray) -> np.ndarray:
        return np.asarray(vectors[:, 0] == 1)

    for _ in range(3):
        x = np.round(rng.uniform(0, 10, p))
        for skip in (None, excluded):
            excess = member @ x - g.bound
            excess[0] = excess[-1] = -np.inf
            if skip is not None:
                excess[skip(member)] = -np.inf
            best = int(np.argmax(excess))
            assert g.most_violated(x, skip) == (best, float(excess[best]))


def test_sampled_shapley_goes_through_the_executor_rounds() -> None:
    """Join orders are drawn on the driver from the seed; every coalition they need past
    the grand coalition and the singletons is solved in the executor's rounds."""
    problem, players = game(36, parks=7)
    settings = ShareOptions(exact_limit=4, samples=30, seed=5)
    ex = RecordingExecutor(2)
    cc = CoalitionCosts(problem, players, executor=ex)
    shares = cost_shares(problem, players, "shapley", share_options=settings, costs=cc)
    shipped = sum(len(items) for _, items in ex.rounds)
    assert shipped == cc.solves - 1 - 7 > 0
    again = cost_shares(
        problem,
        players,
        "shapley",
        share_options=settings,
        costs=CoalitionCosts(problem, players, executor=LocalExecutor(1)),
    )
    assert [s.share_cny for s in shares.shares] == [s.share_cny for s in again.shares]
    assert shares.samples == 30
    assert not shares.exact
