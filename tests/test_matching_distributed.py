"""The distributed matching path on the local executor, against :func:`match`: the same
candidate graph, the same optimum (certificate verified on every edge), the same stable
matching row for row; the components, the packing and the cut along park boundaries."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
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

from zone_opt import _core
from zone_opt.cli import cli
from zone_opt.distributed import LocalExecutor
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.matching import MatchOptions, assign_sparse, distributed, match
from zone_opt.matching.components import (
    component_labels,
    edge_blocks,
    edges_of_rows,
    plan_components,
    row_components,
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


def test_row_components_are_the_edge_labels() -> None:
    m = matcher("multi")
    g = m.candidates(m.k)
    n, k = m.tables.tenant.size, m.tables.occupied.size
    by_row = row_components(g.indptr, g.cols, k)
    assert np.array_equal(by_row[g.rows], component_labels(g.rows, g.cols, n, k))
    assert np.array_equal(by_row < 0, np.diff(g.indptr) == 0)  # -1: a row without edges


def test_csr_blocks_and_row_edges_are_the_expanded_rows() -> None:
    g = matcher("multi").candidates(32)
    rows = g.rows
    for size in (1, 7, 1000, g.n_edges + 5):
        starts, blocks = zip(*edge_blocks(g.indptr, size), strict=True)
        assert np.array_equal(np.concatenate(blocks), rows)
        assert list(starts) == list(range(0, g.n_edges, size))
    pick = np.flatnonzero(np.arange(g.indptr.size - 1) % 3 == 1)
    edges, edge_rows = edges_of_rows(g.indptr, pick)
    expected = np.flatnonzero(np.isin(rows, pick))
    assert np.array_equal(edges, expected)
    assert np.array_equal(edge_rows, rows[expected])


def _edges(g: Any, rows: Any) -> Any:
    return edges_of_rows(g.indptr, rows)[0]


def test_plan_packs_whole_components_and_sets_giants_apart() -> None:
    m = matcher("multi")
    g = m.candidates(m.k)
    plan = plan_solve(m, g, SMALL_SHARDS)
    comp = plan.components
    labels = component_labels(g.rows, g.cols, m.tables.tenant.size, m.tables.occupied.size)
    assert comp.n_components == np.unique(labels).size > 100
    assert len(comp.batches) >= 4
    assert len(comp.giants) == 2
    giant_sizes = [_edges(g, gi).size for gi in comp.giants]
    assert comp.largest_edges == max(giant_sizes) > SMALL_SHARDS.giant_edges
    assert all(b.size and np.all(np.diff(b) > 0) for b in comp.batches + comp.giants)
    batches = [_edges(g, b) for b in comp.batches]
    assert all(b.size <= 500 + comp.largest_edges for b in batches)
    every = np.concatenate(batches + [_edges(g, gi) for gi in comp.giants])
    assert np.array_equal(np.sort(every), np.arange(g.n_edges))  # each edge once
    owners = [set(labels[b].tolist()) for b in batches]
    assert sum(len(o) for o in owners) == len(set().union(*owners))  # components whole
    assert all(set(labels[_edges(g, gi)].tolist()).__len__() == 1 for gi in comp.giants)
    # the packing depends on the graph only: the same plan again
    by_row = row_components(g.indptr, g.cols, m.tables.occupied.size)
    again = plan_components(by_row, np.diff(g.indptr), edges_per_task=500, giant_edges=1_000)
    assert all(np.array_equal(a, b) for a, b in zip(again.batches, comp.batches, strict=True))


def test_the_cut_keeps_pieces_disjoint() -> None:
    m = matcher("multi")
    g = m.candidates(m.k)
    plan = plan_solve(m, g, SMALL_SHARDS)
    rows, cols, park = g.rows, g.cols, m.tables.space_park
    assert plan.cuts
    for giant, cut in zip(plan.components.giants, plan.cuts, strict=True):
        edges = _edges(g, giant)
        pieces = list(cut.pieces(g.indptr, g.cols, park))
        assert len(pieces) >= 2
        for p, p_rows in pieces:
            assert np.array_equal(p_rows, rows[p])
        kept = np.concatenate([p for p, _ in pieces])
        assert np.unique(kept).size == kept.size == edges.size - cut.dropped_edges
        assert np.isin(kept, edges).all()
        assert 0 < cut.dropped_edges < edges.size // 2
        row_sets = [set(rows[p].tolist()) for p, _ in pieces]
        park_sets = [set(park[cols[p]].tolist()) for p, _ in pieces]
        for i in range(len(pieces)):
            for j in range(i):
                assert not row_sets[i] & row_sets[j]
                assert not park_sets[i] & park_sets[j]
        # an enterprise keeps the edges into its home group, the group holding most
        for r, home in zip(cut.rows[:200], cut.home[:200], strict=True):
            groups = cut.park_group[park[cols[g.indptr[r] : g.indptr[r + 1]]]]
            counts = np.bincount(groups, minlength=int(cut.park_group.max()) + 1)
            assert home == int(np.argmax(counts))


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


def i64(*values: int) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64)


def test_union_find_refuses_bad_edges_by_field_and_keeps_its_state() -> None:
    parent = np.arange(5, dtype=np.int64)
    for rows, cols, n_rows, field, row in (
        (i64(0, 3), i64(0, 0), 3, "rows", 1),
        (i64(-1), i64(0), 3, "rows", 0),
        (i64(0), i64(2), 3, "cols", 0),
        (i64(0), i64(0, 1), 3, "cols", None),
        (i64(), i64(), 6, "n_rows", None),
    ):
        with pytest.raises(InvalidInputError) as e:
            _core.union_edges(parent, rows, cols, n_rows)
        v = e.value.violations[0]
        assert (v.field, v.row) == (field, row)
        assert np.array_equal(parent, np.arange(5))
    with pytest.raises(InvalidInputError, match="parent"):
        _core.union_edges(i64(0, 2, 2), i64(), i64(), 1)
    _core.union_edges(parent, i64(2, 0), i64(1, 1), 3)  # rows 0, 2 share space 1 (node 4)
    assert parent.tolist() == [0, 1, 0, 3, 0]
