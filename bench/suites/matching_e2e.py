"""End-to-end ``zone_opt.matching.match`` on a synthetic region.

Smoke: the ``sample`` preset; full: the ``city`` preset (10^6 enterprises, 10^5 spaces;
targets, issue 21: at most 12 s wall on 2 cores and 2 GiB peak for ``zone-opt match``
end to end, measured with ``/usr/bin/time -v``). Timed: candidate generation, the solve and the
result tables, from Arrow tables in memory to Arrow tables out. Both modes run; there is
no peer for the whole pipeline, so the check is that both modes see the same seekers,
offered spaces and candidate graph, and that the optimal total is at least the stable one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from bench.harness import Case, Contender, Summary, suite
from zone_opt.matching import MatchOptions, match

NOW = dt.date(2026, 11, 23)


def make(preset: str) -> Any:
    from zone_opt.datasets import preset_region  # noqa: PLC0415 (lands with the data branch)

    return preset_region(preset, seed=0, hours=0)


def _run(mode: Literal["optimal", "stable"]) -> Any:
    def run(region: Any) -> Any:
        return match(
            region.spaces,
            region.enterprises,
            parks=region.parks,
            tenancies=region.tenancies,
            options=MatchOptions(mode=mode, k=32, now=NOW),
        )

    return run


def summarize(region: Any, result: Any) -> Summary:
    s = result.summary
    return {
        "n_seekers": s.n_seekers,
        "n_spaces_offered": s.n_spaces_offered,
        "n_edges": s.n_edges,
        "n_matched": s.n_matched,
        "total_score": s.total_score,
        "seconds": s.seconds,
    }


def agree(summaries: dict[str, Summary]) -> None:
    keys = ("n_seekers", "n_spaces_offered", "n_edges")
    values = {name: tuple(s[k] for k in keys) for name, s in summaries.items()}
    if len(set(values.values())) > 1:
        raise AssertionError(f"modes saw different inputs: {values}")
    opt = [s["total_score"] for n, s in summaries.items() if "optimal" in n]
    stable = [s["total_score"] for n, s in summaries.items() if "stable" in n]
    if opt and stable and opt[0] < stable[0]:
        raise AssertionError(f"optimal total {opt[0]} below stable {stable[0]}")


@suite("matching_e2e")
def cases(size: str) -> list[Case]:
    """End-to-end match (candidates, solve, results) on the sample or city preset."""
    preset = "sample" if size == "smoke" else "city"
    return [
        Case(
            f"match {preset}",
            lambda: make(preset),
            [
                Contender("zone-opt match optimal", _run("optimal"), summarize, ours=True),
                Contender("zone-opt match stable", _run("stable"), summarize),
            ],
            agree=agree,
            params={"preset": preset, "k": 32},
        )
    ]
