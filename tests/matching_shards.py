"""Instances and checks shared by the distributed matching tests (local and Ray).

Two regions from the generator: the ``sample`` preset (17 small components) and a
multi-region one over every city (60 parks, 6,000 spaces, 30,000 enterprises: 164
components, the largest with 3,507 edges). With :data:`SMALL_SHARDS` the multi-region
graph is solved in several tasks, and its two largest components are cut along park
boundaries and finished by a warm-started solve.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np

from zone_opt.datasets import preset_region
from zone_opt.datasets.region import Region
from zone_opt.datasets.synthetic import RegionSize, synthetic_region
from zone_opt.matching import Assignment, Matcher, MatchOptions, MatchResult
from zone_opt.matching.distributed import ShardOptions

#: The regions' "today" (the generator's default start).
NOW = dt.date(2025, 1, 1)
#: Shards small enough that the multi-region instance has several tasks and giants.
SMALL_SHARDS = ShardOptions(
    enterprises_per_shard=4_000, edges_per_task=500, giant_edges=1_000, park_groups=4
)
INSTANCES = ("sample", "multi")


@functools.cache
def region(name: str) -> Region:
    if name == "sample":
        return preset_region("sample")
    return synthetic_region(RegionSize(60, 6_000, 30_000, 0), seed=1)


def matcher(name: str, mode: str = "optimal", *, keep: bool = True) -> Matcher:
    r = region(name)
    return Matcher(
        r.spaces,
        r.enterprises,
        parks=r.parks,
        tenancies=r.tenancies,
        options=MatchOptions(mode=mode, now=NOW),  # type: ignore[arg-type]
        keep_index_inputs=keep,
    )


def verify_certificate(result: MatchResult) -> None:
    """Check the result's duals on every candidate edge, independently of the solver:
    an unmatched enterprise's dual is 0, a matched one's is its margin."""
    g = result.graph
    x = result.row_to_col
    matched = np.flatnonzero(x >= 0)
    u = np.zeros(x.size)
    margins = result.assignments.column("enterprise_margin").to_numpy()
    u[matched] = margins  # assignments are in enterprise row order
    assert result.col_prices is not None
    y = np.full(result.col_prices.size, -1, dtype=np.int64)
    y[x[matched]] = matched
    Assignment(
        row_to_col=x,
        col_to_row=y,
        total=result.summary.total_score,
        row_potentials=u,
        col_prices=np.asarray(result.col_prices, dtype=np.float64),
    ).verify(g.rows, g.cols, g.scores)


def same_graph(a: MatchResult, b: MatchResult) -> bool:
    fields = ("indptr", "cols", "scores", "chain", "reason", "n_feasible")
    return all(np.array_equal(getattr(a.graph, f), getattr(b.graph, f)) for f in fields)


def check_equal_optimum(distributed: MatchResult, single: MatchResult) -> None:
    """Equal total (exact, integer scores), equal matched count, the same graph, and the
    distributed certificate verified on every edge."""
    assert same_graph(distributed, single)
    assert distributed.summary.total_score == single.summary.total_score
    assert distributed.summary.n_matched == single.summary.n_matched
    assert distributed.summary.n_edges == single.summary.n_edges
    verify_certificate(distributed)
