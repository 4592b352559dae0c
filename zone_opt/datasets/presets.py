"""Named sizes of the synthetic region, and the sample every demo starts from.

``sample`` is bundled in ``datasets/sample/`` of a checkout (and regenerated, identical,
from its seed where the package is installed without it: :func:`sample_region`) and drives
the tests, the demo and the server's demo tenant; ``city``
is a metropolitan platform (the Greater Bay Area core: 300 parks, 10^5 spaces, 10^6
enterprises looking for or holding space); ``national`` is a platform over every city
(4,500 parks, about Shenzhen's 4,420 industrial parks; 10^6 spaces; 10^7 enterprises).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from zone_opt.datasets.cities import GREATER_BAY_AREA
from zone_opt.datasets.region import Region, read_region
from zone_opt.datasets.synthetic import synthetic_region

__all__ = ["PRESETS", "SAMPLE_DIR", "Preset", "preset_region", "sample_region"]

#: The bundled sample in a checkout (``datasets/sample`` at the repository root).
SAMPLE_DIR: Final[Path] = Path(__file__).resolve().parents[2] / "datasets" / "sample"


@dataclass(frozen=True, slots=True)
class Preset:
    """Arguments of :func:`synthetic_region` for a named size."""

    n_parks: int
    n_spaces: int
    n_enterprises: int
    hours: int
    cities: tuple[str, ...] | None = None


PRESETS: Final[dict[str, Preset]] = {
    "sample": Preset(6, 1_000, 2_000, 168),
    "city": Preset(300, 100_000, 1_000_000, 0, GREATER_BAY_AREA),
    "national": Preset(4_500, 1_000_000, 10_000_000, 0),
}


def preset_region(
    name: str,
    seed: int = 0,
    *,
    hours: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Region:
    """The synthetic region of preset ``name`` (``hours`` overrides the preset's)."""
    p = PRESETS[name]
    return synthetic_region(
        p.n_parks,
        p.n_spaces,
        p.n_enterprises,
        p.hours if hours is None else hours,
        seed,
        cities=p.cities,
        progress=progress,
    )


def sample_region() -> Region:
    """The sample region: the bundled files of a checkout, else (an installed package) the
    ``sample`` preset generated from its seed, which is the same tables (a test checks
    it). Validated either way."""
    if SAMPLE_DIR.is_dir():
        return read_region(SAMPLE_DIR)
    return preset_region("sample").validate()
