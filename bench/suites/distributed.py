"""Scaling on this machine (issue 19): each distributed workload on 1 and 2 local workers
and (full size) a private Ray of 1 and 2 CPUs, results compared bit for bit.

Workloads (matching has its own suite, ``matching_distributed``):

- **coalition values** of a cost-sharing game: OR-Library cap123 (50 sites, 50
  customers) split among 10 parks (full; 1,023 coalitions) or cap61 among 6 (smoke), one
  round per coalition size (``CoalitionCosts(..., executor=)``);
- **facility scenarios**: OR-Library cap41..cap44 splittable as four scenarios of one
  region (full; cap41 and cap42 in smoke), a scenario per task (``run_scenarios``);
- **dispatch sweep**: SIP-PARK-1's LP and unit-commitment scenarios and two variants
  over 168 h in 24-h windows (full; the LP one over 48 h in smoke), a rolling-horizon
  chain per task (``dispatch_sweep``).

The check: every contender's result digest (SHA-256 of the values, timings aside) is
the same. Each summary also holds ``start_s`` (making the executor: starting a private
Ray takes seconds) and ``run_s`` (the work alone), so the scaling is read from ``run_s``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.distributed import Executor, executor
from zone_opt.optimise.dispatch import Scenario as DispatchScenario
from zone_opt.optimise.dispatch import load_scenario
from zone_opt.optimise.dispatch.sweep import dispatch_sweep
from zone_opt.optimise.facilities import read_orlib_cap
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.scenario import Scenario, run_scenarios
from zone_opt.optimise.facilities.sharing import ShareMethod

ROOT = Path(__file__).resolve().parents[2] / "datasets"
ORLIB = ROOT / "orlib_cflp"
SIP_PARK = ROOT / "sip_park_1"
START = "2025-07-14"

Work = Callable[[Any, Executor], bytes]


def _players(problem: Any, parks: int) -> dict[str, str]:
    n = problem.num_demand
    return {d: f"park{j * parks // n + 1:02d}" for j, d in enumerate(problem.demand_ids)}


def _digest(*parts: object) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
    return h.digest()


def _coalitions(instance: Any, ex: Executor) -> bytes:
    problem, players = instance
    cc = CoalitionCosts(problem, players, executor=ex)
    cost, bound = cc.all_values()
    return _digest(np.asarray(cost).tobytes(), np.asarray(bound).tobytes())


def _scenarios(instance: list[Scenario], ex: Executor) -> bytes:
    results = run_scenarios(instance, executor=ex)
    return _digest(
        *(
            (r.plan.objective_cny, r.standalone_total_cny, [s.shares for s in r.shares])
            for r in results
        )
    )


def _dispatch(instance: tuple[list[DispatchScenario], float], ex: Executor) -> bytes:
    scenarios, hours = instance
    results = dispatch_sweep(scenarios, START, hours, rolling_h=24, executor=ex)
    return _digest(
        *(
            (r.status, r.objective_cny, [(w.status, w.objective_cny) for w in r.windows])
            for r in results
        ),
        *(r.timeseries.to_numpy().tobytes() for r in results),
    )


def _on(backend: str, workers: int, work: Work) -> Callable[[Any], dict[str, Any]]:
    def run(instance: Any) -> dict[str, Any]:
        t0 = time.perf_counter()
        ex = executor(backend, workers=workers)
        t1 = time.perf_counter()
        try:
            digest = work(instance, ex)
        finally:
            ex.close()
        return {"digest": digest.hex(), "start_s": t1 - t0, "run_s": time.perf_counter() - t1}

    return run


def _summarize(_instance: Any, out: dict[str, Any]) -> Summary:
    return {
        "digest": out["digest"][:16],
        "start_s": round(out["start_s"], 3),
        "run_s": round(out["run_s"], 3),
    }


def _case(name: str, make: Callable[[], Any], work: Work, full: bool) -> Case:
    contenders = [
        Contender("local, 1 worker", _on("local", 1, work), _summarize, ours=True),
        Contender("local, 2 workers", _on("local", 2, work), _summarize),
    ]
    if full:
        contenders += [
            Contender(
                f"private Ray, {n} CPU{'s' if n > 1 else ''}",
                _on("ray", n, work),
                _summarize,
                requires=("ray",),
                timeout_s=600.0,
            )
            for n in (1, 2)
        ]
    return Case(name, make, contenders, agree=agree_on("digest"), params={"full": full})


def _game(name: str, parks: int) -> Callable[[], Any]:
    def make() -> Any:
        problem = read_orlib_cap(ORLIB / f"{name}.txt")
        return problem, _players(problem, parks)

    return make


def _facility_sweep(names: list[str]) -> Callable[[], list[Scenario]]:
    def make() -> list[Scenario]:
        out = []
        for name in names:
            problem = read_orlib_cap(ORLIB / f"{name}.txt")
            out.append(Scenario(name, problem, _players(problem, 4), (ShareMethod.SHAPLEY,)))
        return out

    return make


def _dispatch_sweep(full: bool) -> Callable[[], tuple[list[DispatchScenario], float]]:
    def make() -> tuple[list[DispatchScenario], float]:
        lp = load_scenario(SIP_PARK / "lp.yaml")
        if not full:
            return [lp], 48.0
        milp = load_scenario(SIP_PARK / "milp.yaml")
        park = lp.park
        half_pv = tuple(
            dataclasses.replace(r, capacity_mw=r.capacity_mw / 2) for r in park.renewables
        )
        capped = dataclasses.replace(park.carbon, cap_t=450.0)
        variants = [
            DispatchScenario.create(
                dataclasses.replace(park, renewables=half_pv), lp.profiles, name="half PV"
            ),
            DispatchScenario.create(
                dataclasses.replace(park, carbon=capped), lp.profiles, name="carbon cap"
            ),
        ]
        return [lp, milp, *variants], 168.0

    return make


@suite("distributed")
def cases(size: str) -> list[Case]:
    """Coalition values, facility scenarios, a dispatch sweep: 1 vs 2 workers, local, Ray."""
    full = size == "full"
    return [
        _case(
            "coalition values " + ("cap123, 10 parks" if full else "cap61, 6 parks"),
            _game("cap123", 10) if full else _game("cap61", 6),
            _coalitions,
            full,
        ),
        _case(
            "facility scenarios " + ("cap41-cap44" if full else "cap41-cap42"),
            _facility_sweep(["cap41", "cap42", "cap43", "cap44"] if full else ["cap41", "cap42"]),
            _scenarios,
            full,
        ),
        _case(
            "dispatch sweep " + ("4 chains x 168 h" if full else "1 chain x 48 h"),
            _dispatch_sweep(full),
            _dispatch,
            full,
        ),
    ]
