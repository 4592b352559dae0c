"""Distributed matching on the simulated 2-node Ray cluster (``ray_cluster``, one CPU per
node) against :func:`match` and the local executor: the same candidate graph, the same
optimum with its certificate verified on every edge, the same stable matching row for
row, and bitwise the local executor's result. Skipped where Ray is not installed."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matching_shards import NOW, SMALL_SHARDS, check_equal_optimum, matcher, region

from zone_opt.cli import main
from zone_opt.datasets import write_region
from zone_opt.distributed import Executor, LocalExecutor
from zone_opt.matching import MatchOptions, match
from zone_opt.matching.distributed import plan_solve, solve_distributed

pytestmark = pytest.mark.ray


def test_optimal_on_two_nodes_equals_match_and_the_local_run(ray_executor: Executor) -> None:
    m = matcher("multi")
    plan = plan_solve(m, m.candidates(m.k), SMALL_SHARDS)
    assert len(plan.components.batches) >= 4
    assert plan.components.giants
    assert plan.cuts
    single = matcher("multi", keep=False).solve()
    on_ray = solve_distributed(m, ray_executor, shards=SMALL_SHARDS)
    check_equal_optimum(on_ray, single)
    # the graph was read from the object store during the solve; the result owns it
    for f in dataclasses.fields(on_ray.graph):
        assert getattr(on_ray.graph, f.name).flags.writeable, f.name
    local = solve_distributed(matcher("multi"), LocalExecutor(2), shards=SMALL_SHARDS)
    assert np.array_equal(on_ray.row_to_col, local.row_to_col)
    assert on_ray.col_prices is not None
    assert local.col_prices is not None
    assert on_ray.col_prices.tobytes() == local.col_prices.tobytes()


def test_stable_on_two_nodes_is_identical_row_for_row(ray_executor: Executor) -> None:
    single = matcher("multi", "stable", keep=False).solve()
    on_ray = solve_distributed(matcher("multi", "stable"), ray_executor, shards=SMALL_SHARDS)
    assert np.array_equal(on_ray.row_to_col, single.row_to_col)
    assert on_ray.assignments.equals(single.assignments)
    assert on_ray.unmatched.equals(single.unmatched)


@pytest.mark.parametrize("mode", ["optimal", "stable"])
def test_match_on_the_sample_with_the_ray_executor(ray_executor: Executor, mode: str) -> None:
    r = region("sample")
    tables = {"parks": r.parks, "tenancies": r.tenancies}
    options = MatchOptions(mode=mode, now=NOW)  # type: ignore[arg-type]
    single = match(r.spaces, r.enterprises, options=options, **tables)
    on_ray = match(r.spaces, r.enterprises, options=options, executor=ray_executor, **tables)
    if mode == "optimal":
        check_equal_optimum(on_ray, single)
    else:
        assert on_ray.assignments.equals(single.assignments)


def _cli_match(folder: Path, out: str, *extra: str) -> dict[str, Any]:
    args = [f"--{t}={folder / f'{t}.parquet'}" for t in ("spaces", "enterprises", "parks")]
    code = main(
        ["match", *args, "--out", str(folder / out), "--now", str(NOW), "--no-report",
         "--no-progress", *extra]
    )  # fmt: skip
    assert code == 0
    summary: dict[str, Any] = json.loads((folder / out / "summary.json").read_text())
    return summary


def test_cli_match_on_the_cluster_equals_the_local_run(
    ray_cluster: str, ray_executor: Executor, tmp_path: Path
) -> None:
    write_region(region("sample"), tmp_path)
    local = _cli_match(tmp_path, "local")
    on_ray = _cli_match(tmp_path, "ray", "--executor", "ray", "--ray-address", ray_cluster)
    for key in ("total_score", "n_matched", "n_edges", "n_seekers"):
        assert on_ray[key] == local[key], key
    # The command attached to the session's cluster and left it up for the next test.
    assert importlib.import_module("ray").is_initialized()
    assert ray_executor.workers == 2
