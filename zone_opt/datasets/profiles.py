"""Per-industry profiles of the synthetic generator: needs, intensities and load shapes.

Divisions are grouped into classes with shared physical needs. Each class states the
space kinds its firms use, a median space need, the floor load and clear height its
process needs, its power density, its energy intensity and electricity share, and its
weekly load shape. Bases:

- floor loads: GB 50009-2012 (offices 2.0-2.5 kN/m2, light industry 4-8, machining and
  storage 10-20) and Shenzhen's "industry going upstairs" (工业上楼) guidance: ground floors
  at least 20 kN/m2 and 6 m clear, upper floors 8-15 kN/m2 and 4.5 m;
- energy intensities: China Statistical Yearbook / China Energy Statistical Yearbook
  (energy use by division over gross output value): ferrous smelting about 1 tce per
  10^4 CNY, chemicals 0.4, electronics 0.03;
- electricity shares: China Energy Statistical Yearbook final consumption by division;
- load shapes: continuous process (three shifts, 24/7), two-shift discrete manufacturing,
  one-shift light industry with a six-day week, office hours, logistics 06-22 all week.

:data:`ENTERPRISE_MIX` weights divisions by their share of firms in Chinese industrial
parks: manufacturing about 70 %, led by electronics (39), electrical machinery (38),
general and special machinery (34, 35) and metal products (33), then wholesale, logistics,
software and R&D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from zone_opt.industries import N_DIVISIONS
from zone_opt.schemas import SPACE_KINDS

__all__ = [
    "CLASSES",
    "CLASS_KIND_MASK",
    "CLASS_OF_DIVISION",
    "ENTERPRISE_MIX",
    "HAZARD_PROBABILITY",
    "KIND_BIT",
    "SHAPES",
    "SHAPE_OF_CLASS",
    "IndustryClass",
    "weekly_shapes",
]


@dataclass(frozen=True, slots=True)
class IndustryClass:
    """Physical needs shared by a group of divisions."""

    name: str
    kinds: tuple[str, ...]
    area_median_m2: float
    floor_load_kn_m2: float
    ceiling_height_m: float
    power_kva_per_m2: float
    output_cny_per_m2_year: float
    energy_tce_per_10k_cny: float
    electricity_share: float
    heat_share_of_fuel: float
    shape: str
    rent_factor: float


CLASSES: Final[tuple[IndustryClass, ...]] = (
    IndustryClass(
        "process",
        ("factory_floor", "plot"),
        5000,
        20,
        8.0,
        0.30,
        9000,
        0.60,
        0.35,
        0.6,
        "continuous",
        0.8,
    ),
    IndustryClass(
        "machinery",
        ("factory_floor", "plot"),
        2500,
        12,
        7.0,
        0.20,
        12000,
        0.08,
        0.70,
        0.3,
        "two_shift",
        0.9,
    ),
    IndustryClass(
        "electronics",
        ("factory_floor",),
        1500,
        8,
        4.5,
        0.20,
        25000,
        0.03,
        0.90,
        0.3,
        "two_shift",
        1.1,
    ),
    IndustryClass(
        "light", ("factory_floor",), 1200, 6, 4.5, 0.12, 8000, 0.10, 0.60, 0.5, "one_shift", 0.9
    ),
    IndustryClass(
        "pharma",
        ("factory_floor", "lab"),
        2000,
        8,
        5.0,
        0.25,
        15000,
        0.10,
        0.55,
        0.7,
        "continuous",
        1.2,
    ),
    IndustryClass(
        "logistics", ("warehouse",), 5000, 15, 9.0, 0.03, 3000, 0.05, 0.50, 0.0, "logistics", 0.9
    ),
    IndustryClass(
        "office", ("office",), 400, 2.0, 2.8, 0.08, 20000, 0.01, 0.95, 0.5, "office", 1.5
    ),
    IndustryClass(
        "rnd", ("lab", "office"), 500, 3.0, 3.5, 0.15, 15000, 0.02, 0.90, 0.5, "office", 1.4
    ),
    IndustryClass(
        "primary", ("plot",), 10000, 10, 6.0, 0.05, 2000, 0.10, 0.50, 0.3, "one_shift", 0.5
    ),
)
_CLASS_INDEX = {c.name: i for i, c in enumerate(CLASSES)}


def _class_of(division: int) -> str:
    if division <= 12:
        return "primary"
    if division in (22, 25, 26, 28, 30, 31, 32, 44, 45, 46):
        return "process"
    if division == 27:
        return "pharma"
    if division in (33, 34, 35, 36, 37, 43, 47, 48, 49, 50):
        return "machinery"
    if division in (38, 39, 40):
        return "electronics"
    if division <= 42:
        return "light"
    if division in (51, 53, 54, 55, 56, 57, 58, 59, 60):
        return "logistics"
    if division in (73, 74, 75):
        return "rnd"
    return "office"


#: Class index (into :data:`CLASSES`) of each division, index ``int(code) - 1``.
CLASS_OF_DIVISION: Final[npt.NDArray[np.int8]] = np.array(
    [_CLASS_INDEX[_class_of(d)] for d in range(1, N_DIVISIONS + 1)], dtype=np.int8
)

_HAZARD: Final[dict[int, float]] = {
    25: 0.7,
    26: 0.6,
    28: 0.3,
    27: 0.3,
    31: 0.15,
    32: 0.15,
    33: 0.08,
    39: 0.05,
    22: 0.05,
    30: 0.05,
    42: 0.2,
    45: 0.8,
    7: 0.5,
    6: 0.3,
}
#: Probability that a firm of each division runs a process needing a hazardous permit
#: (flammable, toxic or corrosive materials: refining, chemicals, plating, gas).
HAZARD_PROBABILITY: Final[npt.NDArray[np.float64]] = np.array(
    [_HAZARD.get(d, 0.0) for d in range(1, N_DIVISIONS + 1)], dtype=np.float64
)

_MIX: Final[dict[int, float]] = {
    39: 15,
    38: 8,
    34: 5,
    35: 5,
    33: 5,
    29: 4,
    36: 3,
    40: 3,
    26: 3,
    27: 2,
    24: 2,
    18: 2,
    17: 1.5,
    30: 1.5,
    13: 1,
    14: 1,
    21: 1,
    22: 1,
    23: 1,
    32: 1,
    19: 1,
    37: 1,
    20: 0.5,
    15: 0.5,
    41: 0.5,
    42: 0.5,
    43: 0.5,
    31: 0.3,
    28: 0.3,
    25: 0.2,
    16: 0.05,
    51: 5,
    59: 3,
    65: 6,
    64: 2,
    73: 3,
    74: 3,
    75: 2,
    72: 2,
    54: 1,
    58: 1,
    44: 0.2,
    77: 0.5,
    49: 0.5,
    50: 0.5,
    52: 0.5,
    71: 0.5,
    1: 0.2,
    10: 0.1,
}
#: Probability of each division for a synthetic enterprise (sums to 1).
ENTERPRISE_MIX: Final[npt.NDArray[np.float64]] = np.array(
    [_MIX.get(d, 0.0) for d in range(1, N_DIVISIONS + 1)], dtype=np.float64
) / sum(_MIX.values())

KIND_BIT: Final[dict[str, int]] = {k: 1 << i for i, k in enumerate(SPACE_KINDS)}
#: Bitmask (bit ``i`` = ``SPACE_KINDS[i]``) of the kinds each class uses.
CLASS_KIND_MASK: Final[npt.NDArray[np.int8]] = np.array(
    [sum(KIND_BIT[k] for k in c.kinds) for c in CLASSES], dtype=np.int8
)

SHAPES: Final[tuple[str, ...]] = ("continuous", "two_shift", "one_shift", "office", "logistics")


def _week(weekday: list[float], saturday: list[float], sunday: list[float]) -> list[float]:
    return weekday * 5 + saturday + sunday


def weekly_shapes() -> npt.NDArray[np.float64]:
    """Relative hourly load, shape ``(len(SHAPES), 168)``, Monday 00:00 first, mean 1."""
    h = np.arange(24)
    cont = [0.95 + 0.05 * float(8 <= x < 20) for x in h]
    two = [1.0 if 8 <= x < 24 else 0.3 for x in h]
    one = [1.0 if (8 <= x < 12 or 13 <= x < 18) else (0.6 if x == 12 else 0.15) for x in h]
    office = [1.0 if 9 <= x < 18 else (0.5 if 18 <= x < 21 else 0.2) for x in h]
    logi = [1.0 if 6 <= x < 22 else 0.25 for x in h]
    night = [0.2] * 24
    rows = [
        _week(cont, [0.95 * v for v in cont], [0.9 * v for v in cont]),
        _week(two, two, [0.4 * v for v in two]),
        _week(one, [0.7 * v for v in one], [0.15] * 24),
        _week(office, night, night),
        _week(logi, logi, [0.8 * v for v in logi]),
    ]
    out = np.array(rows, dtype=np.float64)
    out /= out.mean(axis=1, keepdims=True)
    return out


SHAPE_OF_CLASS: Final[npt.NDArray[np.int8]] = np.array(
    [SHAPES.index(c.shape) for c in CLASSES], dtype=np.int8
)
