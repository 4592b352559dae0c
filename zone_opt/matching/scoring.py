"""The matching score: named components, their weights, the integer quantisation.

Every feasible (enterprise, space) pair gets five components, each in [0, 1]
(computed in the Rust core, ``core_rs/src/candidates/score.rs``):

``distance``
    ``1 - d / radius_km``: d is the great-circle distance (km) from the enterprise's
    preferred location to the space's park.
``cost``
    Rent headroom ``(max_rent - rent) / max_rent`` (1 when the maximum rent is 0).
``size``
    ``1 - |area - c| / h``, with c and h the centre and half-width of the requested area
    range (1 for a single-value range): a space in the middle of the range fits best.
``chain``
    Industry-chain affinity with the park's current tenants:
    ``sum_d share_p(d) * a(e, d)``, the share of the park's tenants in division d times 1
    when d is one of the enterprise's supplier or customer divisions, else the symmetric
    supply-affinity ``S[div_e, d]`` of ``zone_opt.industries.chain_affinity``.
``carbon``
    Carbon fit with the park's budget: ``1 - co2e / remaining`` clipped to [0, 1], where
    ``remaining`` is the park's annual carbon budget minus its current tenants' annual
    emissions (1 when the enterprise emits nothing, 0 when nothing is left).

The integer score is ``1 + round(SCORE_SCALE * sum_i w_i c_i / sum_i w_i)`` with
``SCORE_SCALE = 10**6``: a resolution of 1e-6 of the weighted mean, values in
``[1, 10**6 + 1]``, so every feasible pair is worth more than leaving the enterprise
unmatched and the assignment solver works on exact integers.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass

from zone_opt import _core
from zone_opt.errors import InvalidInputError

__all__ = ["COMPONENTS", "REASONS", "SCORE_SCALE", "ScoreWeights"]

#: Component names, in the order of :class:`ScoreWeights` and of the result columns.
COMPONENTS: tuple[str, ...] = tuple(_core.SCORE_COMPONENTS)
#: Reason codes of candidate generation, indexed by the engine's code (0: has candidates).
REASONS: tuple[str, ...] = tuple(_core.CANDIDATE_REASONS)
#: Quantisation of the weighted mean of the components.
SCORE_SCALE: int = _core.SCORE_SCALE


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Non-negative weights of the score components (they need not sum to 1).

    The defaults favour proximity and rent, then fit and the industry chain.
    """

    distance: float = 0.30
    cost: float = 0.25
    size: float = 0.20
    chain: float = 0.15
    carbon: float = 0.10

    def __post_init__(self) -> None:
        for name, value in zip(COMPONENTS, astuple(self), strict=True):
            if not math.isfinite(value) or value < 0:
                raise InvalidInputError.single(
                    f"weights.{name}", None, f"must be finite and non-negative, got {value}"
                )
        if sum(astuple(self)) <= 0:
            raise InvalidInputError.single("weights", None, "at least one weight must be > 0")

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        """The weights in :data:`COMPONENTS` order."""
        return (self.distance, self.cost, self.size, self.chain, self.carbon)
