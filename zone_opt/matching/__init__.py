"""Space-to-enterprise matching: exact assignment, stable matching, the domain layer."""

from zone_opt.matching.candidates import CandidateGraph
from zone_opt.matching.domain import Matcher, MatchResult, MatchSummary, match, recommend
from zone_opt.matching.scoring import COMPONENTS, REASONS, SCORE_SCALE, ScoreWeights
from zone_opt.matching.stable import blocking_pairs, deferred_acceptance

__all__ = [
    "COMPONENTS",
    "REASONS",
    "SCORE_SCALE",
    "CandidateGraph",
    "MatchResult",
    "MatchSummary",
    "Matcher",
    "ScoreWeights",
    "blocking_pairs",
    "deferred_acceptance",
    "match",
    "recommend",
]
