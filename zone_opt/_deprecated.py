"""Old public names kept importable for one release, each with a DeprecationWarning.

A renamed module, class or function stays reachable under its old name until the release
named in CHANGELOG.md removes it: the module that owned the old name gets a module-level
``__getattr__`` from :func:`renamed`, so ``from zone_opt.errors import PrivacyPolicyError``
still works and warns once per call site.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["REMOVED_IN", "options_from_keywords", "renamed"]

_Options = TypeVar("_Options", bound="DataclassInstance")

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


def options_from_keywords(
    cls: type[_Options],
    options: _Options | None,
    legacy: dict[str, Any],
    *,
    caller: str,
    defaults: dict[str, Any] | None = None,
    stacklevel: int = 3,
    argname: str = "options",
) -> _Options:
    """The options object of a call: ``options``, or the one its deprecated keywords spell.

    ``legacy`` holds the keyword arguments a function received besides its own (its
    ``**deprecated``); each must be a field of the dataclass ``cls`` (else a TypeError, as
    Python gives for an unknown keyword), and they cannot be mixed with ``options`` (an
    :class:`InvalidInputError` naming ``options``). A keyword given as None keeps its
    default. ``defaults`` are the caller's own defaults for fields it sets differently.
    The DeprecationWarning points ``stacklevel`` frames up (3: the caller of ``caller``);
    ``argname`` is the caller's parameter that takes the object.
    """
    from zone_opt.errors import InvalidInputError  # noqa: PLC0415 (errors imports this module)

    if not legacy:
        if options is None:
            return cls(**(defaults or {}))
        if not isinstance(options, cls):
            raise InvalidInputError.single(
                argname, None, f"must be a {cls.__name__}, got {type(options).__name__}"
            )
        return options
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(legacy) - known)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    if options is not None:
        raise InvalidInputError.single(
            argname, None, f"give {argname}={cls.__name__}(...) or {sorted(legacy)}, not both"
        )
    warnings.warn(
        f"{caller}(..., {', '.join(f'{name}=' for name in legacy)}) is deprecated and will be "
        f"removed in zone-opt {REMOVED_IN}; pass {argname}={cls.__name__}(...)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    given = {name: value for name, value in legacy.items() if value is not None}
    return cls(**{**(defaults or {}), **given})
