"""The synthetic tables, one builder per table: parks, spaces, tenancies, enterprises
(with their credit codes), hourly meters and energy assets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import _core
from zone_opt.datasets.cities import CITIES, City
from zone_opt.datasets.draws import (
    _AREA,
    _CLASS_SUFFIX,
    _NAME_WORDS,
    _RENT_FACTOR,
    _THEMES,
    CHEMICAL_THEME,
    F64,
    FACTORY,
    FUEL_CO2_T_PER_TCE,
    GAS_M3_PER_TCE,
    GJ_PER_TCE,
    I64,
    KWH_PER_TCE,
    LAB,
    OCCUPANCY,
    OFFICE,
    PLOT,
    WAREHOUSE,
    _codes_from_mask,
    _global_index,
    _ids,
    _km,
    _list_array,
    _sample_lists,
)
from zone_opt.datasets.grid_factors import regional_factor_2023
from zone_opt.datasets.profiles import (
    CLASS_KIND_MASK,
    CLASS_OF_DIVISION,
    CLASSES,
    ENTERPRISE_MIX,
    HAZARD_PROBABILITY,
    SHAPE_OF_CLASS,
    weekly_shapes,
)
from zone_opt.industries import N_DIVISIONS, SUPPLY_AFFINITY, division_codes_array
from zone_opt.schemas import (
    ENTERPRISES,
    METERS,
    PARK_ASSETS,
    PARKS,
    SPACE_KINDS,
    SPACES,
    TIMEZONE,
)


class _Parks:
    def __init__(self, city: I64, theme: I64, lat: F64, lon: F64) -> None:
        self.city, self.theme, self.lat, self.lon = city, theme, lat, lon
        self.n = city.size

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, cities: tuple[City, ...]) -> _Parks:
        weights = np.array([c.weight for c in cities])
        first = np.arange(min(n, len(cities)))
        rest = rng.choice(len(cities), size=n - first.size, p=weights / weights.sum())
        city = _global_index(cities)[np.concatenate([first, rest])]
        shares = np.array([t[1] for t in _THEMES])
        theme = rng.choice(len(_THEMES), size=n, p=shares / shares.sum()).astype(np.int64)
        clat = np.array([c.lat for c in CITIES])[city]
        clon = np.array([c.lon for c in CITIES])[city]
        lat = np.round(clat + rng.normal(0.0, 0.12, n), 5)
        lon = np.round(clon + rng.normal(0.0, 0.12, n) / np.cos(np.radians(clat)), 5)
        return cls(city, theme, lat, lon)

    def ids(self) -> pa.Array:
        return _ids("P", np.arange(1, self.n + 1), 5)

    def table(self, spaces: _Spaces) -> pa.Table:
        names = pc.binary_join_element_wise(
            pa.array([c.name_zh for c in CITIES]).take(pa.array(self.city)),
            pa.array([t[0] for t in _THEMES]).take(pa.array(self.theme)),
            "产业园",
            pc.cast(pa.array(np.arange(1, self.n + 1)), pa.string()),
            "号",
            "",
        )
        lengths = np.array([len(t[2]) for t in _THEMES])[self.theme]
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        theme_codes = [[f"{d:02d}" for d in t[2]] for t in _THEMES]
        values = pa.array([c for t in self.theme for c in theme_codes[t]], type=pa.string())
        power = np.bincount(spaces.park, weights=spaces.power_kva, minlength=self.n)
        # Connection sized for 70 % of the spaces' total supply (diversity), at least 630 kVA.
        capacity = np.maximum(630.0, np.round(0.7 * power / 10.0) * 10.0)
        factor = np.array([regional_factor_2023(c.grid_region) for c in CITIES])[self.city]
        # Budget: 90 % of the emissions of the connection at a 35 % load factor.
        budget = np.round(0.9 * capacity * 0.9 * 0.35 * 8760.0 * factor / 1000.0)
        return pa.Table.from_arrays(
            [
                self.ids(),
                names,
                pa.array([c.region_code for c in CITIES]).take(pa.array(self.city)),
                pa.array(self.lat),
                pa.array(self.lon),
                _list_array(offsets, values),
                pa.array(capacity),
                pa.array(budget),
                pa.array([c.grid_region for c in CITIES]).take(pa.array(self.city)),
            ],
            schema=PARKS.schema,
        )


class _Spaces:
    def __init__(self, **arrays: npt.NDArray[np.generic]) -> None:
        self.park: I64 = arrays["park"].astype(np.int64)
        self.kind: I64 = arrays["kind"].astype(np.int64)
        self.floor: I64 = arrays["floor"].astype(np.int64)
        self.area_m2: F64 = arrays["area_m2"].astype(np.float64)
        self.load: F64 = arrays["load"].astype(np.float64)
        self.height: F64 = arrays["height"].astype(np.float64)
        self.power_kva: F64 = arrays["power_kva"].astype(np.float64)
        self.rent: F64 = arrays["rent"].astype(np.float64)
        self.hazard: npt.NDArray[np.bool_] = arrays["hazard"].astype(np.bool_)
        self.n = self.park.size

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, parks: _Parks) -> _Spaces:
        size = rng.lognormal(0.0, 0.6, parks.n)
        counts = rng.multinomial(n, size / size.sum())
        park = np.repeat(np.arange(parks.n), counts)
        theme = parks.theme[park]
        mix = np.array([t[3] for t in _THEMES])
        cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
        kind = (rng.random(n)[:, None] > cdf[theme]).sum(axis=1).clip(0, 4)

        geo_p = np.array([0.3, 1.0, 0.15, 0.6, 0.35])[kind]
        cap = np.array([12, 0, 30, 4, 10])[kind]
        floor = np.minimum(rng.geometric(geo_p), cap)
        floor = np.where(kind == PLOT, 0, np.maximum(floor, 1))
        ground = floor <= 1

        med, sig, lo, hi = (np.array(x) for x in zip(*_AREA, strict=True))
        area = np.clip(rng.lognormal(np.log(med[kind]), sig[kind]), lo[kind], hi[kind])
        area = np.round(area / 10.0) * 10.0

        u = rng.random(n)
        load = np.select(
            [kind == FACTORY, kind == WAREHOUSE, kind == OFFICE, kind == LAB],
            [
                np.where(ground, 20 + 10 * u, np.where(floor <= 4, 10 + 5 * u, 8 + 4 * u)),
                np.where(ground, 25 + 10 * u, 12 + 8 * u),
                np.array([2.0, 2.5, 3.0])[(u * 3).astype(np.int64).clip(0, 2)],
                3 + 3 * u,
            ],
            default=50.0,  # plots: on-grade slab, designed by the tenant
        )
        load = np.round(load * 2) / 2
        v = rng.random(n)
        height = np.select(
            [kind == FACTORY, kind == WAREHOUSE, kind == OFFICE, kind == LAB],
            [
                np.where(ground, 6 + 4 * v, 4.5 + 1.5 * v),
                np.where(ground, 9 + 3 * v, 6 + 3 * v),
                2.8 + 0.8 * v,
                3.5 + 1.0 * v,
            ],
            default=np.array([24.0, 50.0, 100.0])[(v * 3).astype(np.int64).clip(0, 2)],
        )
        height = np.round(height, 1)
        w = rng.random(n)
        density = np.select(
            [kind == FACTORY, kind == WAREHOUSE, kind == OFFICE, kind == LAB],
            [
                np.where(ground, 0.15 + 0.15 * w, 0.10 + 0.10 * w),
                0.02 + 0.03 * w,
                0.08 + 0.04 * w,
                0.15 + 0.15 * w,
            ],
            default=0.15 + 0.10 * w,
        )
        power = np.maximum(10.0, np.round(area * density / 10.0) * 10.0)
        base_rent = np.array([c.factory_rent_cny_per_m2_month for c in CITIES])[parks.city[park]]
        floor_factor = np.where(
            (kind == FACTORY) | (kind == WAREHOUSE),
            np.where(ground, 1.10, 0.97 ** np.maximum(floor - 2, 0)),
            1.0,
        )
        rent = base_rent * _RENT_FACTOR[kind] * floor_factor * rng.lognormal(0.0, 0.15, n)
        rent = np.round(rent, 1)
        heavy = (kind == FACTORY) | (kind == PLOT)
        p_hazard = np.where(theme == CHEMICAL_THEME, 0.6, np.where(ground, 0.03, 0.0))
        hazard = heavy & (rng.random(n) < p_hazard)
        return cls(
            park=park, kind=kind, floor=floor, area_m2=area, load=load, height=height,
            power_kva=power, rent=rent, hazard=hazard,
        )  # fmt: skip

    def table(
        self, parks: _Parks, tenancy: _Tenancy, start: date, rng: np.random.Generator
    ) -> pa.Table:
        counts = np.bincount(self.park, minlength=parks.n)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        within = np.arange(self.n) - first[self.park] + 1
        prefix = pc.binary_join_element_wise(parks.ids().take(pa.array(self.park)), "-", "")
        today = (start - date(1970, 1, 1)).days
        available = today + rng.integers(-365, 181, self.n)
        occupied_until = np.where(tenancy.open_ended, today + 730, tenancy.end_day + 1)
        available[tenancy.space] = occupied_until
        return pa.Table.from_arrays(
            [
                _ids(prefix, within, 4),
                parks.ids().take(pa.array(self.park)),
                pa.array(SPACE_KINDS).take(pa.array(self.kind)),
                pa.array(self.area_m2),
                pa.array(self.load),
                pa.array(self.height),
                pa.array(self.power_kva),
                pa.array(self.rent),
                pa.array(self.floor.astype(np.int16)),
                pa.array(self.hazard),
                pa.array(available.astype(np.int32)).cast(pa.date32()),
            ],
            schema=SPACES.schema,
        )


class _Tenancy:
    """Which spaces are let (tenant ``i`` occupies ``space[i]``) and the lease dates."""

    def __init__(
        self, space: I64, start_day: I64, end_day: I64, open_ended: npt.NDArray[np.bool_]
    ) -> None:
        self.space, self.start_day, self.end_day = space, start_day, end_day
        self.open_ended = open_ended
        self.n = space.size

    @classmethod
    def draw(
        cls, rng: np.random.Generator, spaces: _Spaces, n_enterprises: int, start: date
    ) -> _Tenancy:
        occupied = np.flatnonzero(rng.random(spaces.n) < OCCUPANCY)[:n_enterprises]
        n = occupied.size
        today = (start - date(1970, 1, 1)).days
        begin = today - rng.integers(30, 5 * 365, n)
        term_years = rng.choice(np.array([3, 5, 10]), size=n, p=[0.5, 0.4, 0.1])
        end = begin + term_years * 365 - 1
        # Leases still running at ``start`` (an expired one would have been renewed).
        end = np.where(end < today, today + rng.integers(30, 720, n), end)
        return cls(occupied.astype(np.int64), begin, end, rng.random(n) < 0.1)


class _Enterprises:
    def __init__(self, **arrays: npt.NDArray[np.generic]) -> None:
        self.a = arrays
        self.n = arrays["division"].size

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        n: int,
        *,
        parks: _Parks,
        spaces: _Spaces,
        tenancy: _Tenancy,
        cities: tuple[City, ...],
    ) -> _Enterprises:
        nt = tenancy.n
        ts = tenancy.space
        t_park = spaces.park[ts]
        t_kind = spaces.kind[ts]
        # Divisions: tenants fit their park's theme and their space's kind.
        division = np.empty(n, dtype=np.int64)
        division[nt:] = rng.choice(N_DIVISIONS, size=n - nt, p=ENTERPRISE_MIX)
        kind_ok = (CLASS_KIND_MASK[CLASS_OF_DIVISION][None, :] >> np.arange(5)[:, None]) & 1
        group = parks.theme[t_park] * 5 + t_kind
        for g in np.unique(group):
            rows = np.flatnonzero(group == g)
            theme, kind = divmod(int(g), 5)
            permitted = np.zeros(N_DIVISIONS)
            codes = _THEMES[theme][2]
            permitted[[c - 1 for c in codes] if codes else slice(None)] = 1.0
            w = ENTERPRISE_MIX * permitted * kind_ok[kind]
            if w.sum() == 0:
                w = ENTERPRISE_MIX * permitted
            if w.sum() == 0:
                w = permitted
            division[rows] = rng.choice(N_DIVISIONS, size=rows.size, p=w / w.sum())
        cls_idx = CLASS_OF_DIVISION[division].astype(np.int64)
        klass = {
            f: np.array([getattr(c, f) for c in CLASSES])[cls_idx]
            for f in (
                "area_median_m2", "floor_load_kn_m2", "ceiling_height_m", "power_kva_per_m2",
                "output_cny_per_m2_year", "energy_tce_per_10k_cny", "electricity_share",
                "rent_factor",
            )
        }  # fmt: skip

        weights = np.array([c.weight for c in cities])
        city = np.empty(n, dtype=np.int64)
        city[:nt] = parks.city[t_park]
        city[nt:] = _global_index(cities)[
            rng.choice(len(cities), size=n - nt, p=weights / weights.sum())
        ]

        area = klass["area_median_m2"] * rng.lognormal(0.0, 0.7, n)
        area[:nt] = spaces.area_m2[ts]
        area_min = np.maximum(10.0, np.floor(area * rng.uniform(0.6, 0.95, n) / 10) * 10)
        area_max = np.ceil(area * rng.uniform(1.05, 1.6, n) / 10) * 10

        load = np.round(klass["floor_load_kn_m2"] * rng.uniform(0.7, 1.1, n) * 2) / 2
        load[:nt] = np.minimum(load[:nt], spaces.load[ts])
        height = np.round(klass["ceiling_height_m"] * rng.uniform(0.85, 1.1, n), 1)
        height[:nt] = np.minimum(height[:nt], spaces.height[ts])
        power = np.round(klass["power_kva_per_m2"] * area * rng.lognormal(0.0, 0.3, n))
        power[:nt] = np.minimum(power[:nt], spaces.power_kva[ts])

        city_rent = np.array([c.factory_rent_cny_per_m2_month for c in CITIES])[city]
        rent = np.round(city_rent * klass["rent_factor"] * rng.lognormal(0.1, 0.25, n), 1)
        rent[:nt] = np.maximum(rent[:nt], np.round(spaces.rent[ts] * rng.uniform(1, 1.15, nt), 1))

        lat = np.array([c.lat for c in CITIES])[city] + rng.normal(0.0, 0.15, n)
        lon = np.array([c.lon for c in CITIES])[city] + rng.normal(0.0, 0.15, n)
        lat[:nt] = parks.lat[t_park] + rng.normal(0.0, 0.03, nt)
        lon[:nt] = parks.lon[t_park] + rng.normal(0.0, 0.03, nt)
        lat, lon = np.round(lat, 5), np.round(lon, 5)
        radius = np.clip(rng.lognormal(np.log(20.0), 0.6, n), 3.0, 150.0)
        reach = _km(lat[:nt], lon[:nt], parks.lat[t_park], parks.lon[t_park]) * 1.2 + 1.0
        radius[:nt] = np.maximum(radius[:nt], reach)
        radius = np.round(radius, 1)

        hazardous = rng.random(n) < HAZARD_PROBABILITY[division]
        hazardous[:nt] &= spaces.hazard[ts]
        kinds = CLASS_KIND_MASK[cls_idx].astype(np.int64)
        kinds[:nt] |= 1 << t_kind

        output = np.round(area * klass["output_cny_per_m2_year"] * rng.lognormal(0.0, 0.4, n), -3)
        energy = np.round(
            output / 1e4 * klass["energy_tce_per_10k_cny"] * rng.lognormal(0.0, 0.2, n), 2
        )
        factor = np.array([regional_factor_2023(c.grid_region) for c in CITIES])[city]
        elec = energy * klass["electricity_share"]
        co2 = np.round(
            elec * KWH_PER_TCE * factor / 1000.0 + (energy - elec) * FUEL_CO2_T_PER_TCE, 2
        )
        sup_offsets, sup_values = _sample_lists(rng, SUPPLY_AFFINITY, division, 5)
        cus_offsets, cus_values = _sample_lists(rng, _CUSTOMER_AFFINITY, division, 4)
        return cls(
            division=division, cls_idx=cls_idx, city=city, area_min=area_min,
            area_max=area_max, load=load, height=height, power=power, rent=rent, lat=lat,
            lon=lon, radius=radius, hazardous=hazardous, kinds=kinds, output=output,
            energy=energy, co2=co2, name_words=rng.integers(0, len(_NAME_WORDS), (n, 2)),
            supplier_offsets=sup_offsets, suppliers=sup_values,
            customer_offsets=cus_offsets, customers=cus_values,
            org=rng.integers(1, 2**36, 2),
        )  # fmt: skip

    def table(self) -> pa.Table:
        a = self.a
        codes = division_codes_array()
        words = pa.array(_NAME_WORDS)
        nw = a["name_words"]
        names = pc.binary_join_element_wise(
            pa.array([c.name_zh for c in CITIES]).take(pa.array(a["city"])),
            words.take(pa.array(nw[:, 0])),
            words.take(pa.array(nw[:, 1])),
            pa.array(_CLASS_SUFFIX).take(pa.array(a["cls_idx"])),
            "有限公司",
            "",
        )
        kinds = np.asarray(a["kinds"], dtype=np.int64)
        bits = ((kinds[:, None] >> np.arange(5)[None, :]) & 1).astype(np.bool_)
        return pa.Table.from_arrays(
            [
                _uscc(np.asarray(a["city"], np.int64), np.asarray(a["org"], np.int64)),
                names,
                codes.take(pa.array(a["division"])),
                _codes_from_mask(bits, pa.array(SPACE_KINDS)),
                pa.array(a["area_min"]),
                pa.array(a["area_max"]),
                pa.array(a["load"]),
                pa.array(a["height"]),
                pa.array(a["power"]),
                pa.array(a["rent"]),
                pa.array(a["lat"]),
                pa.array(a["lon"]),
                pa.array(a["radius"]),
                pa.array(a["hazardous"]),
                pa.array(a["output"]),
                pa.array(a["energy"]),
                pa.array(a["co2"]),
                _list_array(
                    np.asarray(a["supplier_offsets"], np.int64),
                    codes.take(pa.array(a["suppliers"])),
                ),
                _list_array(
                    np.asarray(a["customer_offsets"], np.int64),
                    codes.take(pa.array(a["customers"])),
                ),
            ],
            schema=ENTERPRISES.schema,
        )


# Who buys from a division: column j of A, normalised over buyers weighted by their share.
# Who buys from a division: column j of A weighted by each buyer's share of enterprises.
# A division no enterprise of the mix buys from sells to the enterprise mix at large.
_BUYERS: Final[F64] = (SUPPLY_AFFINITY * ENTERPRISE_MIX[:, None]).T
_CUSTOMER_AFFINITY: Final[F64] = np.where(
    (_BUYERS.sum(axis=1) > 0)[:, None], _BUYERS, ENTERPRISE_MIX[None, :]
)

_GB11714_WEIGHTS: Final = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def _uscc(city: I64, org_params: I64) -> pa.Array:
    """Unique, valid unified social credit codes (GB 32100-2015), one per enterprise.

    ``9`` (registered by market regulation) ``1`` (enterprise), the six-digit GB/T 2260
    code of the city, a nine-character organisation code (eight characters from an affine
    permutation of the row index, so codes never collide, plus its GB 11714 check
    character) and the GB 32100 check character.
    """
    n = city.size
    charset = np.frombuffer(_core.USCC_CHARSET.encode(), dtype=np.uint8)
    value_of = np.full(256, -1, dtype=np.int64)
    value_of[charset] = np.arange(31)
    m = np.int64(31**8)
    a = np.int64(org_params[0] // 31 * 31 + 1)  # never a multiple of 31: a bijection mod 31^8
    perm = (a * np.arange(n, dtype=np.int64) + np.int64(org_params[1])) % m
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, 0] = ord("9")
    out[:, 1] = ord("1")
    region = np.array([list(c.region_code.encode()) for c in CITIES], dtype=np.uint8)
    out[:, 2:8] = region[city]
    digits = np.empty((n, 8), dtype=np.int64)
    for i in range(7, -1, -1):
        digits[:, i] = perm % 31
        perm //= 31
    out[:, 8:16] = charset[digits]
    chars = out[:, 8:16].astype(np.int64)
    gb11714 = np.where(chars <= ord("9"), chars - ord("0"), chars - ord("A") + 10)
    c9 = 11 - (gb11714 @ _GB11714_WEIGHTS) % 11
    out[:, 16] = np.where(c9 == 10, ord("X"), np.where(c9 == 11, ord("0"), ord("0") + c9))
    weights = np.array(_core.USCC_WEIGHTS, dtype=np.int64)
    total = value_of[out[:, :17]] @ weights
    out[:, 17] = charset[(31 - total % 31) % 31]
    offsets = np.arange(0, 18 * n + 1, 18, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())]
    )


def _meters(
    rng: np.random.Generator,
    ents: _Enterprises,
    ents_table: pa.Table,
    *,
    n_tenants: int,
    hours: int,
    start: date,
) -> pa.Table:
    if hours == 0 or n_tenants == 0:
        return METERS.schema.empty_table()
    a = ents.a
    energy = np.asarray(a["energy"], dtype=np.float64)[:n_tenants]
    cls_idx = np.asarray(a["cls_idx"], dtype=np.int64)[:n_tenants]
    share = np.array([c.electricity_share for c in CLASSES])[cls_idx]
    heat = np.array([c.heat_share_of_fuel for c in CLASSES])[cls_idx]
    per_hour = energy / 8760.0
    elec = per_hour * share * KWH_PER_TCE
    heat_gj = per_hour * (1 - share) * heat * GJ_PER_TCE
    gas = per_hour * (1 - share) * (1 - heat) * GAS_M3_PER_TCE
    t0 = int(datetime(start.year, start.month, start.day, tzinfo=ZoneInfo(TIMEZONE)).timestamp())
    week_hour = (start.weekday() * 24 + np.arange(hours)) % 168
    shape = weekly_shapes()[SHAPE_OF_CLASS[cls_idx]][:, week_hour]  # (tenants, hours)
    noise = rng.lognormal(0.0, 0.08, (n_tenants, hours))
    load = shape * noise
    rows = np.repeat(np.arange(n_tenants), hours)
    return pa.Table.from_arrays(
        [
            ents_table.column("enterprise_id").take(pa.array(rows)),
            pa.array(np.tile(t0 + 3600 * np.arange(hours, dtype=np.int64), n_tenants)).cast(
                METERS.schema.field("hour").type
            ),
            pa.array(np.round(elec[:, None] * load, 3).ravel()),
            pa.array(np.round(heat_gj[:, None] * load, 5).ravel()),
            pa.array(np.round(gas[:, None] * load, 3).ravel()),
        ],
        schema=METERS.schema,
    )


def _assets(
    rng: np.random.Generator, parks: _Parks, spaces: _Spaces, parks_table: pa.Table
) -> pa.Table:
    n = parks.n
    roof = (spaces.floor == 1) & ((spaces.kind == FACTORY) | (spaces.kind == WAREHOUSE))
    roof_m2 = np.bincount(spaces.park, weights=np.where(roof, spaces.area_m2, 0.0), minlength=n)
    roof_m2 += np.bincount(
        spaces.park, weights=np.where(spaces.kind == PLOT, 0.4 * spaces.area_m2, 0.0), minlength=n
    )
    capacity = parks_table.column("power_capacity_kva").to_numpy()
    # 60 % of the roof usable, 0.18 kWp per m2 of modules.
    pv = np.round(roof_m2 * 0.6 * 0.18)
    has_pv = (pv > 0) & (rng.random(n) < 0.8)
    has_battery = has_pv & (rng.random(n) < 0.5)
    chp_p = np.select([parks.theme == CHEMICAL_THEME, parks.theme == 2], [0.7, 0.2], 0.05)
    has_chp = rng.random(n) < chp_p
    has_boiler = rng.random(n) < 0.25
    has_hp = rng.random(n) < 0.10
    grid = np.array([c.grid_region for c in CITIES])
    northern = np.isin(grid, ["north", "northeast", "northwest"])
    has_wind = (rng.random(n) < 0.15) & northern[parks.city]
    hours_storage = rng.choice(np.array([2.0, 4.0]), n)
    chp_kw = np.round(rng.uniform(1000, 6000, n), -1)
    boiler_kw = np.round(rng.uniform(1000, 8000, n), -1)
    hp_kw = np.round(rng.uniform(200, 1500, n), -1)
    wind_kw = np.round(rng.uniform(2000, 6000, n), -1)
    nan = np.full(n, np.nan)
    # kind, mask, power_kw, energy_kwh, heat_kw, efficiency (NaN -> null)
    kinds = (
        ("grid_connection", np.ones(n, np.bool_), 0.9 * capacity, nan, nan, nan),
        ("pv", has_pv, pv, nan, nan, np.full(n, 0.80)),
        ("wind", has_wind, wind_kw, nan, nan, nan),
        ("battery", has_battery, np.round(0.25 * pv), np.round(0.25 * pv) * hours_storage,
         nan, np.full(n, 0.88)),
        ("chp", has_chp, chp_kw, nan, np.round(1.3 * chp_kw), np.full(n, 0.38)),
        ("boiler", has_boiler, boiler_kw, nan, boiler_kw, np.full(n, 0.92)),
        ("heat_pump", has_hp, hp_kw, nan, 3.5 * hp_kw, nan),
    )  # fmt: skip
    park_idx = np.concatenate([np.flatnonzero(k[1]) for k in kinds])
    kind_idx = np.concatenate([np.full(int(k[1].sum()), i) for i, k in enumerate(kinds)])
    order = np.lexsort((kind_idx, park_idx))
    park_idx, kind_idx = park_idx[order], kind_idx[order]

    def col(j: int) -> pa.Array:
        values = np.concatenate([np.asarray(k[j])[k[1]] for k in kinds])[order]
        return pa.array(values, mask=np.isnan(values))

    kind_names = pa.array([k[0] for k in kinds])
    park_ids = parks_table.column("park_id").combine_chunks().take(pa.array(park_idx))
    return pa.Table.from_arrays(
        [
            pc.binary_join_element_wise(park_ids, kind_names.take(pa.array(kind_idx)), "-"),
            park_ids,
            kind_names.take(pa.array(kind_idx)),
            col(2),
            col(3),
            col(4),
            col(5),
        ],
        schema=PARK_ASSETS.schema,
    )
