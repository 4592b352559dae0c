"""Streaming PSI's buckets as tasks on the simulated 2-node Ray cluster (``ray_executor``,
one CPU per node): the indices equal the in-memory protocol and today's streaming path
for 1, 16 and 256 buckets, and each party's secret was sealed to every worker process
that ran its tasks (one key each). Both parties share the test's cluster here; in
production each party runs its own. Skipped where Ray is not installed (``make ray``)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from join_sharded_cases import in_memory, streamed

from zone_opt import _core
from zone_opt.distributed import Executor
from zone_opt.join import sharded

pytestmark = pytest.mark.ray


def _open_on_a_node(shared: sharded.Sealed, _item: int) -> tuple[str, bytes] | sharded.NeedsKey:
    """Open the sealed sender copy in this worker, hold the node's CPU a moment (so the
    next task goes to the other node): ``(node id, session id)``."""
    engine = sharded._sender(shared)
    if isinstance(engine, sharded.NeedsKey):
        return engine
    threading.Event().wait(0.3)
    ray = importlib.import_module("ray")
    return str(ray.get_runtime_context().get_node_id()), engine.session


def _on_node(node: str, fn: Callable[[Any, int], Any], shared: Any) -> Any:
    """``fn(shared, 0)`` in a Ray task pinned to ``node``."""
    ray = importlib.import_module("ray")
    strategies = importlib.import_module("ray.util.scheduling_strategies")
    task = ray.remote(num_cpus=1)(_call).options(
        scheduling_strategy=strategies.NodeAffinitySchedulingStrategy(node, soft=False)
    )
    return ray.get(task.remote(fn, shared))


def _call(fn: Callable[[Any, int], Any], shared: Any) -> Any:
    return fn(shared, 0)


def test_the_secret_is_sealed_to_a_worker_on_each_node(ray_executor: Executor) -> None:
    """A worker on each node (placed there, not left to the scheduler) gives its key, gets
    the secret sealed to it and opens the same session; the Sealer's own rounds too."""
    ray = importlib.import_module("ray")
    sender = _core.JoinStreamSender("intersection", False, False, 4)
    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    assert len(nodes) == 2
    sealed: dict[bytes, bytes] = {}
    for node in nodes:
        for _ in range(5):  # a task may land in another worker process of the node
            got = _on_node(node, _open_on_a_node, sharded.Sealed("sender", dict(sealed)))
            if not isinstance(got, sharded.NeedsKey):
                break
            sealed[got.key_id] = sender.seal_to(got.public)
        assert got == (node, sender.session)
    sealer = sharded.Sealer(ray_executor, "sender", sender.seal_to)
    out = sealer.map(_open_on_a_node, list(range(4)))
    assert {session for _, session in out} == {sender.session}
    assert {node for node, _ in out} <= set(nodes)
    assert sealer.workers_sealed >= 1


@pytest.mark.parametrize("buckets", [1, 16, pytest.param(256, marks=pytest.mark.slow)])
def test_indices_equal_the_in_memory_protocol_on_the_cluster(
    ray_executor: Executor, buckets: int
) -> None:
    want = in_memory()
    today, _, _ = streamed(buckets, None)
    got, server, client = streamed(buckets, ray_executor)
    assert np.array_equal(got, want)
    assert np.array_equal(today, want)
    assert server._sharded is not None
    assert client._sharded is not None
    assert server._sharded.sealer.workers_sealed >= 1
    assert server._sharded.answers.evaluated == buckets
