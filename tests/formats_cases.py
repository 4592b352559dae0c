"""Helpers of the user-mistake tests (tests/test_formats_*.py): run a loader on a file with
one mistake and get the problems it reports, as the user reads them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zone_opt.errors import InvalidInputError


def problems(call: Callable[[], object]) -> list[str]:
    """Each violation of the InvalidInputError ``call`` raises, as printed."""
    with pytest.raises(InvalidInputError) as info:
        call()
    assert str(info.value).startswith("invalid input: ")
    return [str(v) for v in info.value.violations]


def one(call: Callable[[], object]) -> str:
    """The one violation ``call`` raises, as printed."""
    found = problems(call)
    assert len(found) == 1, found
    return found[0]
