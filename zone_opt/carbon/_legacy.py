"""The options object of a call, or the deprecated keywords that spelled it before.

The carbon functions take their settings as one checked, frozen options object
(:class:`~zone_opt.carbon.Scope2Options`, :class:`~zone_opt.carbon.ChpOptions`); the
keyword arguments they replaced still work until zone-opt 0.2 and warn. The same pattern
as :func:`zone_opt.matching.options.resolve_options`, for any options dataclass.
"""

from __future__ import annotations

import warnings
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from zone_opt._deprecated import REMOVED_IN
from zone_opt.errors import InvalidInputError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["resolve_options"]

_Options = TypeVar("_Options", bound="DataclassInstance")


def resolve_options(
    kind: type[_Options],
    options: _Options | None,
    legacy: dict[str, Any],
    *,
    caller: str,
    stacklevel: int = 3,
) -> _Options:
    """``options`` (``kind()`` when None), or the ``kind`` its deprecated keywords spell.

    ``legacy`` holds the keyword arguments ``caller`` received besides its own: each must be
    a field of ``kind`` (else a TypeError, as for any unexpected keyword), and they cannot
    be mixed with ``options`` (an :class:`InvalidInputError` naming ``options``). The
    warning points ``stacklevel`` frames up (3: the caller of ``caller``).
    """
    name = kind.__name__
    if not legacy:
        if options is None:
            return kind()
        if not isinstance(options, kind):
            raise InvalidInputError.single(
                "options", None, f"must be a {name}, got {type(options).__name__}"
            )
        return options
    unknown = sorted(set(legacy) - {f.name for f in fields(kind)})
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    if options is not None:
        raise InvalidInputError.single(
            "options", None, f"give options={name}(...) or {sorted(legacy)}, not both"
        )
    warnings.warn(
        f"{caller}(..., {', '.join(f'{key}=' for key in legacy)}) is deprecated and will be "
        f"removed in zone-opt {REMOVED_IN}; pass options={name}(...)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return kind(**legacy)
