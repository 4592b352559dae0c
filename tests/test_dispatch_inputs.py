"""Bad dispatch input raises InvalidInputError naming the field (and the row/day)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from zone_opt.errors import InvalidInputError, NotFoundError
from zone_opt.optimise.dispatch import Scenario, dispatch, load_scenario
from zone_opt.optimise.dispatch.scenario import scenario_from_yaml

DATA = Path(__file__).resolve().parent.parent / "datasets" / "sip_park_1"


@pytest.fixture(scope="module")
def lp() -> Scenario:
    return load_scenario(DATA / "lp.yaml")


def _fields(err: pytest.ExceptionInfo[InvalidInputError]) -> set[str]:
    return {v.field for v in err.value.violations}


def test_profiles_of_the_wrong_length(lp: Scenario) -> None:
    cols = {c: lp.profiles[c].to_numpy()[:48] for c in lp.profiles.columns}
    cols["pv_cf"] = cols["pv_cf"][:47]
    with pytest.raises(InvalidInputError) as err:
        Scenario.from_arrays(lp.park, "2025-07-14", cols)
    assert _fields(err) == {"profiles.pv_cf"}


def test_negative_capacities(lp: Scenario) -> None:
    park = replace(
        lp.park,
        renewables=(replace(lp.park.renewables[0], capacity_mw=-1.0), *lp.park.renewables[1:]),
        batteries=(replace(lp.park.batteries[0], charge_mw=-5.0),),
    )
    with pytest.raises(InvalidInputError) as err:
        Scenario.create(park, lp.profiles)
    assert {"renewables[0].capacity_mw", "batteries[0].charge_mw"} <= _fields(err)


def test_window_shorter_than_the_process(lp: Scenario) -> None:
    proc = replace(lp.park.processes[0], energy_mwh_per_day=400.0)  # 16 h x 20 MW = 320
    sc = Scenario.create(replace(lp.park, processes=(proc,)), lp.profiles)
    with pytest.raises(InvalidInputError) as err:
        dispatch(sc, "2025-07-14", 48)
    assert _fields(err) == {"processes[0].window_column"}
    assert {v.row for v in err.value.violations} == {0, 1}


def test_profile_values_and_columns(lp: Scenario) -> None:
    frame = lp.profiles.copy()
    frame.iloc[5, frame.columns.get_loc("wind_cf")] = 1.5
    with pytest.raises(InvalidInputError) as err:
        Scenario.create(lp.park, frame)
    assert [(v.field, v.row) for v in err.value.violations] == [("profiles.wind_cf", 5)]
    with pytest.raises(InvalidInputError) as err:
        Scenario.create(lp.park, frame.drop(columns=["ci"]))
    assert "carbon.intensity_column" in _fields(err)


def test_horizon_outside_the_profiles_and_bad_units(lp: Scenario) -> None:
    with pytest.raises(InvalidInputError) as err:
        dispatch(lp, "2025-12-31", 48)
    assert _fields(err) == {"hours"}
    with pytest.raises(InvalidInputError) as err:
        dispatch(lp, "2024-12-31", 24)
    assert _fields(err) == {"start"}
    chp = replace(lp.park.chps[0], eta_electric=1.5, p_min_pu=0.3)
    with pytest.raises(InvalidInputError) as err:
        Scenario.create(replace(lp.park, chps=(chp,)), lp.profiles)
    assert {"chps[0].eta_electric", "chps[0].p_min_pu"} <= _fields(err)


def test_yaml_errors(lp: Scenario, tmp_path: Path) -> None:
    text = (DATA / "lp.yaml").read_text()
    with pytest.raises(InvalidInputError) as err:
        scenario_from_yaml(
            text.replace("energy_mwh: 100", "energy_mwh: 100\n    colour: red"), lp.profiles
        )
    assert _fields(err) == {"batteries[0].colour"}
    with pytest.raises(InvalidInputError):
        scenario_from_yaml("[1, 2", lp.profiles)
    with pytest.raises(NotFoundError):
        load_scenario(tmp_path / "missing.yaml")
    assert np.isfinite(lp.profiles.to_numpy()).all()
