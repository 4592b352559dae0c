"""Scope 2 electricity emissions per tenant and hour: location-based with versioned
grid-factor sets, market-based with on-site PV and green power matched hour by hour.

The Rust core does the work (``core_rs/src/carbon/scope2.rs``, parallel over hours, then
over tenants); energy is carried in integer Wh and emissions in integer grams, so every
balance is exact. For hour ``h`` and tenant ``i``:

- **on-site PV** ``PV_h`` is shared by one key: ``"pro-rata"`` to load (the park uses
  ``min(PV_h, sum_i L_ih)``, split by the largest-remainder rule of
  :func:`allocate_pro_rata`, so ``PV_ih <= L_ih``), ``"contract-share"`` (fixed integer
  parts; a tenant uses ``min(entitlement, load)``, the unused entitlement is exported) or
  ``"priority"`` (tenants in a fixed order, each takes what it can). Always
  ``sum_i PV_ih + export_h == PV_h``;
- **green power**: certificates already claimed per tenant-hour (``green_wh``, see
  :func:`green_from_certificates`) plus contracts (PPA, 绿电交易) whose hourly volume is
  split among holders by integer parts (largest remainder). ``M_ih = min(L_ih - PV_ih,
  green_ih)`` is matched in the same hour, with **no carry**; the rest is hourly excess:
  ``sum_i M_ih + excess_h == sum_i green_ih``;
- residual grid draw ``R_ih = L_ih - PV_ih - M_ih >= 0``;
- **location-based** ``round(D_ih * EF_loc)`` on the grid draw ``D_ih = L_ih - PV_ih``
  (on-site PV over a private wire has a zero rate), **market-based** ``round(R_ih *
  EF_res)`` at the residual-mix factor (contracts are zero-emission). A factor in kg/kWh
  is grams per Wh, held as integer micrograms per Wh (exact for the six-decimal MEE
  factors); ``round`` is half up, so each figure is monotone in the energy and the factor;
- **losses**: with a gate import meter ``I_h``, ``loss_h = I_h - sum_i D_ih >= 0`` emits
  ``round(loss_h * EF)`` per method, kept by the landlord (``losses="landlord"``) or
  grossed up on the tenants by grid draw (``"gross-up"``, largest remainder).

The sharing key, the contracts, the gate meter, the loss policy and ``detail`` are one
:class:`Scope2Options`, checked when it is made::

    result = scope2_hourly(load_wh, pv_wh, green_wh,
                           location_factor=grid_factor("MEE-2023", "east"),
                           residual_factor=grid_factor("MEE-2023-residual"),
                           options=Scope2Options(pv_sharing="priority", pv_priority=[2, 0, 1],
                                                 gate_import_wh=gate_wh, losses="gross-up"))

Per hour and method the park's inventory is ``sum_i g_ih + loss_g_h`` and equals
``sum_i (g_ih + loss share_ih) + landlord_h`` exactly. Matching scores: hourly
``HMS_i = sum_h (PV_ih + M_ih) / sum_h L_ih`` and, for comparison, annual ``(sum_h PV_ih +
min(sum_h D_ih, sum_h green_ih)) / sum_h L_ih``; always ``HMS_i <= annual``.

Complexity: O((N + holdings) * H), parallel. :mod:`zone_opt.carbon.reference` implements
the same rules in numpy (the tests assert identical integers; the benchmark compares).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from zone_opt import _core
from zone_opt._deprecated import options_from_keywords
from zone_opt.arguments import check_choice, check_flag, check_int
from zone_opt.carbon.allocation import MAX_TOTAL_G
from zone_opt.carbon.audit import MerkleProof, PackedRows, merkle_root, proof, tenant_hour_rows
from zone_opt.datasets.grid_factors import grid_factors_table
from zone_opt.errors import InvalidInputError

__all__ = [
    "LOSS_POLICIES",
    "PV_SHARING",
    "GridFactor",
    "LossPolicy",
    "PvSharing",
    "Scope2Options",
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
#: Most tenants of one Scope 2 computation (the engine's limit).
MAX_TENANTS: int = 2**18
#: Most hours of one computation (about 119 years of hourly data).
MAX_HOURS: int = 2**20


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
    tenants = check_int("tenants", tenants, low=0, high=MAX_TENANTS)
    hours = check_int("hours", hours, low=0, high=MAX_HOURS)
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


#: How on-site PV is shared among tenants (:attr:`Scope2Options.pv_sharing`).
PvSharing = Literal["pro-rata", "contract-share", "priority"]
#: Who carries the emissions of distribution losses (:attr:`Scope2Options.losses`).
LossPolicy = Literal["landlord", "gross-up"]
#: PV sharing keys of :func:`scope2_hourly`.
PV_SHARING: tuple[PvSharing, ...] = ("pro-rata", "contract-share", "priority")
#: Loss policies of :func:`scope2_hourly`.
LOSS_POLICIES: tuple[LossPolicy, ...] = ("landlord", "gross-up")

I64 = npt.NDArray[np.int64]
#: The (N, H) results: int32 when every value is known to fit (see :class:`Scope2Result`),
#: else int64.
Cells = npt.NDArray[np.int32] | npt.NDArray[np.int64]


@dataclass(frozen=True)
class Scope2Result:
    """Scope 2 per tenant and hour; energies in Wh, emissions in g.

    The (N, H) results other than ``load_wh`` are int32 when every value is known to fit
    before the run (the largest tenant-hour load, its grams at the larger factor and, with
    losses grossed up, the grams of the largest gate reading all below 2^31), which
    halves the memory they take and the time to write them; otherwise int64. The
    integers are the same either way; every other array is int64.

    Attributes:
        load_wh: (N, H) the metered load (the input).
        location_g: (N, H) location-based, ``D = L - PV`` at the location factor.
        market_g: (N, H) market-based, ``R`` at the residual factor.
        pv_wh, matched_wh: (N, H) on-site PV used and green energy matched (``None``
            unless ``detail``).
        loss_location_g, loss_market_g: (N, H) tenants' shares of the loss emissions
            (``None`` unless losses are grossed up).
        export_wh, green_wh, excess_wh, loss_wh: (H,) PV exported, green energy available,
            green energy not matched in its hour, losses.
        loss_location_total_g, loss_market_total_g: (H,) emissions of the losses.
        landlord_location_g, landlord_market_g: (H,) what the landlord keeps.
        tenant_*: (N,) annual totals: load, pv, green, matched, annual_matched
            (``min(sum D, sum green)``), location, market, loss_location, loss_market.
        location_factor, residual_factor: the factors used, with their sources.
        method: the method and its parameters; :attr:`manifest` adds the inputs' digest.
        inputs: the input arrays (for the digest).

    Audit trail: :meth:`audit_rows` are the canonical rows
    ``canonical_row(scope, tenant, hour, grams)``, location-based then market-based;
    :meth:`audit_root` is their Merkle root and :meth:`proof` an inclusion proof that
    :func:`zone_opt.carbon.verify` checks.
    """

    load_wh: I64
    location_g: Cells
    market_g: Cells
    pv_wh: Cells | None
    matched_wh: Cells | None
    loss_location_g: Cells | None
    loss_market_g: Cells | None
    export_wh: I64
    green_wh: I64
    excess_wh: I64
    loss_wh: I64
    loss_location_total_g: I64
    loss_market_total_g: I64
    landlord_location_g: I64
    landlord_market_g: I64
    tenant_load_wh: I64
    tenant_pv_wh: I64
    tenant_green_wh: I64
    tenant_matched_wh: I64
    tenant_annual_matched_wh: I64
    tenant_location_g: I64
    tenant_market_g: I64
    tenant_loss_location_g: I64
    tenant_loss_market_g: I64
    location_factor: GridFactor
    residual_factor: GridFactor
    method: dict[str, str]
    inputs: tuple[npt.NDArray[Any] | None, ...] = field(repr=False, compare=False)

    @cached_property
    def manifest(self) -> dict[str, str]:
        """The method, its parameters and the SHA-256 digest of the inputs (computed on
        first access: O(N * H))."""
        return {**self.method, "inputs_sha256": _digest(*self.inputs)}

    @property
    def residual_wh(self) -> I64:
        """(N, H) grid draw not covered by PV or green energy (needs ``detail``)."""
        if self.pv_wh is None or self.matched_wh is None:
            raise InvalidInputError.single(
                "detail", None, "run scope2_hourly with options=Scope2Options(detail=True)"
            )
        return np.asarray(self.load_wh - self.pv_wh - self.matched_wh, dtype=np.int64)

    @property
    def hourly_matching_score(self) -> npt.NDArray[np.float64]:
        """(N,) ``sum_h (PV + M) / sum_h L`` (nan for a tenant with no load)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.tenant_pv_wh + self.tenant_matched_wh) / self.tenant_load_wh.astype(
                np.float64
            )

    @property
    def annual_matching_score(self) -> npt.NDArray[np.float64]:
        """(N,) the same with annual instead of hourly matching."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.tenant_pv_wh + self.tenant_annual_matched_wh) / self.tenant_load_wh.astype(
                np.float64
            )

    @property
    def park_location_g(self) -> I64:
        """(H,) the park's location-based inventory: tenants plus losses."""
        return np.asarray(self.location_g.sum(axis=0) + self.loss_location_total_g, np.int64)

    @property
    def park_market_g(self) -> I64:
        """(H,) the park's market-based inventory: tenants plus losses."""
        return np.asarray(self.market_g.sum(axis=0) + self.loss_market_total_g, np.int64)

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


def _digest(*arrays: npt.NDArray[Any] | None) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"-")
            continue
        h.update(repr(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype="<i8").reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _integers(values: npt.ArrayLike | None, field: str, ndim: int) -> I64 | None:
    """An int64 C-contiguous array of ``ndim`` dimensions (the engine checks the rest)."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim != ndim:
        raise InvalidInputError.single(field, None, f"must be {ndim}-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError.single(field, None, f"must hold integers, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


def _renamed(err: InvalidInputError, names: dict[str, str]) -> InvalidInputError:
    return InvalidInputError(
        violations=[(names.get(v.field, v.field), v.row, v.reason) for v in err.violations]
    )


@dataclass(frozen=True, eq=False)
class Scope2Options:
    """How :func:`scope2_hourly` shares on-site PV, which green contracts it matches and
    how it treats distribution losses; each choice, flag and array is checked when the
    object is made (an :class:`InvalidInputError` naming the field).

    Attributes:
        pv_sharing: ``"pro-rata"`` (to load), ``"contract-share"`` (by ``pv_share``) or
            ``"priority"`` (in the order of ``pv_priority``).
        pv_share: int (N,), each tenant's integer parts of the PV; required by
            ``"contract-share"``, ignored otherwise.
        pv_priority: int (N,), the tenant indices in the order they are served; required
            by ``"priority"``, ignored otherwise.
        contract_wh: int (C, H), hourly volume of each green contract, Wh.
        contract_share: int (C, N), each tenant's integer parts of each contract.
        gate_import_wh: int (H,), the park's grid import at the gate meter, Wh; the
            difference to the tenants' grid draw is losses.
        losses: ``"landlord"`` (the landlord keeps the loss emissions) or ``"gross-up"``
            (spread on the tenants by grid draw); see the module documentation.
        detail: also return PV and matched energy per tenant-hour.

    The arrays used are held as int64 C-contiguous arrays (not copied when they already
    are); their values and their shapes against the load are checked by the engine when
    :func:`scope2_hourly` runs, each error naming the field. Arrays are not compared:
    two options objects are equal only when they are the same object.
    """

    pv_sharing: PvSharing = "pro-rata"
    pv_share: npt.ArrayLike | None = None
    pv_priority: npt.ArrayLike | None = None
    contract_wh: npt.ArrayLike | None = None
    contract_share: npt.ArrayLike | None = None
    gate_import_wh: npt.ArrayLike | None = None
    losses: LossPolicy = "landlord"
    detail: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name, ndim in (("contract_wh", 2), ("contract_share", 2), ("gate_import_wh", 1)):
            set_(self, name, _integers(getattr(self, name), name, ndim))
        set_(self, "pv_sharing", check_choice("pv_sharing", self.pv_sharing, PV_SHARING))
        set_(self, "losses", check_choice("losses", self.losses, LOSS_POLICIES))
        set_(self, "detail", check_flag("detail", self.detail))
        if self.pv_sharing == "contract-share":
            set_(self, "pv_share", _needed(self.pv_share, "pv_share", "contract-share"))
        elif self.pv_sharing == "priority":
            ranked = _needed(self.pv_priority, "pv_priority", "priority")
            bad = np.flatnonzero(ranked < 0)
            if bad.size:
                raise InvalidInputError.single(
                    "pv_priority", int(bad[0]), f"{ranked[bad[0]]} is not a tenant index"
                )
            set_(self, "pv_priority", ranked)


def _needed(values: npt.ArrayLike | None, field: str, pv_sharing: str) -> I64:
    array = _integers(values, field, 1)
    if array is None:
        raise InvalidInputError.single(field, None, f"{pv_sharing} needs {field}")
    return array


def _held(values: npt.ArrayLike | None) -> I64 | None:
    """An array :class:`Scope2Options` checked, as int64 (no copy: it already is)."""
    return None if values is None else np.asarray(values, dtype=np.int64)


def scope2_hourly(
    load_wh: npt.ArrayLike,
    pv_wh: npt.ArrayLike,
    green_wh: npt.ArrayLike | None = None,
    *,
    location_factor: GridFactor,
    residual_factor: GridFactor,
    options: Scope2Options | None = None,
    **deprecated: Any,
) -> Scope2Result:
    """Scope 2 per tenant-hour, both methods; see the module documentation for the rules.

    Args:
        load_wh: int (N, H), metered electricity per tenant and hour, Wh.
        pv_wh: int (H,), on-site PV generation per hour, Wh.
        green_wh: int (N, H), green energy already claimed by each tenant per hour, Wh
            (certificates, see :func:`green_from_certificates`); optional.
        location_factor: the grid factor for location-based (e.g. ``MEE-2023`` east).
        residual_factor: the residual-mix factor for market-based (e.g.
            ``MEE-2023-residual``).
        options: :class:`Scope2Options` (PV sharing key, green contracts, gate meter, loss
            policy, detail); the defaults when None. The same fields as keywords
            (``pv_sharing="priority", pv_priority=...``) are deprecated and will be
            removed in zone-opt 0.2.

    Worked example, checked by hand (``tests/test_carbon_scope2.py``): two tenants, one
    hour, loads 3 000 and 1 000 Wh, PV 2 000 Wh, tenant 0 holds 500 Wh of green power.
    PV splits 1 500 / 500 (pro rata to load); tenant 0 matches 500 Wh and draws 1 000 Wh
    from the grid, tenant 1 draws 500 Wh. At 0.5500 (location) and 0.6096 (residual)
    g/Wh: location 825 g and 275 g, market 610 g (609.6 rounded) and 305 g (304.8).

    Raises:
        InvalidInputError: naming ``load_wh`` / ``green_wh`` and the tenant row,
            ``pv_wh`` / ``gate_import_wh`` and the hour, ``contract_wh`` /
            ``contract_share`` and the contract, for negative, non-integer or too large
            energy, mismatched shapes, an invalid sharing key, or a gate meter reading less
            than the tenants' grid draw; ``options`` when it is not a
            :class:`Scope2Options` or is given together with the deprecated keywords.
    """
    options = options_from_keywords(Scope2Options, options, deprecated, caller="scope2_hourly")
    load = _integers(load_wh, "load_wh", 2)
    pv = _integers(pv_wh, "pv_wh", 1)
    if load is None or pv is None:
        raise InvalidInputError.single("load_wh", None, "load_wh and pv_wh are required")
    green = _integers(green_wh, "green_wh", 2)
    # Shapes against the load, and every range, are the engine's to check (its errors name
    # the fields; certificate_wh is the caller's green_wh).
    n, hours = load.shape
    contracts = _held(options.contract_wh)
    if contracts is None:
        contracts = np.zeros((0, hours), dtype=np.int64)
    shares = _held(options.contract_share)
    if shares is None:
        shares = np.zeros((contracts.shape[0], n), dtype=np.int64)
    gate = _held(options.gate_import_wh)
    parts = _held(options.pv_share) if options.pv_sharing == "contract-share" else None
    ranked = _held(options.pv_priority) if options.pv_sharing == "priority" else None
    order = None if ranked is None else ranked.astype(np.uint64)
    gross_up = options.losses == "gross-up"
    try:
        out = _core.carbon_scope2(
            load,
            pv,
            (contracts, shares),
            (location_factor.co2e_ug_per_wh, residual_factor.co2e_ug_per_wh),
            {
                "pv_share": parts,
                "pv_priority": order,
                "certificate_wh": green,
                "gate_import_wh": gate,
                "gross_up_losses": gross_up,
                "detail": options.detail,
            },
        )
    except InvalidInputError as err:
        raise _renamed(err, {"certificate_wh": "green_wh"}) from None
    detail, gross = options.detail, gross_up and gate is not None
    return Scope2Result(
        load_wh=load,
        location_g=out["location_g"],
        market_g=out["market_g"],
        pv_wh=out["pv_wh"] if detail else None,
        matched_wh=out["matched_wh"] if detail else None,
        loss_location_g=out["loss_location_g"] if gross else None,
        loss_market_g=out["loss_market_g"] if gross else None,
        export_wh=out["export_wh"],
        green_wh=out["green_wh"],
        excess_wh=out["excess_wh"],
        loss_wh=out["loss_wh"],
        loss_location_total_g=out["loss_location_total_g"],
        loss_market_total_g=out["loss_market_total_g"],
        landlord_location_g=out["landlord_location_g"],
        landlord_market_g=out["landlord_market_g"],
        tenant_load_wh=out["tenant_load_wh"],
        tenant_pv_wh=out["tenant_pv_wh"],
        tenant_green_wh=out["tenant_green_wh"],
        tenant_matched_wh=out["tenant_matched_wh"],
        tenant_annual_matched_wh=out["tenant_annual_matched_wh"],
        tenant_location_g=out["tenant_location_g"],
        tenant_market_g=out["tenant_market_g"],
        tenant_loss_location_g=out["tenant_loss_location_g"],
        tenant_loss_market_g=out["tenant_loss_market_g"],
        location_factor=location_factor,
        residual_factor=residual_factor,
        method=_method(options, gate is not None, location_factor, residual_factor),
        inputs=(load, pv, green, contracts, shares, gate, parts, order),
    )


def _method(
    options: Scope2Options, metered: bool, location_factor: GridFactor, residual_factor: GridFactor
) -> dict[str, str]:
    """The method record of a result: the rules applied and the factors used."""
    return {
        "method": "scope2-hourly/v2",
        "pv_sharing": {
            "pro-rata": "pro-rata to load, largest remainder, surplus exported",
            "contract-share": "fixed parts, largest remainder, unused share exported",
            "priority": "fixed priority order, surplus exported",
        }[options.pv_sharing],
        "green_matching": "hourly, no carry across hours; contracts split by parts",
        "losses": {"landlord": "kept by the landlord", "gross-up": "grossed up by grid draw"}[
            options.losses
        ]
        if metered
        else "none metered",
        "location_factor": f"{location_factor.factor_set}/{location_factor.grid_region}"
        f" = {location_factor.co2e_kg_per_kwh} kg/kWh ({location_factor.source})",
        "residual_factor": f"{residual_factor.factor_set}/{residual_factor.grid_region}"
        f" = {residual_factor.co2e_kg_per_kwh} kg/kWh ({residual_factor.source})",
    }
