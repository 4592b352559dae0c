"""A planner's mistakes in a facilities scenario file, each refused with the file, the line,
the key path, the value and the rule; the example loads to the problems it describes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from zone_opt.cli import main
from zone_opt.optimise.facilities.scenario import load_scenarios, parse_scenarios
from zone_opt.optimise.facilities.sharing import ShareMethod

sys.path.insert(0, str(Path(__file__).parent))
from formats_cases import one, problems

EXAMPLE = (
    Path(__file__).resolve().parent.parent / "datasets" / "facilities" / "example_scenario.yaml"
)
TEXT = EXAMPLE.read_text(encoding="utf-8")


def _line(fragment: str) -> int:
    return next(n for n, line in enumerate(TEXT.splitlines(), 1) if fragment in line)


@pytest.fixture
def load_with(tmp_path: Path) -> Callable[..., Callable[[], object]]:
    """``load_with(old, new, ...)``: a loader of the example with each ``old`` replaced."""

    def make(*edits: str) -> Callable[[], object]:
        text = TEXT
        for old, new in zip(edits[::2], edits[1::2], strict=True):
            assert old in text, old
            text = text.replace(old, new, 1)
        path = tmp_path / "region.yaml"
        path.write_text(text, encoding="utf-8")
        return lambda: load_scenarios(path)

    return make


def _tail(found: str) -> str:
    """The problem from the file's name on (without the temporary folder)."""
    return found[found.index("region.yaml") :]


def test_misspelt_option_is_no_longer_ignored(
    load_with: Callable[..., Callable[[], object]],
) -> None:
    got = one(load_with("max_distance_km: 15}", "max_distnce_km: 15}"))
    assert _tail(got) == (
        f"region.yaml:{_line('max_distance_km: 15')}: scenarios[2].max_distnce_km: "
        "unknown key; did you mean 'max_distance_km'?"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("sharing: [proportional,", "sharing: [banzhaf,"),
            "sharing[0]: 'banzhaf' is not one of: proportional, shapley, least_core, nucleolus",
        ),
        (
            ("budget_cny: 8.0e6", "budget_cny: lots"),
            "scenarios[1].budget_cny: 'lots' is not a number (CNY)",
        ),
        (
            ("testing: 900, logistics: 300", "testing: 1e300, logistics: 300"),
            "parks[0].demand.testing: 1e300 must be <= 1e+09 units/year",
        ),
        (
            ("testing: 900, logistics: 300", "testing: -900, logistics: 300"),
            "parks[0].demand.testing: -900 must be >= 0 units/year",
        ),
        (
            ("testing: 900, logistics: 300", "testing: .nan, logistics: 300"),
            "parks[0].demand.testing: nan is not a finite number (units/year)",
        ),
        (
            ("fixed_cost_cny: 4.5e6", "fixed_cost_cny: -4.5e6"),
            "sites[0].fixed_cost_cny: -4.5e6 must be >= 0 CNY",
        ),
        (
            ("x_km: 4, y_km: 6", "x_km: [4], y_km: 6"),
            "parks[0].x_km: [4] is not a number (km)",
        ),
        (
            ("single_source: true}", "single_source: maybe}"),
            "scenarios[3].single_source: must be true or false, got 'maybe'",
        ),
        (
            ("transport_cost_cny_per_unit_km: 60", "transport_cost_cny_per_unit_km: .inf"),
            "transport_cost_cny_per_unit_km: inf is not a finite number (CNY/(unit km))",
        ),
        (
            (
                "operating_cost_cny_per_unit: {testing: 900, logistics: 400}",
                "operating_cost_cny_per_unit: {testng: 900, logistics: 400}",
            ),
            "sites[0].operating_cost_cny_per_unit.testng: no park demands and no site offers "
            "the facility type 'testng'; did you mean 'testing'?",
        ),
        (
            ("id: S-Central", "id: S-Harbour"),
            "sites[1].id: 'S-Harbour' is also the id of sites[0]",
        ),
        (
            ("- {name: joint plan}", "- {budget_cny: 1}"),
            "scenarios[0].name: is required",
        ),
        (("parks:\n", "parks: {Harbour: 1}\nold_parks:\n"), "parks: must be a list, got"),
    ],
)
def test_one_mistake(
    load_with: Callable[..., Callable[[], object]], edit: tuple[str, str], expected: str
) -> None:
    found = problems(load_with(*edit))
    assert any(_tail(f).split(": ", 1)[1].startswith(expected) for f in found), found
    assert all(_tail(f).startswith("region.yaml:") for f in found), found


def test_whole_file_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    for text, expected in (
        ("", "r.yaml: is empty: expected a facilities scenario"),
        ("[parks, sites]\n", 'r.yaml:1: must be a mapping of keys, got ["parks", "sites"]'),
        ("parks: [\n", "r.yaml:2: not valid YAML"),
        (
            "parks: []\nsites: []\ntransport_cost_cny_per_unit_km: 1\n",
            "r.yaml:1: parks: needs at least 1 item",
        ),
    ):
        path.write_text(text, encoding="utf-8")
        found = problems(lambda: load_scenarios(path))
        assert found[0].replace(f"{tmp_path}/", "").startswith(expected), (text, found)
    missing = tmp_path / "missing.yaml"
    assert "missing.yaml: cannot read: No such file or directory" in one(
        lambda: load_scenarios(missing)
    )


def test_text_from_a_request_and_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = one(
        lambda: parse_scenarios(TEXT.replace("sharing: [proportional,", "sharing: [banzhaf,"))
    )
    assert got.startswith("sharing[0]: 'banzhaf' is not one of")
    assert got.endswith(f"(line {_line('sharing:')})")
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEXT.replace("max_distance_km: 15}", "max_distnce_km: 15}"), encoding="utf-8")
    assert main(["facilities", str(bad), "--out", str(tmp_path / "out")]) == 2
    shown = " ".join(capsys.readouterr().err.split())  # the CLI wraps to the terminal
    assert "did you mean 'max_distance_km'?" in shown


def test_example_builds_the_problems_it_describes() -> None:
    raw = yaml.safe_load(TEXT)
    region, scenarios = load_scenarios(EXAMPLE)
    assert region == raw["name"]
    assert [s.name for s in scenarios] == [s["name"] for s in raw["scenarios"]]
    base = scenarios[0].problem
    assert base.facility_types == ("testing", "logistics")
    assert base.demand_ids == tuple(p["id"] for p in raw["parks"])
    np.testing.assert_array_equal(
        base.demand, [[p["demand"].get(t, 0) for t in base.facility_types] for p in raw["parks"]]
    )
    np.testing.assert_array_equal(
        base.capacity,
        [[s["capacity"].get(t, 0) for t in base.facility_types] for s in raw["sites"]],
    )
    np.testing.assert_array_equal(
        base.fixed_cost_cny, [float(s["fixed_cost_cny"]) for s in raw["sites"]]
    )
    xy = np.array([[p["x_km"], p["y_km"]] for p in raw["parks"]], dtype=float)
    sxy = np.array([[s["x_km"], s["y_km"]] for s in raw["sites"]], dtype=float)
    dist = np.linalg.norm(xy[:, None] - sxy[None], axis=2)
    np.testing.assert_array_equal(base.transport_cost_cny_per_unit, 60 * dist)
    assert scenarios[1].problem.budget_cny == 8.0e6
    assert scenarios[2].problem.max_distance_km == 15.0
    assert scenarios[3].problem.single_source is True
    assert all(s.sharing == tuple(ShareMethod(m) for m in raw["sharing"]) for s in scenarios)
    assert scenarios[0].players == {p["id"]: p["id"] for p in raw["parks"]}
