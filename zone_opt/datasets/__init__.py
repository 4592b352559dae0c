"""Synthetic regions of industrial parks, their presets and their Parquet files.

``synthetic_region(RegionSize(n_parks, n_spaces, n_enterprises, hours), seed=seed)`` builds
every table of the data model (``zone_opt.schemas``) from one seed; ``datasets/README.md`` at the
repository root documents each column and the basis of each distribution.
"""

from zone_opt._deprecated import renamed
from zone_opt.datasets.presets import (
    PRESET_ALIASES,
    PRESETS,
    SAMPLE_DIR,
    preset_region,
    sample_region,
)
from zone_opt.datasets.region import TABLE_NAMES, Region, read_region, write_region
from zone_opt.datasets.solar import pv_profile_kw_per_kwp
from zone_opt.datasets.synthetic import RegionSize, synthetic_region

__all__ = [
    "PRESETS",
    "PRESET_ALIASES",
    "SAMPLE_DIR",
    "TABLE_NAMES",
    "Region",
    "RegionSize",
    "preset_region",
    "pv_profile_kw_per_kwp",
    "read_region",
    "sample_region",
    "synthetic_region",
    "write_region",
]

#: Old names of renamed classes (DeprecationWarning until 0.2; see CHANGELOG.md).
__getattr__ = renamed(__name__, {"Preset": "zone_opt.datasets.synthetic:RegionSize"})
