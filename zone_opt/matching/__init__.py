"""Bulk matching: exact assignment with optimality certificates, stable matching, and the
domain layer (candidates, scores, match/recommend, incremental re-matching).

Modules: ``assignment`` (dense and sparse exact solvers, the :class:`Assignment` result),
``stable`` (deferred acceptance and its blocking-pair certificate), ``candidates`` and
``scoring`` (hard constraints and the documented score), ``options``
(:class:`MatchOptions`), ``domain`` (match, recommend, :class:`Matcher`), ``distributed``
and ``components`` (the same match as executor tasks: enterprise shards, connected
components, giant components cut along park boundaries).
"""

from zone_opt.matching.assignment import Assignment, assign_dense, assign_sparse
from zone_opt.matching.candidates import CandidateGraph
from zone_opt.matching.domain import Matcher, MatchResult, MatchSummary, match, recommend
from zone_opt.matching.options import MAX_K, MatchOptions
from zone_opt.matching.scoring import COMPONENTS, REASONS, SCORE_SCALE, ScoreWeights
from zone_opt.matching.stable import blocking_pairs, deferred_acceptance

__all__ = [
    "COMPONENTS",
    "MAX_K",
    "REASONS",
    "SCORE_SCALE",
    "Assignment",
    "CandidateGraph",
    "MatchOptions",
    "MatchResult",
    "MatchSummary",
    "Matcher",
    "ScoreWeights",
    "assign_dense",
    "assign_sparse",
    "blocking_pairs",
    "deferred_acceptance",
    "match",
    "recommend",
]
