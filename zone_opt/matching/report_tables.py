"""A matching result as a planner's tables: who went where, per park, per industry, why not.

:func:`match_tables` joins a :class:`~zone_opt.matching.MatchResult` with the names in the
input tables (park and enterprise names as given, the space kind, the enterprise's industry
and requested area): the report draws from these tables and the exports write them, so the
two always agree. The joins are ``take``s on row indices (the result knows each match's
enterprise and space row; :func:`rows_of` checks that against the ids in one compare), so
no string key is hashed per row and no row becomes a Python object: the row tables
(assignments, unmatched enterprises and spaces) stay Arrow tables, and the summaries (per
park, per industry, per reason) are small pandas frames built from ``bincount`` and Arrow
``group_by``. :func:`match_figures` gives the headline numbers and reason counts of
``summary.json`` without building any row table. Everything is O(spaces + enterprises +
assignments); nothing grows with the candidate graph beyond one ``bincount`` over its
columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.errors import InvalidInputError
from zone_opt.industries import DIVISIONS
from zone_opt.matching.domain import MatchResult
from zone_opt.matching.report_labels import LABELS, SPACE_REASONS, reason_keys
from zone_opt.matching.scoring import COMPONENTS, SCORE_SCALE
from zone_opt.reports import Labels, Lang

__all__ = [
    "Figures",
    "MatchInputs",
    "MatchRows",
    "MatchTables",
    "fit_pct",
    "match_figures",
    "match_tables",
    "rows_of",
]

Rows = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MatchInputs:
    """The tables the result was matched from (names, kinds, industries, requests)."""

    spaces: pa.Table
    enterprises: pa.Table
    parks: pa.Table


@dataclass(frozen=True)
class Figures:
    """The headline numbers of one run (areas in m2, fit in points of 100) and the count of
    each reason code (most frequent first) of the unmatched enterprises and spaces."""

    seekers: int
    matched: int
    idle_spaces: int
    idle_area_m2: float
    matched_area_m2: float
    wanted_area_m2: float
    placed_wanted_area_m2: float
    n_edges: int
    total_score: int
    mean_fit_pct: float
    enterprise_reasons: dict[str, int] = field(default_factory=dict)
    space_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def area_share(self) -> float:
        return _share(self.matched_area_m2, self.idle_area_m2)

    @property
    def space_share(self) -> float:
        return _share(self.matched, self.idle_spaces)

    @property
    def demand_share(self) -> float:
        return _share(self.matched, self.seekers)

    @property
    def demand_area_share(self) -> float:
        return _share(self.placed_wanted_area_m2, self.wanted_area_m2)


@dataclass(frozen=True)
class MatchTables:
    """The tables of the report and the exports (labels in one language).

    Attributes:
        assignments: every match with names, space kind and area, ``fit_pct`` (Arrow).
        unmatched_enterprises: every seeker without a space, its ``reason_code`` (the
            constraint for ``NO_CANDIDATES``, else ``OUTCOMPETED``) and what it means
            (Arrow; label and explanation dictionary-encoded).
        unmatched_spaces: every offered space without a tenant, ``NO_SEEKER`` or
            ``NOT_CHOSEN``, and how many seekers had it on their shortlist (Arrow).
        by_park: idle and matched spaces and area per park, every park of the input.
        by_industry: seekers and placed enterprises per industry division.
        by_reason: counts per reason code, enterprises and spaces.
        figures: the headline numbers.
    """

    assignments: pa.Table
    unmatched_enterprises: pa.Table
    unmatched_spaces: pa.Table
    by_park: pd.DataFrame
    by_industry: pd.DataFrame
    by_reason: pd.DataFrame
    figures: Figures

    def exports(self) -> dict[str, pd.DataFrame | pa.Table]:
        """Table name -> table, in the order of the workbook's sheets."""
        return {
            "by_park": self.by_park,
            "by_industry": self.by_industry,
            "by_reason": self.by_reason,
            "assignments": self.assignments,
            "unmatched_enterprises": self.unmatched_enterprises,
            "unmatched_spaces": self.unmatched_spaces,
        }


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan


def fit_pct(score: Any) -> Any:
    """The integer score as the weighted mean of the components, in points of 100."""
    return (np.asarray(score, dtype=np.float64) - 1.0) * (100.0 / SCORE_SCALE)


def rows_of(values: Any, ids: Any, guess: Rows | None = None) -> Rows:
    """The row of each of ``values`` in the id column ``ids``.

    ``guess`` (``None``: ``ids`` in their own order) is checked with one compare of
    ``ids.take(guess)`` against ``values``; only if it is wrong are the rows looked up with
    one ``index_in`` hash pass. An id missing from ``ids`` is an error: the result was not
    matched from these tables.
    """
    values = pc.cast(values, ids.type) if values.type != ids.type else values
    if guess is None:
        if len(values) == len(ids) and values.equals(ids):
            return np.arange(len(ids), dtype=np.int64)
    elif guess.size == len(values) and ids.take(pa.array(guess)).equals(values):
        return guess
    found = pc.index_in(values, value_set=ids)
    if found.null_count:
        raise InvalidInputError.single("inputs", None, "the result names ids not in the tables")
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass(frozen=True)
class MatchRows:
    """Where each row of the result is: engine rows and the input tables' rows.

    Engine rows are the matcher's (``result.row_to_col``); ``*_input`` map them to the
    rows of :class:`MatchInputs` (the identity when the tables were matched as given).
    """

    result: MatchResult
    inputs: MatchInputs

    @cached_property
    def enterprise_input(self) -> Rows:
        t = self.result.matcher.tables
        return rows_of(t.enterprise_ids, self.inputs.enterprises.column("enterprise_id"))

    @cached_property
    def space_input(self) -> Rows:
        t = self.result.matcher.tables
        return rows_of(t.space_ids, self.inputs.spaces.column("space_id"))

    @cached_property
    def park_input(self) -> Rows:
        t = self.result.matcher.tables
        return rows_of(t.park_ids, self.inputs.parks.column("park_id"))

    @cached_property
    def matched(self) -> Rows:
        """Engine enterprise row of each assignment, in the assignments' order."""
        r = self.result
        guess = np.nonzero(r.row_to_col >= 0)[0].astype(np.int64)
        return rows_of(
            r.assignments.column("enterprise_id"), r.matcher.tables.enterprise_ids, guess
        )

    @cached_property
    def matched_space(self) -> Rows:
        """Engine space row of each assignment."""
        return self.result.row_to_col[self.matched]

    @cached_property
    def seeking(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.result.matcher.enterprise_active, dtype=np.bool_)

    @cached_property
    def offered(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.result.space_active, dtype=np.bool_)

    @cached_property
    def space_taken(self) -> npt.NDArray[np.bool_]:
        taken = np.zeros(self.offered.size, dtype=np.bool_)
        taken[self.matched_space] = True
        return taken

    @cached_property
    def area_m2(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.result.matcher.tables.space_area_m2, dtype=np.float64)

    @cached_property
    def fit(self) -> npt.NDArray[np.float64]:
        """``fit_pct`` of each assignment."""
        return np.asarray(fit_pct(self.result.assignments.column("score")), dtype=np.float64)

    @cached_property
    def n_shortlisted(self) -> Rows:
        cols = self.result.graph.cols
        return np.bincount(cols, minlength=self.offered.size).astype(np.int64)

    @cached_property
    def left_spaces(self) -> Rows:
        """Engine rows of the offered spaces no one took, in table order."""
        return np.nonzero(self.offered & ~self.space_taken)[0].astype(np.int64)

    @cached_property
    def park_names(self) -> pa.Array:
        """Name of each engine park row; a name two parks share gets its id appended."""
        parks = self.inputs.parks.take(pa.array(self.park_input))
        frame = parks.select(["park_id", "name"]).to_pandas()
        shared = frame["name"].duplicated(keep=False)
        frame.loc[shared, "name"] = frame["name"] + " (" + frame["park_id"] + ")"
        return pa.array(frame["name"], pa.string())

    def enterprise_column(self, name: str, engine_rows: Rows) -> pa.ChunkedArray:
        """Column ``name`` of the input enterprises at the given engine rows."""
        rows = self.enterprise_input[engine_rows]
        return self.inputs.enterprises.column(name).take(pa.array(rows))

    def space_column(self, name: str, engine_rows: Rows) -> pa.ChunkedArray:
        rows = self.space_input[engine_rows]
        return self.inputs.spaces.column(name).take(pa.array(rows))


def _counts(codes: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """Code -> count, most frequent first (ties by code)."""
    counts = pc.value_counts(codes).to_pylist()
    pairs = sorted(
        ((str(c["values"]), int(c["counts"])) for c in counts), key=lambda p: (-p[1], p[0])
    )
    return dict(pairs)


def _enterprise_codes(result: MatchResult) -> pa.ChunkedArray:
    unmatched = result.unmatched
    return pc.coalesce(unmatched.column("constraint"), unmatched.column("reason"))


def _space_codes(rows: MatchRows) -> pa.DictionaryArray:
    chosen = (rows.n_shortlisted[rows.left_spaces] > 0).astype(np.int8)
    no_seeker, not_chosen = SPACE_REASONS
    return pa.DictionaryArray.from_arrays(pa.array(chosen), pa.array([no_seeker, not_chosen]))


def match_figures(rows: MatchRows) -> Figures:
    """The headline numbers and reason counts alone (no row table). O(rows)."""
    result = rows.result
    seekers = np.nonzero(rows.seeking)[0]
    placed = result.row_to_col[seekers] >= 0
    wanted = rows.enterprise_column("area_min_m2", seekers).to_numpy()
    wanted = np.asarray(wanted, dtype=np.float64)
    area = rows.area_m2
    space_codes = _space_codes(rows)
    return Figures(
        seekers=int(seekers.size),
        matched=int(rows.matched.size),
        idle_spaces=int(rows.offered.sum()),
        idle_area_m2=float(area[rows.offered].sum()),
        matched_area_m2=float(area[rows.matched_space].sum()),
        wanted_area_m2=float(wanted.sum()),
        placed_wanted_area_m2=float(wanted[placed].sum()),
        n_edges=result.summary.n_edges,
        total_score=result.summary.total_score,
        mean_fit_pct=float(rows.fit.mean()) if rows.fit.size else math.nan,
        enterprise_reasons=_counts(_enterprise_codes(result)),
        space_reasons=_counts(space_codes.dictionary.take(space_codes.indices)),
    )


def match_tables(
    result: MatchResult, inputs: MatchInputs, lang: Lang = "en", rows: MatchRows | None = None
) -> MatchTables:
    """The result joined with its inputs' names and aggregated per park, industry, reason."""
    t = LABELS.labels(lang)
    rows = rows or MatchRows(result, inputs)
    figures = match_figures(rows)
    assignments = _assignments(rows)
    unmatched_enterprises = _unmatched_enterprises(rows, t)
    unmatched_spaces = _unmatched_spaces(rows, t)
    return MatchTables(
        assignments=assignments,
        unmatched_enterprises=unmatched_enterprises,
        unmatched_spaces=unmatched_spaces,
        by_park=_by_park(rows),
        by_industry=_by_industry(rows, assignments, lang),
        by_reason=_by_reason(figures, t),
        figures=figures,
    )


def _assignments(rows: MatchRows) -> pa.Table:
    a = rows.result.assignments
    sp = rows.matched_space
    space_park = rows.result.matcher.tables.space_park
    columns: dict[str, Any] = {
        "enterprise_id": a.column("enterprise_id"),
        "enterprise_name": rows.enterprise_column("name", rows.matched),
        "industry_code": rows.enterprise_column("industry_code", rows.matched),
        "space_id": a.column("space_id"),
        "park_id": a.column("park_id"),
        "park_name": rows.park_names.take(pa.array(space_park[sp])),
        "kind": rows.space_column("kind", sp),
        "area_m2": pa.array(rows.area_m2[sp], pa.float64()),
        "score": a.column("score"),
        "fit_pct": pa.array(rows.fit, pa.float64()),
        "distance_km": a.column("distance_km"),
    }
    for name in a.column_names:
        if name not in columns:
            columns[name] = a.column(name)
    return pa.table(columns)


def _explained(codes: pa.Array | pa.ChunkedArray, t: Labels) -> tuple[pa.Array, pa.Array]:
    """Each code's short label and explanation, dictionary-encoded (a handful of texts)."""
    encoded = pc.dictionary_encode(codes)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], pa.string())
        encoded = pc.dictionary_encode(encoded)
    present = [str(c) for c in encoded.dictionary.to_pylist()]
    label = pa.array([t(reason_keys(c)[0]) for c in present], pa.string())
    why = pa.array([t(reason_keys(c)[1]) for c in present], pa.string())
    return (
        pa.DictionaryArray.from_arrays(encoded.indices, label),
        pa.DictionaryArray.from_arrays(encoded.indices, why),
    )


def _unmatched_enterprises(rows: MatchRows, t: Labels) -> pa.Table:
    result = rows.result
    u = result.unmatched
    guess = np.nonzero(rows.seeking & (result.row_to_col < 0))[0].astype(np.int64)
    lost = rows_of(u.column("enterprise_id"), result.matcher.tables.enterprise_ids, guess)
    codes = _enterprise_codes(result)
    label, why = _explained(codes, t)
    return pa.table(
        {
            "enterprise_id": u.column("enterprise_id"),
            "enterprise_name": rows.enterprise_column("name", lost),
            "industry_code": rows.enterprise_column("industry_code", lost),
            "reason_code": codes,
            "reason_label": label,
            "explanation": why,
            "reason": u.column("reason"),
            "constraint": u.column("constraint"),
            "n_candidates": u.column("n_candidates"),
        }
    )


def _unmatched_spaces(rows: MatchRows, t: Labels) -> pa.Table:
    left = rows.left_spaces
    tables = rows.result.matcher.tables
    park = pa.array(tables.space_park[left])
    codes = _space_codes(rows)
    label, why = _explained(codes.dictionary.take(codes.indices), t)
    return pa.table(
        {
            "space_id": tables.space_ids.take(pa.array(left)),
            "park_id": tables.park_ids.take(park),
            "park_name": rows.park_names.take(park),
            "kind": rows.space_column("kind", left),
            "area_m2": pa.array(rows.area_m2[left], pa.float64()),
            "reason_code": codes.dictionary.take(codes.indices),
            "reason_label": label,
            "explanation": why,
            "n_shortlisted": pa.array(rows.n_shortlisted[left], pa.int64()),
        }
    )


def _by_park(rows: MatchRows) -> pd.DataFrame:
    tables = rows.result.matcher.tables
    n = len(tables.park_ids)
    park = np.asarray(tables.space_park, dtype=np.int64)
    idle = rows.offered
    let = idle & rows.space_taken
    area = rows.area_m2
    matches = np.bincount(park[rows.matched_space], minlength=n)
    fit_sum = np.bincount(park[rows.matched_space], weights=rows.fit, minlength=n)
    idle_area = np.bincount(park[idle], weights=area[idle], minlength=n)
    matched_area = np.bincount(park[let], weights=area[let], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(idle_area > 0, matched_area / idle_area, np.nan)
        mean_fit = np.where(matches > 0, fit_sum / matches, np.nan)
    frame = pd.DataFrame(
        {
            "park_id": tables.park_ids.to_pandas(),
            "park_name": rows.park_names.to_pandas(),
            "idle_spaces": np.bincount(park[idle], minlength=n).astype(np.int64),
            "matched_spaces": np.bincount(park[let], minlength=n).astype(np.int64),
            "idle_area_m2": idle_area,
            "matched_area_m2": matched_area,
            "matched_area_share": share,
            "mean_fit_pct": mean_fit,
        }
    )
    frame = frame.sort_values(["idle_area_m2", "park_id"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def industry_names(lang: Lang) -> dict[str, str]:
    """Division code -> ``"39 Computers ..."`` in ``lang`` (GB/T 4754-2017 names)."""
    return {code: f"{code} {zh if lang == 'zh' else en}" for code, _s, zh, en in DIVISIONS}


def _by_industry(rows: MatchRows, assignments: pa.Table, lang: Lang) -> pd.DataFrame:
    seekers = np.nonzero(rows.seeking)[0]
    placed = (rows.result.row_to_col[seekers] >= 0).astype(np.int64)
    codes = rows.enterprise_column("industry_code", seekers)
    grouped = (
        pa.table({"industry_code": codes, "placed": placed})
        .group_by("industry_code")
        .aggregate([("placed", "count"), ("placed", "sum")])
        .to_pandas()
    )
    area = (
        assignments.select(["industry_code", "area_m2"])
        .group_by("industry_code")
        .aggregate([("area_m2", "sum")])
        .to_pandas()
        .set_index("industry_code")["area_m2_sum"]
    )
    codes_present = grouped["industry_code"]
    frame = pd.DataFrame(
        {
            "industry_code": codes_present,
            "seekers": grouped["placed_count"].astype(np.int64),
            "placed": grouped["placed_sum"].astype(np.int64),
            "placed_area_m2": codes_present.map(area).fillna(0.0).astype(np.float64),
        }
    )
    frame["placed_share"] = frame["placed"] / frame["seekers"]
    names = industry_names(lang)
    frame.insert(1, "industry", frame["industry_code"].map(lambda c: names.get(c, c)))
    frame = frame.sort_values(["seekers", "industry_code"], ascending=[False, True], kind="stable")
    order = ["industry_code", "industry", "seekers", "placed", "placed_share", "placed_area_m2"]
    return frame[order].reset_index(drop=True)


def _by_reason(figures: Figures, t: Labels) -> pd.DataFrame:
    parts = []
    for side, counts in (
        ("enterprise", figures.enterprise_reasons),
        ("space", figures.space_reasons),
    ):
        for code, count in counts.items():
            label_key, why_key = reason_keys(code)
            parts.append(
                {
                    "applies_to": t(f"side.{side}"),
                    "reason_code": code,
                    "reason_label": t(label_key),
                    "count": count,
                    "explanation": t(why_key),
                }
            )
    columns = ["applies_to", "reason_code", "reason_label", "count", "explanation"]
    frame = pd.DataFrame(parts, columns=columns)
    frame["count"] = frame["count"].astype(np.int64)
    return frame


def component_points(
    assignments: pa.Table | pd.DataFrame, weights: tuple[float, ...]
) -> pd.DataFrame:
    """Each match's weighted component contributions, in points of 100 (they sum to the
    match's ``fit_pct`` up to the score's 1e-6 quantisation)."""
    total = float(sum(weights))
    return pd.DataFrame(
        {
            name: np.asarray(assignments[name], dtype=np.float64) * (100.0 * w / total)
            for name, w in zip(COMPONENTS, weights, strict=True)
        }
    )
