"""Combined heat and power: split a plant's emissions between heat and power, hour by hour,
exactly in grams (GHG Protocol CHP tool, 2006).

With ``E`` the plant's emissions, ``P`` net electricity and ``H`` useful heat (both GJ):

- ``efficiency`` (the tool's recommended method): weights ``H / e_H`` and ``P / e_P``
  (defaults ``e_H = 0.80``, ``e_P = 0.35``; always recorded in the result);
- ``energy_content``: weights ``H`` and ``P``;
- ``exergy_carnot``: weights ``H * (1 - T0 / T_steam)`` (Carnot factor, kelvin) and ``P``.

Each hour's ``E_h`` is divided by those weights with the largest-remainder rule of
:func:`allocate_pro_rata`, so ``heat_g + power_g == total_g`` exactly in every hour with
output; an hour with neither heat nor power leaves its emissions in ``unallocated_g``.
Heat or steam then goes to its users by metered GJ with :func:`allocate_pro_rata`
(``allocate_pro_rata(split.heat_g, use_gj)``).

Worked example (the carbon reference, own numbers, checked by hand): ``E = 10 000 t``,
``P = 72 000 GJ`` (20 000 MWh), ``H = 90 000 GJ``. Efficiency: ``E_H = 10 000 * 112 500 /
(112 500 + 205 714.3) = 3 535.4 t``; energy content: ``10 000 * 90 000 / 162 000 =
5 555.6 t``; exergy at 180 C steam and 25 C ambient: ``X_H = 90 000 * (1 - 298.15 / 453.15)
= 30 784.5 GJ``, ``E_H = 2 995.1 t``.

Complexity: O(H).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from zone_opt.arguments import check_real
from zone_opt.carbon.allocation import allocate_pro_rata_pooled
from zone_opt.errors import InvalidInputError

__all__ = ["ChpMethod", "ChpSplit", "chp_split"]

_KELVIN = 273.15


class ChpMethod(StrEnum):
    """How a CHP plant's emissions are divided between heat and power."""

    EFFICIENCY = "efficiency"
    ENERGY_CONTENT = "energy_content"
    EXERGY_CARNOT = "exergy_carnot"


@dataclass(frozen=True)
class ChpSplit:
    """Per hour (int64 (H,)): grams charged to heat and to power, and grams of hours with
    no output; ``method`` and ``parameters`` record how."""

    heat_g: npt.NDArray[np.int64]
    power_g: npt.NDArray[np.int64]
    unallocated_g: npt.NDArray[np.int64]
    method: ChpMethod
    parameters: dict[str, float]


def _energy(values: npt.ArrayLike, field: str) -> npt.NDArray[np.float64]:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InvalidInputError.single(field, None, f"must be 1-D, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
    if bad.size:
        row = int(bad[0])
        raise InvalidInputError.single(field, row, f"{array[row]} GJ must be finite and >= 0")
    return array


def chp_split(
    total_g: npt.ArrayLike,
    power_gj: npt.ArrayLike,
    heat_gj: npt.ArrayLike,
    *,
    method: ChpMethod = ChpMethod.EFFICIENCY,
    heat_efficiency: float = 0.80,
    power_efficiency: float = 0.35,
    steam_temperature_c: float | None = None,
    ambient_temperature_c: float = 25.0,
) -> ChpSplit:
    """Split each hour's CHP emissions ``total_g`` (int64 (H,), grams) between heat and
    power by ``method``; ``power_gj`` and ``heat_gj`` are float64 (H,) outputs in GJ
    (1 MWh = 3.6 GJ). ``steam_temperature_c`` is required for ``exergy_carnot``.

    Raises:
        InvalidInputError: naming ``power_gj`` / ``heat_gj`` and the hour (negative, NaN),
            ``total_g`` and the hour, a length mismatch, an efficiency outside (0, 1], or a
            steam temperature missing or not above ambient.
    """
    power = _energy(power_gj, "power_gj")
    heat = _energy(heat_gj, "heat_gj")
    if power.shape != heat.shape:
        raise InvalidInputError.single(
            "heat_gj", None, f"has {heat.size} hours, power_gj has {power.size}"
        )
    try:
        method = ChpMethod(method)
    except ValueError:
        shown = ", ".join(repr(m.value) for m in ChpMethod)
        raise InvalidInputError.single("method", None, f"must be one of {shown}") from None
    parameters: dict[str, float] = {}
    if method is ChpMethod.EFFICIENCY:
        for name, value in (
            ("heat_efficiency", heat_efficiency),
            ("power_efficiency", power_efficiency),
        ):
            check_real(name, value, low=0.0, high=1.0, low_open=True)
        heat_weight, power_weight = heat / heat_efficiency, power / power_efficiency
        parameters = {"heat_efficiency": heat_efficiency, "power_efficiency": power_efficiency}
    elif method is ChpMethod.ENERGY_CONTENT:
        heat_weight, power_weight = heat, power
    else:
        ambient_temperature_c = check_real(
            "ambient_temperature_c", ambient_temperature_c, low=-_KELVIN, low_open=True
        )
        if steam_temperature_c is not None:
            steam_temperature_c = check_real("steam_temperature_c", steam_temperature_c)
        if steam_temperature_c is None or not steam_temperature_c > ambient_temperature_c:
            raise InvalidInputError.single(
                "steam_temperature_c",
                None,
                f"{steam_temperature_c} C must be given and above the ambient "
                f"{ambient_temperature_c} C",
            )
        carnot = 1 - (ambient_temperature_c + _KELVIN) / (steam_temperature_c + _KELVIN)
        heat_weight, power_weight = heat * carnot, power
        parameters = {
            "steam_temperature_c": steam_temperature_c,
            "ambient_temperature_c": ambient_temperature_c,
            "carnot_factor": carnot,
        }
    split = allocate_pro_rata_pooled(total_g, np.stack([heat_weight, power_weight]))
    return ChpSplit(
        heat_g=split.alloc_g[0],
        power_g=split.alloc_g[1],
        unallocated_g=split.unallocated_g,
        method=method,
        parameters=parameters,
    )
