"""Named sizes of the synthetic region, and the sample every demo starts from.

``sample`` is bundled in ``datasets/sample/`` of a checkout (and regenerated, identical,
from its seed where the package is installed without it: :func:`sample_region`) and drives
the tests, the demo and the server's demo tenant; ``city``
is a metropolitan platform (the Greater Bay Area core: 300 parks, 10^5 spaces, 10^6
enterprises looking for or holding space); ``nation`` is a platform over every city
(4,500 parks, about Shenzhen's 4,420 industrial parks; 10^6 spaces; 10^7 enterprises),
the size of issue 19's national-scale matching. Its old name ``national`` still works
until zone-opt 0.2 and warns (:data:`PRESET_ALIASES`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

from zone_opt._deprecated import REMOVED_IN, renamed
from zone_opt.datasets.cities import GREATER_BAY_AREA
from zone_opt.datasets.region import Region, read_region
from zone_opt.datasets.synthetic import RegionSize, synthetic_region

__all__ = ["PRESETS", "PRESET_ALIASES", "SAMPLE_DIR", "preset_region", "sample_region"]

#: Old names of renamed classes (DeprecationWarning until 0.2; see CHANGELOG.md).
__getattr__ = renamed(__name__, {"Preset": "zone_opt.datasets.synthetic:RegionSize"})

#: The bundled sample in a checkout (``datasets/sample`` at the repository root).
SAMPLE_DIR: Final[Path] = Path(__file__).resolve().parents[2] / "datasets" / "sample"


#: Old preset names (DeprecationWarning until 0.2): the preset each now is.
PRESET_ALIASES: Final[dict[str, str]] = {"national": "nation"}


def _current(name: str, stacklevel: int) -> str:
    """``name``, or the preset an old name now is (with a DeprecationWarning)."""
    new = PRESET_ALIASES.get(name)
    if new is None:
        return name
    warnings.warn(
        f"the preset {name!r} is deprecated and will be removed in zone-opt {REMOVED_IN}; "
        f"use {new!r}",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )
    return new


class _Presets(Mapping[str, RegionSize]):
    """The presets by name; an old name (:data:`PRESET_ALIASES`) is still looked up, with a
    DeprecationWarning, but is not listed."""

    def __init__(self, sizes: dict[str, RegionSize]) -> None:
        self._sizes = sizes

    def __getitem__(self, name: str) -> RegionSize:
        return self._sizes[_current(name, 2)]

    def __contains__(self, name: object) -> bool:
        return name in self._sizes

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def __repr__(self) -> str:
        return repr(self._sizes)


#: The named sizes of :func:`preset_region`.
PRESETS: Final[Mapping[str, RegionSize]] = _Presets(
    {
        "sample": RegionSize(6, 1_000, 2_000, 168),
        "city": RegionSize(300, 100_000, 1_000_000, 0, GREATER_BAY_AREA),
        "nation": RegionSize(4_500, 1_000_000, 10_000_000, 0),
    }
)


def preset_region(
    name: str,
    seed: int = 0,
    *,
    hours: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Region:
    """The synthetic region of preset ``name`` (``hours`` overrides the preset's).

    An old name of :data:`PRESET_ALIASES` (``national``) gives its preset and a
    DeprecationWarning."""
    name = _current(name, 2)
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
