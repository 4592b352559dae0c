"""A matching result as a planner's tables: who went where, per park, per industry, why not.

:func:`match_tables` joins a :class:`~zone_opt.matching.MatchResult` with the names in the
input tables (park and enterprise names as given, the space kind, the enterprise's industry
and requested area) and aggregates it with pandas: the report draws from these frames and
the exports write them, so the two always agree. Every step is a vectorised pass over the
rows (O(spaces + enterprises + assignments)); nothing here grows with the candidate graph
beyond one ``bincount`` over its columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from zone_opt.industries import DIVISIONS
from zone_opt.matching.domain import MatchResult
from zone_opt.matching.report_labels import LABELS, SPACE_REASONS, reason_keys
from zone_opt.matching.scoring import COMPONENTS, SCORE_SCALE
from zone_opt.reports import Labels, Lang

__all__ = ["Figures", "MatchInputs", "MatchTables", "fit_pct", "match_tables"]


@dataclass(frozen=True)
class MatchInputs:
    """The tables the result was matched from (names, kinds, industries, requests)."""

    spaces: pa.Table
    enterprises: pa.Table
    parks: pa.Table


@dataclass(frozen=True)
class Figures:
    """The headline numbers of one run (areas in m2, fit in points of 100)."""

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
    """The frames of the report and the exports (labels in one language).

    Attributes:
        assignments: every match with names, space kind and area, ``fit_pct``.
        unmatched_enterprises: every seeker without a space, its ``reason_code`` (the
            constraint for ``NO_CANDIDATES``, else ``OUTCOMPETED``) and what it means.
        unmatched_spaces: every offered space without a tenant, ``NO_SEEKER`` or
            ``NOT_CHOSEN``, and how many seekers had it on their shortlist.
        by_park: idle and matched spaces and area per park, every park of the input.
        by_industry: seekers and placed enterprises per industry division.
        by_reason: counts per reason code, enterprises and spaces.
        figures: the headline numbers.
    """

    assignments: pd.DataFrame
    unmatched_enterprises: pd.DataFrame
    unmatched_spaces: pd.DataFrame
    by_park: pd.DataFrame
    by_industry: pd.DataFrame
    by_reason: pd.DataFrame
    figures: Figures

    def exports(self) -> dict[str, pd.DataFrame]:
        """Table name -> frame, in the order of the workbook's sheets."""
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


def fit_pct(score: pd.Series | np.ndarray[Any, Any]) -> Any:
    """The integer score as the weighted mean of the components, in points of 100."""
    return (np.asarray(score, dtype=np.float64) - 1.0) * (100.0 / SCORE_SCALE)


def match_tables(result: MatchResult, inputs: MatchInputs, lang: Lang = "en") -> MatchTables:
    """The result joined with its inputs' names and aggregated per park, industry, reason."""
    t = LABELS.labels(lang)
    parks = _parks(inputs.parks)
    spaces = _spaces(result, inputs.spaces)
    seekers = _seekers(result, inputs.enterprises)
    assignments = _assignments(result, spaces, seekers, parks)
    unmatched_enterprises = _unmatched_enterprises(result, seekers, t)
    unmatched_spaces = _unmatched_spaces(spaces, parks, t)
    placed = seekers["placed"].to_numpy()
    figures = Figures(
        seekers=len(seekers),
        matched=len(assignments),
        idle_spaces=int(spaces["offered"].sum()),
        idle_area_m2=float(spaces.loc[spaces["offered"], "area_m2"].sum()),
        matched_area_m2=float(assignments["area_m2"].sum()),
        wanted_area_m2=float(seekers["area_min_m2"].sum()),
        placed_wanted_area_m2=float(seekers.loc[placed, "area_min_m2"].sum()),
        n_edges=result.summary.n_edges,
        total_score=result.summary.total_score,
        mean_fit_pct=float(assignments["fit_pct"].mean()) if len(assignments) else math.nan,
    )
    return MatchTables(
        assignments=assignments,
        unmatched_enterprises=unmatched_enterprises,
        unmatched_spaces=unmatched_spaces,
        by_park=_by_park(spaces, assignments, parks),
        by_industry=_by_industry(seekers, assignments, lang),
        by_reason=_by_reason(unmatched_enterprises, unmatched_spaces, t),
        figures=figures,
    )


def _parks(parks: pa.Table) -> pd.DataFrame:
    """``park_id, park_name``; a name shared by two parks gets its id appended."""
    frame = parks.select(["park_id", "name"]).to_pandas().rename(columns={"name": "park_name"})
    shared = frame["park_name"].duplicated(keep=False)
    frame.loc[shared, "park_name"] = frame["park_name"] + " (" + frame["park_id"] + ")"
    return frame


def _spaces(result: MatchResult, spaces: pa.Table) -> pd.DataFrame:
    """Every space row: id, park, kind, area, offered, matched, seekers shortlisting it."""
    t = result.matcher.tables
    n = t.occupied.size
    matched = np.zeros(n, dtype=np.bool_)
    matched[result.row_to_col[result.row_to_col >= 0]] = True
    frame = pd.DataFrame(
        {
            "space_id": t.space_ids.to_numpy(),
            "park_id": t.park_ids.take(pa.array(t.space_park)).to_numpy(),
            "area_m2": t.space_area_m2,
            "offered": np.asarray(result.space_active, dtype=np.bool_),
            "matched": matched,
            "n_shortlisted": np.bincount(result.graph.cols, minlength=n).astype(np.int64),
        }
    )
    kinds = spaces.select(["space_id", "kind"]).to_pandas()
    return frame.merge(kinds, on="space_id", how="left", validate="one_to_one")


def _seekers(result: MatchResult, enterprises: pa.Table) -> pd.DataFrame:
    """The seeking enterprises: id, name, industry, requested area, placed or not."""
    t = result.matcher.tables
    seeking = np.asarray(result.matcher.enterprise_active, dtype=np.bool_)
    frame = pd.DataFrame(
        {
            "enterprise_id": t.enterprise_ids.to_numpy()[seeking],
            "placed": (result.row_to_col >= 0)[seeking],
        }
    )
    names = enterprises.select(["enterprise_id", "name", "industry_code", "area_min_m2"])
    named = names.to_pandas().rename(columns={"name": "enterprise_name"})
    return frame.merge(named, on="enterprise_id", how="left", validate="one_to_one")


def _assignments(
    result: MatchResult, spaces: pd.DataFrame, seekers: pd.DataFrame, parks: pd.DataFrame
) -> pd.DataFrame:
    frame = result.assignments.to_pandas()
    frame = frame.merge(
        seekers[["enterprise_id", "enterprise_name", "industry_code"]],
        on="enterprise_id",
        how="left",
        validate="one_to_one",
    )
    frame = frame.merge(
        spaces[["space_id", "kind", "area_m2"]], on="space_id", how="left", validate="one_to_one"
    )
    frame = frame.merge(parks, on="park_id", how="left", validate="many_to_one")
    frame["fit_pct"] = fit_pct(frame["score"])
    first = ["enterprise_id", "enterprise_name", "industry_code", "space_id", "park_id"]
    first += ["park_name", "kind", "area_m2", "score", "fit_pct", "distance_km"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _explained(frame: pd.DataFrame, t: Labels) -> pd.DataFrame:
    codes = frame["reason_code"]
    present = codes.unique()
    frame["reason_label"] = codes.map({c: t(reason_keys(c)[0]) for c in present})
    frame["explanation"] = codes.map({c: t(reason_keys(c)[1]) for c in present})
    return frame


def _unmatched_enterprises(result: MatchResult, seekers: pd.DataFrame, t: Labels) -> pd.DataFrame:
    frame = result.unmatched.to_pandas()
    frame["reason_code"] = frame["constraint"].fillna(frame["reason"])
    frame = frame.merge(
        seekers[["enterprise_id", "enterprise_name", "industry_code"]],
        on="enterprise_id",
        how="left",
        validate="one_to_one",
    )
    frame = _explained(frame, t)
    order = ["enterprise_id", "enterprise_name", "industry_code", "reason_code", "reason_label"]
    order += ["explanation", "reason", "constraint", "n_candidates"]
    return frame[order]


def _unmatched_spaces(spaces: pd.DataFrame, parks: pd.DataFrame, t: Labels) -> pd.DataFrame:
    left = spaces.loc[spaces["offered"] & ~spaces["matched"]].copy()
    no_seeker, not_chosen = SPACE_REASONS
    left["reason_code"] = np.where(left["n_shortlisted"] > 0, not_chosen, no_seeker)
    left = left.merge(parks, on="park_id", how="left", validate="many_to_one")
    left = _explained(left, t)
    order = ["space_id", "park_id", "park_name", "kind", "area_m2", "reason_code"]
    order += ["reason_label", "explanation", "n_shortlisted"]
    return left[order].reset_index(drop=True)


def _by_park(spaces: pd.DataFrame, assignments: pd.DataFrame, parks: pd.DataFrame) -> pd.DataFrame:
    idle = spaces.loc[spaces["offered"]]
    groups = idle.groupby("park_id")
    frame = pd.DataFrame(
        {
            "idle_spaces": groups.size(),
            "matched_spaces": groups["matched"].sum(),
            "idle_area_m2": groups["area_m2"].sum(),
            "matched_area_m2": idle["area_m2"]
            .where(idle["matched"], 0.0)
            .groupby(idle["park_id"])
            .sum(),
            "mean_fit_pct": assignments.groupby("park_id")["fit_pct"].mean(),
        }
    )
    frame = parks.set_index("park_id").join(frame, how="left")
    counts = ["idle_spaces", "matched_spaces"]
    frame[counts] = frame[counts].fillna(0).astype(np.int64)
    areas = ["idle_area_m2", "matched_area_m2"]
    frame[areas] = frame[areas].fillna(0.0)
    idle_area = frame["idle_area_m2"].where(frame["idle_area_m2"] > 0)
    frame["matched_area_share"] = frame["matched_area_m2"] / idle_area
    frame = frame.reset_index().sort_values(
        ["idle_area_m2", "park_id"], ascending=[False, True], kind="stable"
    )
    order = ["park_id", "park_name", "idle_spaces", "matched_spaces", "idle_area_m2"]
    order += ["matched_area_m2", "matched_area_share", "mean_fit_pct"]
    return frame[order].reset_index(drop=True)


def industry_names(lang: Lang) -> dict[str, str]:
    """Division code -> ``"39 Computers ..."`` in ``lang`` (GB/T 4754-2017 names)."""
    return {code: f"{code} {zh if lang == 'zh' else en}" for code, _s, zh, en in DIVISIONS}


def _by_industry(seekers: pd.DataFrame, assignments: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    groups = seekers.groupby("industry_code")
    frame = pd.DataFrame(
        {
            "seekers": groups.size(),
            "placed": groups["placed"].sum().astype(np.int64),
            "placed_area_m2": assignments.groupby("industry_code")["area_m2"].sum(),
        }
    )
    frame["placed_area_m2"] = frame["placed_area_m2"].fillna(0.0)
    frame["placed_share"] = frame["placed"] / frame["seekers"]
    frame = frame.reset_index()
    names = industry_names(lang)
    frame.insert(1, "industry", frame["industry_code"].map(lambda c: names.get(c, c)))
    frame = frame.sort_values(["seekers", "industry_code"], ascending=[False, True], kind="stable")
    order = ["industry_code", "industry", "seekers", "placed", "placed_share", "placed_area_m2"]
    return frame[order].reset_index(drop=True)


def _by_reason(enterprises: pd.DataFrame, spaces: pd.DataFrame, t: Labels) -> pd.DataFrame:
    parts = []
    for side, frame in (("enterprise", enterprises), ("space", spaces)):
        counts = frame["reason_code"].value_counts(sort=False)
        part = pd.DataFrame({"reason_code": counts.index.astype(str), "count": counts.to_numpy()})
        part.insert(0, "applies_to", t(f"side.{side}"))
        parts.append(part.sort_values(["count", "reason_code"], ascending=[False, True]))
    frame = pd.concat(parts, ignore_index=True)
    frame["count"] = frame["count"].astype(np.int64)
    return _explained(frame, t)[
        ["applies_to", "reason_code", "reason_label", "count", "explanation"]
    ]


def component_points(assignments: pd.DataFrame, weights: tuple[float, ...]) -> pd.DataFrame:
    """Each match's weighted component contributions, in points of 100 (they sum to the
    match's ``fit_pct`` up to the score's 1e-6 quantisation)."""
    total = float(sum(weights))
    return pd.DataFrame(
        {
            name: assignments[name].to_numpy(dtype=np.float64) * (100.0 * w / total)
            for name, w in zip(COMPONENTS, weights, strict=True)
        },
        index=assignments.index,
    )
