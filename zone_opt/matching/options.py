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
from dataclasses import dataclass, field
from typing import Any, Literal

from zone_opt._deprecated import options_from_keywords
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


def resolve_options(
    options: MatchOptions | None,
    legacy: dict[str, Any],
    *,
    caller: str,
    default_k: int = 32,
    stacklevel: int = 3,
) -> MatchOptions:
    """The options of a call: ``options``, or those its deprecated keywords spell (see
    :func:`zone_opt._deprecated.options_from_keywords`); ``default_k`` is the caller's."""
    return options_from_keywords(
        MatchOptions,
        options,
        legacy,
        caller=caller,
        defaults={"k": default_k},
        stacklevel=stacklevel + 1,
    )
