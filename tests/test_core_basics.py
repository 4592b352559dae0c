"""The compiled core loads, reports its build, and maps its errors to zone_opt.errors."""

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
