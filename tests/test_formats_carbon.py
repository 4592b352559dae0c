"""A planner's mistakes in a carbon park file, each refused with the file, the line, the key
path, the value and the rule, before any meter is read; the demo park loads as before."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zone_opt.carbon.park import ParkCarbonConfig, load_park_config, parse_park_config
from zone_opt.errors import InvalidInputError

sys.path.insert(0, str(Path(__file__).parent))
from formats_cases import one, problems

DEMO = Path(__file__).resolve().parent.parent / "datasets" / "carbon_demo" / "park.yaml"
TEXT = DEMO.read_text(encoding="utf-8")


def _line(fragment: str) -> int:
    return next(n for n, line in enumerate(TEXT.splitlines(), 1) if fragment in line)


@pytest.fixture
def load_with(tmp_path: Path) -> Callable[..., Callable[[], object]]:
    """``load_with(old, new, ...)``: a loader of the demo park with each ``old`` replaced."""

    def make(*edits: str) -> Callable[[], object]:
        text = TEXT
        for old, new in zip(edits[::2], edits[1::2], strict=True):
            assert old in text, old
            text = text.replace(old, new, 1)
        path = tmp_path / "park.yaml"
        path.write_text(text, encoding="utf-8")
        return lambda: load_park_config(path)

    return make


def _tail(found: str) -> str:
    return found[found.index("park.yaml") :]


def test_misspelt_pv_capacity_is_no_longer_ignored(
    load_with: Callable[..., Callable[[], object]],
) -> None:
    got = one(load_with("kwp: 3000", "kwpp: 3000"))
    assert _tail(got) == f"park.yaml:{_line('kwp:')}: pv.kwpp: unknown key; did you mean 'kwp'?"


def test_negative_pv_in_the_users_words(load_with: Callable[..., Callable[[], object]]) -> None:
    got = one(load_with("kwp: 3000", "kwp: -3000"))
    assert _tail(got) == f"park.yaml:{_line('kwp:')}: pv.kwp: -3000 must be >= 0 kWp"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("loss_pct: 2.0", "loss_pct: two"), "grid.loss_pct: 'two' is not a number (%)"),
        (("loss_pct: 2.0", "loss_pct: 100"), "grid.loss_pct: 100 must be < 100 %"),
        (("loss_pct: 2.0", "loss_pct: .nan"), "grid.loss_pct: nan is not a finite number (%)"),
        (
            ("losses: landlord", "losses: tenant"),
            "grid.losses: 'tenant' is not one of: landlord, gross-up",
        ),
        (
            ("sharing: pro-rata", "sharing: prorata"),
            "pv.sharing: 'prorata' is not one of: pro-rata, contract-share, priority; did you "
            "mean 'pro-rata'?",
        ),
        (("hours: 168", "hours: 0"), "hours: 0 must be >= 1 h"),
        (("hours: 168", "hours: 16.8"), "hours: 16.8 is not a whole number (h)"),
        (
            ('start: "2025-01-01T00:00"', "start: first of January"),
            "start: 'first of January' is not an ISO date or date-time (e.g. 2025-01-01T00:00)",
        ),
        (("lat: 31.396", "lat: 310"), "lat: 310 must be <= 90 °"),
        (
            ("annual_mwh: 12000", "annual_mwh: 1e300"),
            "contracts[0].annual_mwh: 1e300 must be <= 1e+08 MWh/year",
        ),
        (
            ("913205000EQNGLJF8Y: 2, ", "913205000EQNGLJF8Y: -2, "),
            "contracts[0].holders.913205000EQNGLJF8Y: -2 must be >= 0 parts",
        ),
        (
            ("profile: flat", "profile: sunny"),
            "contracts[0].profile: 'sunny' is not one of: flat, solar",
        ),
        (
            ("method: efficiency", "method: exergy_carnot"),
            "chp.steam_temperature_c: is required by method exergy_carnot",
        ),
        (
            ("method: efficiency", "method: efficency"),
            "chp.method: 'efficency' is not one of: efficiency, energy_content, "
            "exergy_carnot; did you mean 'efficiency'?",
        ),
        (("heat_efficiency: 0.80", "heat_efficiency: 80"), "chp.heat_efficiency: 80 must be <= 1"),
        (
            ("split_by: fixed", "split_by: fxed"),
            "facilities[0].split_by: 'fxed' is not one of: energy, exergy, fixed; did you "
            "mean 'fixed'?",
        ),
        (
            ("913205000EQNGLJF8Y: {volume_m3: 2149", "913205000EQNGLJF8Y: {volume_m33: 2149"),
            "facilities[0].keys.913205000EQNGLJF8Y.volume_m33: no product uses the key "
            "'volume_m33'; did you mean 'volume_m3'?",
        ),
        (
            ("share: 0.55", "share: 0", "share: 0.45", "share: 0"),
            "facilities[0].products: split_by fixed needs a product with share > 0",
        ),
        (
            ("annual_co2e_t: 900", "annual_co2e_t: lots"),
            "facilities[0].annual_co2e_t: 'lots' is not a number (t/year)",
        ),
        (
            ("  tenancies: ../sample", "  tenancy: ../sample"),
            "tables.tenancy: key 'tenancy' is not one of: tenancies, spaces, park_assets, "
            "grid_factors; did you mean 'tenancies'?",
        ),
        (
            ("913205000EQNGLJF8Y: 8812000", "913205000EQNGLJF8Y: -8812000"),
            "kpi.output_cny.913205000EQNGLJF8Y: -8812000 must be >= 0 CNY/year",
        ),
        (("pv:\n", "pv: [3000]\nold_pv:\n"), "pv: must be a mapping of keys, got [3000]"),
        (
            ("products:\n", "products: []\n    old_products:\n"),
            "facilities[0].products: needs at least 1 item",
        ),
    ],
)
def test_one_mistake(
    load_with: Callable[..., Callable[[], object]], edit: tuple[str, ...], expected: str
) -> None:
    found = [_tail(f) for f in problems(load_with(*edit))]
    assert any(f.split(": ", 1)[1] == expected for f in found), found
    assert all(f.startswith("park.yaml:") for f in found), found


def test_whole_file_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "park.yaml"
    for text, expected in (
        ("", "park.yaml: is empty: expected a carbon park file"),
        ("P00002\n", "park.yaml: must be a mapping of keys, got 'P00002'"),
        ("park_id: [P0\n", "park.yaml:2: not valid YAML"),
        ("start: 2025-01-01\n", "park.yaml: park_id: is required"),
    ):
        path.write_text(text, encoding="utf-8")
        found = problems(lambda: load_park_config(path))
        assert _tail(found[0]).startswith(expected), (text, found)


def test_dicts_and_request_text_name_park_keys() -> None:
    with pytest.raises(InvalidInputError) as info:
        ParkCarbonConfig.from_dict({"park_id": "P", "start": "2025-01-01", "pv": {"kwp": -1}})
    assert [(v.field, v.reason) for v in info.value.violations] == [
        ("park.pv.kwp", "-1 must be >= 0 kWp")
    ]
    got = one(lambda: parse_park_config(TEXT.replace("kwp: 3000", "kwpp: 3000")))
    assert got == f"park.pv.kwpp: unknown key; did you mean 'kwp'? (line {_line('kwp:')})"


def test_demo_park_loads_as_before() -> None:
    config = load_park_config(DEMO)
    # The canonical JSON (the input digest of every allocation) of the demo park, as the
    # loader before the schema produced it.
    canonical = dataclasses.replace(config, tables={}).canonical()
    assert hashlib.sha256(canonical).hexdigest() == (
        "17fdbdbb610360b64202bbe7850e828cf30addb7ac1b03aaa648d56f34110a2d"
    )
    assert config.pv_kwp == 3000.0
    assert config.loss_pct == 2.0
    assert config.hours == 168
    assert sorted(config.tables) == ["park_assets", "spaces", "tenancies"]
    assert all(Path(p).is_absolute() for p in config.tables.values())
    assert parse_park_config(TEXT).tables == {
        "tenancies": "../sample/tenancies.parquet",
        "spaces": "../sample/spaces.parquet",
        "park_assets": "../sample/park_assets.parquet",
    }
