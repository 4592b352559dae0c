"""match / recommend / rematch on small seeded tables, against independent checks."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.optimize import linear_sum_assignment

import zone_opt.matching as zm
from zone_opt.cli import main
from zone_opt.errors import InvalidInputError
from zone_opt.matching import (
    Matcher,
    MatchOptions,
    ScoreWeights,
    blocking_pairs,
    match,
    recommend,
)

sys.path.insert(0, str(Path(__file__).parent))
from matching_tables import TODAY, Tables, make_tables

needs_assign = pytest.mark.skipif(
    not hasattr(zm, "assign_sparse"), reason="the exact assignment solver is not merged yet"
)


def tables(seed: int) -> Tables:
    return make_tables(seed, n_parks=4, n_spaces=40, n_enterprises=80, n_tenancies=8)


def kwargs(t: Tables, **options: Any) -> dict[str, Any]:
    """The tables and a MatchOptions (``now`` = TODAY unless given) of a call."""
    return {
        "parks": t.parks,
        "tenancies": t.tenancies,
        "options": MatchOptions(**{"now": TODAY, **options}),
    }


def graph_optimum(result: zm.MatchResult) -> int:
    """Max-weight matching of the candidate graph by scipy's dense LSA (zeros = no edge)."""
    g = result.graph
    n = g.indptr.size - 1
    m = result.space_active.size
    w = np.zeros((n, m), dtype=np.int64)
    w[g.rows, g.cols] = g.scores
    r, c = linear_sum_assignment(w, maximize=True)
    return int(w[r, c].sum())


def check_consistent(t: Tables, result: zm.MatchResult) -> None:
    a = result.assignments
    spaces = a.column("space_id").to_pylist()
    assert len(spaces) == len(set(spaces))
    # Every seeker appears exactly once, matched or unmatched.
    seekers = set(a.column("enterprise_id").to_pylist()) | set(
        result.unmatched.column("enterprise_id").to_pylist()
    )
    assert len(seekers) == result.summary.n_seekers
    assert a.num_rows + result.unmatched.num_rows == result.summary.n_seekers
    # Each assignment is a candidate edge with its score.
    g = result.graph
    ent_row = {e: i for i, e in enumerate(t.enterprises.column("enterprise_id").to_pylist())}
    space_row = {s: i for i, s in enumerate(t.spaces.column("space_id").to_pylist())}
    edge_score = dict(
        zip(zip(g.rows.tolist(), g.cols.tolist(), strict=True), g.scores.tolist(), strict=True)
    )
    for e, s in enumerate(result.row_to_col.tolist()):
        if s >= 0:
            assert (e, s) in edge_score
    for e, s, sc in zip(
        a.column("enterprise_id").to_pylist(), spaces, a.column("score").to_pylist(), strict=True
    ):
        assert edge_score[(ent_row[e], space_row[s])] == sc
    assert sum(a.column("score").to_pylist()) == result.summary.total_score
    u = result.unmatched.to_pylist()
    for row in u:
        if row["reason"] == "NO_CANDIDATES":
            assert row["constraint"] in zm.REASONS[1:]
            assert row["n_candidates"] == 0
        else:
            assert row["reason"] == "OUTCOMPETED"
            assert row["constraint"] is None
            assert row["n_candidates"] > 0
    for name in zm.COMPONENTS:
        values = np.asarray(a.column(name).to_pylist(), dtype=float)
        assert ((values >= 0) & (values <= 1)).all()


@pytest.mark.parametrize("seed", range(4))
def test_stable_result_has_no_blocking_pair(seed: int) -> None:
    t = tables(seed)
    result = match(t.spaces, t.enterprises, **kwargs(t, mode="stable"))
    check_consistent(t, result)
    g = result.graph
    receiver = result.matcher.park_priority(g)
    caps = np.ones(result.space_active.size, dtype=np.int64)
    found = blocking_pairs(
        g.rows, g.cols, g.scores.astype(float), receiver, caps, matching=result.row_to_col
    )
    assert found.size == 0
    assert result.summary.n_matched > 0
    assert result.assignments.column("space_price").null_count == result.assignments.num_rows


@needs_assign
@pytest.mark.parametrize("seed", range(4))
def test_optimal_equals_independent_optimum(seed: int) -> None:
    t = tables(seed)
    result = match(t.spaces, t.enterprises, **kwargs(t, mode="optimal"))
    check_consistent(t, result)
    assert result.summary.total_score == graph_optimum(result)
    stable = match(t.spaces, t.enterprises, **kwargs(t, mode="stable"))
    assert stable.summary.total_score <= result.summary.total_score


@pytest.mark.parametrize("mode", ["stable", pytest.param("optimal", marks=needs_assign)])
def test_rematch_equals_cold_solve(mode: str) -> None:
    t = tables(7)
    matcher = Matcher(t.spaces, t.enterprises, **kwargs(t, mode=mode, k=8))
    first = matcher.solve()
    taken = first.assignments.column("space_id").to_pylist()[:3]
    second = first.rematch(taken_space_ids=taken)
    active = first.space_active.copy()
    active[matcher.space_rows(taken, "taken")] = False
    cold = matcher.solve(space_active=active)
    assert second.summary.total_score == cold.summary.total_score
    if mode == "stable":
        assert np.array_equal(second.row_to_col, cold.row_to_col)
    assert second.churn is not None
    changed = set(second.churn.column("enterprise_id").to_pylist())
    before = dict(
        zip(
            first.assignments["enterprise_id"].to_pylist(),
            first.assignments["space_id"].to_pylist(),
            strict=True,
        )
    )
    for space in taken:
        owner = next(e for e, s in before.items() if s == space)
        assert owner in changed
    # Releasing the spaces again returns to the first optimum.
    third = second.rematch(released_space_ids=taken)
    assert third.summary.total_score == first.summary.total_score
    assert not set(taken) & set(second.assignments.column("space_id").to_pylist())


def test_recommend_shapes_and_order() -> None:
    t = tables(3)
    k = 4
    rec = recommend(t.spaces, t.enterprises, **kwargs(t, k=k))
    assert rec.column_names[:6] == [
        "enterprise_id",
        "rank",
        "space_id",
        "park_id",
        "score",
        "distance_km",
    ]
    rows = rec.to_pylist()
    by_ent: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ent.setdefault(r["enterprise_id"], []).append(r)
    assert by_ent
    full = recommend(t.spaces, t.enterprises, **kwargs(t, k=1000))
    n_all: dict[str, int] = {}
    for r in full.to_pylist():
        n_all[r["enterprise_id"]] = n_all.get(r["enterprise_id"], 0) + 1
    for e, items in by_ent.items():
        assert [r["rank"] for r in items] == list(range(1, len(items) + 1))
        assert len(items) == min(k, n_all[e])
        scores = [r["score"] for r in items]
        assert scores == sorted(scores, reverse=True)


def test_weights_change_the_scores() -> None:
    t = tables(4)
    a = recommend(t.spaces, t.enterprises, **kwargs(t, k=3))
    b = recommend(t.spaces, t.enterprises, **kwargs(t, k=3, weights=ScoreWeights(1, 0, 0, 0, 0)))
    dist = np.asarray(b.column("distance").to_pylist())
    assert np.allclose(np.asarray(b.column("score").to_pylist()), 1 + np.rint(1e6 * dist))
    assert a.column("score").to_pylist() != b.column("score").to_pylist()


def test_bad_input_is_named() -> None:
    t = tables(1)
    with pytest.raises(InvalidInputError) as info:
        match(t.spaces, t.enterprises, **kwargs(t, mode="greedy"))
    assert info.value.violations[0].field == "mode"
    with pytest.raises(InvalidInputError) as info:
        match(t.spaces, t.enterprises, **kwargs(t, k=0))
    assert info.value.violations[0].field == "k"
    with pytest.raises(InvalidInputError):
        match(t.spaces.drop_columns(["area_m2"]), t.enterprises, **kwargs(t))
    with pytest.raises(InvalidInputError):
        match("spaces.parquet", t.enterprises, **kwargs(t))
    result = match(t.spaces, t.enterprises, **kwargs(t, mode="stable"))
    with pytest.raises(InvalidInputError) as info:
        result.rematch(taken_space_ids=["no-such-space"])
    assert info.value.violations[0].field == "taken_space_ids"


def test_empty_tables() -> None:
    t = tables(2)
    result = match(
        t.spaces.slice(0, 0),
        t.enterprises.slice(0, 0),
        parks=t.parks,
        options=MatchOptions(now=TODAY, mode="stable"),
    )
    assert result.assignments.num_rows == 0
    assert result.unmatched.num_rows == 0
    assert isinstance(result.assignments, pa.Table)


def test_cli_writes_parquet_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = tables(5)
    for name in ("parks", "spaces", "enterprises", "tenancies"):
        pq.write_table(getattr(t, name), tmp_path / f"{name}.parquet")
    args = [
        "match",
        "--spaces", str(tmp_path / "spaces.parquet"),
        "--enterprises", str(tmp_path / "enterprises.parquet"),
        "--parks", str(tmp_path / "parks.parquet"),
        "--tenancies", str(tmp_path / "tenancies.parquet"),
        "--out", str(tmp_path / "out"),
        "--mode", "stable",
        "--now", TODAY.isoformat(),
        "--no-progress",
    ]  # fmt: skip
    assert main(args) == 0
    got = pq.read_table(tmp_path / "out" / "assignments.parquet")
    direct = match(t.spaces, t.enterprises, **kwargs(t, mode="stable"))
    assert got.equals(direct.assignments)
    assert pq.read_table(tmp_path / "out" / "unmatched.parquet").equals(direct.unmatched)
    assert "enterprises matched" in capsys.readouterr().out
    bad = [*args[:2], str(tmp_path / "missing.parquet"), *args[3:]]
    assert main(bad) == 2


def test_old_keyword_options_still_work_and_warn() -> None:
    t = tables(6)
    new = match(t.spaces, t.enterprises, **kwargs(t, mode="stable", k=8))
    with pytest.warns(DeprecationWarning, match=r"match\(\.\.\., mode=, k=, now=\) is deprecated"):
        old = match(
            t.spaces, t.enterprises, parks=t.parks, tenancies=t.tenancies,
            mode="stable", k=8, now=TODAY,
        )  # fmt: skip
    assert old.assignments.equals(new.assignments)
    with pytest.warns(DeprecationWarning, match="recommend"):
        old_rec = recommend(t.spaces, t.enterprises, parks=t.parks, k=3, now=TODAY)
    assert old_rec.equals(
        recommend(t.spaces, t.enterprises, parks=t.parks, options=MatchOptions(k=3, now=TODAY))
    )
    with pytest.raises(InvalidInputError) as info:  # both spellings at once
        match(t.spaces, t.enterprises, parks=t.parks, options=MatchOptions(), k=3)
    assert info.value.violations[0].field == "options"
    with pytest.raises(TypeError, match="unexpected keyword argument 'kk'"):
        match(t.spaces, t.enterprises, parks=t.parks, kk=3)


def test_options_are_checked_when_made() -> None:
    assert MatchOptions().k == 32
    assert MatchOptions(now=dt.datetime(2026, 1, 2, 15, 0)).now == dt.date(2026, 1, 2)
    for bad, field in (
        ({"k": 0}, "k"),
        ({"mode": "greedy"}, "mode"),
        ({"weights": {"cost": 1.0}}, "weights"),
        ({"include_tenants": 1}, "include_tenants"),
        ({"now": "2026-01-01"}, "now"),
    ):
        with pytest.raises(InvalidInputError) as info:
            MatchOptions(**bad)
        assert info.value.violations[0].field == field
    with pytest.raises(InvalidInputError) as info:
        match(pa.table({}), pa.table({}), parks=pa.table({}), options={"k": 3})  # type: ignore[arg-type]
    assert info.value.violations[0].field == "options"
