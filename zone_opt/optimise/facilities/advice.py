"""Which cost split to propose when the methods disagree: one rule, from cooperative game theory.

The rule (``docs/guides/facilities.md``, "Choosing a split"):

1. A split is *stable* (in the core) when no group of parks pays more than its stand-alone
   cost, i.e. its worst excess ``max_S x(S) - c(S)`` is at most 0 (within a tolerance of
   1e-6 of the total, the MIP gap the coalition costs are solved to).
2. Among stable splits prefer Shapley (each park pays its average marginal cost: the one
   split with efficiency, symmetry, the null-player property and additivity), then the
   nucleolus (always in the core when the core is not empty, and the unique split that
   maximises the smallest saving margin of every group, lexicographically), then
   proportional (the practitioners' default), then the reported least-core point (one
   vertex of a set; it can be lopsided, which the nucleolus, its refinement, never is more).
3. When the core is empty (least-core epsilon > 0) no split is stable: propose the
   nucleolus (else the least core), which keeps the largest shortfall at epsilon, the
   smallest possible, and say that epsilon is what keeping every park in would cost.
4. When no computed split is stable and epsilon is unknown (neither core method asked for),
   propose the split with the smallest worst excess and ask for the core methods.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from zone_opt.optimise.facilities.sharing import CostShares, ShareMethod

__all__ = ["PREFERENCE", "Recommendation", "Rule", "in_core", "recommend", "tolerance"]

#: Order of preference among stable splits.
PREFERENCE = (
    ShareMethod.SHAPLEY,
    ShareMethod.NUCLEOLUS,
    ShareMethod.PROPORTIONAL,
    ShareMethod.LEAST_CORE,
)


class Rule(enum.StrEnum):
    """Why a split was recommended (the report words each one)."""

    SHAPLEY_IN_CORE = "shapley_in_core"
    NUCLEOLUS_IN_CORE = "nucleolus_in_core"
    OTHER_IN_CORE = "other_in_core"
    CORE_EMPTY = "core_empty"
    CLOSEST = "closest"


@dataclass(frozen=True)
class Recommendation:
    """The split to propose and why; ``epsilon_cny`` is the least-core value when known
    (> 0: the core is empty); ``shapley`` is Shapley's split when computed (to say why it
    was passed over)."""

    method: ShareMethod
    rule: Rule
    chosen: CostShares
    epsilon_cny: float | None
    shapley: CostShares | None


def tolerance(total_cny: float) -> float:
    """Excesses below this count as 0 (coalition costs carry a 1e-6 relative MIP gap)."""
    return 1e-6 * max(1.0, abs(total_cny))


def in_core(shares: CostShares) -> bool:
    """No group of players pays more than it would alone (within :func:`tolerance`)."""
    return shares.worst_excess_cny <= tolerance(shares.total_cny)


def recommend(splits: Sequence[CostShares]) -> Recommendation | None:
    """Apply the module's rule to the splits of one plan; None when there are none."""
    if not splits:
        return None
    by_method = {s.method: s for s in splits}
    epsilons = [s.least_core_epsilon_cny for s in splits if s.least_core_epsilon_cny is not None]
    epsilon = min(epsilons) if epsilons else None
    shapley = by_method.get(ShareMethod.SHAPLEY)
    for method in PREFERENCE:
        chosen = by_method.get(method)
        if chosen is not None and in_core(chosen):
            rule = {
                ShareMethod.SHAPLEY: Rule.SHAPLEY_IN_CORE,
                ShareMethod.NUCLEOLUS: Rule.NUCLEOLUS_IN_CORE,
            }.get(method, Rule.OTHER_IN_CORE)
            return Recommendation(method, rule, chosen, epsilon, shapley)
    if epsilon is not None and epsilon > tolerance(splits[0].total_cny):
        for method in (ShareMethod.NUCLEOLUS, ShareMethod.LEAST_CORE):
            if method in by_method:
                return Recommendation(method, Rule.CORE_EMPTY, by_method[method], epsilon, shapley)
    closest = min(splits, key=lambda s: s.worst_excess_cny)
    return Recommendation(closest.method, Rule.CLOSEST, closest, epsilon, shapley)
