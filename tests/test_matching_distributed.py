"""The distributed matching path on the local executor, against :func:`match`: the same
candidate graph, the same optimum (certificate verified on every edge), the same stable
matching row for row; the components, the packing and the cut along park boundaries."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from matching_shards import (
    INSTANCES,
    NOW,
    SMALL_SHARDS,
    check_equal_optimum,
    matcher,
    region,
    verify_certificate,
)
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from zone_opt.cli import cli
from zone_opt.distributed import LocalExecutor
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.matching import MatchOptions, assign_sparse, distributed, match
from zone_opt.matching.components import (
    component_labels,
    plan_components,
)
from zone_opt.matching.distributed import (
    ShardOptions,
    plan_solve,
    sharded_candidates,
    solve_distributed,
)

ONE, TWO = LocalExecutor(1), LocalExecutor(2)


@pytest.mark.parametrize("name", INSTANCES)
@pytest.mark.parametrize(("ex", "per_shard"), [(ONE, 250_000), (TWO, 250_000), (TWO, 777)])
def test_sharded_candidates_are_the_single_call(
    name: str, ex: LocalExecutor, per_shard: int
) -> None:
    m = matcher(name)
    whole = m.candidates(m.k)
    shards = ShardOptions(enterprises_per_shard=per_shard)
    graph = sharded_candidates(m, ex, m.initial_space_active, shards)
    for f in ("indptr", "cols", "scores", "chain", "reason", "n_feasible"):
        assert np.array_equal(getattr(graph, f), getattr(whole, f)), f
    assert graph.n_edges > 0


@pytest.mark.parametrize("name", INSTANCES)
def test_components_are_scipys(name: str) -> None:
    m = matcher(name)
    g = m.candidates(m.k)
    n, k = m.tables.tenant.size, m.tables.occupied.size
    labels = component_labels(g.rows, g.cols, n, k)
    ones = np.ones(g.n_edges)
    adj = coo_matrix((ones, (g.rows, g.cols + n)), shape=(n + k, n + k))
    _, theirs = connected_components(adj, directed=False)
    edge_theirs = theirs[g.rows]
    # the same partition of the edges: each of our labels is one of theirs and back
    pairs = np.unique(np.stack([labels, edge_theirs]), axis=1)
    assert np.unique(pairs[0]).size == np.unique(pairs[1]).size == pairs.shape[1]
    # a label is the smallest enterprise row of its component
    for lab in np.unique(labels)[:50]:
        assert g.rows[labels == lab].min() == lab


def test_plan_packs_whole_components_and_sets_giants_apart() -> None:
    m = matcher("multi")
    g = m.candidates(m.k)
    plan = plan_solve(m, g, SMALL_SHARDS)
    comp = plan.components
    labels = component_labels(g.rows, g.cols, m.tables.tenant.size, m.tables.occupied.size)
    assert comp.n_components == np.unique(labels).size > 100
    assert len(comp.batches) >= 4
    assert len(comp.giants) == 2
    assert comp.largest_edges == max(gi.size for gi in comp.giants) > SMALL_SHARDS.giant_edges
    every = np.concatenate(comp.batches + comp.giants)
    assert np.array_equal(np.sort(every), np.arange(g.n_edges))  # each edge once
    owners = [set(labels[b].tolist()) for b in comp.batches + comp.giants]
    assert sum(len(o) for o in owners) == len(set().union(*owners))  # components whole
    # the packing depends on the graph only: the same plan again
    again = plan_components(labels, edges_per_task=500, giant_edges=1_000)
    assert all(np.array_equal(a, b) for a, b in zip(again.batches, comp.batches, strict=True))


def test_the_cut_keeps_pieces_disjoint() -> None:
    m = matcher("multi")
    g = m.candidates(m.k)
    plan = plan_solve(m, g, SMALL_SHARDS)
    rows, cols = g.rows, g.cols
    for edges, pieces, dropped in zip(
        plan.components.giants, plan.giant_pieces, plan.dropped_edges, strict=True
    ):
        assert len(pieces) >= 2
        kept = np.concatenate(pieces)
        assert np.unique(kept).size == kept.size == edges.size - dropped
        assert 0 < dropped < edges.size // 2
        row_sets = [set(rows[p].tolist()) for p in pieces]
        park_sets = [set(m.tables.space_park[cols[p]].tolist()) for p in pieces]
        for i in range(len(pieces)):
            for j in range(i):
                assert not row_sets[i] & row_sets[j]
                assert not park_sets[i] & park_sets[j]


@pytest.mark.parametrize("name", INSTANCES)
@pytest.mark.parametrize("ex", [ONE, TWO])
def test_optimal_equals_match(name: str, ex: LocalExecutor) -> None:
    single = matcher(name, keep=False).solve()
    distributed = solve_distributed(matcher(name), ex, shards=SMALL_SHARDS)
    check_equal_optimum(distributed, single)
    verify_certificate(single)
    assert distributed.summary.n_no_candidates == single.summary.n_no_candidates
    assert distributed.unmatched.num_rows == single.unmatched.num_rows


def test_the_result_does_not_depend_on_the_workers() -> None:
    one = solve_distributed(matcher("multi"), ONE, shards=SMALL_SHARDS)
    two = solve_distributed(matcher("multi"), TWO, shards=SMALL_SHARDS)
    assert np.array_equal(one.row_to_col, two.row_to_col)
    assert one.col_prices is not None
    assert two.col_prices is not None
    assert one.col_prices.tobytes() == two.col_prices.tobytes()
    assert one.assignments.equals(two.assignments)


@pytest.mark.parametrize("name", INSTANCES)
@pytest.mark.parametrize("per_task", [1, 500, 1 << 20])
def test_stable_is_identical_row_for_row(name: str, per_task: int) -> None:
    # per_task=1: every component alone in its task; 1 << 20: all in one
    single = matcher(name, "stable", keep=False).solve()
    shards = ShardOptions(enterprises_per_shard=4_000, edges_per_task=per_task, giant_edges=1)
    distributed = solve_distributed(matcher(name, "stable"), TWO, shards=shards)
    assert np.array_equal(distributed.row_to_col, single.row_to_col)
    assert distributed.assignments.equals(single.assignments)
    assert distributed.unmatched.equals(single.unmatched)
    assert distributed.summary.total_score == single.summary.total_score


@pytest.mark.parametrize("mode", ["optimal", "stable"])
def test_match_takes_an_executor(mode: str) -> None:
    r = region("sample")
    tables = {"parks": r.parks, "tenancies": r.tenancies}
    options = MatchOptions(mode=mode, now=NOW)  # type: ignore[arg-type]
    single = match(r.spaces, r.enterprises, options=options, **tables)
    stages: list[str] = []
    distributed = match(
        r.spaces, r.enterprises, options=options, executor=TWO, progress=stages.append, **tables
    )
    assert stages == ["candidates", "solve", "results"]
    assert distributed.summary.total_score == single.summary.total_score
    assert distributed.summary.n_matched == single.summary.n_matched
    if mode == "stable":
        assert distributed.assignments.equals(single.assignments)
    else:
        verify_certificate(distributed)


def test_rematch_after_a_distributed_solve() -> None:
    m = matcher("multi")
    first = solve_distributed(m, TWO, shards=SMALL_SHARDS)
    taken = first.assignments.column("space_id")[:5]
    again = first.rematch(taken_space_ids=taken)
    cold = matcher("multi", keep=False)
    active = first.space_active.copy()
    active[m.space_rows(taken, "taken")] = False
    assert again.summary.total_score == cold.solve(space_active=active).summary.total_score


def test_bad_arguments_are_refused() -> None:
    r = region("sample")
    tables = {"parks": r.parks, "tenancies": r.tenancies}
    for bad in ("ray", 2, LocalExecutor, True):
        with pytest.raises(InvalidInputError, match="executor"):
            match(r.spaces, r.enterprises, executor=bad, **tables)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="keep_index_inputs"):
        solve_distributed(matcher("sample", keep=False), TWO)
    with pytest.raises(InvalidInputError, match="shards"):
        solve_distributed(matcher("sample"), TWO, shards="small")  # type: ignore[arg-type]
    for field in ("enterprises_per_shard", "edges_per_task", "giant_edges", "park_groups"):
        with pytest.raises(InvalidInputError, match=field):
            ShardOptions(**{field: 0})


def test_a_wrong_piece_is_caught_by_its_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    real = assign_sparse

    def zero_prices(*args: Any, **kwargs: Any) -> Any:
        sol = real(*args, **kwargs)
        return dataclasses.replace(sol, col_prices=np.zeros_like(sol.col_prices))

    monkeypatch.setattr(distributed, "assign_sparse", zero_prices)
    with pytest.raises(VerificationError, match=r"not tight|<"):
        solve_distributed(matcher("multi"), ONE, shards=SMALL_SHARDS)


def test_a_wrong_stable_piece_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def nobody(rows: Any, *args: Any, n_proposers: int, **kwargs: Any) -> Any:
        return np.full(n_proposers, -1, dtype=np.int64)

    monkeypatch.setattr(distributed, "deferred_acceptance", nobody)
    with pytest.raises(VerificationError, match="blocks"):
        solve_distributed(matcher("multi", "stable"), ONE, shards=SMALL_SHARDS)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ray-address", "local"], "--ray-address needs --executor ray"),
        (["--executor", "ray", "--ray-address", " "], "--ray-address must not be empty"),
        (["--executor", "spark"], "'spark' is not one of 'local', 'ray'"),
    ],
)
def test_cli_match_refuses_bad_executor_flags(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    # Checked before any file is read: these are empty.
    files = []
    for table in ("spaces", "enterprises", "parks"):
        (tmp_path / f"{table}.parquet").touch()
        files.append(f"--{table}={tmp_path / f'{table}.parquet'}")
    result = CliRunner().invoke(cli, ["match", *files, "--out", str(tmp_path / "o"), *flags])
    assert result.exit_code == 2
    assert message in result.output
