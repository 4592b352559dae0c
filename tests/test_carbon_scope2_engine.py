"""The Rust Scope 2 pipeline against the independent numpy implementation of the same rules
(identical integers), worked examples of each PV key, contracts and losses, and errors."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.carbon import Scope2Options, Scope2Result, grid_factor, scope2_hourly
from zone_opt.carbon.reference import scope2_numpy, split_largest_remainder
from zone_opt.errors import InvalidInputError

EAST = grid_factor("MEE-2023", "east")
RESIDUAL = grid_factor("MEE-2023-residual")
I64 = npt.NDArray[np.int64]


@st.composite
def parks(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    hours = draw(st.integers(1, 30))
    contracts = draw(st.integers(0, 3))
    energy = st.one_of(st.just(0), st.integers(0, 3_000), st.integers(0, 5_000_000))

    def grid(rows: int, cols: int, values: st.SearchStrategy[int] = energy) -> I64:
        cells = draw(st.lists(values, min_size=rows * cols, max_size=rows * cols))
        return np.array(cells, dtype=np.int64).reshape(rows, cols)

    share = grid(contracts, n, st.integers(0, 9))
    share[:, 0] += 1
    pv_share = grid(1, n, st.integers(0, 5))[0]
    pv_share[0] += 1
    return {
        "load": grid(n, hours),
        "pv": grid(1, hours)[0],
        "green": grid(n, hours) if draw(st.booleans()) else None,
        "contract_wh": grid(contracts, hours),
        "contract_share": share,
        "pv_sharing": draw(st.sampled_from(["pro-rata", "contract-share", "priority"])),
        "pv_share": pv_share,
        "pv_priority": np.array(draw(st.permutations(range(n))), dtype=np.int64),
        "extra_loss": grid(1, hours, st.integers(0, 10_000))[0],
        "losses": draw(st.sampled_from(["landlord", "gross-up"])),
    }


def _options(case: dict[str, Any], gate: I64 | None, *, detail: bool = True) -> Scope2Options:
    return Scope2Options(
        pv_sharing=case["pv_sharing"],
        pv_share=case["pv_share"],
        pv_priority=case["pv_priority"],
        contract_wh=case["contract_wh"],
        contract_share=case["contract_share"],
        gate_import_wh=gate,
        losses=case["losses"],
        detail=detail,
    )


def _run(case: dict[str, Any], gate: I64 | None, *, detail: bool = True) -> Any:
    return scope2_hourly(
        case["load"],
        case["pv"],
        case["green"],
        location_factor=EAST,
        residual_factor=RESIDUAL,
        options=_options(case, gate, detail=detail),
    )


@settings(max_examples=120, deadline=None)
@given(parks())
def test_rust_and_numpy_agree_exactly_and_balances_hold(case: dict[str, Any]) -> None:
    load = case["load"]
    first = _run(case, None)
    gate = (load - first.pv_wh).sum(axis=0) + case["extra_loss"]
    r = _run(case, gate)
    ref = scope2_numpy(
        load,
        case["pv"],
        case["green"],
        location_factor=EAST,
        residual_factor=RESIDUAL,
        options=_options(case, gate),
    )
    lean = _run(case, gate, detail=False)  # the engine's faster paths without detail
    for name, expected in ref.items():
        got = getattr(r, name)
        if got is None:
            assert expected.size == 0, name
        else:
            np.testing.assert_array_equal(got, expected, err_msg=name)
        if name not in ("pv_wh", "matched_wh"):
            again = getattr(lean, name)
            np.testing.assert_array_equal(expected if again is None else again, expected, name)
    assert lean.pv_wh is None
    # Conservation, exactly, hour by hour.
    assert (r.pv_wh.sum(axis=0) + r.export_wh == case["pv"]).all()
    contracts = case["contract_wh"].sum(axis=0)
    certs = case["green"].sum(axis=0) if case["green"] is not None else 0
    assert (r.green_wh == contracts + certs).all()
    assert (r.matched_wh.sum(axis=0) + r.excess_wh == r.green_wh).all()
    assert (r.loss_wh == case["extra_loss"]).all()
    shares = (
        (r.loss_location_g.sum(axis=0), r.loss_market_g.sum(axis=0))
        if r.loss_location_g is not None
        else (0, 0)
    )
    assert (shares[0] + r.landlord_location_g == r.loss_location_total_g).all()
    assert (shares[1] + r.landlord_market_g == r.loss_market_total_g).all()
    for a in (r.pv_wh, r.matched_wh, r.residual_wh, r.location_g, r.market_g, r.export_wh):
        assert (a >= 0).all()
    assert (r.pv_wh <= load).all()
    ok = r.tenant_load_wh > 0
    assert (r.hourly_matching_score[ok] <= r.annual_matching_score[ok] + 1e-12).all()


def test_priority_contract_share_and_gross_up_by_hand() -> None:
    load = [[1000], [3000], [500]]
    # Priority 2, 0, 1 with 2 500 Wh of PV: tenant 2 takes 500, tenant 0 1 000, tenant 1
    # the last 1 000.
    r = scope2_hourly(
        load, [2500], location_factor=EAST, residual_factor=RESIDUAL,
        options=Scope2Options(pv_sharing="priority", pv_priority=[2, 0, 1]),
    )  # fmt: skip
    assert r.pv_wh is not None
    assert r.pv_wh[:, 0].tolist() == [1000, 1000, 500]
    # Shares 1:1:2 entitle 625, 625, 1 250; tenant 2 uses its 500, 750 Wh are exported.
    r = scope2_hourly(
        load, [2500], location_factor=EAST, residual_factor=RESIDUAL,
        options=Scope2Options(pv_sharing="contract-share", pv_share=[1, 1, 2]),
    )  # fmt: skip
    assert r.pv_wh is not None
    assert r.pv_wh[:, 0].tolist() == [625, 625, 500]
    assert r.export_wh.tolist() == [750]
    # Losses: the worked example of the module (draws 1 500 and 500 Wh), the gate reads
    # 2 100 Wh: 100 Wh lost, 55 g location and 60.96 -> 61 g market, grossed up 3:1:
    # 41.25 / 13.75 -> 41 / 14 and 45.75 / 15.25 -> 46 / 15.
    r = scope2_hourly(
        [[3000], [1000]], [2000], [[500], [0]], location_factor=EAST,
        residual_factor=RESIDUAL,
        options=Scope2Options(gate_import_wh=[2100], losses="gross-up"),
    )  # fmt: skip
    assert r.loss_location_g is not None
    assert r.loss_market_g is not None
    assert r.loss_location_g[:, 0].tolist() == [41, 14]
    assert r.loss_market_g[:, 0].tolist() == [46, 15]
    assert r.park_location_g.tolist() == [825 + 275 + 55]
    assert r.park_market_g.tolist() == [610 + 305 + 61]


def test_contracts_match_hourly_without_carry_by_hand() -> None:
    # 1 000 Wh of contract in hour 0 and none in hour 1, held 1:2: 333 / 667 (the leftover
    # Wh to the larger remainder). Tenant 0 (200 Wh each hour) matches 200 and leaves 133
    # as excess; annual matching would have counted all 333.
    r = scope2_hourly(
        [[200, 200], [1000, 1000]], [0, 0], location_factor=EAST, residual_factor=RESIDUAL,
        options=Scope2Options(contract_wh=[[1000, 0]], contract_share=[[1, 2]]),
    )  # fmt: skip
    assert r.matched_wh is not None
    assert r.matched_wh.tolist() == [[200, 0], [667, 0]]
    assert r.excess_wh.tolist() == [133, 0]
    assert r.tenant_annual_matched_wh.tolist() == [333, 667]
    np.testing.assert_allclose(r.hourly_matching_score, [200 / 400, 667 / 2000])
    np.testing.assert_allclose(r.annual_matching_score, [333 / 400, 667 / 2000])


def test_split_reference_by_hand() -> None:
    got = split_largest_remainder(
        np.array([10, 7, 5], dtype=np.int64),
        np.array([[1, 0, 1], [1, 0, 2], [1, 5, 1], [0, 0, 2]], dtype=np.int64),
    )
    assert got.T.tolist() == [[4, 3, 3, 0], [0, 0, 7, 0], [1, 2, 1, 1]]


@pytest.mark.parametrize(
    ("kwargs", "field", "row"),
    [
        ({"load_wh": [[1, 2], [3, -4]]}, "load_wh", 1),
        ({"pv_wh": [0, 2**43]}, "pv_wh", 1),
        ({"pv_wh": [0, 0, 0]}, "pv_wh", None),
        ({"green_wh": [[0, 0], [0, -1]]}, "green_wh", 1),
        ({"contract_wh": [[1, 1], [1, -1]], "contract_share": [[1, 1], [1, 1]]}, "contract_wh", 1),
        ({"contract_wh": [[1, 1]], "contract_share": [[0, 0]]}, "contract_share", 0),
        ({"contract_wh": [[1, 1]], "contract_share": [[1, 1, 1]]}, "contract_share", None),
        ({"gate_import_wh": [5, 100]}, "gate_import_wh", 0),
        ({"pv_sharing": "priority", "pv_priority": [0, 0]}, "pv_priority", 1),
        ({"pv_sharing": "priority", "pv_priority": [0, 5]}, "pv_priority", 1),
        ({"pv_sharing": "contract-share", "pv_share": [0, 0]}, "pv_share", None),
        ({"pv_sharing": "sunny"}, "pv_sharing", None),
        ({"losses": "nobody"}, "losses", None),
    ],
)
def test_bad_input_names_field_and_row(kwargs: dict[str, Any], field: str, row: int | None) -> None:
    args: dict[str, Any] = {"load_wh": [[10, 10], [10, 10]], "pv_wh": [0, 0]}
    args.update(kwargs)
    inputs = {k: args.pop(k) for k in ("load_wh", "pv_wh", "green_wh") if k in args}
    with pytest.raises(InvalidInputError) as info:
        scope2_hourly(
            location_factor=EAST, residual_factor=RESIDUAL, options=Scope2Options(**args), **inputs
        )
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, row), v


def test_results_are_int32_where_they_fit_and_int64_otherwise() -> None:
    # The (N, H) results narrow to int32 only when every value is known to fit; the
    # integers are the same either way.
    load = np.array([[3000, 10], [1000, 0]], dtype=np.int64)
    pv = np.array([2000, 0], dtype=np.int64)
    small = scope2_hourly(load, pv, location_factor=EAST, residual_factor=RESIDUAL)
    assert small.location_g.dtype == np.int32
    assert small.market_g.dtype == np.int32
    assert small.location_g.tolist() == [[825, 6], [275, 0]]
    assert small.export_wh.dtype == np.int64
    assert small.tenant_location_g.dtype == np.int64
    big = load.copy()
    big[1, 1] = 2**31  # 2.1 GWh in one tenant-hour: no longer fits
    wide = scope2_hourly(big, pv, location_factor=EAST, residual_factor=RESIDUAL)
    assert wide.location_g.dtype == np.int64
    assert wide.location_g[1, 1] == (2**31 * 550_000 + 500_000) // 1_000_000
    assert wide.location_g[0].tolist() == [825, 6]


def test_old_keyword_options_still_work_and_warn() -> None:
    load, pv = [[1000, 0], [3000, 200], [500, 700]], [2500, 100]
    spelled: dict[str, Any] = {
        "pv_sharing": "priority",
        "pv_priority": [2, 0, 1],
        "contract_wh": [[400, 300]],
        "contract_share": [[1, 2, 0]],
        "gate_import_wh": [3000, 1000],
        "losses": "gross-up",
        "detail": True,
    }
    new = scope2_hourly(
        load, pv, location_factor=EAST, residual_factor=RESIDUAL, options=Scope2Options(**spelled)
    )
    with pytest.warns(
        DeprecationWarning, match=r"scope2_hourly\(\.\.\., pv_sharing=, .*detail=\) is deprecated"
    ):
        old = scope2_hourly(load, pv, location_factor=EAST, residual_factor=RESIDUAL, **spelled)
    for f in fields(Scope2Result):
        got, expected = getattr(old, f.name), getattr(new, f.name)
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(got, expected, err_msg=f.name)
            assert got.dtype == expected.dtype, f.name
        elif f.name != "inputs":
            assert got == expected, f.name
    assert old.manifest == new.manifest
    assert old.loss_location_g is not None  # the options did reach the engine
    with pytest.raises(InvalidInputError) as info:  # both spellings at once
        scope2_hourly(
            load,
            pv,
            location_factor=EAST,
            residual_factor=RESIDUAL,
            options=Scope2Options(),
            losses="gross-up",
        )
    assert info.value.violations[0].field == "options"
    with pytest.raises(TypeError, match="unexpected keyword argument 'gross_up_losses'"):
        scope2_hourly(
            load, pv, location_factor=EAST, residual_factor=RESIDUAL, gross_up_losses=True
        )


def test_scope2_options_are_checked_when_made() -> None:
    options = Scope2Options(pv_sharing="priority", pv_priority=[1, 0], contract_wh=[[1, 2]])
    assert isinstance(options.contract_wh, np.ndarray)
    assert options.contract_wh.dtype == np.int64
    assert Scope2Options(pv_share=[1.5]).pv_sharing == "pro-rata"  # pv_share unused: unchecked
    for bad, field, row in (
        ({"pv_sharing": "sunny"}, "pv_sharing", None),
        ({"losses": "nobody"}, "losses", None),
        ({"detail": 1}, "detail", None),
        ({"pv_sharing": "contract-share"}, "pv_share", None),
        ({"pv_sharing": "contract-share", "pv_share": [1.5, 1]}, "pv_share", None),
        ({"pv_sharing": "priority"}, "pv_priority", None),
        ({"pv_sharing": "priority", "pv_priority": [1, -1]}, "pv_priority", 1),
        ({"contract_wh": [1, 2]}, "contract_wh", None),
        ({"contract_share": [[0.5]]}, "contract_share", None),
        ({"gate_import_wh": [[1]]}, "gate_import_wh", None),
    ):
        with pytest.raises(InvalidInputError) as info:
            Scope2Options(**bad)
        v = info.value.violations[0]
        assert (v.field, v.row) == (field, row), v
    with pytest.raises(InvalidInputError) as info:
        scope2_hourly(
            [[1]], [0], location_factor=EAST, residual_factor=RESIDUAL,
            options={"detail": True},  # type: ignore[arg-type]
        )  # fmt: skip
    assert info.value.violations[0].field == "options"
