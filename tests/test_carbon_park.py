"""Park-level carbon accounting: a small park worked by hand, the demo park's
reconciliation and audit trail, the CLI, and bad input naming table, column and row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.carbon import canonical_row, chain_head, verify
from zone_opt.carbon.audit import GENESIS
from zone_opt.carbon.park import ParkCarbonConfig, allocate_park, load_park_config
from zone_opt.cli import main
from zone_opt.errors import InvalidInputError

DEMO = Path(__file__).resolve().parent.parent / "datasets" / "carbon_demo"
TZ = dt.timezone(dt.timedelta(hours=8))
A, B = "91320500AAAAAAAAAA", "91320500BBBBBBBBBB"


def _meters(rows: list[tuple[str, int, float, float, float]]) -> pa.Table:
    start = dt.datetime(2025, 1, 1, tzinfo=TZ)
    return pa.table(
        {
            "enterprise_id": [r[0] for r in rows],
            "hour": pa.array(
                [start + dt.timedelta(hours=r[1]) for r in rows],
                pa.timestamp("s", tz="Asia/Shanghai"),
            ),
            "electricity_kwh": [r[2] for r in rows],
            "heat_gj": [r[3] for r in rows],
            "gas_m3": [r[4] for r in rows],
        }
    )


def _small(**overrides: Any) -> ParkCarbonConfig:
    raw: dict[str, Any] = {
        "park_id": "PX",
        "start": "2025-01-01T00:00",
        "hours": 2,
        "grid": {"factor_set": "MEE-2023", "grid_region": "east", "loss_pct": 10.0},
        "pv": {"kwp": 0},
        "facilities": [
            {
                "id": "WWTP",
                "annual_co2e_t": 8.76,  # 1 kg per hour
                "split_by": "fixed",
                "products": [
                    {"name": "power", "key": "volume_m3", "share": 3},
                    {"name": "process", "key": "cod_kg", "share": 1},
                ],
                "keys": {A: {"volume_m3": 1, "cod_kg": 0}, B: {"volume_m3": 2, "cod_kg": 0}},
            }
        ],
        "tenants": [A, B],
    }
    raw.update(overrides)
    return ParkCarbonConfig.from_dict(raw)


def test_small_park_by_hand() -> None:
    # Hour 0: A uses 3 kWh and 1 m3 of gas, B 1 kWh. Hour 1: A 0, B 2 kWh.
    meters = _meters([(A, 0, 3.0, 0.0, 1.0), (B, 0, 1.0, 0.0, 0.0), (B, 1, 2.0, 0.0, 0.0)])
    r = allocate_park(_small(), meters)
    annual = {
        (e, s, src): g
        for e, s, src, g in zip(
            *(r.annual[c].to_pylist() for c in r.annual.column_names), strict=True
        )
    }
    # Location at 0.55 g/Wh: A 3000 Wh -> 1650 g; B 1000 + 2000 Wh -> 550 + 1100 g.
    assert annual[(A, "scope2-location", "grid-electricity")] == 1650
    assert annual[(B, "scope2-location", "grid-electricity")] == 1650
    # Market at 0.6096 g/Wh: 3000 -> 1828.8 -> 1829; 1000 -> 609.6 -> 610; 2000 -> 1219.2 -> 1219.
    assert annual[(A, "scope2-market", "grid-electricity")] == 1829
    assert annual[(B, "scope2-market", "grid-electricity")] == 610 + 1219
    # Losses 10 % of the draw, kept by the landlord: 400 Wh -> 220 g, 200 Wh -> 110 g.
    assert annual[("landlord", "scope2-location", "grid-losses")] == 330
    # Gas: 1 m3 x 2162 g.
    assert annual[(A, "scope1", "natural-gas")] == 2162
    # WWTP: 1000 g per hour, power 750 g split 1:2 -> 250 / 500 each hour; the process
    # product has no users (all COD keys are 0): 250 g per hour to the landlord.
    assert annual[(A, "scope3", "WWTP/power")] == 500
    assert annual[(B, "scope3", "WWTP/power")] == 1000
    assert annual[("landlord", "scope3", "WWTP/process")] == 500
    for row in r.reconciliation.to_pylist():
        assert row["balanced"], row
        assert row["tenants_g"] + row["landlord_g"] + row["export_g"] == row["inventory_g"]
    kpi = r.kpis.to_pylist()[-1]
    assert kpi["enterprise_id"] == "park"
    # Park, market-based: 1829 + 1829 + losses 244 + 122 (400 / 200 Wh at 0.6096) + gas
    # 2162 + WWTP 2000 g.
    assert kpi["co2e_market_t"] == pytest.approx((1829 + 1829 + 244 + 122 + 2162 + 2000) / 1e6)


def test_chp_heat_per_user_by_hand() -> None:
    # Hour 0: A meters 1 GJ of steam, B 3 GJ. Network losses 50 %: the CHP sends 8 GJ, so
    # 4 GJ are lost; power 0.5 x 8 = 4 GJ; fuel (8 + 4) / 0.75 = 16 GJ at 50 kg/GJ = 800 kg.
    # Energy-content split: heat 800 000 x 8/12 = 533 333.3 -> 533 333 g, power 266 667 g
    # (larger remainder), exported. Heat by metered GJ, losses to the landlord, weights
    # 1 : 3 : 4 -> 66 666.625, 199 999.875, 266 666.5 -> floors + the 2 g left to the
    # largest remainders (B .875, A .625): A 66 667, B 200 000, landlord 266 666.
    chp = {
        "method": "energy_content",
        "network_loss_pct": 50,
        "power_to_heat": 0.5,
        "fuel_efficiency": 0.75,
        "fuel_co2e_kg_per_gj": 50,
    }
    meters = _meters([(A, 0, 1.0, 1.0, 0.0), (B, 0, 1.0, 3.0, 0.0)])
    r = allocate_park(_small(chp=chp, facilities=[]), meters)
    rows = r.rows
    chp_rows = rows.filter(
        pc.and_(pc.equal(rows["scope"], "scope2-market"), pc.equal(rows["source"], "chp"))
    )
    got = dict(
        zip(chp_rows["enterprise_id"].to_pylist(), chp_rows["co2e_g"].to_pylist(), strict=True)
    )
    assert got == {A: 66_667, B: 200_000, "landlord": 266_666, "export": 266_667}
    recon = [row for row in r.reconciliation.to_pylist() if row["source"] == "chp"]
    assert all(row["inventory_g"] == 800_000 and row["balanced"] for row in recon)


@pytest.fixture(scope="module")
def demo() -> Any:
    config = load_park_config(DEMO / "park.yaml")
    tables = {k: pq.read_table(v) for k, v in config.tables.items()}
    return config, tables, allocate_park(config, pq.read_table(DEMO / "meters.parquet"), **tables)


def test_demo_reconciles_and_rows_add_up(demo: Any) -> None:
    _config, _tables, r = demo
    recon = r.reconciliation.to_pylist()
    assert recon
    assert all(row["balanced"] for row in recon)
    sources = {row["source"] for row in recon}
    assert {"grid-electricity", "grid-losses", "natural-gas", "chp"} <= sources
    # The rows of each method add up to the inventory of each source.
    for method in ("location", "market"):
        scopes = ["scope1", "scope3", f"scope2-{method}"]
        rows = r.rows.filter(pc.is_in(r.rows["scope"], value_set=pa.array(scopes)))
        sums = rows.group_by("source").aggregate([("co2e_g", "sum")]).to_pydict()
        by_source = dict(zip(sums["source"], sums["co2e_g_sum"], strict=True))
        for row in recon:
            if row["method"] == method:
                assert by_source[row["source"]] == row["inventory_g"], row
    assert (np.asarray(r.rows["co2e_g"]) != 0).all()
    kpi = r.kpis.to_pylist()[-1]
    assert 0 < kpi["clean_electricity_share"] < 1
    assert kpi["hourly_matching_score"] <= kpi["annual_matching_score"] + 1e-12


def test_demo_audit_trail(demo: Any) -> None:
    config, tables, r = demo
    assert r.manifest["audit"]["merkle_root"] == r.audit_root.hex()
    assert r.audit_head == chain_head(GENESIS, r.audit_root)
    for i in (0, 1, r.rows.num_rows // 2, r.rows.num_rows - 1):
        row, p = r.proof(i)
        rec = r.rows.slice(i, 1).to_pylist()[0]
        expected = canonical_row(
            rec["park_id"], rec["enterprise_id"], rec["scope"], rec["source"],
            int(rec["hour"].timestamp()), rec["co2e_g"],
        )  # fmt: skip
        assert row == expected
        assert verify(row, p, r.audit_root)
        tampered = canonical_row(
            rec["park_id"], rec["enterprise_id"], rec["scope"], rec["source"],
            int(rec["hour"].timestamp()), rec["co2e_g"] + 1,
        )  # fmt: skip
        assert not verify(tampered, p, r.audit_root)
    # Deterministic, and chained to the previous head.
    again = allocate_park(
        config, pq.read_table(DEMO / "meters.parquet"), previous_head=r.audit_head, **tables
    )
    assert again.audit_root == r.audit_root
    assert again.audit_head == chain_head(r.audit_head, r.audit_root) != r.audit_head
    assert r.manifest["inputs_sha256"]["meters"] == again.manifest["inputs_sha256"]["meters"]


def test_cli_runs_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["carbon", "allocate", "--meters", str(DEMO / "meters.parquet"),
            "--park", str(DEMO / "park.yaml"), "--out", str(tmp_path)]  # fmt: skip
    # The report is tested in tests/reports/test_carbon_report.py; here the tables and
    # the chain (--no-chart is the deprecated spelling of --no-report).
    assert main([*args, "--no-report"]) == 0
    assert "reconciliation balanced" in capsys.readouterr().out
    for name in ("rows", "annual", "kpis", "reconciliation", "hourly"):
        assert pq.read_table(tmp_path / f"{name}.parquet").num_rows > 0
    assert not (tmp_path / "report.html").exists()
    assert main([*args, "--no-chart"]) == 0
    assert not (tmp_path / "report.html").exists()
    lines = (tmp_path / "chain.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert '"previous": "' + "00" * 32 in lines[0]


@pytest.mark.parametrize(
    ("rows", "field", "row"),
    [
        ([(A, 0, 1.0, 0.0, 0.0), (B, 1, -2.0, 0.0, 0.0)], "meters.electricity_kwh", 1),
        ([(A, 0, 1.0, 0.0, 0.0), (B, 1, 1.0, float("nan"), 0.0)], "meters.heat_gj", 1),
        ([(A, 0, 1.0, 0.0, 0.0), (A, 5, 1.0, 0.0, 0.0)], "meters.hour", 1),
        ([(A, 0, 1.0, 0.0, 0.0), (A, -1, 1.0, 0.0, 0.0)], "meters.hour", 1),
        ([(A, 1, 1.0, 0.0, 0.0), (B, 0, 1.0, 0.0, 0.0), (A, 1, 2.0, 0.0, 0.0)], "meters.hour", 2),
        # Beyond the meters table's ceilings: named in kWh, never an overflowed Wh count.
        ([(A, 0, 1.0, 0.0, 0.0), (B, 1, 1e300, 0.0, 0.0)], "meters.electricity_kwh", 1),
        ([(A, 0, 1.0, 1e9, 0.0)], "meters.heat_gj", 0),
        ([(A, 0, 1.0, 0.0, float("inf"))], "meters.gas_m3", 0),
    ],
)
def test_bad_meters_name_table_column_and_row(
    rows: list[tuple[str, int, float, float, float]], field: str, row: int
) -> None:
    with pytest.raises(InvalidInputError) as info:
        allocate_park(_small(), _meters(rows))
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, row), v


def test_unknown_factor_set_and_bad_config() -> None:
    meters = _meters([(A, 0, 1.0, 0.0, 0.0)])
    with pytest.raises(InvalidInputError) as info:
        allocate_park(_small(grid={"factor_set": "MEE-2031"}), meters)
    assert info.value.violations[0].field == "factor_set"
    with pytest.raises(InvalidInputError) as info:
        allocate_park(_small(grid={"factor_set": "MEE-2023", "grid_region": "mars"}), meters)
    assert info.value.violations[0].field == "grid_region"
    with pytest.raises(InvalidInputError) as info:
        ParkCarbonConfig.from_dict({"start": "2025-01-01"})
    assert info.value.violations[0].field == "park.park_id"
    with pytest.raises(InvalidInputError) as info:
        allocate_park(_small(contracts=[{"annual_mwh": 1, "holders": {"9132NOBODY": 1}}]), meters)
    assert (info.value.violations[0].field, info.value.violations[0].row) == (
        "park.contracts.holders",
        0,
    )


def test_pv_key_and_loss_policy_are_checked_when_the_park_file_is_read() -> None:
    for overrides, field in (
        ({"pv": {"kwp": 0, "sharing": "sunny"}}, "park.pv.sharing"),
        ({"grid": {"factor_set": "MEE-2023", "losses": "nobody"}}, "park.grid.losses"),
    ):
        with pytest.raises(InvalidInputError) as info:
            _small(**overrides)
        assert info.value.violations[0].field == field


@st.composite
def small_parks(draw: st.DrawFn) -> tuple[ParkCarbonConfig, pa.Table]:
    tenants = [f"9132050{k:011d}" for k in range(draw(st.integers(1, 4)))]
    hours = draw(st.integers(1, 6))
    kwh = st.one_of(st.just(0.0), st.floats(0, 500, allow_nan=False))
    rows = [
        (e, h, draw(kwh), draw(st.floats(0, 5)), draw(st.floats(0, 20)))
        for e in tenants
        for h in range(hours)
        if draw(st.booleans()) or h == 0
    ]
    sharing = draw(st.sampled_from(["pro-rata", "contract-share", "priority"]))
    raw: dict[str, Any] = {
        "park_id": "PH",
        "start": "2025-01-01T00:00",
        "hours": hours,
        "tenants": tenants,
        "grid": {
            "factor_set": "MEE-2022",
            "grid_region": "south",
            "residual_factor_set": "MEE-2022-residual",
            "loss_pct": draw(st.sampled_from([0.0, 3.5])),
            "losses": draw(st.sampled_from(["landlord", "gross-up"])),
        },
        "pv": {
            "kwp": draw(st.sampled_from([0, 200, 5000])),
            "sharing": sharing,
            "shares": {tenants[0]: 1},
            "priority": tenants[::-1],
        },
        "contracts": [{"annual_mwh": 2000, "holders": {tenants[-1]: 1}}],
        "chp": {"method": "efficiency"} if draw(st.booleans()) else None,
    }
    return ParkCarbonConfig.from_dict(raw), _meters(rows).slice(0)


@settings(max_examples=40, deadline=None)
@given(small_parks(), st.randoms(use_true_random=False))
def test_random_parks_reconcile_and_ignore_meter_row_order(
    case: tuple[ParkCarbonConfig, pa.Table], rnd: Any
) -> None:
    config, meters = case
    r = allocate_park(config, meters)
    for row in r.reconciliation.to_pylist():
        assert row["balanced"], row
        assert min(row["tenants_g"], row["landlord_g"], row["export_g"]) >= 0
    assert (np.asarray(r.rows["co2e_g"]) > 0).all()
    order = list(range(meters.num_rows))
    rnd.shuffle(order)
    again = allocate_park(config, meters.take(order))
    assert again.rows.equals(r.rows)
    assert again.audit_root == r.audit_root
