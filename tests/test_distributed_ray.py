"""The Ray backend on a simulated 2-node cluster (``ray_cluster``, one CPU per node): the
same plan gives bitwise the same coalition values as the local backend, and facility
and dispatch scenario sweeps equal the serial run. Skipped where Ray is not installed
(``make ray``)."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np
import pytest
from distributed_cases import (
    dispatch_fingerprint,
    dispatch_variants,
    game,
    same_results,
    sampled_shapley,
    sweep,
    values_bytes,
)

from zone_opt.distributed import Executor, LocalExecutor, RayExecutor, Shared, share
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch import dispatch, dispatch_sweep
from zone_opt.optimise.facilities.coalitions import CoalitionCosts, exact_player_cap
from zone_opt.optimise.facilities.scenario import run_scenarios
from zone_opt.optimise.facilities.sharing import ShareOptions

pytestmark = pytest.mark.ray


def _node_after_a_pause(_shared: None, _item: int) -> str:
    ray = importlib.import_module("ray")
    threading.Event().wait(0.3)  # holds the node's one CPU, so the next task goes elsewhere
    return str(ray.get_runtime_context().get_node_id())


def _fail_on_three(_shared: None, x: int) -> int:
    if x == 3:
        raise InvalidInputError.single("x", x, "three")
    return x


def test_the_executor_spans_both_nodes(ray_executor: Executor) -> None:
    assert isinstance(ray_executor, RayExecutor)
    assert (ray_executor.name, ray_executor.workers, ray_executor.remote) == ("ray", 2, True)
    nodes = ray_executor.map(_node_after_a_pause, None, list(range(4)))
    assert len(set(nodes)) == 2


def test_a_task_error_is_raised_with_its_type(ray_executor: Executor) -> None:
    with pytest.raises(InvalidInputError, match="three"):
        ray_executor.map(_fail_on_three, None, list(range(6)))


def test_coalition_values_bitwise_equal_to_local(ray_executor: Executor) -> None:
    for seed, kw in ((21, {}), (22, {"single_source": True, "parks": 5})):
        problem, players = game(seed, **kw)
        local = CoalitionCosts(problem, players, executor=LocalExecutor(2))
        remote = CoalitionCosts(problem, players, executor=ray_executor)
        assert values_bytes(remote) == values_bytes(local)
        assert remote.solves == local.solves


def test_sampled_shapley_equal_to_local(ray_executor: Executor) -> None:
    problem, players = game(23, parks=7)
    settings = ShareOptions(exact_limit=4, samples=24, seed=3)
    shares = sampled_shapley(problem, players, settings, (LocalExecutor(2), ray_executor))
    assert [s.share_cny for s in shares[0].shares] == [s.share_cny for s in shares[1].shares]
    assert [s.std_error_cny for s in shares[0].shares] == [
        s.std_error_cny for s in shares[1].shares
    ]


def test_the_two_node_cluster_lifts_the_exact_cap_by_one(ray_executor: Executor) -> None:
    assert exact_player_cap(LocalExecutor(2)) == 16
    assert exact_player_cap(ray_executor) == 17


def test_scenario_sweep_equal_to_the_serial_run(ray_executor: Executor) -> None:
    scenarios = sweep(24, n=3)
    serial = run_scenarios(scenarios, workers=1)
    assert same_results(serial, run_scenarios(scenarios, executor=ray_executor))
    assert all(r.shares for r in serial)


def test_dispatch_sweep_equal_to_the_serial_run(ray_executor: Executor) -> None:
    """Each scenario's chain of windows one task on the 2-node cluster: the schedules,
    window statuses and objectives equal ``dispatch`` in turn, bit for bit; the
    infeasible scenario comes back as a result."""
    scenarios = dispatch_variants()
    serial = [dispatch(s, "2025-07-14", 48, rolling_h=24) for s in scenarios]
    swept = dispatch_sweep(scenarios, "2025-07-14", 48, rolling_h=24, executor=ray_executor)
    assert [dispatch_fingerprint(r) for r in swept] == [dispatch_fingerprint(r) for r in serial]
    assert sum(not r.status.has_solution for r in swept) == 1


def _sum_shared(shared: Shared[np.ndarray[Any, Any]], item: int) -> tuple[int, bool]:
    arr = shared.get()
    return int(arr[item:].sum()), bool(arr.flags.writeable)


def test_a_shared_value_is_stored_once_and_read_in_place(ray_executor: Executor) -> None:
    values = np.arange(1 << 20, dtype=np.int64)
    handle = share(ray_executor, values)
    assert type(handle) is not Shared  # held by the object store, not by the handle
    view = handle.get()
    assert np.array_equal(view, values)
    assert not view.flags.writeable  # this process reads the stored object, no copy
    # carried by a round's items as well as its shared argument
    got = ray_executor.map(_sum_shared, handle, [0, 5, 1 << 19])
    assert got == [(int(values[i:].sum()), False) for i in (0, 5, 1 << 19)]
