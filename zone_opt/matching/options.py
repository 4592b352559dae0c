"""How to match: one options object for :func:`~zone_opt.matching.match`,
:func:`~zone_opt.matching.recommend`, :class:`~zone_opt.matching.Matcher` and the client.

    from zone_opt.matching import MatchOptions, ScoreWeights, match
    result = match(spaces, enterprises, parks=parks,
                   options=MatchOptions(mode="stable", k=16, weights=ScoreWeights(cost=0.5)))

Each value is checked when the object is made (an :class:`InvalidInputError` naming the
field); the old keyword arguments (``match(..., mode="stable", k=16)``) still work until
zone-opt 0.2 and warn.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from zone_opt._deprecated import REMOVED_IN
from zone_opt.arguments import check_choice, check_date, check_flag, check_int
from zone_opt.errors import InvalidInputError
from zone_opt.matching.scoring import ScoreWeights

__all__ = ["MAX_K", "MatchOptions", "Mode", "resolve_options"]

#: Largest ``k`` (candidates kept per enterprise); any ``k`` at least the number of spaces
#: keeps every feasible space.
MAX_K = 2**31 - 1

Mode = Literal["optimal", "stable"]


@dataclass(frozen=True)
class MatchOptions:
    """How enterprises are scored against spaces and matched.

    Attributes:
        mode: ``"optimal"`` (the maximum total score) or ``"stable"`` (enterprise-proposing
            deferred acceptance); :func:`recommend` ignores it.
        k: candidates kept per enterprise (its best scores), 1 to :data:`MAX_K`; for
            :func:`recommend`, the spaces recommended per enterprise.
        weights: the score's component weights.
        now: the matching date (tenancies active then hold their spaces); None: today, UTC.
        include_tenants: let enterprises that hold a tenancy seek space too.
    """

    mode: Mode = "optimal"
    k: int = 32
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    now: dt.date | None = None
    include_tenants: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "mode", check_choice("mode", self.mode, ("optimal", "stable")))
        set_(self, "k", check_int("k", self.k, low=1, high=MAX_K))
        if not isinstance(self.weights, ScoreWeights):
            raise InvalidInputError.single("weights", None, "must be a ScoreWeights")
        if self.now is not None:
            set_(self, "now", check_date("now", self.now))
        set_(self, "include_tenants", check_flag("include_tenants", self.include_tenants))

    def date(self) -> dt.date:
        """``now``, or today (UTC) when it is None."""
        return dt.datetime.now(dt.UTC).date() if self.now is None else self.now


_FIELDS = frozenset(f.name for f in fields(MatchOptions))


def resolve_options(
    options: MatchOptions | None,
    legacy: dict[str, Any],
    *,
    caller: str,
    default_k: int = 32,
    stacklevel: int = 3,
) -> MatchOptions:
    """The options of a call: ``options``, or those its deprecated keywords spell.

    ``legacy`` holds the keyword arguments the caller received besides its own; each must be
    a field of :class:`MatchOptions`, and they cannot be mixed with ``options``. The
    warning points ``stacklevel`` frames up (3: the caller of ``caller``).
    """
    if not legacy:
        return MatchOptions(k=default_k) if options is None else _checked(options)
    unknown = sorted(set(legacy) - _FIELDS)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    if options is not None:
        raise InvalidInputError.single(
            "options", None, f"give options=MatchOptions(...) or {sorted(legacy)}, not both"
        )
    warnings.warn(
        f"{caller}(..., {', '.join(f'{name}=' for name in legacy)}) is deprecated and will be "
        f"removed in zone-opt {REMOVED_IN}; pass options=MatchOptions(...)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    given = {name: value for name, value in legacy.items() if value is not None}
    return MatchOptions(**{"k": default_k, **given})


def _checked(options: object) -> MatchOptions:
    if not isinstance(options, MatchOptions):
        raise InvalidInputError.single(
            "options", None, f"must be a MatchOptions, got {type(options).__name__}"
        )
    return options
