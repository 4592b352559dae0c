"""Old public names kept importable for one release, each with a DeprecationWarning.

A renamed module, class or function stays reachable under its old name until the release
named in CHANGELOG.md removes it: the module that owned the old name gets a module-level
``__getattr__`` from :func:`renamed`, so ``from zone_opt.errors import PrivacyPolicyError``
still works and warns once per call site.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

__all__ = ["REMOVED_IN", "renamed"]

#: The release that removes every name kept here.
REMOVED_IN = "0.2"


def renamed(module: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` resolving each old name to ``"package.module:new_name"``
    (``"package.module:"``: the module itself)."""

    def resolve(name: str) -> object:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        where, _, new = target.partition(":")
        warnings.warn(
            f"{module}.{name} is deprecated and will be removed in zone-opt {REMOVED_IN}; "
            f"use {where}.{new}",
            DeprecationWarning,
            stacklevel=2,
        )
        found = importlib.import_module(where)
        return getattr(found, new) if new else found

    return resolve
