"""Games and sweeps shared by the executor tests (with and without Ray), and how their
results are compared: bit for bit, timings aside."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from facilities_data import random_problem

from zone_opt.distributed import Executor
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.scenario import Scenario, ScenarioResult
from zone_opt.optimise.facilities.sharing import CostShares, ShareMethod, ShareOptions, cost_shares

#: Fields that measure time, not the result.
TIMINGS = ("elapsed_s", "build_s", "solve_s")


def game(seed: int, parks: int = 6, **kw: Any) -> tuple[FacilityProblem, dict[str, str]]:
    problem = random_problem(seed, parks=parks, **kw)
    return problem, {d: d for d in problem.demand_ids}


def values_bytes(cc: CoalitionCosts) -> tuple[bytes, bytes]:
    """Every coalition's cost and bound, as bytes (equal means bitwise equal)."""
    cost, bound = cc.all_values()
    return cost.tobytes(), bound.tobytes()


def sampled_shapley(
    problem: FacilityProblem,
    players: dict[str, str],
    settings: ShareOptions,
    executors: tuple[Executor, ...],
) -> list[CostShares]:
    """Sampled Shapley shares of one game, once per executor."""
    return [
        cost_shares(
            problem,
            players,
            "shapley",
            share_options=settings,
            costs=CoalitionCosts(problem, players, executor=ex),
        )
        for ex in executors
    ]


def sweep(seed: int, n: int = 2) -> list[Scenario]:
    """``n`` variants of one region: the joint plan, then tighter budgets, single sourcing."""
    base, players = game(seed, parks=4)
    out = []
    for k in range(n):
        problem = base.with_options(single_source=k % 2 == 1, name=f"variant {k}")
        out.append(Scenario(f"variant {k}", problem, players, (ShareMethod.SHAPLEY,)))
    return out


def without_timings(value: Any) -> Any:
    """``value`` with every timing field of every nested dataclass set to 0, floats and
    numpy arrays as their bits (so == compares bit for bit)."""
    if isinstance(value, float):
        return value.hex()  # bit for bit, and NaN equals NaN
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (f.name, 0.0 if f.name in TIMINGS else without_timings(getattr(value, f.name)))
            for f in dataclasses.fields(value)
        )
    if isinstance(value, list | tuple):
        return tuple(without_timings(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, without_timings(v)) for k, v in sorted(value.items()))
    return value


def same_results(a: list[ScenarioResult], b: list[ScenarioResult]) -> bool:
    return bool(without_timings(a) == without_timings(b))
