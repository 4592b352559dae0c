"""Space-to-enterprise matching: exact assignment, stable matching, the domain layer."""

from zone_opt.matching.stable import blocking_pairs, deferred_acceptance

__all__ = [
    "blocking_pairs",
    "deferred_acceptance",
]
