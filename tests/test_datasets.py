"""The synthetic region: determinism, validity, documented distributions, Parquet round trip."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import zone_opt.datasets
from zone_opt.datasets import (
    PRESET_ALIASES,
    PRESETS,
    SAMPLE_DIR,
    TABLE_NAMES,
    Region,
    RegionSize,
    preset_region,
    pv_profile_kw_per_kwp,
    read_region,
    synthetic_region,
    write_region,
)
from zone_opt.datasets.cities import CITIES
from zone_opt.datasets.profiles import ENTERPRISE_MIX, weekly_shapes
from zone_opt.errors import InvalidInputError
from zone_opt.industries import SECTION_OF_DIVISION, SUPPLY_AFFINITY
from zone_opt.schemas import TABLES

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "sample"


@pytest.fixture(scope="module")
def sample() -> Region:
    return preset_region("sample")


def test_bundled_sample_is_the_sample_preset_and_valid(sample: Region) -> None:
    bundled = read_region(SAMPLE)  # validates
    for name, table in sample.tables().items():
        assert table.equals(bundled.tables()[name]), name
        assert table.schema.equals(TABLES[name].schema, check_metadata=True), name


def test_same_seed_same_region_other_seed_other_region(sample: Region) -> None:
    again = synthetic_region(RegionSize(6, 1_000, 2_000, 168), seed=0)
    assert all(
        a.equals(b) for a, b in zip(sample.tables().values(), again.tables().values(), strict=False)
    )
    other = synthetic_region(RegionSize(6, 1_000, 2_000, 168), seed=1)
    assert not other.enterprises.equals(sample.enterprises)
    other.validate()


@pytest.mark.parametrize(
    ("parks", "spaces", "enterprises", "hours"),
    [(1, 1, 1, 0), (3, 50, 10, 5), (40, 2_000, 30_000, 0)],
)
def test_other_sizes_are_valid(parks: int, spaces: int, enterprises: int, hours: int) -> None:
    region = synthetic_region(RegionSize(parks, spaces, enterprises, hours), seed=3)
    region.validate()
    assert region.parks.num_rows == parks
    assert region.spaces.num_rows == spaces
    assert region.enterprises.num_rows == enterprises
    assert region.tenancies.num_rows <= min(spaces, enterprises)
    assert region.meters.num_rows == region.tenancies.num_rows * hours


def test_enterprise_ids_are_unique_credit_codes_with_city_regions(sample: Region) -> None:
    ids = sample.enterprises.column("enterprise_id")
    assert pc.count_distinct(ids).as_py() == sample.enterprises.num_rows
    regions = {c.region_code for c in CITIES}
    assert set(pc.utf8_slice_codeunits(ids, 2, 8).to_pylist()) <= regions


def test_parks_sit_near_their_city_with_its_grid_region(sample: Region) -> None:
    by_code = {c.region_code: c for c in CITIES}
    for park in sample.parks.to_pylist():
        city = by_code[park["region_code"]]
        assert park["grid_region"] == city.grid_region
        assert abs(park["lat"] - city.lat) < 1.0
        assert abs(park["lon"] - city.lon) < 1.2
    # The six sample parks cover six different cities.
    assert len({p["region_code"] for p in sample.parks.to_pylist()}) == 6


def test_tenants_fit_the_space_they_occupy(sample: Region) -> None:
    t = sample.tenancies
    ents = sample.enterprises.take(
        pc.index_in(t.column("enterprise_id"), value_set=sample.enterprises.column("enterprise_id"))
    )
    spaces = sample.spaces.take(
        pc.index_in(t.column("space_id"), value_set=sample.spaces.column("space_id"))
    )
    area = spaces.column("area_m2").to_numpy()
    assert np.all(ents.column("area_min_m2").to_numpy() <= area)
    assert np.all(area <= ents.column("area_max_m2").to_numpy())
    load = ents.column("min_floor_load_kn_m2").to_numpy()
    assert np.all(load <= spaces.column("floor_load_kn_m2").to_numpy())
    height = ents.column("min_ceiling_height_m").to_numpy()
    assert np.all(height <= spaces.column("ceiling_height_m").to_numpy())
    assert np.all(ents.column("power_need_kva").to_numpy() <= spaces.column("power_kva").to_numpy())
    assert np.all(
        ents.column("max_rent_cny_per_m2_month").to_numpy()
        >= spaces.column("rent_cny_per_m2_month").to_numpy()
    )
    hazardous = ents.column("hazardous_process").to_numpy(zero_copy_only=False)
    permit = spaces.column("hazardous_permit").to_numpy(zero_copy_only=False)
    assert not np.any(hazardous & ~permit)
    kinds = ents.column("space_kinds").to_pylist()
    assert all(k in ks for k, ks in zip(spaces.column("kind").to_pylist(), kinds, strict=True))
    # Each park admits its tenants' divisions.
    parks = {p["park_id"]: set(p["permitted_industries"]) for p in sample.parks.to_pylist()}
    for park, code in zip(
        spaces.column("park_id").to_pylist(), ents.column("industry_code").to_pylist(), strict=True
    ):
        assert not parks[park] or code in parks[park]
    # Let spaces become available when their lease ends.
    ends = t.column("end").to_pylist()
    available = spaces.column("available_from").to_pylist()
    assert all(e is None or a > e for a, e in zip(available, ends, strict=True))


def test_floor_loads_follow_industry_going_upstairs(sample: Region) -> None:
    s = sample.spaces.filter(pc.equal(sample.spaces.column("kind"), "factory_floor"))
    floor = s.column("floor").to_numpy()
    load = s.column("floor_load_kn_m2").to_numpy()
    height = s.column("ceiling_height_m").to_numpy()
    assert np.all(load[floor == 1] >= 20)
    assert np.all((load[floor >= 2] >= 8) & (load[floor >= 2] <= 15))
    assert np.all(height[floor == 1] >= 6)
    assert np.all(height[floor >= 2] >= 4.5)
    offices = sample.spaces.filter(pc.equal(sample.spaces.column("kind"), "office"))
    assert set(offices.column("floor_load_kn_m2").to_pylist()) <= {2.0, 2.5, 3.0}


def test_shenzhen_rents_are_above_inland_rents(sample: Region) -> None:
    spaces = sample.spaces.join(sample.parks.select(["park_id", "region_code"]), "park_id")
    factory = spaces.filter(pc.equal(spaces.column("kind"), "factory_floor"))

    def median(code: str) -> float:
        rows = factory.filter(pc.equal(factory.column("region_code"), code))
        return float(np.median(rows.column("rent_cny_per_m2_month").to_numpy()))

    shenzhen, wuhan = median("440300"), median("420100")
    assert 30 <= shenzhen <= 80
    assert wuhan < shenzhen


def test_industry_mix_is_mostly_manufacturing(sample: Region) -> None:
    codes = sample.enterprises.column("industry_code").to_pylist()
    manufacturing = sum(SECTION_OF_DIVISION[c] == "C" for c in codes) / len(codes)
    assert 0.5 < manufacturing < 0.8


def test_suppliers_come_from_the_affinity_matrix(sample: Region) -> None:
    for row in sample.enterprises.slice(0, 300).to_pylist():
        buyer = int(row["industry_code"]) - 1
        for s in row["supplier_industries"]:
            assert SUPPLY_AFFINITY[buyer, int(s) - 1] > 0
        for c in row["customer_industries"]:
            weighted = SUPPLY_AFFINITY[:, buyer] * ENTERPRISE_MIX
            assert weighted[int(c) - 1] > 0 or weighted.sum() == 0
        assert row["supplier_industries"] == sorted(set(row["supplier_industries"]))


def test_heavy_industry_needs_more_than_software(sample: Region) -> None:
    e = sample.enterprises
    steel_chem = pc.is_in(e.column("industry_code"), value_set=pa.array(["25", "26", "31"]))
    software = pc.equal(e.column("industry_code"), "65")

    def mean(column: str, mask: pa.ChunkedArray) -> float:
        return float(pc.mean(pc.filter(e.column(column), mask)).as_py())

    for column in ("min_floor_load_kn_m2", "min_ceiling_height_m"):
        assert mean(column, steel_chem) > 2 * mean(column, software)
    intensity = pc.divide(e.column("annual_energy_tce"), e.column("annual_output_cny"))
    assert float(pc.mean(pc.filter(intensity, steel_chem)).as_py()) > 10 * float(
        pc.mean(pc.filter(intensity, software)).as_py()
    )


def test_meters_are_hourly_in_shanghai_time_and_match_annual_energy(sample: Region) -> None:
    m = sample.meters
    assert m.schema.field("hour").type == pa.timestamp("s", tz="Asia/Shanghai")
    first = m.column("hour")[0].as_py()
    assert (first.year, first.month, first.day, first.hour) == (2025, 1, 1, 0)
    assert first.utcoffset().total_seconds() == 8 * 3600
    hours = pc.unique(m.column("hour"))
    assert len(hours) == 168
    # The week's electricity is about a 52nd of the tenants' annual electricity.
    totals = m.group_by("enterprise_id").aggregate([("electricity_kwh", "sum")])
    assert totals.num_rows == sample.tenancies.num_rows
    ents = sample.enterprises.select(["enterprise_id", "annual_energy_tce"]).join(
        totals, "enterprise_id", join_type="inner"
    )
    kwh_week = ents.column("electricity_kwh_sum").to_numpy()
    tce_year = ents.column("annual_energy_tce").to_numpy()
    ratio = kwh_week / (tce_year * 8137.0 * 168 / 8760)
    assert 0.2 < float(np.median(ratio)) <= 1.05


def test_weekly_shapes_have_mean_one_and_quiet_nights() -> None:
    shapes = weekly_shapes()
    np.testing.assert_allclose(shapes.mean(axis=1), 1.0)
    office = shapes[3]
    assert office[10] > 3 * office[3]  # Monday 10:00 against Monday 03:00
    assert office[10] > 3 * office[6 * 24 + 10]  # against Sunday 10:00


def test_pv_profile_follows_the_sun() -> None:
    t0 = 1_750_464_000 - 8 * 3600  # 2025-06-21 00:00 Asia/Shanghai
    hours = t0 + 3600 * np.arange(24, dtype=np.int64)
    shenzhen, harbin = pv_profile_kw_per_kwp([22.54, 45.8], [114.06, 126.5], hours)
    assert np.all(shenzhen[:5] == 0)
    assert np.all(shenzhen[21:] == 0)
    assert 11 <= int(np.argmax(shenzhen)) <= 12
    assert 0.6 < shenzhen.max() < 0.9
    # Further east, the sun rises earlier on the same clock.
    assert np.argmax(harbin > 0) < np.argmax(shenzhen > 0)
    winter = pv_profile_kw_per_kwp([45.8], [126.5], hours - 182 * 86400)[0]
    assert winter.sum() < 0.6 * harbin.sum()


def test_grid_factors_carry_the_mee_values() -> None:
    gf = preset_region("sample").grid_factors.to_pylist()
    by_key = {(r["factor_set"], r["grid_region"], r["year"]): r for r in gf}
    assert by_key[("MEE-2022", "national", 2022)]["co2e_kg_per_kwh"] == 0.5366
    assert by_key[("MEE-2023", "south", 2023)]["co2e_kg_per_kwh"] == 0.4042
    assert by_key[("MEE-2023-residual", "national", 2023)]["co2e_kg_per_kwh"] == 0.6096
    assert all("MEE" in r["source"] for r in gf)


def test_assets_are_sized_to_their_park(sample: Region) -> None:
    a = sample.park_assets
    grid = a.filter(pc.equal(a.column("kind"), "grid_connection"))
    assert grid.num_rows == sample.parks.num_rows
    battery = a.filter(pc.equal(a.column("kind"), "battery")).to_pylist()
    pv = {r["park_id"]: r["power_kw"] for r in a.to_pylist() if r["kind"] == "pv"}
    for b in battery:
        assert b["park_id"] in pv
        assert b["energy_kwh"] in (2 * b["power_kw"], 4 * b["power_kw"])


def test_parquet_round_trip(tmp_path: Path) -> None:
    region = synthetic_region(RegionSize(2, 30, 40, 3), seed=5, start=date(2024, 7, 1))
    write_region(region, tmp_path)
    back = read_region(tmp_path)
    assert all(
        a.equals(b) for a, b in zip(region.tables().values(), back.tables().values(), strict=False)
    )


def test_presets_are_documented_sizes() -> None:
    assert PRESETS["city"].n_spaces == 100_000
    assert PRESETS["city"].n_enterprises == 1_000_000
    assert PRESETS["city"].hours == 0
    assert PRESETS["sample"].hours == 168


def test_the_nation_preset_has_the_issues_sizes() -> None:
    # issue 19: "A `nation` preset (10^7 enterprises, 10^6 spaces)"; 4,500 parks, no meters
    nation = PRESETS["nation"]
    assert (nation.n_enterprises, nation.n_spaces) == (10**7, 10**6)
    assert (nation.n_parks, nation.hours, nation.cities) == (4_500, 0, None)
    assert list(PRESETS) == ["sample", "city", "nation"]


def test_the_old_name_national_still_works_and_warns() -> None:
    assert PRESET_ALIASES == {"national": "nation"}
    assert "national" not in PRESETS
    with pytest.warns(DeprecationWarning, match="'national' is deprecated.*use 'nation'"):
        assert PRESETS["national"] == PRESETS["nation"]
    # preset_region resolves the old name to the nation preset (a bad hours override
    # then stops it before it generates 10^7 enterprises); an unknown name stays a KeyError
    with (
        pytest.warns(DeprecationWarning, match="use 'nation'"),
        pytest.raises(InvalidInputError, match="hours"),
    ):
        preset_region("national", hours=-1)
    with pytest.raises(KeyError):
        preset_region("nations", hours=-1)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="n_parks"):
        RegionSize(0, 10, 10)
    with pytest.raises(ValueError, match="unknown cities"):
        synthetic_region(RegionSize(1, 10, 10, cities=("atlantis",)))


def test_the_old_positional_spelling_still_works_and_warns(sample: Region) -> None:
    with pytest.warns(DeprecationWarning, match="RegionSize"):
        again = synthetic_region(6, 1_000, 2_000, 168, 0)
    assert again.enterprises.equals(sample.enterprises)
    with pytest.warns(DeprecationWarning, match="RegionSize"):
        named = synthetic_region(n_parks=6, n_spaces=1_000, n_enterprises=2_000, hours=168)
    assert named.enterprises.equals(sample.enterprises)
    with (
        pytest.warns(DeprecationWarning, match="RegionSize"),
        pytest.raises(ValueError, match="n_parks"),
    ):
        synthetic_region(0, 10, 10)
    with pytest.warns(DeprecationWarning, match="Preset"):
        assert zone_opt.datasets.Preset is RegionSize


def test_the_bundled_sample_is_the_sample_preset() -> None:
    """An installed package (no datasets/ folder) generates the sample region from its seed;
    it must be the bundled one, table for table."""
    bundled, generated = read_region(SAMPLE_DIR), preset_region("sample")
    for name in TABLE_NAMES:
        assert getattr(generated, name).equals(getattr(bundled, name)), name
