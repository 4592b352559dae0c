"""zone_opt.carbon CHP split: the reference's worked example, conservation, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.carbon import ChpMethod, chp_split
from zone_opt.errors import InvalidInputError

TONNE_G = 1_000_000


def test_reference_worked_example_by_hand() -> None:
    # E = 10 000 t; P = 20 000 MWh = 72 000 GJ; H = 90 000 GJ (carbon.md 2.1).
    total = [10_000 * TONNE_G]
    eff = chp_split(total, [72_000.0], [90_000.0])
    assert eff.heat_g[0] == 3_535_353_535  # 10^10 * 112 500 / 318 214.28..., floor
    assert eff.heat_g[0] + eff.power_g[0] == total[0]
    assert eff.parameters == {"heat_efficiency": 0.8, "power_efficiency": 0.35}
    energy = chp_split(total, [72_000.0], [90_000.0], method=ChpMethod.ENERGY_CONTENT)
    assert energy.heat_g[0] == 5_555_555_556  # 10^10 * 90 / 162 = 5 555 555 555.6
    exergy = chp_split(
        total, [72_000.0], [90_000.0], method=ChpMethod.EXERGY_CARNOT, steam_temperature_c=180.0
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
    split = chp_split(total, power, heat, heat_efficiency=e, power_efficiency=e)
    assert (split.heat_g + split.power_g + split.unallocated_g == total).all()
    assert (split.heat_g >= 0).all()
    assert (split.power_g >= 0).all()
    no_output = (power == 0) & (heat == 0)
    assert (split.unallocated_g == np.where(no_output, total, 0)).all()
    energy = chp_split(total, power, heat, method=ChpMethod.ENERGY_CONTENT)
    assert (np.abs(energy.heat_g - split.heat_g) <= 1).all()
    # Raising the power efficiency lowers (never raises) the power share.
    better = chp_split(total, power, heat, heat_efficiency=e, power_efficiency=min(1.0, e + bump))
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
        chp_split(*args, **kwargs)  # type: ignore[arg-type]
    v = info.value.violations[0]
    assert (v.field, v.row) == (field, row)
