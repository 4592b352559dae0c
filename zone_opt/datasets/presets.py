"""Named sizes of the synthetic region, and the sample every demo starts from.

``sample`` is bundled in ``datasets/sample/`` of a checkout (and regenerated, identical,
from its seed where the package is installed without it: :func:`sample_region`) and drives
the tests, the demo and the server's demo tenant; ``city``
is a metropolitan platform (the Greater Bay Area core: 300 parks, 10^5 spaces, 10^6
enterprises looking for or holding space); ``national`` is a platform over every city
(4,500 parks, about Shenzhen's 4,420 industrial parks; 10^6 spaces; 10^7 enterprises).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Final

from zone_opt._deprecated import renamed
from zone_opt.datasets.cities import GREATER_BAY_AREA
from zone_opt.datasets.region import Region, read_region
from zone_opt.datasets.synthetic import RegionSize, synthetic_region

__all__ = ["PRESETS", "SAMPLE_DIR", "preset_region", "sample_region"]

#: Old names of renamed classes (DeprecationWarning until 0.2; see CHANGELOG.md).
__getattr__ = renamed(__name__, {"Preset": "zone_opt.datasets.synthetic:RegionSize"})

#: The bundled sample in a checkout (``datasets/sample`` at the repository root).
SAMPLE_DIR: Final[Path] = Path(__file__).resolve().parents[2] / "datasets" / "sample"


#: The named sizes of :func:`preset_region`.
PRESETS: Final[dict[str, RegionSize]] = {
    "sample": RegionSize(6, 1_000, 2_000, 168),
    "city": RegionSize(300, 100_000, 1_000_000, 0, GREATER_BAY_AREA),
    "national": RegionSize(4_500, 1_000_000, 10_000_000, 0),
}


def preset_region(
    name: str,
    seed: int = 0,
    *,
    hours: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Region:
    """The synthetic region of preset ``name`` (``hours`` overrides the preset's)."""
    size = PRESETS[name]
    if hours is not None:
        size = dataclasses.replace(size, hours=hours)
    return synthetic_region(size, seed=seed, progress=progress)


def sample_region() -> Region:
    """The sample region: the bundled files of a checkout, else (an installed package) the
    ``sample`` preset generated from its seed, which is the same tables (a test checks
    it). Validated either way."""
    if SAMPLE_DIR.is_dir():
        return read_region(SAMPLE_DIR)
    return preset_region("sample").validate()
