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
(``allocate_pro_rata(split.heat_g, use_gj)``). The method and its parameters are one
:class:`ChpOptions`, checked when it is made::

    split = chp_split(total_g, power_gj, heat_gj,
                      options=ChpOptions(ChpMethod.EXERGY_CARNOT, steam_temperature_c=180.0))

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
from typing import Any

import numpy as np
import numpy.typing as npt

from zone_opt._deprecated import options_from_keywords
from zone_opt.arguments import check_real
from zone_opt.carbon.allocation import allocate_pro_rata_pooled
from zone_opt.errors import InvalidInputError

__all__ = ["ChpMethod", "ChpOptions", "ChpSplit", "chp_split"]

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


F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChpOptions:
    """How :func:`chp_split` divides a CHP plant's emissions; each value is checked when the
    object is made (an :class:`InvalidInputError` naming the field).

    Attributes:
        method: the :class:`ChpMethod` (its value as a string is accepted too).
        heat_efficiency, power_efficiency: ``e_H`` and ``e_P`` of the efficiency method,
            in (0, 1].
        steam_temperature_c: the steam temperature, degrees C; required by
            ``exergy_carnot``, and then above ``ambient_temperature_c``.
        ambient_temperature_c: the ambient (reference) temperature, degrees C, above
            absolute zero.

    Only the parameters of ``method`` are used (and recorded in :attr:`ChpSplit.parameters`).
    """

    method: ChpMethod = ChpMethod.EFFICIENCY
    heat_efficiency: float = 0.80
    power_efficiency: float = 0.35
    steam_temperature_c: float | None = None
    ambient_temperature_c: float = 25.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        try:
            set_(self, "method", ChpMethod(self.method))
        except ValueError:
            shown = ", ".join(repr(m.value) for m in ChpMethod)
            raise InvalidInputError.single("method", None, f"must be one of {shown}") from None
        for name in ("heat_efficiency", "power_efficiency"):
            value = check_real(name, getattr(self, name), low=0.0, high=1.0, low_open=True)
            set_(self, name, value)
        ambient = check_real(
            "ambient_temperature_c", self.ambient_temperature_c, low=-_KELVIN, low_open=True
        )
        set_(self, "ambient_temperature_c", ambient)
        steam = self.steam_temperature_c
        if steam is not None:
            steam = check_real("steam_temperature_c", steam)
            set_(self, "steam_temperature_c", steam)
        if self.method is ChpMethod.EXERGY_CARNOT and (steam is None or not steam > ambient):
            raise InvalidInputError.single(
                "steam_temperature_c",
                None,
                f"{steam} C must be given and above the ambient {ambient} C",
            )

    def weights(self, heat_gj: F64, power_gj: F64) -> tuple[F64, F64]:
        """The heat and power weights of each hour under :attr:`method`."""
        steam = self.steam_temperature_c
        if self.method is ChpMethod.EFFICIENCY:
            return heat_gj / self.heat_efficiency, power_gj / self.power_efficiency
        if self.method is ChpMethod.EXERGY_CARNOT and steam is not None:
            return heat_gj * _carnot(steam, self.ambient_temperature_c), power_gj
        return heat_gj, power_gj

    def parameters(self) -> dict[str, float]:
        """The parameters :attr:`method` uses (for exergy, with the Carnot factor)."""
        steam = self.steam_temperature_c
        if self.method is ChpMethod.EFFICIENCY:
            return {
                "heat_efficiency": self.heat_efficiency,
                "power_efficiency": self.power_efficiency,
            }
        if self.method is ChpMethod.EXERGY_CARNOT and steam is not None:
            return {
                "steam_temperature_c": steam,
                "ambient_temperature_c": self.ambient_temperature_c,
                "carnot_factor": _carnot(steam, self.ambient_temperature_c),
            }
        return {}


def _carnot(steam_temperature_c: float, ambient_temperature_c: float) -> float:
    """The Carnot factor ``1 - T0 / T_steam`` (kelvin)."""
    return 1 - (ambient_temperature_c + _KELVIN) / (steam_temperature_c + _KELVIN)


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
    options: ChpOptions | None = None,
    **deprecated: Any,
) -> ChpSplit:
    """Split each hour's CHP emissions ``total_g`` (int64 (H,), grams) between heat and
    power; ``power_gj`` and ``heat_gj`` are float64 (H,) outputs in GJ (1 MWh = 3.6 GJ).

    ``options`` (:class:`ChpOptions`: the method and its parameters; the defaults when
    None) says how. The same fields as keywords (``method=..., heat_efficiency=...``) are
    deprecated and will be removed in zone-opt 0.2.

    Raises:
        InvalidInputError: naming ``power_gj`` / ``heat_gj`` and the hour (negative, NaN),
            ``total_g`` and the hour, or a length mismatch; ``options`` when it is not a
            :class:`ChpOptions` or is given together with the deprecated keywords.
    """
    options = options_from_keywords(ChpOptions, options, deprecated, caller="chp_split")
    power = _energy(power_gj, "power_gj")
    heat = _energy(heat_gj, "heat_gj")
    if power.shape != heat.shape:
        raise InvalidInputError.single(
            "heat_gj", None, f"has {heat.size} hours, power_gj has {power.size}"
        )
    heat_weight, power_weight = options.weights(heat, power)
    split = allocate_pro_rata_pooled(total_g, np.stack([heat_weight, power_weight]))
    return ChpSplit(
        heat_g=split.alloc_g[0],
        power_g=split.alloc_g[1],
        unallocated_g=split.unallocated_g,
        method=options.method,
        parameters=options.parameters(),
    )
