"""Games and sweeps shared by the executor tests (with and without Ray), and how their
results are compared: bit for bit, timings aside."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from facilities_data import random_problem

from zone_opt.distributed import Executor, LocalExecutor
from zone_opt.optimise.dispatch import DispatchResult, load_scenario
from zone_opt.optimise.dispatch import Scenario as DispatchScenario
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.facilities.scenario import Scenario, ScenarioResult
from zone_opt.optimise.facilities.sharing import CostShares, ShareMethod, ShareOptions, cost_shares

SIP_PARK = Path(__file__).resolve().parents[1] / "datasets" / "sip_park_1"

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

#: Fields that measure time, not the result.
TIMINGS = ("elapsed_s", "build_s", "solve_s")


class Spy:
    """An executor passing each round on to ``inner``, recording its task function and
    item count."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.rounds: list[tuple[str, int]] = []

    name = property(lambda self: self.inner.name)
    workers = property(lambda self: self.inner.workers)
    remote = property(lambda self: self.inner.remote)

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        self.rounds.append((fn.__name__, len(items)))
        return self.inner.map(fn, shared, items)

    def close(self) -> None:
        self.inner.close()


class PicklingExecutor(LocalExecutor):
    """A local executor that behaves as a remote one: the function, the shared context,
    each item and each result cross a pickle round trip (what Ray does to them)."""

    @property
    def remote(self) -> bool:
        return True

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        shipped_fn, shipped_shared, shipped = pickle.loads(pickle.dumps((fn, shared, items)))
        out = super().map(shipped_fn, shipped_shared, shipped)
        result: list[R] = pickle.loads(pickle.dumps(out))
        return result


class RecordingExecutor(PicklingExecutor):
    """Records each round's shared context and items (what a task receives)."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.rounds: list[tuple[object, list[object]]] = []

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        self.rounds.append((shared, list(items)))
        return super().map(fn, shared, items)


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


def dispatch_variants() -> list[DispatchScenario]:
    """SIP-PARK-1 (LP and unit commitment) and variations of it: half the PV, a tighter
    carbon cap, a demand charge, and an islanded park without slack
    (infeasible at night: a result, not an exception)."""
    lp, milp = load_scenario(SIP_PARK / "lp.yaml"), load_scenario(SIP_PARK / "milp.yaml")
    park = lp.park
    pv = tuple(dataclasses.replace(r, capacity_mw=r.capacity_mw / 2) for r in park.renewables)
    charge = dataclasses.replace(park.grid.tariff, demand_charge_cny_per_mw=5000.0)
    variants = {
        "half PV": dataclasses.replace(park, renewables=pv),
        "carbon cap": dataclasses.replace(
            park, carbon=dataclasses.replace(park.carbon, cap_t=450.0)
        ),
        "demand charge": dataclasses.replace(
            park, grid=dataclasses.replace(park.grid, tariff=charge)
        ),
        "islanded": dataclasses.replace(
            park,
            grid=dataclasses.replace(park.grid, import_max_mw=0.0),
            slack=dataclasses.replace(park.slack, unserved_max_mw=0.0),
            chps=(),
        ),
    }
    made = [DispatchScenario.create(p, lp.profiles, name=n) for n, p in variants.items()]
    return [lp, milp, *made]


def dispatch_fingerprint(result: DispatchResult) -> Any:
    """What a dispatch run decided, bit for bit (timings aside): status, objective, gap,
    each window's start, length, status, objective and gap, the schedule's every column,
    and the conflicting constraints of an infeasible run."""
    frame = result.timeseries
    return without_timings(
        (
            result.status,
            result.objective_cny,
            result.mip_gap,
            [(w.start, w.hours, w.status, w.objective_cny, w.mip_gap) for w in result.windows],
            list(frame.columns),
            [frame[c].to_numpy() for c in frame.columns],
            frame.index.to_numpy(),
            result.infeasibility,
        )
    )
