"""The synthetic region generator: parks, spaces, enterprises, tenancies, meters, assets.

Everything is drawn with numpy from one seed (independent streams per table, so a table's
values do not shift when another's size changes) and assembled into Arrow arrays without a
Python object per row. ``datasets/README.md`` documents each distribution and its basis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pyarrow as pa

from zone_opt.datasets.builders import (
    _assets,
    _Enterprises,
    _meters,
    _Parks,
    _Spaces,
    _Tenancy,
)
from zone_opt.datasets.draws import (
    _cities,
)
from zone_opt.datasets.grid_factors import grid_factors_table
from zone_opt.datasets.region import Region
from zone_opt.schemas import (
    TENANCIES,
)

__all__ = ["synthetic_region"]


def synthetic_region(
    n_parks: int,
    n_spaces: int,
    n_enterprises: int,
    hours: int = 0,
    seed: int = 0,
    *,
    start: date = date(2025, 1, 1),
    cities: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Region:
    """A synthetic but realistic region, valid under every table's ``TableSpec``.

    Args:
        n_parks: parks, placed around the chosen cities (each city gets one before any
            gets a second).
        n_spaces: spaces, spread over parks with lognormal park sizes.
        n_enterprises: enterprises; about 80 % of spaces are let, one tenant each, the
            other enterprises are looking for space.
        hours: hourly meter readings per tenant from ``start`` 00:00 Asia/Shanghai (0: none).
        seed: the seed; equal arguments give equal tables.
        start: the region's "today": leases run across it, availability is relative to it.
        cities: keys of :data:`~zone_opt.datasets.cities.CITIES` to use (default all).
        progress: called with each table's name once it is built.

    Complexity: O(n_spaces + n_enterprises + tenants * hours) time and memory.
    """
    if min(n_parks, n_spaces, n_enterprises) < 1 or hours < 0:
        raise ValueError("n_parks, n_spaces and n_enterprises must be >= 1, hours >= 0")
    chosen = _cities(cities)
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
