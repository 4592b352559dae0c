"""A planner's mistakes in a dispatch scenario file, each refused with the file, the line,
the key path, the value and the rule; the shipped scenarios load as before."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch import (
    Battery,
    Boiler,
    Carbon,
    Chp,
    Grid,
    Park,
    Renewable,
    Scenario,
    ShiftableProcess,
    Slack,
    Tariff,
    UnitState,
    load_scenario,
    park_from_dict,
)
from zone_opt.optimise.dispatch.scenario import scenario_from_yaml

sys.path.insert(0, str(Path(__file__).parent))
from formats_cases import one, problems

DATA = Path(__file__).resolve().parent.parent / "datasets" / "sip_park_1"
LP = (DATA / "lp.yaml").read_text(encoding="utf-8")
PROFILES = DATA / "profiles_8760.csv"


@pytest.fixture
def scenario_with(tmp_path: Path) -> Callable[..., Callable[[], Scenario]]:
    """``scenario_with(old, new)``: a loader of lp.yaml with ``old`` replaced by ``new``."""

    def make(*edits: str, profiles: Path = PROFILES) -> Callable[[], Scenario]:
        text = LP.replace("profiles: profiles_8760.csv", f"profiles: {profiles}")
        for old, new in zip(edits[::2], edits[1::2], strict=True):
            assert old in text, old
            text = text.replace(old, new, 1)
        path = tmp_path / "lp.yaml"
        path.write_text(text, encoding="utf-8")
        return lambda: load_scenario(path)

    return make


def _line(fragment: str) -> int:
    return next(n for n, line in enumerate(LP.splitlines(), 1) if fragment in line)


def test_unknown_key_suggests_the_known_one(
    scenario_with: Callable[..., Callable[[], object]],
) -> None:
    found = problems(scenario_with("import_max_mw: 80", "import_max_mv: 80"))
    line = _line("import_max_mw")
    assert [f.split("/")[-1] for f in found] == [
        f"lp.yaml:{line - 1}: grid.import_max_mw: is required (misspelt as 'import_max_mv' "
        f"on line {line}?)",
        f"lp.yaml:{line}: grid.import_max_mv: unknown key; did you mean 'import_max_mw'?",
    ]


def test_months_by_name(scenario_with: Callable[..., Callable[[], object]]) -> None:
    found = problems(
        scenario_with("critical_peak_months: [7, 8]", "critical_peak_months: [July, August]")
    )
    line = _line("critical_peak_months")
    assert [f.split("/")[-1] for f in found] == [
        f"lp.yaml:{line}: grid.tariff.critical_peak_months[0]: "
        "'July' is not a month number; write 7 (July)",
        f"lp.yaml:{line}: grid.tariff.critical_peak_months[1]: "
        "'August' is not a month number; write 8 (August)",
    ]


def test_period_of_two_numbers(scenario_with: Callable[..., Callable[[], object]]) -> None:
    got = one(scenario_with("[8, 11, 1100]", "[8, 11]"))
    assert got.endswith(
        f"lp.yaml:{_line('periods:')}: grid.tariff.periods[1]: "
        "must be [start hour, end hour, price CNY/MWh], got [8, 11]"
    )
    got = one(scenario_with("critical_peak_hours: [19, 21]", "critical_peak_hours: [19]"))
    assert "grid.tariff.critical_peak_hours: must be [start hour, end hour], got [19]" in got
    got = one(scenario_with("critical_peak_hours: [19, 21]", "critical_peak_hours: [21, 19]"))
    assert got.endswith("critical_peak_hours: [21, 19]: the start hour must be before the end hour")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("capacity_mw: 120", "capacity_mw: lots"),
            "renewables[0].capacity_mw: 'lots' is not a number (MW)",
        ),
        (
            ("capacity_mw: 120", "capacity_mw: -120"),
            "renewables[0].capacity_mw: -120 must be >= 0 MW",
        ),
        (
            ("capacity_mw: 120", "capacity_mw: 1e300"),
            "renewables[0].capacity_mw: 1e300 must be <= 10000 MW",
        ),
        (
            ("capacity_mw: 120", "capacity_mw: .nan"),
            "renewables[0].capacity_mw: nan is not a finite number (MW)",
        ),
        (
            ("capacity_mw: 120", "capacity_mw: .inf"),
            "renewables[0].capacity_mw: inf is not a finite number (MW)",
        ),
        (("eta_charge: 0.95", "eta_charge: 1.5"), "batteries[0].eta_charge: 1.5 must be <= 1"),
        (("eta_charge: 0.95", "eta_charge: 0"), "batteries[0].eta_charge: 0 must be > 0"),
        (
            ("cyclic: true", "cyclic: sometimes"),
            "batteries[0].cyclic: must be true or false, got 'sometimes'",
        ),
        (("kind: pv", "kind: solar"), "renewables[0].kind: 'solar' is not one of: pv, wind"),
        (("resolution_min: 60", "resolution_min: 30"), "resolution_min: 30 is not one of: 60, 15"),
        (
            ("price_cny_per_t: 100", "price_cny_per_t: 1.0e9"),
            "carbon.price_cny_per_t: 1.0e9 must be <= 100000 CNY/t",
        ),
        (
            ("ramp_pu_per_h: 0.5", "ramp_pu_per_h: 100"),
            "chps[0].ramp_pu_per_h: 100 must be <= 60 pu/h",
        ),
        (("eta_heat: 0.45", "eta_heat: -0.1"), "chps[0].eta_heat: -0.1 must be >= 0 pu"),
        (("[7, 8]", "7"), "grid.tariff.critical_peak_months: must be a list, got 7"),
        (
            ("- {name: PV,", "- [name, PV]\n  - {name: PV2,"),
            'renewables[0]: must be a mapping of keys, got ["name", "PV"]',
        ),
    ],
)
def test_one_bad_value(
    scenario_with: Callable[..., Callable[[], object]], edit: tuple[str, str], expected: str
) -> None:
    found = problems(scenario_with(*edit))
    assert any(f.split(": ", 1)[1] == expected for f in found), found
    assert all(f.split(": ", 1)[0].split("/")[-1].startswith("lp.yaml:") for f in found), found


def test_missing_required_keys_name_their_mapping(
    scenario_with: Callable[..., Callable[[], object]],
) -> None:
    got = one(scenario_with("load_column: load_e\n", ""))
    assert got.endswith("lp.yaml: load_column: is required")
    got = one(scenario_with("  import_max_mw: 80\n", ""))
    assert got.endswith(f"lp.yaml:{_line('grid:')}: grid.import_max_mw: is required")
    got = one(scenario_with("profiles: ", "# profiles: "))
    assert got.endswith("lp.yaml: profiles: is required: the profile table's path")


def test_whole_file_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    for text, expected in (
        ("", "s.yaml: is empty: expected a dispatch scenario, e.g. datasets/sip_park_1/lp.yaml"),
        ("# nothing but a comment\n", "s.yaml: is empty: expected a dispatch scenario"),
        ("- 1\n- 2\n", "s.yaml:1: must be a mapping of keys, got [1, 2]"),
        ("grid: {import_max_mw: 1\n", "s.yaml:2: not valid YAML: expected ',' or '}'"),
        ("a: 1\n---\nb: 2\n", "s.yaml:2: not valid YAML: expected a single document"),
    ):
        path.write_text(text, encoding="utf-8")
        got = one(lambda: load_scenario(path)).replace(f"{tmp_path}/", "")
        assert got.startswith(expected), (text, got)


def test_repeated_key(scenario_with: Callable[..., Callable[[], object]]) -> None:
    found = problems(scenario_with("export_max_mw: 30", "export_max_mw: 30\n  export_max_mw: 40"))
    line = _line("export_max_mw")
    assert any(
        f.endswith(f"lp.yaml:{line + 1}: grid.export_max_mw: repeated key (first on line {line})")
        for f in found
    ), found


def test_park_against_profiles_names_the_files_line(
    scenario_with: Callable[..., Callable[[], object]],
) -> None:
    got = one(scenario_with("[22, 24, 650]", "[22, 23, 650]"))
    assert got.endswith(
        f"lp.yaml:{_line('periods:')}: grid.tariff.periods: periods must cover 0..24 exactly once"
    )
    got = one(scenario_with("load_column: load_e", "load_column: load_elec"))
    assert got.endswith(
        f"lp.yaml:{_line('load_column')}: load_column: profile column 'load_elec' not in the "
        "profiles; did you mean 'load_e'?"
    )


@pytest.mark.parametrize(
    ("column", "row", "value", "expected"),
    [
        (
            "load_e",
            53,
            np.nan,
            "profiles.load_e (row 53): nan at 2025-01-03 05:00:00 is not a finite number",
        ),
        (
            "load_e",
            7,
            1e300,
            "profiles.load_e (row 7): 1e+300 at 2025-01-01 07:00:00 is outside electric load, "
            "[-10000, 10000] MW",
        ),
        (
            "pv_cf",
            12,
            1.5,
            "profiles.pv_cf (row 12): 1.5 at 2025-01-01 12:00:00 is outside capacity factor, "
            "[0, 1]",
        ),
        (
            "load_e",
            3,
            "lots",
            "profiles.load_e (row 3): 'lots' at 2025-01-01 03:00:00 is not a number",
        ),
    ],
)
def test_profile_values(
    tmp_path: Path,
    scenario_with: Callable[..., Callable[[], object]],
    column: str,
    row: int,
    value: object,
    expected: str,
) -> None:
    frame = pd.read_csv(PROFILES, index_col=0, dtype={column: object})
    frame.iloc[row, frame.columns.get_loc(column)] = value
    path = tmp_path / "profiles.csv"
    frame.to_csv(path)
    assert one(scenario_with(profiles=path)) == expected


def test_text_from_a_request_names_the_line_in_the_reason() -> None:
    frame = load_scenario(DATA / "lp.yaml").profiles
    text = LP.replace("capacity_mw: 120", "capacity_mw: -120")
    got = one(lambda: scenario_from_yaml(text, frame))
    assert (
        got == f"renewables[0].capacity_mw: -120 must be >= 0 MW (line {_line('capacity_mw: 120')})"
    )
    with pytest.raises(InvalidInputError) as info:
        park_from_dict({**yaml.safe_load(LP), "grid": {"import_max_mw": 1, "exprt_max_mw": 1}})
    assert [(v.field, v.reason) for v in info.value.violations] == [
        ("grid.export_max_mw", "is required (misspelt as 'exprt_max_mw'?)"),
        ("grid.exprt_max_mw", "unknown key; did you mean 'export_max_mw'?"),
    ]


def _reference_park(data: dict[str, object], name: str) -> Park:
    """The park the dataclasses make from the raw mapping, key for key (the rule before the
    schema: what a file says, and the dataclasses' defaults for what it does not)."""
    raw: dict[str, object] = dict(data)

    def each(key: str, cls: type) -> tuple[object, ...]:
        return tuple(cls(**item) for item in raw.get(key) or ())  # type: ignore[attr-defined]

    grid = dict(raw["grid"])  # type: ignore[call-overload]
    tariff = dict(grid.pop("tariff"))
    tariff["periods"] = tuple((int(a), int(b), float(c)) for a, b, c in tariff["periods"])
    tariff["critical_peak_months"] = tuple(tariff["critical_peak_months"])
    tariff["critical_peak_hours"] = tuple(tariff["critical_peak_hours"])
    chps = []
    for given in raw.get("chps") or ():  # type: ignore[attr-defined]
        item = dict(given)
        if "initial" in item:
            item["initial"] = UnitState(**item["initial"])
        chps.append(Chp(**item))
    return Park(
        name=str(raw.get("name", name)),
        load_column=str(raw["load_column"]),
        heat_load_column=raw.get("heat_load_column"),  # type: ignore[arg-type]
        grid=Grid(**grid, tariff=Tariff(**tariff)),
        carbon=Carbon(**raw["carbon"]),  # type: ignore[arg-type]
        renewables=each("renewables", Renewable),  # type: ignore[arg-type]
        batteries=each("batteries", Battery),  # type: ignore[arg-type]
        chps=tuple(chps),
        boilers=each("boilers", Boiler),  # type: ignore[arg-type]
        processes=each("processes", ShiftableProcess),  # type: ignore[arg-type]
        slack=Slack(**raw["slack"]),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("name", ["lp", "milp"])
def test_shipped_scenarios_load_as_the_dataclasses_say(name: str) -> None:
    data = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    scenario = load_scenario(DATA / f"{name}.yaml")
    expected = _reference_park(data, name)
    assert scenario.park == expected
    assert repr(scenario.park) == repr(expected)  # ints stay ints, as written
    assert (scenario.name, scenario.resolution_min) == (data["name"], 60)
    assert park_from_dict(data) == expected
