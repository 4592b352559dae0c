"""One simulated 2-node Ray cluster per test session, for the distribution tests.

Loaded as a plugin (``-p ray_cluster`` in pyproject.toml) so that every test module shares
the one cluster; Ray is imported only when a test asks for the ``ray_cluster`` fixture.
Each node has one CPU, so a round of two tasks runs on both. Sized for CI on 2 cores: no
dashboard, the smallest object store Ray accepts on each node, its own temp dir, the
memory monitor off, workers' logs kept out of the test output. It never attaches to a
running cluster (no ``address="auto"``).

Where Ray is not installed the tests that need it are skipped locally (``make ray``
installs it) and fail on CI (``CI`` set), where ``make test`` installs it.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zone_opt.distributed import Executor, executor

TESTS = Path(__file__).resolve().parent
#: Ray's minimum object store per node (ray_constants.OBJECT_STORE_MINIMUM_MEMORY_BYTES).
OBJECT_STORE_BYTES = 100 * 1024**2
#: Ray's environment for the cluster's processes: the memory monitor (which kills workers
#: when the machine runs low, as a shared CI runner may) off, no usage stats.
RAY_ENV = {"RAY_memory_monitor_refresh_ms": "0", "RAY_USAGE_STATS_ENABLED": "0"}
#: Each node's resources (one CPU: a round of two tasks runs on both nodes).
NODE = {"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES}
#: The session's cluster, for the tests that remove a node (``ray_nodes``).
_clusters: list[Any] = []


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """The address of a running 2-node cluster (one CPU each), this process its driver."""
    try:
        ray = importlib.import_module("ray")
        cluster_utils = importlib.import_module("ray.cluster_utils")
    except ImportError:
        reason = "Ray is not installed (`make ray`, or pip install 'zone-opt[ray]')"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Ray's Unix socket paths must stay short (< 108 bytes): a temp dir of its own in /tmp,
    # not under pytest's deeper tmp_path. RAY_TMPDIR rather than temp_dir=: Cluster writes
    # the address file to the default temp dir (/tmp/ray) whatever temp_dir says.
    temp_dir = tempfile.mkdtemp(prefix="zone-opt-ray-", dir="/tmp")
    # The cluster's workers import the tests' helpers by name, as pytest does (pythonpath).
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    env = {**RAY_ENV, "RAY_TMPDIR": temp_dir, "PYTHONPATH": path}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cluster = cluster_utils.Cluster()
    _clusters.append(cluster)
    try:
        cluster.add_node(**NODE, include_dashboard=False)
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        yield cluster.address
    finally:
        _clusters.remove(cluster)
        ray.shutdown()
        cluster.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def ray_nodes(ray_cluster: str) -> Iterator[Any]:
    """The session cluster's ``ray.cluster_utils.Cluster`` (``head_node``,
    ``worker_nodes``, ``remove_node``). A test may remove its worker node: afterwards a
    fresh one takes its place, so the cluster has two nodes again for the next test."""
    (cluster,) = _clusters
    yield cluster
    if len(cluster.worker_nodes) < 1:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()


@pytest.fixture(scope="module")
def ray_executor(ray_cluster: str) -> Iterator[Executor]:
    """The Ray backend on the session's cluster (attached: it leaves the cluster up)."""
    ex = executor("ray", address=ray_cluster)
    yield ex
    ex.close()
