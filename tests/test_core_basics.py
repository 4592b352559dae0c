"""The compiled core loads, reports its build, and maps its errors to zone_opt.errors."""

import multiprocessing as mp

import numpy as np
import pytest

import zone_opt
from zone_opt import _core
from zone_opt.errors import InvalidInputError, ZoneOptError


def test_core_is_a_release_build_with_the_package_version() -> None:
    assert _core.build_profile == "release"
    assert zone_opt.__version__ == _core.__version__


def test_thread_pool_size_is_settable() -> None:
    before = _core.num_threads()
    _core.set_num_threads(1)
    assert _core.num_threads() == 1
    _core.set_num_threads(before)


def test_core_errors_are_typed_with_violations() -> None:
    with pytest.raises(InvalidInputError) as info:
        _core.set_num_threads(0)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ZoneOptError)
    (violation,) = info.value.violations
    assert violation.field == "num_threads"
    assert violation.row is None


def test_bad_arrow_offsets_name_the_row() -> None:
    with pytest.raises(InvalidInputError) as info:
        _core.check_uscc_column(np.array([0, 18, 5], dtype=np.int64), np.zeros(18, dtype=np.uint8))
    (violation,) = info.value.violations
    assert (violation.field, violation.row) == ("offsets", 1)


def _check_in_child(offsets: np.ndarray, data: np.ndarray, queue: "mp.Queue[int]") -> None:
    queue.put(int(_core.check_uscc_column(offsets, data).sum()))


def test_engine_pool_survives_fork() -> None:
    """A forked child (grpcio and multiprocessing fork) builds its own pool, never hangs."""
    code = b"9144030071526726XG"
    n = 100_000
    data = np.frombuffer(code * n, dtype=np.uint8)
    offsets = np.arange(n + 1, dtype=np.int64) * len(code)
    assert int(_core.check_uscc_column(offsets, data).sum()) == 0  # parent pool is up
    ctx = mp.get_context("fork")
    queue: mp.Queue[int] = ctx.Queue()
    child = ctx.Process(target=_check_in_child, args=(offsets, data, queue))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 0
