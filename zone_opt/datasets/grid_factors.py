"""China's published electricity CO2 emission factors, as the ``grid_factors`` table.

Values are the MEE + NBS factors "for accounting the CO2 emissions of electricity
consumption" (kg CO2 per kWh): the national average for data years 2021-2023, the
regional-grid averages for 2022 and 2023, the national factor excluding market-traded
non-fossil power (a residual-mix-like factor, 2022-2023) and the national fossil-power
factor (2021-2023). They are annual: there is no official hourly series.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from zone_opt.schemas import GRID_FACTORS

__all__ = ["MEE_FACTORS", "grid_factors_table"]

_SRC_2021 = "MEE & NBS, 2021 electricity CO2 emission factors (公告2024年第12号, 12 Apr 2024)"
_SRC_2022 = "MEE & NBS, 2022 electricity CO2 emission factors (公告, 20 Dec 2024)"
_SRC_2023 = "MEE & NBS, 2023 electricity CO2 emission factors (announced Jan 2026)"

_REGIONAL: Final[dict[str, tuple[float, float]]] = {
    "north": (0.6776, 0.6361),
    "northeast": (0.5564, 0.5122),
    "east": (0.5617, 0.5500),
    "central": (0.5395, 0.5271),
    "northwest": (0.5857, 0.5543),
    "south": (0.3869, 0.4042),
    "southwest": (0.2268, 0.2472),
}

#: ``(factor_set, grid_region, year, kg CO2/kWh, source)`` rows.
MEE_FACTORS: Final[tuple[tuple[str, str, int, float, str], ...]] = (
    ("MEE-2021", "national", 2021, 0.5568, _SRC_2021),
    ("MEE-2022", "national", 2022, 0.5366, _SRC_2022),
    ("MEE-2023", "national", 2023, 0.5306, _SRC_2023),
    *(("MEE-2022", r, 2022, v[0], _SRC_2022) for r, v in _REGIONAL.items()),
    *(("MEE-2023", r, 2023, v[1], _SRC_2023) for r, v in _REGIONAL.items()),
    ("MEE-2022-residual", "national", 2022, 0.5856, _SRC_2022),
    ("MEE-2023-residual", "national", 2023, 0.6096, _SRC_2023),
    ("MEE-2021-fossil", "national", 2021, 0.8426, _SRC_2021),
    ("MEE-2022-fossil", "national", 2022, 0.8325, _SRC_2022),
    ("MEE-2023-fossil", "national", 2023, 0.8273, _SRC_2023),
)


def regional_factor_2023(grid_region: str) -> float:
    """The MEE 2023 regional average for ``grid_region``, kg CO2/kWh."""
    return _REGIONAL[grid_region][1]


def grid_factors_table() -> pa.Table:
    """The factors as a table valid under ``GRID_FACTORS``."""
    columns = list(zip(*MEE_FACTORS, strict=True))
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, GRID_FACTORS.schema, strict=True)],
        schema=GRID_FACTORS.schema,
    )
