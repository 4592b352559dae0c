"""A server started with a Ray address (``ServerSettings.ray_address``, ``zone-opt serve
--ray-address``) runs PlanFacilities' scenarios and Match's candidates and components as
tasks on the simulated 2-node cluster, with the result of a server without one; the
server closes only what it started."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pytest
from click.testing import CliRunner
from distributed_cases import Spy

from zone_opt.api.v1 import facilities_pb2, matching_pb2
from zone_opt.cli import cli
from zone_opt.client import Client
from zone_opt.distributed import RayExecutor
from zone_opt.errors import InvalidInputError
from zone_opt.service.server import Server, ServerSettings

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

MATCH_TABLES = ("spaces", "enterprises", "parks", "tenancies")
EXAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "facilities" / "example_scenario.yaml"


def _plan(server: Server, port: int) -> tuple[facilities_pb2.PlanFacilitiesResult, Spy]:
    spy = Spy(server.pool.executor)
    server.pool.executor = spy
    with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=20) as client:
        op = client.submit_plan_facilities(EXAMPLE.read_text(), sharing=["shapley"])
        done = client.wait(op, 120)
    assert done.state == "SUCCEEDED", done.error_message
    return done.result_as(facilities_pb2.PlanFacilitiesResult), spy


@pytest.mark.ray
def test_plan_facilities_on_ray_equals_local(
    tmp_path: Path, ray_cluster: str, start: Callable[..., tuple[Server, int]]
) -> None:
    results: dict[str, Any] = {}
    for name, address in (("local", None), ("ray", ray_cluster)):
        server, port = start(tmp_path / name, ray_address=address)
        try:
            assert isinstance(server.executor, RayExecutor) == (address is not None)
            results[name] = _plan(server, port)
        finally:
            server.stop(0.5)
    (local, local_spy), (remote, ray_spy) = results["local"], results["ray"]
    assert len(remote.scenarios) == 4
    assert remote == local
    assert remote.SerializeToString(deterministic=True) == local.SerializeToString(
        deterministic=True
    )
    # locally each scenario is solved on the job's thread; on Ray each is a task
    assert {fn for fn, _ in local_spy.rounds} == {"solve"}
    assert {fn for fn, _ in ray_spy.rounds} == {"solve_scenario"}
    assert sum(n for _, n in ray_spy.rounds) == 4
    assert max(n for _, n in ray_spy.rounds) == 2  # rounds of the cluster's 2 CPUs
    # attached to the test's cluster: stopping the server leaves it running
    assert importlib.import_module("ray").is_initialized()


def test_an_empty_ray_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="ray_address"):
        ServerSettings(data_dir=tmp_path, ray_address=" ").check()
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--ray-address", ""])
    assert result.exit_code == 2
    assert "--ray-address must not be empty" in result.output


def test_serve_help_names_the_ray_address() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--ray-address ADDRESS" in result.output


@pytest.mark.ray
def test_match_on_ray_equals_local(
    tmp_path: Path,
    ray_cluster: str,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
) -> None:
    results: dict[str, Any] = {}
    for name, address in (("local", None), ("ray", ray_cluster)):
        server, port = start(tmp_path / name, ray_address=address)
        try:
            spy = Spy(server.pool.executor)
            server.pool.executor = spy
            with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=20) as client:
                ids = {t: client.upload(sample(t), t, kind=t) for t in MATCH_TABLES}
                op = client.submit_match(
                    ids["spaces"], ids["enterprises"], ids["parks"], tenancies_id=ids["tenancies"]
                )
                done = client.wait(op, 120)
                assert done.state == "SUCCEEDED", done.error_message
                result = done.result_as(matching_pb2.MatchResult)
                rows = client.download(result.assignments_dataset_id)
            results[name] = (result.statistics, rows, spy.rounds)
        finally:
            server.stop(0.5)
    (local, local_rows, local_rounds), (remote, remote_rows, ray_rounds) = (
        results["local"],
        results["ray"],
    )
    assert remote.total_score == local.total_score > 0
    assert remote.n_matched == local.n_matched
    assert remote_rows.num_rows == local_rows.num_rows
    # locally the match runs on the job's thread; on Ray as candidate and solve tasks
    assert local_rounds == []
    assert {fn for fn, _ in ray_rounds} == {"generate_shard", "solve_part"}
