"""Constants and array helpers of the synthetic generator: themes, areas, names, and
the vectorised draws the table builders share (ids, list arrays, sampled lists, distances)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt.datasets.cities import CITIES, City

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FACTORY, PLOT, OFFICE, WAREHOUSE, LAB = range(5)
#: kWh of electricity per t of coal equivalent (calorific equivalent, 0.1229 kgce/kWh).
KWH_PER_TCE: Final = 8137.0
#: GJ per t of coal equivalent (29.3076 GJ/tce).
GJ_PER_TCE: Final = 29.3076
#: Standard m3 of natural gas per tce (1.2143 kgce/m3).
GAS_M3_PER_TCE: Final = 823.5
#: t CO2 per tce of fuel burnt on site (a gas/coal mix between 2.16 and 2.66).
FUEL_CO2_T_PER_TCE: Final = 2.4
#: Share of spaces let at generation time (Shenzhen industrial vacancy is about 20 %).
OCCUPANCY: Final = 0.8

# Park themes: name in Chinese, share of parks, permitted divisions (empty admits all),
# and the space-kind mix (factory_floor, plot, office, warehouse, lab).
_THEMES: Final[tuple[tuple[str, float, tuple[int, ...], tuple[float, ...]], ...]] = (
    ("综合", 0.55, (), (0.55, 0.08, 0.15, 0.15, 0.07)),
    ("电子信息", 0.20, (29, 33, 38, 39, 40, 51, 65, 73, 74), (0.70, 0.02, 0.15, 0.08, 0.05)),
    (
        "智能制造",
        0.10,
        (31, 32, 33, 34, 35, 36, 37, 38, 43, 51, 59),
        (0.70, 0.12, 0.08, 0.08, 0.02),
    ),
    ("化工新材料", 0.05, (22, 25, 26, 27, 28, 29, 30, 42, 45, 59), (0.60, 0.25, 0.05, 0.07, 0.03)),
    ("物流", 0.05, (51, 52, 53, 54, 55, 58, 59, 60), (0.05, 0.10, 0.10, 0.75, 0.00)),
    (
        "科技创新",
        0.05,
        (27, 39, 40, 63, 64, 65, 71, 72, 73, 74, 75),
        (0.20, 0.00, 0.40, 0.05, 0.35),
    ),
)
CHEMICAL_THEME: Final = 3

# Area of a space, lognormal (median m2, sigma) and clip range, by kind.
_AREA: Final = (
    (1200.0, 0.8, 100.0, 20000.0),
    (15000.0, 0.7, 2000.0, 200000.0),
    (300.0, 0.8, 30.0, 5000.0),
    (2500.0, 0.8, 200.0, 40000.0),
    (400.0, 0.7, 50.0, 5000.0),
)
# Rent relative to the city's factory rent, by kind (plots: land lease per m2 of land).
_RENT_FACTOR: Final = np.array([1.0, 0.12, 1.5, 0.85, 1.4])
_NAME_WORDS: Final = tuple("华鑫盛达瑞创新科联宏泰源恒伟丰嘉顺信德安捷通汇力天明辉锦航诚志远康博凯")
_CLASS_SUFFIX: Final = (
    "化工",
    "机械",
    "电子科技",
    "实业",
    "生物医药",
    "物流",
    "信息技术",
    "科技研发",
    "农业发展",
)


# --------------------------------------------------------------------------- helpers


def _cities(keys: Sequence[str] | None) -> tuple[City, ...]:
    if keys is None:
        return CITIES
    by_key = {c.key: c for c in CITIES}
    unknown = [k for k in keys if k not in by_key]
    if unknown or not keys:
        raise ValueError(f"unknown cities {unknown}; known: {sorted(by_key)}")
    return tuple(by_key[k] for k in keys)


def _ids(prefix: pa.Array | str, numbers: npt.NDArray[np.integer], width: int) -> pa.Array:
    """``prefix + zero-padded number`` for each row, vectorised in Arrow."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _list_array(offsets: I64, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _codes_from_mask(mask: npt.NDArray[np.bool_], labels: pa.Array) -> pa.Array:
    """A list<string> array: row ``i`` lists ``labels[j]`` for each true ``mask[i, j]``."""
    offsets = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    _, cols = np.nonzero(mask)
    return _list_array(offsets, labels.take(pa.array(cols)))


def _sample_lists(
    rng: np.random.Generator, probs: F64, rows: npt.NDArray[np.integer], draws: int
) -> tuple[I64, I64]:
    """For each ``r`` in ``rows``, draw ``draws`` columns of ``probs[r]`` with replacement.

    Returns list offsets and the sorted distinct columns of each row (a list array's
    layout). O(len(rows) * draws) memory: one searchsorted over the stacked row CDFs.
    """
    n_cols = probs.shape[1]
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(probs.shape[0])[:, None]).ravel()
    r = rows.astype(np.int64)[:, None]
    picked = np.searchsorted(flat, rng.random((rows.size, draws)) + r, side="right") - r * n_cols
    picked = np.sort(np.clip(picked, 0, n_cols - 1), axis=1)
    keep = np.ones(picked.shape, dtype=np.bool_)
    keep[:, 1:] = picked[:, 1:] != picked[:, :-1]
    offsets = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    return offsets, picked[keep].astype(np.int64)


def _global_index(cities: tuple[City, ...]) -> I64:
    """Index in :data:`CITIES` of each chosen city (city arrays hold global indices)."""
    return np.array([CITIES.index(c) for c in cities], dtype=np.int64)


def _km(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Great-circle distance, km (haversine, R = 6371 km)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    out: F64 = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out
