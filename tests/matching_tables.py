"""Small seeded park/space/enterprise/tenancy tables for the matching tests.

Imported by the test modules (they put this directory on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from zone_opt import _core
from zone_opt.schemas import ENTERPRISES, PARKS, SPACE_KINDS, SPACES, TENANCIES

TODAY = dt.date(2026, 11, 23)


def uscc(number: int) -> str:
    """A valid unified social credit code (GB 32100-2015) built from ``number``."""
    charset = _core.USCC_CHARSET
    body = "91440300" + "".join(charset[(number // 31**i) % 31] for i in range(9))
    total = sum(charset.index(c) * w for c, w in zip(body, _core.USCC_WEIGHTS, strict=True))
    return body + charset[(31 - total % 31) % 31]


@dataclass(frozen=True)
class Tables:
    parks: pa.Table
    spaces: pa.Table
    enterprises: pa.Table
    tenancies: pa.Table


def make_tables(
    seed: int,
    *,
    n_parks: int = 4,
    n_spaces: int = 30,
    n_enterprises: int = 40,
    n_tenancies: int = 6,
    spread_deg: float = 0.6,
) -> Tables:
    """Random tables under the zone_opt schemas, dense enough that constraints bite."""
    rng = np.random.default_rng(seed)
    divisions = [f"{d:02d}" for d in (13, 14, 26, 27, 34, 36, 38, 39, 65)]

    def codes(k: int) -> list[str]:
        return sorted(set(rng.choice(divisions, size=k).tolist()))

    parks = pa.Table.from_pydict(
        {
            "park_id": [f"P{i}" for i in range(n_parks)],
            "name": [f"park {i}" for i in range(n_parks)],
            "region_code": ["440300"] * n_parks,
            "lat": 22.5 + rng.uniform(-spread_deg, spread_deg, n_parks),
            "lon": 114.0 + rng.uniform(-spread_deg, spread_deg, n_parks),
            "permitted_industries": [
                codes(int(rng.integers(1, 6))) if rng.random() < 0.4 else [] for _ in range(n_parks)
            ],
            "power_capacity_kva": rng.uniform(1e3, 1e4, n_parks),
            "carbon_budget_co2e_t": rng.uniform(0, 2000, n_parks),
            "grid_region": ["south"] * n_parks,
        },
        schema=PARKS.schema,
    )
    area = rng.uniform(100, 3000, n_spaces).round()
    spaces = pa.Table.from_pydict(
        {
            "space_id": [f"S{i}" for i in range(n_spaces)],
            "park_id": [f"P{p}" for p in rng.integers(0, n_parks, n_spaces)],
            "kind": rng.choice(SPACE_KINDS, n_spaces).tolist(),
            "area_m2": area,
            "floor_load_kn_m2": rng.choice([3.5, 5.0, 8.0, 15.0], n_spaces),
            "ceiling_height_m": rng.choice([3.0, 4.5, 6.0, 9.0], n_spaces),
            "power_kva": rng.choice([50.0, 200.0, 630.0], n_spaces),
            "rent_cny_per_m2_month": rng.uniform(15, 80, n_spaces).round(1),
            "floor": rng.integers(1, 5, n_spaces).astype(np.int16),
            "hazardous_permit": rng.random(n_spaces) < 0.3,
            "available_from": [
                TODAY + dt.timedelta(days=int(d)) for d in rng.integers(-200, 60, n_spaces)
            ],
        },
        schema=SPACES.schema,
    )
    lo = rng.uniform(100, 1500, n_enterprises).round()
    enterprises = pa.Table.from_pydict(
        {
            "enterprise_id": [uscc(1000 + i) for i in range(n_enterprises)],
            "name": [f"enterprise {i}" for i in range(n_enterprises)],
            "industry_code": rng.choice(divisions, n_enterprises).tolist(),
            "space_kinds": [
                sorted(set(rng.choice(SPACE_KINDS, int(rng.integers(0, 4))).tolist()))
                if rng.random() < 0.5
                else []
                for _ in range(n_enterprises)
            ],
            "area_min_m2": lo,
            "area_max_m2": lo + rng.uniform(0, 2000, n_enterprises).round(),
            "min_floor_load_kn_m2": rng.choice([0.0, 0.0, 3.5, 5.0, 8.0], n_enterprises),
            "min_ceiling_height_m": rng.choice([0.0, 3.0, 4.5, 6.0], n_enterprises),
            "power_need_kva": rng.choice([0.0, 0.0, 50.0, 200.0], n_enterprises),
            "max_rent_cny_per_m2_month": rng.uniform(20, 90, n_enterprises).round(1),
            "preferred_lat": 22.5 + rng.uniform(-spread_deg, spread_deg, n_enterprises),
            "preferred_lon": 114.0 + rng.uniform(-spread_deg, spread_deg, n_enterprises),
            "radius_km": rng.uniform(10, 150, n_enterprises),
            "hazardous_process": rng.random(n_enterprises) < 0.1,
            "annual_output_cny": rng.uniform(1e6, 1e8, n_enterprises),
            "annual_energy_tce": rng.uniform(10, 1000, n_enterprises),
            "annual_co2e_t": rng.uniform(0, 500, n_enterprises),
            "supplier_industries": [codes(int(rng.integers(0, 3))) for _ in range(n_enterprises)],
            "customer_industries": [codes(int(rng.integers(0, 3))) for _ in range(n_enterprises)],
        },
        schema=ENTERPRISES.schema,
    )
    t_space = rng.choice(n_spaces, size=min(n_tenancies, n_spaces), replace=False)
    t_ent = rng.choice(n_enterprises, size=t_space.size, replace=False)
    tenancies = pa.Table.from_pydict(
        {
            "enterprise_id": [enterprises["enterprise_id"][int(i)].as_py() for i in t_ent],
            "space_id": [f"S{s}" for s in t_space],
            "start": [TODAY - dt.timedelta(days=400)] * t_space.size,
            "end": [None if i % 2 else TODAY + dt.timedelta(days=100) for i in range(t_space.size)],
        },
        schema=TENANCIES.schema,
    )
    return Tables(parks, spaces, enterprises, tenancies)
