"""Synthetic regions of industrial parks, their presets and their Parquet files.

``synthetic_region(n_parks, n_spaces, n_enterprises, hours, seed)`` builds every table of
the data model (``zone_opt.schemas``) from one seed; ``datasets/README.md`` at the
repository root documents each column and the basis of each distribution.
"""

from zone_opt.datasets.presets import PRESETS, SAMPLE_DIR, Preset, preset_region, sample_region
from zone_opt.datasets.region import TABLE_NAMES, Region, read_region, write_region
from zone_opt.datasets.solar import pv_profile_kw_per_kwp
from zone_opt.datasets.synthetic import synthetic_region

__all__ = [
    "PRESETS",
    "SAMPLE_DIR",
    "TABLE_NAMES",
    "Preset",
    "Region",
    "preset_region",
    "pv_profile_kw_per_kwp",
    "read_region",
    "sample_region",
    "synthetic_region",
    "write_region",
]
