"""Stable matching: deferred acceptance with capacities, and its certificate.

Edges are the acceptable pairs ``(rows[i], cols[i])``. Proposers (rows) prefer a higher
``proposer_scores[i]``, receivers (columns) a higher ``receiver_scores[i]``; ties are broken
by the lower index on the other side, which makes every preference strict, so the
proposer-optimal stable matching is unique. Receiver ``c`` holds ``capacities[c]`` seats
(hospital-resident).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from zone_opt import _core
from zone_opt.arguments import check_int
from zone_opt.errors import InvalidInputError

__all__ = ["blocking_pairs", "deferred_acceptance"]

_IntArray = npt.NDArray[np.int64]
_FloatArray = npt.NDArray[np.float64]


#: Largest ``n_proposers`` of :func:`deferred_acceptance` (32-bit proposer indices).
MAX_PROPOSERS = 2**32 - 1


def _check_1d(arr: npt.NDArray[Any], name: str) -> None:
    if arr.ndim != 1:
        raise InvalidInputError.single(name, None, f"must be one-dimensional, got {arr.ndim}-D")


def _ints(value: npt.ArrayLike, name: str) -> _IntArray:
    arr = np.asarray(value)
    _check_1d(arr, name)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError.single(name, None, f"must hold integers, got {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _floats(value: npt.ArrayLike, name: str) -> _FloatArray:
    arr = np.asarray(value)
    _check_1d(arr, name)
    try:
        return np.ascontiguousarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError.single(name, None, f"must hold numbers: {exc}") from exc


def deferred_acceptance(
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    proposer_scores: npt.ArrayLike,
    receiver_scores: npt.ArrayLike,
    capacities: npt.ArrayLike,
    *,
    n_proposers: int | None = None,
) -> _IntArray:
    """The proposer-optimal stable matching (Gale-Shapley, hospital-resident form).

    Args:
        rows: the acceptable pairs' proposer indices, int64.
        cols: the acceptable pairs' receiver indices, int64 (pair ``k`` is
            ``(rows[k], cols[k])``).
        proposer_scores: how much the proposer likes each pair (higher first).
        receiver_scores: how much the receiver likes each pair (higher first).
        capacities: seats per receiver (>= 0); ``len(capacities)`` receivers.
        n_proposers: number of proposers (default ``max(rows) + 1``).

    Returns:
        int64 array, per proposer its receiver or -1.

    Raises:
        InvalidInputError: mismatched lengths, an index out of range, a NaN score, a
            negative capacity or a duplicate pair, naming the field and edge; an
            ``n_proposers`` that is not an integer in ``[0, MAX_PROPOSERS]``.
        ResourceExhaustedError: ``n_proposers`` and the pairs need more working memory
            than the engine's budget (:func:`zone_opt.memory_budget`).

    Complexity: O(E log L) to sort the lists (parallel over proposers) plus
    O(E log cap) for the proposals; memory O(E + n + m). Runs in the Rust core with the
    GIL released.
    """
    if n_proposers is not None:
        n_proposers = check_int("n_proposers", n_proposers, low=0, high=MAX_PROPOSERS)
    return _core.deferred_acceptance(
        _ints(rows, "rows"),
        _ints(cols, "cols"),
        _floats(proposer_scores, "proposer_scores"),
        _floats(receiver_scores, "receiver_scores"),
        _ints(capacities, "capacities"),
        n_proposers,
    )


def blocking_pairs(
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    proposer_scores: npt.ArrayLike,
    receiver_scores: npt.ArrayLike,
    capacities: npt.ArrayLike,
    *,
    matching: npt.ArrayLike,
) -> _IntArray:
    """Edge indices that block ``matching`` (empty iff it is stable); O(E log E) numpy.

    Edge ``(p, r)`` blocks when ``p`` is not matched to ``r``, ``p`` prefers ``r`` to its
    partner (or is unmatched), and ``r`` has a free seat or prefers ``p`` to its worst
    held proposer, under the same tie rules as :func:`deferred_acceptance`. An edge of the
    matching that is not an acceptable pair, or a receiver over capacity, makes the
    matching infeasible: that raises :class:`InvalidInputError` on ``matching``.
    """
    r = _ints(rows, "rows")
    c = _ints(cols, "cols")
    ps = _floats(proposer_scores, "proposer_scores")
    rs = _floats(receiver_scores, "receiver_scores")
    cap = _ints(capacities, "capacities")
    match = _ints(matching, "matching")
    n, m, e = match.size, cap.size, r.size
    if not (c.size == ps.size == rs.size == e):
        raise InvalidInputError.single("cols", None, "rows, cols and scores differ in length")
    if e and (r.min() < 0 or r.max() >= n or c.min() < 0 or c.max() >= m):
        raise InvalidInputError.single("rows", None, "an index is out of range")
    # The edge each proposer is matched along.
    in_match = match[r] == c
    matched_edge = np.full(n, -1, dtype=np.int64)
    matched_edge[r[in_match]] = np.nonzero(in_match)[0]
    bad = np.nonzero((match >= 0) & (matched_edge < 0))[0]
    if bad.size:
        raise InvalidInputError.single(
            "matching", int(bad[0]), "matched to a receiver that is not on its list"
        )
    load = np.bincount(match[match >= 0], minlength=m)
    over = np.nonzero(load > cap)[0]
    if over.size:
        raise InvalidInputError.single("matching", None, f"receiver {over[0]} over capacity")
    # Proposer side: prefers edge i to its current partner?
    cur = matched_edge[r]
    has = cur >= 0
    cur_s = np.where(has, ps[np.maximum(cur, 0)], -np.inf)
    cur_c = np.where(has, c[np.maximum(cur, 0)], m)
    p_wants = (~in_match) & (~has | (ps > cur_s) | ((ps == cur_s) & (c < cur_c)))
    # Receiver side: its worst held proposal (lowest score, then highest index).
    held = np.nonzero(in_match)[0]
    worst_s = np.full(m, np.inf)
    worst_p = np.full(m, -1, dtype=np.int64)
    if held.size:
        order = np.lexsort((-r[held], rs[held]))  # ascending score, then descending index
        hs = held[order]
        first = np.unique(c[hs], return_index=True)
        worst_s[first[0]] = rs[hs[first[1]]]
        worst_p[first[0]] = r[hs[first[1]]]
    free_seat = load[c] < cap[c]
    r_wants = free_seat | (rs > worst_s[c]) | ((rs == worst_s[c]) & (r < worst_p[c]))
    return np.nonzero(p_wants & r_wants)[0].astype(np.int64)
