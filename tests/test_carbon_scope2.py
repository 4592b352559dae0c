"""zone_opt.carbon Scope 2: exact energy balances, monotonicity, limits, double claims."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.carbon import (
    GridFactor,
    Scope2Options,
    canonical_row,
    green_from_certificates,
    grid_factor,
    scope2_hourly,
    verify,
)
from zone_opt.datasets.grid_factors import MEE_FACTORS
from zone_opt.errors import InvalidInputError

EAST = grid_factor("MEE-2023", "east")
RESIDUAL = grid_factor("MEE-2023-residual")

Case = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


@st.composite
def parks(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 5))
    hours = draw(st.integers(1, 10))
    energy = st.integers(0, 5_000_000)
    load = draw(st.lists(energy, min_size=n * hours, max_size=n * hours))
    pv = draw(st.lists(energy, min_size=hours, max_size=hours))
    green = draw(st.lists(st.one_of(st.just(0), energy), min_size=n * hours, max_size=n * hours))
    return (
        np.array(load, dtype=np.int64).reshape(n, hours),
        np.array(pv, dtype=np.int64),
        np.array(green, dtype=np.int64).reshape(n, hours),
    )


def test_worked_example_by_hand() -> None:
    r = scope2_hourly(
        [[3000], [1000]], [2000], [[500], [0]], location_factor=EAST, residual_factor=RESIDUAL
    )
    assert r.pv_wh is not None
    assert r.matched_wh is not None
    assert r.pv_wh.tolist() == [[1500], [500]]
    assert r.export_wh.tolist() == [0]
    assert r.matched_wh.tolist() == [[500], [0]]
    assert r.residual_wh.tolist() == [[1000], [500]]
    # 1500 Wh x 0.55 g/Wh = 825 g; 500 x 0.55 = 275; 1000 x 0.6096 = 609.6; 500 x 0.6096 = 304.8.
    assert r.location_g.tolist() == [[825], [275]]
    assert r.market_g.tolist() == [[610], [305]]
    np.testing.assert_allclose(r.hourly_matching_score, [2000 / 3000, 500 / 1000])


@settings(max_examples=100, deadline=None)
@given(parks())
def test_energy_balances_are_exact_and_non_negative(case: Case) -> None:
    load, pv, green = case
    r = scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    assert r.pv_wh is not None
    assert r.matched_wh is not None
    assert (r.pv_wh.sum(axis=0) + r.export_wh == pv).all()
    assert (r.pv_wh.sum(axis=0) == np.minimum(pv, load.sum(axis=0))).all()
    assert (r.matched_wh.sum(axis=0) + r.excess_wh == green.sum(axis=0)).all()
    assert (r.matched_wh <= green).all()
    assert (r.pv_wh + r.matched_wh + r.residual_wh == load).all()
    for a in (r.pv_wh, r.export_wh, r.matched_wh, r.excess_wh, r.residual_wh, r.market_g):
        assert (a >= 0).all()
    # Hourly matching never beats annual matching.
    ok = load.sum(axis=1) > 0
    assert (r.hourly_matching_score[ok] <= r.annual_matching_score[ok] + 1e-12).all()
    assert (r.hourly_matching_score[ok] <= 1 + 1e-12).all()


@settings(max_examples=60, deadline=None)
@given(parks(), st.data())
def test_more_green_never_raises_market_based(case: Case, data: st.DataObject) -> None:
    load, pv, green = case
    more = green.copy()
    i = data.draw(st.integers(0, load.shape[0] - 1))
    h = data.draw(st.integers(0, load.shape[1] - 1))
    more[i, h] += data.draw(st.integers(1, 10_000_000))
    a = scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    b = scope2_hourly(load, pv, more, location_factor=EAST, residual_factor=RESIDUAL)
    assert (b.market_g <= a.market_g).all()
    assert (b.location_g == a.location_g).all()


@settings(max_examples=40, deadline=None)
@given(parks())
def test_higher_grid_factor_never_lowers_location_based(case: Case) -> None:
    load, pv, green = case
    dirtier = GridFactor("test", "east", 2023, EAST.co2e_kg_per_kwh + 0.01, "test")
    a = scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    b = scope2_hourly(load, pv, green, location_factor=dirtier, residual_factor=RESIDUAL)
    assert (b.location_g >= a.location_g).all()


@settings(max_examples=40, deadline=None)
@given(parks())
def test_limits(case: Case) -> None:
    load, pv, green = case
    base = scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    # No PV and no contracts: market-based is the whole load at the residual factor.
    r = scope2_hourly(
        load,
        np.zeros_like(pv),
        np.zeros_like(green),
        location_factor=EAST,
        residual_factor=RESIDUAL,
    )
    assert (r.residual_wh == load).all()
    assert (r.market_g == (load * 609_600 + 500_000) // 1_000_000).all()
    # Contracts covering the load every hour: HMS 1, market-based 0, location unchanged.
    r = scope2_hourly(load, pv, load, location_factor=EAST, residual_factor=RESIDUAL)
    assert (r.market_g == 0).all()
    assert (r.location_g == base.location_g).all()
    ok = load.sum(axis=1) > 0
    np.testing.assert_allclose(r.hourly_matching_score[ok], 1.0)


def test_green_from_certificates_refuses_double_claims() -> None:
    green = green_from_certificates(
        ["GEC-1", "GEC-2", "GEC-3"], [0, 1, 0], [5, 5, 6], [1000, 250, 40], tenants=2, hours=8
    )
    assert green.shape == (2, 8)
    assert (green[0, 5], green[1, 5], green[0, 6], int(green.sum())) == (1000, 250, 40, 1290)
    with pytest.raises(InvalidInputError) as info:
        green_from_certificates(
            ["A", "B", "A"], [0, 1, 1], [0, 0, 1], [1, 1, 1], tenants=2, hours=2
        )
    v = info.value.violations[0]
    assert (v.field, v.row) == ("certificates.cert_id", 2)


@pytest.mark.parametrize(
    ("columns", "field", "row"),
    [
        ((["a", "b"], [0, 2], [0, 0], [1, 1]), "certificates.tenant", 1),
        ((["a", "b"], [0, 1], [0, 8760], [1, 1]), "certificates.hour", 1),
        ((["a", "b"], [0, 1], [-1, 0], [1, 1]), "certificates.hour", 0),
        ((["a", "b"], [0, 1], [0, 0], [1, -5]), "certificates.energy_wh", 1),
        ((["a", "b"], [0, 1], [0], [1, 1]), "certificates", None),
    ],
)
def test_certificate_errors_name_column_and_row(
    columns: tuple[list[str], list[int], list[int], list[int]], field: str, row: int | None
) -> None:
    with pytest.raises(InvalidInputError) as info:
        green_from_certificates(*columns, tenants=2, hours=8760)
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, row)


@pytest.mark.parametrize(
    ("load", "pv", "green", "field", "row"),
    [
        ([[1, 2], [3, -4]], [0, 0], [[0, 0], [0, 0]], "load_wh", 1),
        ([[1, 2], [3, 4]], [0, -1], [[0, 0], [0, 0]], "pv_wh", 1),
        ([[1, 2], [3, 4]], [0, 0, 0], [[0, 0], [0, 0]], "pv_wh", None),
        ([[1, 2], [3, 4]], [0, 0], [[0, 0]], "green_wh", None),
        ([[1.5, 2.0]], [0, 0], [[0, 0]], "load_wh", None),
        ([[1, 2]], [0, 0], [[0, 2**43]], "green_wh", 0),
    ],
)
def test_scope2_bad_input_names_field_and_row(
    load: list[list[float]], pv: list[int], green: list[list[int]], field: str, row: int | None
) -> None:
    with pytest.raises(InvalidInputError) as info:
        scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, row)


def test_factor_sets_are_the_bundled_mee_values() -> None:
    for factor_set, region, year, value, source in MEE_FACTORS:
        f = grid_factor(factor_set, region)
        assert (f.year, f.co2e_kg_per_kwh, f.source) == (year, value, source)
        assert f.co2e_ug_per_wh == round(value * 1e6)
    with pytest.raises(InvalidInputError) as info:
        grid_factor("MEE-2030")
    assert info.value.violations[0].field == "factor_set"
    assert "MEE-2023" in info.value.violations[0].reason
    with pytest.raises(InvalidInputError) as info:
        grid_factor("MEE-2021", "east")
    assert info.value.violations[0].field == "grid_region"


def test_result_rows_are_audited() -> None:
    load = np.array([[3000, 10, 0], [1000, 0, 7]], dtype=np.int64)
    pv = np.array([2000, 0, 0], dtype=np.int64)
    green = np.array([[500, 0, 0], [0, 0, 0]], dtype=np.int64)
    r = scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    rows = r.audit_rows()
    assert len(rows) == 2 * load.size
    root = r.audit_root()
    row, p = r.proof("scope2-market", 0, 0)
    assert row == canonical_row("scope2-market", 0, 0, 610)
    assert verify(row, p, root)
    # Changing one gram of one tenant-hour changes the row: the old proof fails for it.
    assert not verify(canonical_row("scope2-market", 0, 0, 611), p, root)
    for scope in ("scope2-location", "scope2-market"):
        for i in range(2):
            for h in range(3):
                row, p = r.proof(scope, i, h)
                assert verify(row, p, root)
    # Same inputs, same manifest digest and same root; other inputs, another digest.
    again = scope2_hourly(load, pv, green, location_factor=EAST, residual_factor=RESIDUAL)
    assert again.audit_root() == root
    assert again.manifest == r.manifest
    other = scope2_hourly(load, pv + 1, green, location_factor=EAST, residual_factor=RESIDUAL)
    assert other.manifest["inputs_sha256"] != r.manifest["inputs_sha256"]
    assert "MEE-2023/east" in r.manifest["location_factor"]
    with pytest.raises(InvalidInputError):
        r.proof("scope1", 0, 0)
    with pytest.raises(InvalidInputError):
        r.proof("scope2-market", 2, 0)


@pytest.mark.parametrize(
    ("pv", "green", "options", "field"),
    [
        ([0], None, Scope2Options(), "pv_wh"),
        ([0, 0], [[0, 0, 0], [0, 0, 0]], Scope2Options(), "green_wh"),
        ([0, 0], None, Scope2Options(gate_import_wh=[100, 100, 100]), "gate_import_wh"),
        ([0, 0], None, Scope2Options(contract_wh=[[1]], contract_share=[[1, 1]]), "contract_wh"),
    ],
)
def test_a_shape_that_does_not_fit_the_load_names_the_field(
    pv: list[int], green: list[list[int]] | None, options: Scope2Options, field: str
) -> None:
    # The engine checks shapes against the load (2 tenants x 2 hours) and names the
    # caller's fields.
    with pytest.raises(InvalidInputError) as info:
        scope2_hourly(
            [[1, 2], [3, 4]], pv, green, location_factor=EAST, residual_factor=RESIDUAL,
            options=options,
        )  # fmt: skip
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, None), v
