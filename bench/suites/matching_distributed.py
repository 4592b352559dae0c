"""Distributed matching (issue 19): ``match`` in one process against the distributed path
on 1 and 2 workers, threads here and (full size) a private Ray.

The instance is a generated multi-region one over every city: full 240 parks, 30,000
spaces, 300,000 enterprises; smoke 60 parks, 6,000 spaces, 30,000 enterprises (local
executors only, so ``make bench-smoke`` starts no Ray). The shard options cut every
component of more than 2^16 edges along park boundaries (8 groups) and finish it with
one warm-started exact solve, so each round of the distributed path runs. The check:
every contender sees the same candidate graph and finds the same total score and
matched count; the distributed results' certificates are verified inside the runs.

Each summary also holds the run's own stage times (``seconds``: candidates, solve,
results), which leave out starting and stopping Ray (a private Ray is started in the
timed run and takes seconds on its own).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.datasets import RegionSize, synthetic_region
from zone_opt.distributed import executor
from zone_opt.matching import MatchOptions, match
from zone_opt.matching.distributed import ShardOptions, solve_distributed
from zone_opt.matching.domain import Matcher

NOW = dt.date(2025, 1, 1)
SHARDS = ShardOptions(edges_per_task=1 << 16, giant_edges=1 << 16, park_groups=8)
SIZES = {"smoke": RegionSize(60, 6_000, 30_000, 0), "full": RegionSize(240, 30_000, 300_000, 0)}


def _one_process(region: Any) -> Any:
    return match(
        region.spaces,
        region.enterprises,
        parks=region.parks,
        tenancies=region.tenancies,
        options=MatchOptions(now=NOW),
    )


def _distributed(backend: str, workers: int) -> Any:
    def run(region: Any) -> Any:
        matcher = Matcher(
            region.spaces,
            region.enterprises,
            parks=region.parks,
            tenancies=region.tenancies,
            options=MatchOptions(now=NOW),
            keep_index_inputs=True,
        )
        ex = executor(backend, workers=workers)
        try:
            return solve_distributed(matcher, ex, shards=SHARDS)
        finally:
            ex.close()

    return run


def _summarize(_region: Any, result: Any) -> Summary:
    s = result.summary
    return {
        "n_edges": s.n_edges,
        "n_matched": s.n_matched,
        "total_score": s.total_score,
        "seconds": {k: round(v, 3) for k, v in s.seconds.items()},
    }


@suite("matching_distributed")
def cases(size: str) -> list[Case]:
    """match in one process vs the distributed path on 1 and 2 workers (local, Ray)."""
    region_size = SIZES[size]
    contenders = [
        Contender("match, one process", _one_process, _summarize, ours=True),
        Contender("distributed, local 1 worker", _distributed("local", 1), _summarize),
        Contender("distributed, local 2 workers", _distributed("local", 2), _summarize),
    ]
    if size == "full":
        contenders += [
            Contender(
                f"distributed, private Ray {n} worker{'s' if n > 1 else ''}",
                _distributed("ray", n),
                _summarize,
                requires=("ray",),
                timeout_s=300.0,
            )
            for n in (1, 2)
        ]
    return [
        Case(
            f"match {region_size.n_enterprises} x {region_size.n_spaces}",
            lambda: synthetic_region(region_size, seed=0),
            contenders,
            agree=agree_on("n_edges", "n_matched", "total_score"),
            params={
                "n_parks": region_size.n_parks,
                "n_spaces": region_size.n_spaces,
                "n_enterprises": region_size.n_enterprises,
                "k": 32,
                "edges_per_task": SHARDS.edges_per_task,
                "giant_edges": SHARDS.giant_edges,
                "park_groups": SHARDS.park_groups,
            },
        )
    ]
