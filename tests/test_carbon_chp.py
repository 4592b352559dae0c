"""zone_opt.carbon CHP split: the reference's worked example, conservation, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.carbon import ChpMethod, ChpOptions, chp_split
from zone_opt.errors import InvalidInputError

TONNE_G = 1_000_000


def test_reference_worked_example_by_hand() -> None:
    # E = 10 000 t; P = 20 000 MWh = 72 000 GJ; H = 90 000 GJ (carbon.md 2.1).
    total = [10_000 * TONNE_G]
    eff = chp_split(total, [72_000.0], [90_000.0])
    assert eff.heat_g[0] == 3_535_353_535  # 10^10 * 112 500 / 318 214.28..., floor
    assert eff.heat_g[0] + eff.power_g[0] == total[0]
    assert eff.parameters == {"heat_efficiency": 0.8, "power_efficiency": 0.35}
    energy = chp_split(
        total, [72_000.0], [90_000.0], options=ChpOptions(method=ChpMethod.ENERGY_CONTENT)
    )
    assert energy.heat_g[0] == 5_555_555_556  # 10^10 * 90 / 162 = 5 555 555 555.6
    exergy = chp_split(
        total,
        [72_000.0],
        [90_000.0],
        options=ChpOptions(method=ChpMethod.EXERGY_CARNOT, steam_temperature_c=180.0),
    )
    assert round(exergy.heat_g[0] / TONNE_G) == 2_995
    assert exergy.parameters["carnot_factor"] == pytest.approx(1 - 298.15 / 453.15)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.floats(0, 1e5), st.floats(0, 1e5)),
        min_size=1,
        max_size=20,
    ),
    st.floats(0.2, 0.9),
    st.floats(0.05, 0.1),
)
def test_conserves_and_methods_agree_at_equal_efficiencies(
    hours: list[tuple[int, float, float]], e: float, bump: float
) -> None:
    total, power, heat = (np.array(c) for c in zip(*hours, strict=True))
    split = chp_split(total, power, heat, options=ChpOptions(heat_efficiency=e, power_efficiency=e))
    assert (split.heat_g + split.power_g + split.unallocated_g == total).all()
    assert (split.heat_g >= 0).all()
    assert (split.power_g >= 0).all()
    no_output = (power == 0) & (heat == 0)
    assert (split.unallocated_g == np.where(no_output, total, 0)).all()
    energy = chp_split(total, power, heat, options=ChpOptions(method=ChpMethod.ENERGY_CONTENT))
    assert (np.abs(energy.heat_g - split.heat_g) <= 1).all()
    # Raising the power efficiency lowers (never raises) the power share.
    better = chp_split(
        total,
        power,
        heat,
        options=ChpOptions(heat_efficiency=e, power_efficiency=min(1.0, e + bump)),
    )
    assert (better.power_g <= split.power_g).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "row"),
    [
        (([1, 2], [1.0, -1.0], [1.0, 1.0]), {}, "power_gj", 1),
        (([1, 2], [1.0, 1.0], [np.nan, 1.0]), {}, "heat_gj", 0),
        (([1, 2], [1.0, 1.0], [1.0]), {}, "heat_gj", None),
        (([1, -2], [1.0, 1.0], [1.0, 1.0]), {}, "total_g", 1),
        (([1], [1.0], [1.0]), {"power_efficiency": 0.0}, "power_efficiency", None),
        (([1], [1.0], [1.0]), {"method": "exergy_carnot"}, "steam_temperature_c", None),
        (
            ([1], [1.0], [1.0]),
            {"method": "exergy_carnot", "steam_temperature_c": 20.0},
            "steam_temperature_c",
            None,
        ),
    ],
)
def test_bad_input_names_field_and_row(
    args: tuple[list[float], list[float], list[float]],
    kwargs: dict[str, object],
    field: str,
    row: int | None,
) -> None:
    with pytest.raises(InvalidInputError) as info:
        chp_split(*args, options=ChpOptions(**kwargs))  # type: ignore[arg-type]
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, row)


def test_old_keyword_arguments_still_work_and_warn() -> None:
    total, power, heat = [10_000 * TONNE_G, 7], [72_000.0, 0.0], [90_000.0, 0.0]
    for old, options in (
        (
            {"heat_efficiency": 0.7, "power_efficiency": 0.4},
            ChpOptions(heat_efficiency=0.7, power_efficiency=0.4),
        ),
        ({"method": "energy_content"}, ChpOptions(method=ChpMethod.ENERGY_CONTENT)),
        (
            {
                "method": ChpMethod.EXERGY_CARNOT,
                "steam_temperature_c": 180.0,
                "ambient_temperature_c": 20.0,
            },
            ChpOptions(
                ChpMethod.EXERGY_CARNOT, steam_temperature_c=180.0, ambient_temperature_c=20.0
            ),
        ),
    ):
        new = chp_split(total, power, heat, options=options)
        with pytest.warns(DeprecationWarning, match=r"chp_split\(\.\.\., .*\) is deprecated"):
            split = chp_split(total, power, heat, **old)
        for name in ("heat_g", "power_g", "unallocated_g"):
            np.testing.assert_array_equal(getattr(split, name), getattr(new, name), err_msg=name)
        assert (split.method, split.parameters) == (new.method, new.parameters)
    with pytest.raises(InvalidInputError) as info:  # both spellings at once
        chp_split(total, power, heat, options=ChpOptions(), method="energy_content")
    assert info.value.violations[0].field == "options"
    with pytest.raises(TypeError, match="unexpected keyword argument 'heat_eff'"):
        chp_split(total, power, heat, heat_eff=0.7)


def test_options_are_checked_when_made() -> None:
    by_value = ChpOptions(method="energy_content")  # type: ignore[arg-type]
    assert by_value.method is ChpMethod.ENERGY_CONTENT
    for bad, field in (
        ({"method": "magic"}, "method"),
        ({"heat_efficiency": 1.5}, "heat_efficiency"),
        ({"power_efficiency": "0.3"}, "power_efficiency"),
        ({"ambient_temperature_c": -300.0}, "ambient_temperature_c"),
        ({"method": "exergy_carnot", "steam_temperature_c": None}, "steam_temperature_c"),
    ):
        with pytest.raises(InvalidInputError) as info:
            ChpOptions(**bad)
        assert info.value.violations[0].field == field
    with pytest.raises(InvalidInputError) as info:
        chp_split([1], [1.0], [1.0], options={"method": "efficiency"})  # type: ignore[arg-type]
    assert info.value.violations[0].field == "options"
