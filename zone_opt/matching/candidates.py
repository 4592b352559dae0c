"""From park, space, enterprise and tenancy tables to the candidate graph.

:func:`build_index` converts the Arrow tables once into the Rust
``CandidateIndex`` (columns as numpy arrays, ids resolved to indices, the parks' tenant
mix and remaining carbon budget computed from the tenancies active at ``now``);
:meth:`CandidateIndex.generate` then filters, scores and keeps the best ``k`` spaces per
enterprise in parallel. Hard constraints, in the fixed order of the reason codes:
radius, area, floor load, ceiling height, power, rent, hazardous permit, the park's
permitted industries, space kind, availability date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import _core
from zone_opt.arguments import check_date
from zone_opt.errors import InvalidInputError
from zone_opt.schemas import SPACE_KINDS

__all__ = [
    "CandidateGraph",
    "IndexInputs",
    "IndexedTables",
    "build_index",
    "days_since_epoch",
]

N_DIVISIONS = 97
_EPOCH = dt.date(1970, 1, 1)


def days_since_epoch(day: dt.date | dt.datetime) -> int:
    """Days from 1970-01-01 to ``day`` (a datetime counts by its date)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    return (day - _EPOCH).days


def _f64(table: pa.Table, column: str) -> npt.NDArray[np.float64]:
    col = table.column(column)
    if col.null_count:
        raise InvalidInputError.single(
            f"{_name(table)}.{column}", _first_null(col), "null value in a required column"
        )
    return np.ascontiguousarray(col.to_numpy(), dtype=np.float64)


def _bool(table: pa.Table, column: str) -> npt.NDArray[np.bool_]:
    col = table.column(column)
    if col.null_count:
        raise InvalidInputError.single(
            f"{_name(table)}.{column}", _first_null(col), "null value in a required column"
        )
    return np.ascontiguousarray(col.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _name(table: pa.Table) -> str:
    meta = table.schema.metadata or {}
    return str(meta.get(b"zone_opt.table", b"table").decode())


def _first_null(col: pa.ChunkedArray) -> int:
    return int(np.nonzero(col.is_null().to_numpy(zero_copy_only=False))[0][0])


def _two_digit_codes(arr: pa.Array) -> npt.NDArray[np.int64] | None:
    """Index 0..96 of each code when every value is two ASCII digits "01".."97" and none
    is null, read straight from the string buffers (no per-value cast); else ``None``."""
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    width = 8 if pa.types.is_large_string(arr.type) else 4
    offsets_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
    if offsets_buf is None or data_buf is None:
        return None
    offsets = np.frombuffer(
        offsets_buf,
        dtype=np.int64 if width == 8 else np.int32,
        count=n + 1,
        offset=arr.offset * width,
    )
    first = int(offsets[0])
    if int(offsets[-1]) - first != 2 * n or np.any(np.diff(offsets) != 2):
        return None
    digits = np.frombuffer(data_buf, dtype=np.uint8, count=2 * n, offset=first).reshape(n, 2)
    if np.any((digits < 48) | (digits > 57)):
        return None
    idx = (digits[:, 0].astype(np.int64) - 48) * 10 + (digits[:, 1].astype(np.int64) - 48) - 1
    if np.any((idx < 0) | (idx >= N_DIVISIONS)):
        return None
    return idx


def _division_index(codes: pa.ChunkedArray | pa.Array, field: str) -> npt.NDArray[np.int64]:
    """Index 0..96 of each GB/T 4754-2017 division code ("01".."97")."""
    combined = codes.combine_chunks() if isinstance(codes, pa.ChunkedArray) else codes
    fast = _two_digit_codes(combined)
    if fast is not None:
        return fast
    # Some code is malformed (or the column is not plain strings): the checks below name
    # the first bad row.
    arr = pc.cast(codes, pa.string()) if len(codes) else pa.array([], pa.string())
    ok = pc.and_(pc.equal(pc.utf8_length(arr), 2), pc.utf8_is_digit(arr))
    ok_np = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    if not ok_np.all():
        row = int(np.nonzero(~ok_np)[0][0])
        raise InvalidInputError.single(field, row, "not a two-digit GB/T 4754-2017 division")
    idx: npt.NDArray[np.int64] = (
        np.asarray(pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64) - 1
    )
    bad = (idx < 0) | (idx >= N_DIVISIONS)
    if bad.any():
        row = int(np.nonzero(bad)[0][0])
        raise InvalidInputError.single(field, row, "division outside 01..97")
    return idx


def _list_masks(
    column: pa.ChunkedArray, field: str, *, empty_is_all: bool
) -> npt.NDArray[np.uint64]:
    """(n, 2) uint64 bit sets of the divisions in each list (empty -> all or none)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    out = np.zeros((n, 2), dtype=np.uint64)
    if n == 0:
        return out
    arr = pc.fill_null(arr, pa.scalar([], arr.type))
    idx = _division_index(pc.list_flatten(arr), field)
    lengths = np.asarray(pc.list_value_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)
    # The flattened values are each row's list, in row order: OR each row's run of bits
    # (reduceat over the starts of the non-empty rows).
    nonempty = lengths > 0
    starts = (np.cumsum(lengths) - lengths)[nonempty]
    bits = np.left_shift(np.uint64(1), (idx % 64).astype(np.uint64))
    if idx.size:
        for word in (0, 1):
            vals = np.where((idx // 64) == word, bits, np.uint64(0))
            out[nonempty, word] = np.bitwise_or.reduceat(vals, starts)
    if empty_is_all:
        out[~nonempty] = np.uint64(0xFFFFFFFFFFFFFFFF)
    return out


def _kinds_mask(column: pa.ChunkedArray) -> npt.NDArray[np.uint8]:
    arr = column.combine_chunks()
    n = len(arr)
    out = np.zeros(n, dtype=np.uint8)
    if n == 0:
        return out
    arr = pc.fill_null(arr, pa.scalar([], arr.type))
    kind = pc.index_in(pc.list_flatten(arr), value_set=pa.array(SPACE_KINDS))
    lengths = np.asarray(pc.list_value_length(arr).to_numpy(zero_copy_only=False), dtype=np.int64)
    if kind.null_count:
        parents = np.repeat(np.arange(n, dtype=np.int64), lengths)
        row = int(parents[_first_null(pa.chunked_array([kind]))])
        raise InvalidInputError.single("enterprises.space_kinds", row, "unknown space kind")
    # Each row's kinds are a run of the flattened values: OR the runs (see _list_masks).
    nonempty = lengths > 0
    bits = np.left_shift(np.uint8(1), kind.to_numpy(zero_copy_only=False).astype(np.uint8))
    if bits.size:
        out[nonempty] = np.bitwise_or.reduceat(bits, (np.cumsum(lengths) - lengths)[nonempty])
    out[~nonempty] = np.uint8(0xFF)
    return out


def _lookup(
    keys: pa.ChunkedArray, ids: pa.ChunkedArray | pa.Array, field: str
) -> npt.NDArray[np.int64]:
    """Row index in ``ids`` of each key; unknown keys are an error naming the row."""
    idx = pc.index_in(keys, value_set=ids)
    if idx.null_count:
        row = _first_null(idx if isinstance(idx, pa.ChunkedArray) else pa.chunked_array([idx]))
        raise InvalidInputError.single(field, row, "unknown id")
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)


Columns = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class IndexInputs:
    """The named numpy columns the Rust ``CandidateIndex`` is built from (see
    ``zone_opt/_core.pyi``), kept when asked (``build_index(..., keep_inputs=True)``) so
    that the index can be rebuilt elsewhere: on a worker, over a slice of the enterprises.

    Every enterprise's candidates depend only on its own row and on the park and space
    side, so an index over ``enterprises_slice(start, stop)`` generates exactly the rows
    ``start:stop`` of the whole index's graph.
    """

    parks: Columns
    spaces: Columns
    enterprises: Columns
    affinity: npt.NDArray[np.float64]

    @property
    def n_enterprises(self) -> int:
        return int(self.enterprises["lat"].shape[0])

    def enterprises_slice(self, start: int, stop: int) -> Columns:
        """The enterprise columns of rows ``start:stop`` (views, contiguous)."""
        return {name: col[start:stop] for name, col in self.enterprises.items()}

    def build(self, enterprises: Columns | None = None) -> _core.CandidateIndex:
        """The index over these parks and spaces and ``enterprises`` (default: all)."""
        return _core.CandidateIndex(
            parks=self.parks,
            spaces=self.spaces,
            enterprises=self.enterprises if enterprises is None else enterprises,
            affinity=self.affinity,
        )


@dataclass(frozen=True)
class IndexedTables:
    """The Rust index and the id columns needed to turn indices back into ids.

    Attributes:
        index: the engine's ``CandidateIndex``.
        enterprise_ids, space_ids, park_ids: id columns in table order.
        space_park: park row of each space.
        space_area_m2: area of each space, m2.
        enterprise_output_cny: annual output of each enterprise, CNY per year.
        occupied: per space, whether a tenancy holds it at ``now``.
        tenant: per enterprise, whether it holds a tenancy at ``now``.
        now_day: days since 1970-01-01 of ``now``.
        inputs: the columns the index was built from, when kept (else None).
    """

    index: _core.CandidateIndex
    enterprise_ids: pa.ChunkedArray
    space_ids: pa.ChunkedArray
    park_ids: pa.ChunkedArray
    space_park: npt.NDArray[np.int64]
    space_area_m2: npt.NDArray[np.float64]
    enterprise_output_cny: npt.NDArray[np.float64]
    occupied: npt.NDArray[np.bool_]
    tenant: npt.NDArray[np.bool_]
    now_day: int
    inputs: IndexInputs | None = None


@dataclass(frozen=True)
class CandidateGraph:
    """Candidates as CSR by enterprise (rows sorted by score, best first).

    ``reason[e]`` indexes :data:`zone_opt.matching.scoring.REASONS` (0: has candidates);
    ``n_feasible[e]`` counts feasible spaces before the top-k cut; ``chain`` is each
    candidate's industry-chain component (the parks' priority in stable mode).
    """

    indptr: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    scores: npt.NDArray[np.int64]
    chain: npt.NDArray[np.float64]
    reason: npt.NDArray[np.uint8]
    n_feasible: npt.NDArray[np.int64]

    @property
    def rows(self) -> npt.NDArray[np.int64]:
        """The enterprise index of each candidate (COO rows)."""
        counts = np.diff(self.indptr)
        return np.repeat(np.arange(counts.size, dtype=np.int64), counts)

    @property
    def n_edges(self) -> int:
        return int(self.cols.size)


def _active_tenancies(tenancies: pa.Table, now_day: int) -> pa.Table:
    start = pc.cast(tenancies.column("start"), pa.int32())
    end = pc.cast(tenancies.column("end"), pa.int32())
    live = pc.and_(
        pc.less_equal(start, now_day),
        pc.fill_null(pc.greater_equal(end, now_day), True),
    )
    return tenancies.filter(live)


def build_index(
    spaces: pa.Table,
    enterprises: pa.Table,
    parks: pa.Table,
    tenancies: pa.Table | None,
    *,
    now: dt.date,
    affinity: npt.NDArray[np.float64] | None = None,
    keep_inputs: bool = False,
) -> IndexedTables:
    """Convert the tables (already validated against ``zone_opt.schemas``) for the engine.

    ``affinity`` is a 97 x 97 division affinity in [0, 1] (``None``: only the enterprise's
    own supplier/customer lists count). Tenancies active at ``now`` (``start <= now`` and
    no ``end`` or ``end >= now``) give each park its tenant mix and remaining carbon
    budget; tenancies naming an enterprise not in ``enterprises`` count in the mix as
    unknown (no division, no emissions). ``keep_inputs`` keeps the index's numpy columns
    in ``IndexedTables.inputs`` (for rebuilding it on workers; they take about as much
    memory again as the index). O(rows) numpy/Arrow work.
    """
    now_day = days_since_epoch(check_date("now", now))
    park_ids = parks.column("park_id")
    n_parks, n_spaces, n_ent = parks.num_rows, spaces.num_rows, enterprises.num_rows
    space_park = _lookup(spaces.column("park_id"), park_ids, "spaces.park_id")
    ent_ids = enterprises.column("enterprise_id")
    space_ids = spaces.column("space_id")

    occupied = np.zeros(n_spaces, dtype=np.bool_)
    tenant = np.zeros(n_ent, dtype=np.bool_)
    co2 = _f64(enterprises, "annual_co2e_t")
    division = _division_index(enterprises.column("industry_code"), "enterprises.industry_code")
    used_co2 = np.zeros(n_parks)
    tenant_counts = np.zeros((n_parks, N_DIVISIONS))
    tenants_per_park = np.zeros(n_parks)
    if tenancies is not None and tenancies.num_rows:
        live = _active_tenancies(tenancies, now_day)
        t_space = _lookup(live.column("space_id"), space_ids, "tenancies.space_id")
        occupied[t_space] = True
        t_park = space_park[t_space]
        t_ent = np.asarray(
            pc.fill_null(pc.index_in(live.column("enterprise_id"), value_set=ent_ids), -1).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.int64,
        )
        known = t_ent >= 0
        tenant[t_ent[known]] = True
        np.add.at(tenants_per_park, t_park, 1.0)
        np.add.at(used_co2, t_park[known], co2[t_ent[known]])
        np.add.at(tenant_counts, (t_park[known], division[t_ent[known]]), 1.0)
    share = np.divide(
        tenant_counts,
        tenants_per_park[:, None],
        out=np.zeros_like(tenant_counts),
        where=tenants_per_park[:, None] > 0,
    )
    nz_park, nz_div = np.nonzero(share)
    tenant_indptr = np.zeros(n_parks + 1, dtype=np.int64)
    np.cumsum(np.bincount(nz_park, minlength=n_parks), out=tenant_indptr[1:])
    remaining = _f64(parks, "carbon_budget_co2e_t") - used_co2

    kind = pc.index_in(spaces.column("kind"), value_set=pa.array(SPACE_KINDS))
    if kind.null_count:
        raise InvalidInputError.single("spaces.kind", _first_null(kind), "unknown space kind")
    avail = pc.cast(spaces.column("available_from"), pa.int32())

    chain_mask = _list_masks(
        enterprises.column("supplier_industries"),
        "enterprises.supplier_industries",
        empty_is_all=False,
    ) | _list_masks(
        enterprises.column("customer_industries"),
        "enterprises.customer_industries",
        empty_is_all=False,
    )
    aff = (
        np.zeros(0)
        if affinity is None
        else np.ascontiguousarray(np.asarray(affinity, dtype=np.float64).reshape(-1))
    )
    inputs = IndexInputs(
        parks={
            "lat": _f64(parks, "lat"),
            "lon": _f64(parks, "lon"),
            "industry_mask": _list_masks(
                parks.column("permitted_industries"),
                "parks.permitted_industries",
                empty_is_all=True,
            ),
            "remaining_co2e_t": np.ascontiguousarray(remaining),
            "tenant_indptr": tenant_indptr,
            "tenant_div": nz_div.astype(np.uint8),
            "tenant_share": np.ascontiguousarray(share[nz_park, nz_div]),
        },
        spaces={
            "park": space_park.astype(np.uint32),
            "area_m2": _f64(spaces, "area_m2"),
            "floor_load_kn_m2": _f64(spaces, "floor_load_kn_m2"),
            "ceiling_height_m": _f64(spaces, "ceiling_height_m"),
            "power_kva": _f64(spaces, "power_kva"),
            "rent_cny_per_m2_month": _f64(spaces, "rent_cny_per_m2_month"),
            "hazardous_permit": _bool(spaces, "hazardous_permit"),
            "available_from_day": np.ascontiguousarray(
                avail.to_numpy(zero_copy_only=False), dtype=np.int32
            ),
            "kind": np.ascontiguousarray(kind.to_numpy(zero_copy_only=False), dtype=np.uint8),
        },
        enterprises={
            "area_min_m2": _f64(enterprises, "area_min_m2"),
            "area_max_m2": _f64(enterprises, "area_max_m2"),
            "min_floor_load_kn_m2": _f64(enterprises, "min_floor_load_kn_m2"),
            "min_ceiling_height_m": _f64(enterprises, "min_ceiling_height_m"),
            "power_need_kva": _f64(enterprises, "power_need_kva"),
            "max_rent_cny_per_m2_month": _f64(enterprises, "max_rent_cny_per_m2_month"),
            "lat": _f64(enterprises, "preferred_lat"),
            "lon": _f64(enterprises, "preferred_lon"),
            "radius_km": _f64(enterprises, "radius_km"),
            "hazardous_process": _bool(enterprises, "hazardous_process"),
            "division": division.astype(np.uint8),
            "kinds_mask": _kinds_mask(enterprises.column("space_kinds")),
            "chain_mask": np.ascontiguousarray(chain_mask),
            "annual_co2e_t": co2,
        },
        affinity=aff,
    )
    return IndexedTables(
        index=inputs.build(),
        enterprise_ids=ent_ids,
        space_ids=space_ids,
        park_ids=park_ids,
        space_park=space_park,
        space_area_m2=_f64(spaces, "area_m2"),
        enterprise_output_cny=_f64(enterprises, "annual_output_cny"),
        occupied=occupied,
        tenant=tenant,
        now_day=now_day,
        inputs=inputs if keep_inputs else None,
    )
