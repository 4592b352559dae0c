"""Scope 2 electricity emissions per tenant and hour: location-based with versioned
grid-factor sets, market-based with on-site PV and green power matched hour by hour.

Energy is carried in integer Wh, so every energy balance is exact:

- on-site PV, hour ``h``: the park uses ``min(PV_h, sum_i L_ih)``, shared among tenants
  pro rata to load with the largest-remainder rule of :func:`allocate_pro_rata`
  (so ``PV_ih <= L_ih``); the rest is exported: ``sum_i PV_ih + export_h == PV_h``;
- green power (PPA, 绿电交易, granular certificates), already assigned to tenants per hour:
  ``M_ih = min(L_ih - PV_ih, G_ih)`` is matched, ``G_ih - M_ih`` is excess **in that hour**
  (never carried to another hour);
- residual grid draw ``R_ih = L_ih - PV_ih - M_ih >= 0``.

Emissions are integer grams per tenant-hour. A factor in kg CO2/kWh is numerically grams
per Wh; it is held as an integer number of micrograms per Wh (exact for factors with up to
six decimals, as all published MEE factors are), so that
``g_ih = round_half_up(Wh_ih * ug_per_wh / 10^6)``: monotone in the energy and in the
factor, with no float rounding. Location-based uses the grid draw before contracts,
``L_ih - PV_ih`` (on-site PV over a private wire has a zero rate); market-based uses the
residual draw ``R_ih`` at the residual-mix factor (zero-emission contracts). The park
totals are the sums of the tenant-hours.

Matching scores: hourly ``HMS_i = sum_h (PV_ih + M_ih) / sum_h L_ih`` and, for comparison,
annual ``(sum_h PV_ih + min(sum_h (L_ih - PV_ih), sum_h G_ih)) / sum_h L_ih``; always
``HMS_i <= annual``.

Complexity: O(N * H), vectorised; the PV split runs in the Rust core.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from zone_opt.carbon.allocation import MAX_TOTAL_G, allocate_pro_rata
from zone_opt.carbon.audit import MerkleProof, PackedRows, merkle_root, proof, tenant_hour_rows
from zone_opt.datasets.grid_factors import grid_factors_table
from zone_opt.errors import InvalidInputError

__all__ = [
    "GridFactor",
    "Scope2Result",
    "green_from_certificates",
    "grid_factor",
    "scope2_hourly",
]

#: Scope labels of the audit rows.
LOCATION = "scope2-location"
MARKET = "scope2-market"

#: Largest energy accepted per tenant-hour or hour, Wh (2^42 Wh, 4.4 TWh).
MAX_WH: int = MAX_TOTAL_G
_UG_PER_G = 1_000_000


@dataclass(frozen=True)
class GridFactor:
    """One versioned emission factor and where it comes from."""

    factor_set: str
    grid_region: str
    year: int
    co2e_kg_per_kwh: float
    source: str

    @property
    def co2e_ug_per_wh(self) -> int:
        """The factor in integer micrograms per Wh (kg/kWh x 10^6)."""
        return round(self.co2e_kg_per_kwh * _UG_PER_G)


def grid_factor(
    factor_set: str, grid_region: str = "national", table: pa.Table | None = None
) -> GridFactor:
    """Look up a factor in a ``grid_factors`` table (default: the bundled MEE factors).

    >>> grid_factor("MEE-2023", "east").co2e_kg_per_kwh
    0.55

    Raises:
        InvalidInputError: naming ``factor_set`` (unknown set) or ``grid_region`` (the set
            has no factor for that region), listing what exists.
    """
    rows = (table if table is not None else grid_factors_table()).to_pylist()
    in_set = [r for r in rows if r["factor_set"] == factor_set]
    if not in_set:
        known = ", ".join(sorted({r["factor_set"] for r in rows}))
        raise InvalidInputError.single(
            "factor_set", None, f"unknown factor set {factor_set!r}; known: {known}"
        )
    match = [r for r in in_set if r["grid_region"] == grid_region]
    if not match:
        regions = ", ".join(sorted(r["grid_region"] for r in in_set))
        raise InvalidInputError.single(
            "grid_region", None, f"{factor_set} has no {grid_region!r} factor; it has {regions}"
        )
    row = match[0]
    return GridFactor(**row)


def _energy(values: npt.ArrayLike, field: str, ndim: int) -> npt.NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != ndim:
        raise InvalidInputError.single(field, None, f"must be {ndim}-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError.single(field, None, f"must hold integer Wh, got {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.int64)
    bad = np.argwhere((array < 0) | (array > MAX_WH))
    if bad.size:
        where = tuple(int(k) for k in bad[0])
        value = int(array[where])
        hour = f"hour {where[-1]}: " if ndim == 2 else ""
        raise InvalidInputError.single(
            field, where[0], f"{hour}{value} Wh must be in [0, {MAX_WH}]"
        )
    return array


def green_from_certificates(
    cert_id: npt.ArrayLike,
    tenant: npt.ArrayLike,
    hour: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    *,
    tenants: int,
    hours: int,
) -> npt.NDArray[np.int64]:
    """Green energy per tenant and hour (int64 (tenants, hours), Wh) from certificate or
    contract records, each claimed by one tenant for one hour.

    A record id may appear only once: a certificate is never counted twice, across tenants
    or hours. Complexity O(records).

    Raises:
        InvalidInputError: naming ``certificates.<column>`` and the record row for a
            duplicate id, a tenant or hour out of range, or negative energy; or
            ``certificates`` for columns of different lengths.
    """
    ids = np.asarray(cert_id)
    who = np.asarray(tenant)
    when = np.asarray(hour)
    wh = np.asarray(energy_wh)
    lengths = {ids.shape, who.shape, when.shape, wh.shape}
    if len(lengths) != 1 or ids.ndim != 1:
        raise InvalidInputError.single(
            "certificates", None, f"columns must be 1-D of one length, got shapes {lengths}"
        )
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = int(np.sort(first[counts > 1])[0])
        rows = np.flatnonzero(ids == ids[dup])
        raise InvalidInputError.single(
            "certificates.cert_id",
            int(rows[1]),
            f"{ids[dup]!r} is already claimed in row {int(rows[0])}",
        )
    for name, column, high in (("tenant", who, tenants), ("hour", when, hours)):
        bad = np.flatnonzero((column < 0) | (column >= high))
        if bad.size:
            row = int(bad[0])
            raise InvalidInputError.single(
                f"certificates.{name}", row, f"{column[row]} is outside [0, {high})"
            )
    energy = _energy(wh, "certificates.energy_wh", 1)
    green = np.zeros((tenants, hours), dtype=np.int64)
    np.add.at(green, (who.astype(np.int64), when.astype(np.int64)), energy)
    return green


@dataclass(frozen=True)
class Scope2Result:
    """Per tenant and hour (int64 (N, H) unless stated); energies in Wh, emissions in g.

    Attributes:
        pv_wh: on-site PV used by each tenant.
        export_wh: (H,) PV exported (not used on site).
        matched_wh: green energy matched in the same hour.
        excess_wh: green energy beyond the tenant's remaining load in that hour.
        residual_wh: grid draw not covered by PV or green energy.
        location_g: location-based emissions, ``(L - PV)`` at the location factor.
        market_g: market-based emissions, ``R`` at the residual factor.
        hourly_matching_score: (N,) ``sum(PV + M) / sum(L)`` (nan for no load).
        annual_matching_score: (N,) the same with annual instead of hourly matching.
        location_factor, residual_factor: the factors used, with their sources.
        manifest: the method, its parameters and the SHA-256 digests of the inputs.

    Audit trail: :meth:`audit_rows` are the canonical rows
    ``canonical_row(scope, tenant, hour, grams)``, location-based then market-based;
    :meth:`audit_root` is their Merkle root and :meth:`proof` an inclusion proof that
    :func:`zone_opt.carbon.verify` checks.
    """

    pv_wh: npt.NDArray[np.int64]
    export_wh: npt.NDArray[np.int64]
    matched_wh: npt.NDArray[np.int64]
    excess_wh: npt.NDArray[np.int64]
    residual_wh: npt.NDArray[np.int64]
    location_g: npt.NDArray[np.int64]
    market_g: npt.NDArray[np.int64]
    hourly_matching_score: npt.NDArray[np.float64]
    annual_matching_score: npt.NDArray[np.float64]
    location_factor: GridFactor
    residual_factor: GridFactor
    manifest: dict[str, str]

    def audit_rows(self) -> PackedRows:
        """The result rows in canonical form; O(N * H)."""
        location = tenant_hour_rows(LOCATION, self.location_g)
        market = tenant_hour_rows(MARKET, self.market_g)
        offsets = np.concatenate([location.offsets, market.offsets[1:] + location.offsets[-1]])
        return PackedRows(offsets, np.concatenate([location.data, market.data]))

    def audit_root(self) -> bytes:
        """The Merkle root of :meth:`audit_rows`; O(N * H) hashes."""
        return merkle_root(self.audit_rows())

    def row_index(self, scope: str, tenant: int, hour: int) -> int:
        """Position of ``(scope, tenant, hour)`` among :meth:`audit_rows`."""
        n, hours = (int(d) for d in self.location_g.shape)
        if scope not in (LOCATION, MARKET):
            raise InvalidInputError.single(
                "scope", None, f"{scope!r} is not {LOCATION} or {MARKET}"
            )
        if not (0 <= tenant < n and 0 <= hour < hours):
            raise InvalidInputError.single(
                "row", None, f"tenant {tenant}, hour {hour} is outside {n} x {hours}"
            )
        return int((n * hours if scope == MARKET else 0) + tenant * hours + hour)

    def proof(self, scope: str, tenant: int, hour: int) -> tuple[bytes, MerkleProof]:
        """The canonical row of ``(scope, tenant, hour)`` and its inclusion proof."""
        rows = self.audit_rows()
        i = self.row_index(scope, tenant, hour)
        return rows[i], proof(rows, i)


def _digest(*arrays: npt.NDArray[np.int64]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(repr(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
    return h.hexdigest()


def _grams(energy_wh: npt.NDArray[np.int64], factor: GridFactor) -> npt.NDArray[np.int64]:
    return (energy_wh * factor.co2e_ug_per_wh + _UG_PER_G // 2) // _UG_PER_G


def scope2_hourly(
    load_wh: npt.ArrayLike,
    pv_wh: npt.ArrayLike,
    green_wh: npt.ArrayLike,
    *,
    location_factor: GridFactor,
    residual_factor: GridFactor,
) -> Scope2Result:
    """Scope 2 per tenant-hour, both methods; see the module documentation for the rules.

    Args:
        load_wh: int64 (N, H), metered electricity per tenant and hour, Wh.
        pv_wh: int64 (H,), on-site PV generation per hour, Wh.
        green_wh: int64 (N, H), green energy assigned to each tenant per hour, Wh (see
            :func:`green_from_certificates`).
        location_factor: the grid factor for location-based (e.g. ``MEE-2023`` east).
        residual_factor: the residual-mix factor for market-based (e.g.
            ``MEE-2023-residual``).

    Worked example, checked by hand (``tests/test_carbon_scope2.py``): two tenants, one
    hour, loads 3 000 and 1 000 Wh, PV 2 000 Wh, tenant 0 holds 500 Wh of green power.
    PV splits 1 500 / 500 (pro rata to load); tenant 0 matches 500 Wh and draws 1 000 Wh
    from the grid, tenant 1 draws 500 Wh. At 0.5500 (location) and 0.6096 (residual)
    g/Wh: location 825 g and 275 g, market 610 g (609.6 rounded) and 305 g (304.8).

    Raises:
        InvalidInputError: naming ``load_wh`` / ``green_wh`` and the tenant row, or
            ``pv_wh`` and the hour, for negative or non-integer energy or a shape mismatch.
    """
    load = _energy(load_wh, "load_wh", 2)
    pv = _energy(pv_wh, "pv_wh", 1)
    green = _energy(green_wh, "green_wh", 2)
    hours = load.shape[1]
    if pv.shape != (hours,):
        raise InvalidInputError.single("pv_wh", None, f"has {pv.size} hours, load_wh has {hours}")
    if green.shape != load.shape:
        raise InvalidInputError.single(
            "green_wh", None, f"has shape {green.shape}, load_wh has {load.shape}"
        )
    park_load = load.sum(axis=0)
    pv_used = np.minimum(pv, park_load)
    pv_share = allocate_pro_rata(pv_used, load.astype(np.float64))
    net = load - pv_share
    matched = np.minimum(net, green)
    residual = net - matched
    total = load.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        hourly = (pv_share.sum(axis=1) + matched.sum(axis=1)) / total
        annual_match = np.minimum(net.sum(axis=1), green.sum(axis=1))
        annual = (pv_share.sum(axis=1) + annual_match) / total
    return Scope2Result(
        pv_wh=pv_share,
        export_wh=pv - pv_share.sum(axis=0),
        matched_wh=matched,
        excess_wh=green - matched,
        residual_wh=residual,
        location_g=_grams(net, location_factor),
        market_g=_grams(residual, residual_factor),
        hourly_matching_score=hourly,
        annual_matching_score=annual,
        location_factor=location_factor,
        residual_factor=residual_factor,
        manifest={
            "method": "scope2-hourly/v1",
            "pv_sharing": "pro-rata to load, largest remainder, surplus exported",
            "green_matching": "hourly, no carry across hours",
            "location_factor": f"{location_factor.factor_set}/{location_factor.grid_region}"
            f" = {location_factor.co2e_kg_per_kwh} kg/kWh ({location_factor.source})",
            "residual_factor": f"{residual_factor.factor_set}/{residual_factor.grid_region}"
            f" = {residual_factor.co2e_kg_per_kwh} kg/kWh ({residual_factor.source})",
            "inputs_sha256": _digest(load, pv, green),
        },
    )
