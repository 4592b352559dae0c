"""The synthetic region generator: parks, spaces, enterprises, tenancies, meters, assets.

Everything is drawn with numpy from one seed (independent streams per table, so a table's
values do not shift when another's size changes) and assembled into Arrow arrays without a
Python object per row. ``datasets/README.md`` documents each distribution and its basis.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from zone_opt._deprecated import REMOVED_IN
from zone_opt.arguments import check_int
from zone_opt.datasets.builders import (
    _assets,
    _Enterprises,
    _meters,
    _Parks,
    _Spaces,
    _Tenancy,
)
from zone_opt.datasets.draws import _cities
from zone_opt.datasets.grid_factors import grid_factors_table
from zone_opt.datasets.region import Region
from zone_opt.errors import InvalidInputError
from zone_opt.schemas import TENANCIES

__all__ = ["RegionSize", "synthetic_region"]


@dataclass(frozen=True, slots=True)
class RegionSize:
    """How large a synthetic region is, checked when made.

    Attributes:
        n_parks: parks, placed around the chosen cities (each city gets one before any gets
            a second); at least 1.
        n_spaces: spaces, spread over parks with lognormal park sizes; at least 1.
        n_enterprises: enterprises; about 80 % of spaces are let, one tenant each, the
            other enterprises are looking for space; at least 1.
        hours: hourly meter readings per tenant (0: none).
        cities: keys of :data:`~zone_opt.datasets.cities.CITIES` to use (None: all).
    """

    n_parks: int
    n_spaces: int
    n_enterprises: int
    hours: int = 0
    cities: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("n_parks", "n_spaces", "n_enterprises"):
            check_int(name, getattr(self, name), low=1)
        check_int("hours", self.hours, low=0)
        if self.cities is not None:
            object.__setattr__(self, "cities", tuple(self.cities))


def synthetic_region(
    size: RegionSize | int | None = None,
    *legacy: int,
    seed: int = 0,
    start: date = date(2025, 1, 1),
    progress: Callable[[str], None] | None = None,
    **deprecated: Any,
) -> Region:
    """A synthetic but realistic region of ``size``, valid under every table's ``TableSpec``.

    Args:
        size: the numbers of parks, spaces, enterprises, meter hours and the cities.
        seed: the seed; equal arguments give equal tables.
        start: the region's "today": leases run across it, availability is relative to it;
            meters start at its 00:00 Asia/Shanghai.
        progress: called with each table's name once it is built.

    The old spelling ``synthetic_region(n_parks, n_spaces, n_enterprises, hours, seed,
    cities=...)`` still works until zone-opt 0.2 and warns.

    Complexity: O(n_spaces + n_enterprises + tenants * hours) time and memory.
    """
    if size is None and not deprecated:
        raise InvalidInputError.single("size", None, "required: a RegionSize")
    if not isinstance(size, RegionSize):
        size, seed = _legacy_size(size, legacy, seed, deprecated)
    elif legacy or deprecated:
        raise InvalidInputError.single("size", None, "give a RegionSize or the old arguments")
    n_parks, n_spaces, n_enterprises, hours = (
        size.n_parks,
        size.n_spaces,
        size.n_enterprises,
        size.hours,
    )
    chosen = _cities(size.cities)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    report = progress or (lambda _name: None)

    parks = _Parks.draw(streams[0], n_parks, chosen)
    spaces = _Spaces.draw(streams[1], n_spaces, parks)
    tenancy = _Tenancy.draw(streams[3], spaces, n_enterprises, start)
    spaces_table = spaces.table(parks, tenancy, start, streams[1])
    parks_table = parks.table(spaces)
    report("parks")
    report("spaces")
    ents = _Enterprises.draw(
        streams[2], n_enterprises, parks=parks, spaces=spaces, tenancy=tenancy, cities=chosen
    )
    ents_table = ents.table()
    report("enterprises")
    tenancies_table = pa.Table.from_arrays(
        [
            ents_table.column("enterprise_id").take(pa.array(np.arange(tenancy.n))),
            spaces_table.column("space_id").take(pa.array(tenancy.space)),
            pa.array(tenancy.start_day, type=pa.int32()).cast(pa.date32()),
            pa.array(tenancy.end_day, type=pa.int32(), mask=tenancy.open_ended).cast(pa.date32()),
        ],
        schema=TENANCIES.schema,
    )
    report("tenancies")
    meters_table = _meters(
        streams[4], ents, ents_table, n_tenants=tenancy.n, hours=hours, start=start
    )
    report("meters")
    assets_table = _assets(streams[5], parks, spaces, parks_table)
    report("park_assets")
    factors = grid_factors_table()
    report("grid_factors")
    return Region(
        parks=parks_table,
        spaces=spaces_table,
        enterprises=ents_table,
        tenancies=tenancies_table,
        meters=meters_table,
        park_assets=assets_table,
        grid_factors=factors,
    )


def _legacy_size(
    n_parks: int | None, legacy: tuple[int, ...], seed: int, deprecated: dict[str, Any]
) -> tuple[RegionSize, int]:
    """The size and seed the old positional spelling gave (with a DeprecationWarning)."""
    names = ("n_spaces", "n_enterprises", "hours", "seed")
    if len(legacy) > len(names):
        raise TypeError(f"synthetic_region() takes at most 5 positional arguments ({legacy})")
    first = {} if n_parks is None else {"n_parks": n_parks}
    given = {**first, **dict(zip(names, legacy, strict=False)), **deprecated}
    unknown = sorted(set(given) - {"n_parks", *names, "cities"})
    if unknown:
        raise TypeError(f"synthetic_region() got an unexpected keyword argument {unknown[0]!r}")
    warnings.warn(
        "synthetic_region(n_parks, n_spaces, n_enterprises, hours, seed, cities=...) is "
        f"deprecated and will be removed in zone-opt {REMOVED_IN}; pass "
        "synthetic_region(RegionSize(n_parks, n_spaces, n_enterprises, hours, cities), seed)",
        DeprecationWarning,
        stacklevel=3,
    )
    seed = int(given.pop("seed", seed))
    return RegionSize(**given), seed
