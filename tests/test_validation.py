"""Table validation: every rule reports table.column, the row and the reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from zone_opt import _core
from zone_opt.datasets import Region, read_region
from zone_opt.errors import InvalidInputError, Violation
from zone_opt.schemas import ENTERPRISES, GRID_FACTORS, METERS, PARKS, SPACES, TENANCIES
from zone_opt.validation import MAX_ROWS_PER_RULE, validate_table, validate_tables

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"


@pytest.fixture(scope="module")
def region() -> Region:
    return read_region(SAMPLE)


def _set(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def _violations(excinfo: pytest.ExceptionInfo[InvalidInputError]) -> list[Violation]:
    return list(excinfo.value.violations)


def _find(violations: list[Violation], field: str, row: int | None) -> Violation:
    found = [v for v in violations if v.field == field and v.row == row]
    assert found, f"no violation for {field} row {row} in {violations}"
    return found[0]


def test_negative_area_bad_credit_code_and_dangling_park_are_each_named(region: Region) -> None:
    """Acceptance: one error names the negative area, the bad code and the dangling park."""
    spaces = _set(region.spaces, "area_m2", 3, -120.0)
    spaces = _set(spaces, "park_id", 7, "P99999")
    code = region.enterprises.column("enterprise_id")[5].as_py()
    bad_code = code[:-1] + ("0" if code[-1] != "0" else "1")
    enterprises = _set(region.enterprises, "enterprise_id", 5, bad_code)
    tables = {**region.tables(), "spaces": spaces, "enterprises": enterprises}
    with pytest.raises(InvalidInputError) as info:
        validate_tables(tables)
    found = _violations(info)
    assert "-120.0" in _find(found, "spaces.area_m2", 3).reason
    assert "P99999" in _find(found, "spaces.park_id", 7).reason
    reason = _find(found, "enterprises.enterprise_id", 5).reason
    assert "check character" in reason
    assert bad_code in reason
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "spaces.area_m2 (row 3)" in message
    assert "spaces.park_id (row 7)" in message
    assert "enterprises.enterprise_id (row 5)" in message


def test_valid_sample_passes_and_comes_back_conformed(region: Region) -> None:
    out = validate_tables(region.tables())
    for name, table in out.items():
        assert table.equals(region.tables()[name]), name


def test_missing_and_extra_columns(region: Region) -> None:
    table = region.parks.drop_columns(["lat"]).append_column("colour", pa.array(["red"] * 6))
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, PARKS)
    found = _violations(info)
    assert "missing" in _find(found, "parks.lat", None).reason
    assert "unexpected" in _find(found, "parks.colour", None).reason


def test_wrong_type_is_named_and_lossless_casts_are_accepted(region: Region) -> None:
    spaces = region.spaces
    i = spaces.schema.get_field_index("area_m2")
    as_text = spaces.set_column(i, "area_m2", pc.cast(spaces.column("area_m2"), pa.string()))
    with pytest.raises(InvalidInputError) as info:
        validate_table(as_text, SPACES)
    assert "expected double" in _find(_violations(info), "spaces.area_m2", None).reason

    loose = spaces.set_column(
        spaces.schema.get_field_index("space_id"),
        "space_id",
        pc.cast(spaces.column("space_id"), pa.large_string()),
    ).set_column(
        spaces.schema.get_field_index("floor"), "floor", pc.cast(spaces.column("floor"), pa.int64())
    )
    out = validate_table(loose, SPACES)
    assert out.schema.equals(SPACES.schema)
    assert out.column("space_id").equals(spaces.column("space_id"))

    floors = spaces.column("floor").to_pylist()
    floors[2] = 70000
    too_big = loose.set_column(
        spaces.schema.get_field_index("floor"), "floor", pa.array(floors, pa.int64())
    )
    with pytest.raises(InvalidInputError) as info:
        validate_table(too_big, SPACES)
    assert "expected int16" in _find(_violations(info), "spaces.floor", None).reason


def test_nulls_where_forbidden(region: Region) -> None:
    table = _set(region.spaces, "kind", 4, None)
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, SPACES)
    assert _find(_violations(info), "spaces.kind", 4).reason == "null"
    # An open-ended lease (null end) is allowed.
    validate_table(_set(region.tenancies, "end", 0, None), TENANCIES)


def test_nan_and_range_rules(region: Region) -> None:
    table = _set(region.parks, "lat", 1, 95.0)
    table = _set(table, "lon", 2, -181.0)
    table = _set(table, "power_capacity_kva", 3, float("nan"))
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, PARKS)
    found = _violations(info)
    assert "maximum 90" in _find(found, "parks.lat", 1).reason
    assert "minimum -180" in _find(found, "parks.lon", 2).reason
    assert _find(found, "parks.power_capacity_kva", 3).reason == "NaN"
    assert len(found) == 3


def test_positive_rule_rejects_zero_area(region: Region) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_table(_set(region.spaces, "area_m2", 0, 0.0), SPACES)
    assert "at or below the minimum 0" in _find(_violations(info), "spaces.area_m2", 0).reason


def test_min_above_max(region: Region) -> None:
    table = _set(region.enterprises, "area_min_m2", 9, 1e6)
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, ENTERPRISES)
    assert "above area_max_m2" in _find(_violations(info), "enterprises.area_min_m2", 9).reason


def test_lease_ending_before_it_starts(region: Region) -> None:
    start = region.tenancies.column("start")[0].as_py()
    table = _set(region.tenancies, "end", 0, start - dt.timedelta(days=1))
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, TENANCIES)
    assert "above end" in _find(_violations(info), "tenancies.start", 0).reason


def test_duplicate_keys_single_and_composite(region: Region) -> None:
    first = region.spaces.column("space_id")[0].as_py()
    with pytest.raises(InvalidInputError) as info:
        validate_table(_set(region.spaces, "space_id", 10, first), SPACES)
    assert "of row 0" in _find(_violations(info), "spaces.space_id", 10).reason

    gf = region.grid_factors
    dup = pa.concat_tables([gf, gf.slice(4, 1)])
    with pytest.raises(InvalidInputError) as info:
        validate_table(dup, GRID_FACTORS)
    v = _find(_violations(info), "grid_factors.factor_set", gf.num_rows)
    assert "(factor_set, grid_region, year) of row 4" in v.reason


def test_dangling_references_need_context(region: Region) -> None:
    table = _set(region.tenancies, "space_id", 2, "P00001-9999")
    validate_table(table, TENANCIES)  # no context: references unchecked
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, TENANCIES, context={"spaces": region.spaces})
    assert "no such spaces.space_id" in _find(_violations(info), "tenancies.space_id", 2).reason


def test_missing_referenced_table_is_reported(region: Region) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_tables({"spaces": region.spaces})
    assert "parks" in _find(_violations(info), "spaces.park_id", None).reason


def test_choices_in_plain_and_list_columns(region: Region) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_table(_set(region.spaces, "kind", 1, "garage"), SPACES)
    assert "'garage' not one of" in _find(_violations(info), "spaces.kind", 1).reason
    with pytest.raises(InvalidInputError) as info:
        validate_table(_set(region.enterprises, "space_kinds", 6, ["office", "roof"]), ENTERPRISES)
    assert "'roof'" in _find(_violations(info), "enterprises.space_kinds", 6).reason


def test_industry_codes_outside_gbt_4754(region: Region) -> None:
    table = _set(region.enterprises, "industry_code", 0, "98")
    table = _set(table, "supplier_industries", 11, ["39", "3A"])
    table = _set(table, "customer_industries", 12, ["00"])
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, ENTERPRISES)
    found = _violations(info)
    assert "GB/T 4754-2017" in _find(found, "enterprises.industry_code", 0).reason
    assert "'3A'" in _find(found, "enterprises.supplier_industries", 11).reason
    assert "'00'" in _find(found, "enterprises.customer_industries", 12).reason
    with pytest.raises(InvalidInputError) as info:
        validate_table(_set(region.parks, "permitted_industries", 0, ["99"]), PARKS)
    _find(_violations(info), "parks.permitted_industries", 0)


def test_each_credit_code_problem_is_classified(region: Region) -> None:
    good = region.enterprises.column("enterprise_id")[0].as_py()
    table = _set(region.enterprises, "enterprise_id", 1, good[:17])
    table = _set(table, "enterprise_id", 2, good[:10] + "I" + good[11:])
    table = _set(table, "enterprise_id", 3, good[:-1] + ("Y" if good[-1] != "Y" else "X"))
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, ENTERPRISES)
    found = _violations(info)
    assert "18 characters" in _find(found, "enterprises.enterprise_id", 1).reason
    assert "character outside" in _find(found, "enterprises.enterprise_id", 2).reason
    assert "check character" in _find(found, "enterprises.enterprise_id", 3).reason


def test_credit_codes_checked_on_a_sliced_chunked_column(region: Region) -> None:
    ids = region.enterprises.column("enterprise_id").to_pylist()
    ids[7] = "91440300MA5FXXXX10"
    chunked = pa.chunked_array([pa.array(ids[:5]), pa.array(ids[5:])])
    table = region.enterprises.slice(0, len(ids)).set_column(0, "enterprise_id", chunked)
    sliced = table.slice(3)
    with pytest.raises(InvalidInputError) as info:
        validate_table(sliced, ENTERPRISES)
    assert [v.row for v in _violations(info)] == [4]


def test_generated_codes_agree_with_an_independent_check(region: Region) -> None:
    charset = _core.USCC_CHARSET
    for code in region.enterprises.column("enterprise_id").to_pylist()[:200]:
        total = sum(
            charset.index(c) * w for c, w in zip(code[:17], _core.USCC_WEIGHTS, strict=False)
        )
        assert charset[(31 - total % 31) % 31] == code[17]
        assert code[:2] == "91"


def test_many_bad_rows_are_capped_but_counted(region: Region) -> None:
    spaces = region.spaces
    negative = pc.negate(spaces.column("area_m2"))
    table = spaces.set_column(spaces.schema.get_field_index("area_m2"), "area_m2", negative)
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, SPACES)
    found = [v for v in _violations(info) if v.field == "spaces.area_m2"]
    assert len(found) == MAX_ROWS_PER_RULE + 1
    assert found[-1].row is None
    assert f"{spaces.num_rows} rows in all" in found[-1].reason


def test_large_tables_validate_without_row_loops() -> None:
    n = 200_000
    rng = np.random.default_rng(1)
    table = pa.table(
        {
            "factor_set": pa.array(np.char.add("S", np.arange(n).astype(str))),
            "grid_region": pa.array(np.array(["east", "south"])[rng.integers(0, 2, n)]),
            "year": pa.array(np.full(n, 2023, dtype=np.int16)),
            "co2e_kg_per_kwh": pa.array(rng.random(n)),
            "source": pa.array(["x"] * n),
        }
    )
    assert validate_table(table, GRID_FACTORS).num_rows == n


def test_timestamps_in_another_unit_or_zone_are_conformed(region: Region) -> None:
    meters = region.meters.slice(0, 50)
    i = meters.schema.get_field_index("hour")
    utc_ms = pc.cast(meters.column("hour"), pa.timestamp("ms", tz="UTC"))
    out = validate_table(meters.set_column(i, "hour", utc_ms), METERS)
    assert out.column("hour").equals(meters.column("hour"))
    naive = pc.cast(pc.cast(meters.column("hour"), pa.int64()), pa.timestamp("s"))
    with pytest.raises(InvalidInputError) as info:
        validate_table(meters.set_column(i, "hour", naive), METERS)
    assert "expected timestamp" in _find(_violations(info), "meters.hour", None).reason


def test_list_violations_quote_each_rows_own_item(region: Region) -> None:
    table = region.enterprises
    for row in range(30):
        table = _set(table, "supplier_industries", row, ["39", f"X{row}", f"Y{row}"])
    with pytest.raises(InvalidInputError) as info:
        validate_table(table, ENTERPRISES)
    found = [v for v in _violations(info) if v.field == "enterprises.supplier_industries"]
    assert len(found) == MAX_ROWS_PER_RULE + 1
    for v in found[:-1]:
        assert f"'X{v.row}'" in v.reason
    assert "30 rows in all" in found[-1].reason
