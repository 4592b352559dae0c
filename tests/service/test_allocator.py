"""The allocator tuning of ``zone-opt serve``."""

from __future__ import annotations

import platform

import pytest

from zone_opt.service.transport.allocator import keep_freed_memory


def test_zero_keeps_the_c_library_defaults() -> None:
    assert keep_freed_memory(0) is False
    assert keep_freed_memory(-1) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_are_applied_on_glibc() -> None:
    assert keep_freed_memory(256 * 1024 * 1024) is True
    big = bytearray(8 * 1024 * 1024)  # served from the heap now; still usable
    big[-1] = 1
    assert sum(big) == 1
