"""Candidate generation equals a brute-force numpy filter; reason codes; the score."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from zone_opt.errors import InvalidInputError
from zone_opt.matching import COMPONENTS, REASONS, SCORE_SCALE, ScoreWeights
from zone_opt.matching.candidates import (
    _division_index,
    _kinds_mask,
    _list_masks,
    build_index,
    days_since_epoch,
)
from zone_opt.schemas import SPACE_KINDS

sys.path.insert(0, str(Path(__file__).parent))
from matching_tables import TODAY, Tables, make_tables

EARTH_KM = 6371.0088


def haversine(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def brute_force(
    t: Tables, affinity: npt.NDArray[np.float64], w: ScoreWeights
) -> tuple[dict[int, dict[int, int]], list[str]]:
    """Per enterprise: {space: score} of feasible spaces, and the reason name."""
    parks, spaces, ents = t.parks.to_pylist(), t.spaces.to_pylist(), t.enterprises.to_pylist()
    park_row = {p["park_id"]: i for i, p in enumerate(parks)}
    ent_row = {e["enterprise_id"]: i for i, e in enumerate(ents)}
    live = [
        x
        for x in t.tenancies.to_pylist()
        if x["start"] <= TODAY and (x["end"] is None or x["end"] >= TODAY)
    ]
    occupied = {x["space_id"] for x in live}
    space_park = {s["space_id"]: park_row[s["park_id"]] for s in spaces}
    mix: list[list[int]] = [[] for _ in parks]  # tenant divisions per park (-1 unknown)
    used = [0.0] * len(parks)
    for x in live:
        p = space_park[x["space_id"]]
        if x["enterprise_id"] in ent_row:
            e = ents[ent_row[x["enterprise_id"]]]
            mix[p].append(int(e["industry_code"]) - 1)
            used[p] += e["annual_co2e_t"]
        else:
            mix[p].append(-1)
    tenants = {x["enterprise_id"] for x in live}
    weights = np.array(w.as_tuple())
    out: dict[int, dict[int, int]] = {}
    reasons = []
    order = [
        "AREA",
        "FLOOR_LOAD",
        "CEILING_HEIGHT",
        "POWER",
        "RENT",
        "HAZARDOUS_PERMIT",
        "INDUSTRY_NOT_PERMITTED",
        "SPACE_KIND",
        "NOT_AVAILABLE_YET",
    ]
    for i, e in enumerate(ents):
        out[i] = {}
        if e["enterprise_id"] in tenants:
            reasons.append("EXCLUDED")
            continue
        any_park = any_space = False
        worst = -1
        div = int(e["industry_code"]) - 1
        chain_set = {int(c) - 1 for c in e["supplier_industries"] + e["customer_industries"]}
        for j, s in enumerate(spaces):
            p = park_row[s["park_id"]]
            pk = parks[p]
            d = float(haversine(e["preferred_lat"], e["preferred_lon"], pk["lat"], pk["lon"]))
            if d > e["radius_km"]:
                continue
            any_park = True
            if s["space_id"] in occupied:
                continue
            any_space = True
            checks = [
                e["area_min_m2"] <= s["area_m2"] <= e["area_max_m2"],
                s["floor_load_kn_m2"] >= e["min_floor_load_kn_m2"],
                s["ceiling_height_m"] >= e["min_ceiling_height_m"],
                s["power_kva"] >= e["power_need_kva"],
                s["rent_cny_per_m2_month"] <= e["max_rent_cny_per_m2_month"],
                s["hazardous_permit"] or not e["hazardous_process"],
                not pk["permitted_industries"] or e["industry_code"] in pk["permitted_industries"],
                not e["space_kinds"] or s["kind"] in e["space_kinds"],
                s["available_from"] <= TODAY,
            ]
            if not all(checks):
                worst = max(worst, checks.index(False))
                continue
            half = (e["area_max_m2"] - e["area_min_m2"]) / 2
            size = 1 - abs(s["area_m2"] - e["area_min_m2"] - half) / half if half > 0 else 1.0
            cost = (
                (e["max_rent_cny_per_m2_month"] - s["rent_cny_per_m2_month"])
                / e["max_rent_cny_per_m2_month"]
                if e["max_rent_cny_per_m2_month"] > 0
                else 1.0
            )
            n_t = len(mix[p])
            chain = sum(
                (1.0 if dd in chain_set else affinity[div, dd]) / n_t for dd in mix[p] if dd >= 0
            )
            left = pk["carbon_budget_co2e_t"] - used[p]
            co2 = e["annual_co2e_t"]
            carbon = 1.0 if co2 <= 0 else (0.0 if left <= 0 else min(1, max(0, 1 - co2 / left)))
            comps = np.clip([1 - d / e["radius_km"], cost, size, min(chain, 1.0), carbon], 0, 1)
            out[i][j] = 1 + round(SCORE_SCALE * float(weights @ comps) / weights.sum())
        if out[i]:
            reasons.append("HAS_CANDIDATES")
        elif not any_park:
            reasons.append("NO_PARK_IN_RADIUS")
        elif not any_space:
            reasons.append("NO_SPACE_IN_RADIUS")
        else:
            reasons.append(order[worst])
    return out, reasons


def _generate(t: Tables, affinity: npt.NDArray[np.float64], w: ScoreWeights, k: int) -> Any:
    ix = build_index(t.spaces, t.enterprises, t.parks, t.tenancies, now=TODAY, affinity=affinity)
    return ix, ix.index.generate(w.as_tuple(), k, ix.now_day, ~ix.occupied, ~ix.tenant)


@pytest.mark.parametrize("seed", range(8))
def test_candidates_equal_brute_force(seed: int) -> None:
    t = make_tables(seed, n_parks=5, n_spaces=50, n_enterprises=60, n_tenancies=10)
    rng = np.random.default_rng(seed)
    affinity = rng.random((97, 97))
    w = ScoreWeights(*rng.uniform(0, 1, 5))
    expected, reasons = brute_force(t, affinity, w)
    _, (indptr, cols, scores, _chain, reason, n_feasible) = _generate(t, affinity, w, 0)
    assert [REASONS[r] for r in reason] == reasons
    total = 0
    for e, feasible in expected.items():
        got_cols = cols[indptr[e] : indptr[e + 1]]
        got_scores = scores[indptr[e] : indptr[e + 1]]
        assert set(got_cols.tolist()) == set(feasible)
        assert n_feasible[e] == len(feasible)
        for c, s in zip(got_cols.tolist(), got_scores.tolist(), strict=True):
            assert abs(s - feasible[c]) <= 1  # rounding at exact .5 may differ by one
        # Sorted best first, ties by lower space index.
        keys = list(zip((-got_scores).tolist(), got_cols.tolist(), strict=True))
        assert keys == sorted(keys)
        total += len(feasible)
    assert total > 0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_is_the_best_k(k: int) -> None:
    t = make_tables(11, n_parks=3, n_spaces=60, n_enterprises=40, n_tenancies=0)
    w = ScoreWeights()
    aff = np.zeros((97, 97))
    _, full = _generate(t, aff, w, 0)
    _, top = _generate(t, aff, w, k)
    for e in range(t.enterprises.num_rows):
        a, b = full[0][e], full[0][e + 1]
        c, d = top[0][e], top[0][e + 1]
        assert d - c == min(k, b - a)
        assert full[1][a : a + (d - c)].tolist() == top[1][c:d].tolist()
        assert top[5][e] == b - a


def test_score_pairs_agree_with_generation() -> None:
    t = make_tables(5, n_parks=3, n_spaces=60, n_enterprises=40)
    w = ScoreWeights()
    ix, (indptr, cols, scores, chain, _, _) = _generate(t, np.zeros((97, 97)), w, 0)
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    dist, comps, again = ix.index.score_pairs(w.as_tuple(), rows, cols)
    assert np.array_equal(again, scores)
    assert comps.shape == (cols.size, len(COMPONENTS))
    assert np.allclose(comps[:, COMPONENTS.index("chain")], chain)
    assert ((comps >= 0) & (comps <= 1)).all()
    assert (dist >= 0).all()


def test_reason_codes_on_a_hand_built_case() -> None:
    t = make_tables(2, n_parks=1, n_spaces=3, n_enterprises=1, n_tenancies=0)
    park = t.parks.column("lat")[0].as_py(), t.parks.column("lon")[0].as_py()
    ent = t.enterprises
    for col, value in [
        ("preferred_lat", park[0]),
        ("preferred_lon", park[1]),
        ("radius_km", 10.0),
        ("area_min_m2", 1e6),
        ("area_max_m2", 2e6),
    ]:
        ent = ent.set_column(ent.schema.get_field_index(col), col, pa.array([value]))
    aff = np.zeros((97, 97))
    w = ScoreWeights()
    tt = Tables(t.parks, t.spaces, ent, t.tenancies)
    _, out = _generate(tt, aff, w, 0)
    assert REASONS[out[4][0]] == "AREA"
    far = ent.set_column(
        ent.schema.get_field_index("preferred_lat"), "preferred_lat", pa.array([park[0] + 5])
    )
    _, out = _generate(Tables(t.parks, t.spaces, far, t.tenancies), aff, w, 0)
    assert REASONS[out[4][0]] == "NO_PARK_IN_RADIUS"


def test_bad_inputs_are_named() -> None:
    t = make_tables(3)
    spaces = t.spaces.set_column(
        t.spaces.schema.get_field_index("park_id"),
        "park_id",
        pa.array(["nope", *t.spaces.column("park_id").to_pylist()[1:]]),
    )
    with pytest.raises(InvalidInputError) as info:
        build_index(spaces, t.enterprises, t.parks, t.tenancies, now=TODAY)
    assert info.value.violations[0].field == "spaces.park_id"
    assert info.value.violations[0].row == 0
    with pytest.raises(InvalidInputError) as info:
        build_index(t.spaces, t.enterprises, t.parks, t.tenancies, now=TODAY, affinity=np.ones(5))
    assert info.value.violations[0].field == "affinity"
    with pytest.raises(InvalidInputError):
        ScoreWeights(distance=-1.0)
    with pytest.raises(InvalidInputError):
        ScoreWeights(0, 0, 0, 0, 0)
    with pytest.raises(InvalidInputError) as info:
        ScoreWeights(cost=math.nan)
    assert info.value.violations[0].field == "weights.cost"
    ents = t.enterprises.set_column(
        t.enterprises.schema.get_field_index("industry_code"),
        "industry_code",
        pc.if_else(
            pa.array([True] + [False] * (t.enterprises.num_rows - 1)),
            "X1",
            t.enterprises.column("industry_code"),
        ),
    )
    with pytest.raises(InvalidInputError) as info:
        build_index(t.spaces, ents, t.parks, t.tenancies, now=TODAY)
    assert info.value.violations[0].field == "enterprises.industry_code"


def test_kind_index_order_matches_schema() -> None:
    assert SPACE_KINDS[0] == "factory_floor"
    assert days_since_epoch(TODAY) == (TODAY - type(TODAY)(1970, 1, 1)).days


def test_sample_preset_fast_generation_equals_the_reference_scoring() -> None:
    """On the bundled sample preset, the generator (hoisted, column-wise filter and score)
    gives bit for bit the scores and chain components of the reference path
    (``score_pairs``: ``components`` and ``Weights::score`` pair by pair); the top 32 of
    each enterprise is the head of its full list, and ``n_feasible`` counts that list."""
    from zone_opt.datasets import preset_region  # noqa: PLC0415 (slow import, one test)
    from zone_opt.industries import chain_affinity  # noqa: PLC0415

    region = preset_region("sample")
    ix = build_index(
        region.spaces,
        region.enterprises,
        region.parks,
        region.tenancies,
        now=TODAY,
        affinity=chain_affinity(),
    )
    w = ScoreWeights()
    indptr, cols, scores, chain, _reason, n_feasible = ix.index.generate(
        w.as_tuple(), 0, ix.now_day, ~ix.occupied, ~ix.tenant
    )
    assert cols.size > 1000
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    _dist, comps, again = ix.index.score_pairs(w.as_tuple(), rows, cols)
    assert np.array_equal(again, scores)
    assert np.array_equal(comps[:, COMPONENTS.index("chain")], chain)
    assert np.array_equal(n_feasible, np.diff(indptr))
    t_indptr, t_cols, t_scores, _, t_reason, t_feasible = ix.index.generate(
        w.as_tuple(), 32, ix.now_day, ~ix.occupied, ~ix.tenant
    )
    assert np.array_equal(t_feasible, n_feasible)
    assert np.array_equal(t_reason, _reason)
    for e in range(indptr.size - 1):
        a, b = indptr[e], indptr[e + 1]
        c, d = t_indptr[e], t_indptr[e + 1]
        assert d - c == min(32, b - a)
        assert np.array_equal(t_cols[c:d], cols[a : a + (d - c)])
        assert np.array_equal(t_scores[c:d], scores[a : a + (d - c)])


def _columns(n: int) -> dict[str, dict[str, npt.NDArray[Any]]]:
    """The three column tables of a minimal valid index: one park, one space, n enterprises."""
    f = np.zeros(n, np.float64)
    return {
        "parks": {
            "lat": np.array([31.0]),
            "lon": np.array([121.0]),
            "industry_mask": np.full((1, 2), np.iinfo(np.uint64).max, np.uint64),
            "remaining_co2e_t": np.array([1e6]),
            "tenant_indptr": np.zeros(2, np.int64),
            "tenant_div": np.zeros(0, np.uint8),
            "tenant_share": np.zeros(0, np.float64),
        },
        "spaces": {
            "park": np.zeros(1, np.uint32),
            "area_m2": np.array([1000.0]),
            "floor_load_kn_m2": np.array([10.0]),
            "ceiling_height_m": np.array([8.0]),
            "power_kva": np.array([500.0]),
            "rent_cny_per_m2_month": np.array([30.0]),
            "hazardous_permit": np.array([True]),
            "available_from_day": np.zeros(1, np.int32),
            "kind": np.zeros(1, np.uint8),
        },
        "enterprises": {
            "area_min_m2": f + 100.0,
            "area_max_m2": f + 2000.0,
            "min_floor_load_kn_m2": f,
            "min_ceiling_height_m": f,
            "power_need_kva": f,
            "max_rent_cny_per_m2_month": f + 100.0,
            "lat": f + 31.0,
            "lon": f + 121.0,
            "radius_km": f + 50.0,
            "hazardous_process": np.zeros(n, np.bool_),
            "division": np.ones(n, np.uint8),
            "kinds_mask": np.ones(n, np.uint8),
            "chain_mask": np.zeros((n, 2), np.uint64),
            "annual_co2e_t": f,
        },
    }


def test_the_index_binding_takes_named_column_tables_and_names_each_mistake() -> None:
    """The binding takes three tables of named columns, not 31 keyword arrays: a missing
    column, a name it does not read (a typo) and a wrong dtype are each an error naming
    ``table.column``; the engine's own shape checks name the column too."""
    from zone_opt import _core  # noqa: PLC0415 (the binding itself is under test)

    def build(tables: dict[str, dict[str, npt.NDArray[Any]]]) -> Any:
        return _core.CandidateIndex(**tables, affinity=np.zeros(0))

    index = build(_columns(3))
    assert (index.n_spaces, index.n_enterprises) == (1, 3)
    cases: list[tuple[str, str, Any, str]] = [
        ("parks", "lat", None, "parks.lat"),
        ("spaces", "area_m", np.array([1.0]), "spaces.area_m"),
        ("enterprises", "radius_km", np.zeros(3, np.int64), "enterprises.radius_km"),
        ("enterprises", "chain_mask", np.zeros((3, 3), np.uint64), "enterprises.chain_mask"),
        ("parks", "lon", np.array([121.0, 122.0]), "parks"),
    ]
    for table, column, value, field in cases:
        tables = _columns(3)
        if value is None:
            del tables[table][column]
        else:
            tables[table][column] = value
        with pytest.raises(InvalidInputError) as info:
            build(tables)
        assert any(v.field.startswith(field) for v in info.value.violations), (column, info.value)


def _reference_masks(lists: list[list[str]], empty_is_all: bool) -> npt.NDArray[np.uint64]:
    out = np.zeros((len(lists), 2), np.uint64)
    for i, codes in enumerate(lists):
        if not codes and empty_is_all:
            out[i] = np.uint64(2**64 - 1)
        for code in codes:
            d = int(code) - 1
            out[i, d // 64] |= np.uint64(1) << np.uint64(d % 64)
    return out


def test_division_masks_from_the_string_buffers_equal_a_per_value_reference() -> None:
    """The codes are read straight from Arrow's buffers: chunked, sliced, null and empty
    lists, large strings give the per-value answer; a bad code still names its row."""
    rng = np.random.default_rng(3)
    lists = [
        [f"{d:02d}" for d in rng.choice(np.arange(1, 98), size=int(rng.integers(0, 6)))]
        if i % 7
        else None
        for i in range(500)
    ]
    typ = pa.list_(pa.string())
    col = pa.chunked_array([pa.array(lists[:200], typ), pa.array(lists[200:], typ)])
    for column, values in ((col, lists), (col.slice(13, 400), lists[13:413])):
        for empty_is_all in (False, True):
            got = _list_masks(column, "f", empty_is_all=empty_is_all)
            want = _reference_masks([v or [] for v in values], empty_is_all)
            np.testing.assert_array_equal(got, want)
    codes = pa.array([f"{d:02d}" for d in rng.integers(1, 98, size=300)])
    for arr in (
        codes,
        codes.slice(7),
        codes.cast(pa.large_string()),
        pa.chunked_array([codes[:100], codes[100:]]),
    ):
        want_idx = [int(c) - 1 for c in arr.to_pylist()]
        np.testing.assert_array_equal(_division_index(arr, "f"), want_idx)
    for bad, row in (
        (["01", "00"], 1),
        (["98", "01"], 0),
        (["01", "1"], 1),
        (["ab"], 0),
        (["01", "01", "123"], 2),
        (["01", None], 1),
    ):
        with pytest.raises(InvalidInputError) as info:
            _division_index(pa.array(bad, pa.string()), "f")
        assert info.value.violations[0].row == row
    kinds = [
        [str(k) for k in rng.choice(SPACE_KINDS, size=int(rng.integers(0, 3)), replace=False)]
        if i % 5
        else None
        for i in range(300)
    ]
    want_kinds = [0xFF if not v else sum(1 << SPACE_KINDS.index(k) for k in v) for v in kinds]
    got_kinds = _kinds_mask(pa.chunked_array([pa.array(kinds, typ)]))
    np.testing.assert_array_equal(got_kinds, want_kinds)
    unknown = pa.chunked_array([pa.array([["lab"], [], ["lab", "moon"]], typ)])
    with pytest.raises(InvalidInputError) as info:
        _kinds_mask(unknown)
    assert info.value.violations[0].row == 2
