"""A vectorised numpy implementation of the Scope 2 rules of :func:`zone_opt.carbon.scope2_hourly`.

It exists to check the Rust engine (tests assert identical integers) and to measure it
(``bench/suites/carbon.py``); use :func:`zone_opt.carbon.scope2_hourly` in applications.
:func:`scope2_numpy` is called like :func:`~zone_opt.carbon.scope2_hourly` (the same
inputs, factors and :class:`~zone_opt.carbon.Scope2Options`) and implements the same
rules independently: the largest-remainder split with numpy integer arithmetic and a
stable sort for the leftover grams (ties to the lower index), the priority fill with
cumulative sums, and so on. Hours are processed in blocks of :data:`BLOCK_HOURS` to bound
the temporaries, each block in named steps (PV split, green energy from certificates and
contracts, grams, losses). Inputs are assumed valid (the engine validates; the options
were checked when made).

Complexity: O(N * H * log N) (the sort of the remainders).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zone_opt.carbon.scope2 import GridFactor, Scope2Options

__all__ = ["BLOCK_HOURS", "scope2_numpy", "split_largest_remainder"]

BLOCK_HOURS = 256
_HALF_G = np.uint64(500_000)
_UG_PER_G = np.uint64(1_000_000)

I64 = npt.NDArray[np.int64]


def split_largest_remainder(total: I64, weights: I64) -> I64:
    """Split ``total[h]`` over ``weights[:, h]`` (non-negative integers): the exact floor of
    ``total * w / sum(w)`` (a float estimate corrected with wrapping int64 arithmetic), the
    leftover units one each to the largest remainders, ties to the lower index. Columns
    whose weights or total are all zero get zeros. int64 (N, H)."""
    n = weights.shape[0]
    s = weights.sum(axis=0)
    ok = (s > 0) & (total > 0)
    safe = np.where(ok, s, 1)
    t = np.where(ok, total, 0)
    ratio = t.astype(np.float64) / safe.astype(np.float64)
    q = (weights.astype(np.float64) * ratio[None, :]).astype(np.int64)
    with np.errstate(over="ignore"):
        r = t[None, :] * weights - q * safe[None, :]  # wraps to the exact remainder
    while (low := r < 0).any():
        q -= low
        r += low * safe[None, :]
    while (high := r >= safe[None, :]).any():
        q += high
        r -= high * safe[None, :]
    left = t - q.sum(axis=0)
    if (left > 0).any():
        order = np.argsort(-r, axis=0, kind="stable")
        bonus = (np.arange(n)[:, None] < left[None, :]).astype(np.int64)
        np.put_along_axis(q, order, np.take_along_axis(q, order, axis=0) + bonus, axis=0)
    return q


def _grams(energy_wh: I64, ug_per_wh: int) -> I64:
    e = energy_wh.astype(np.uint64)
    return ((e * np.uint64(ug_per_wh) + _HALF_G) // _UG_PER_G).astype(np.int64)


@dataclass(frozen=True)
class _Park:
    """The inputs every block of hours reads, as int64 arrays."""

    load_wh: I64
    pv_wh: I64
    certificate_wh: I64 | None
    gate_import_wh: I64 | None
    #: The PV key's parameter: each tenant's parts, or the tenant at each priority position.
    pv_share: I64 | None
    pv_order: I64 | None
    contract_wh: I64
    contract_share: I64
    #: Per contract, the tenants holding a positive part.
    holders: list[npt.NDArray[np.intp]]

    @classmethod
    def of(cls, load_wh: I64, pv_wh: I64, green_wh: I64 | None, options: Scope2Options) -> _Park:
        n, hours = load_wh.shape
        contract_wh = _array(options.contract_wh)
        if contract_wh is None:
            contract_wh = np.zeros((0, hours), dtype=np.int64)
        contract_share = _array(options.contract_share)
        if contract_share is None:
            contract_share = np.zeros((contract_wh.shape[0], n), dtype=np.int64)
        return cls(
            load_wh=load_wh,
            pv_wh=pv_wh,
            certificate_wh=green_wh,
            gate_import_wh=_array(options.gate_import_wh),
            pv_share=_array(options.pv_share) if options.pv_sharing == "contract-share" else None,
            pv_order=_array(options.pv_priority) if options.pv_sharing == "priority" else None,
            contract_wh=contract_wh,
            contract_share=contract_share,
            holders=[np.flatnonzero(parts) for parts in contract_share],
        )


def _array(values: npt.ArrayLike | None) -> I64 | None:
    return None if values is None else np.asarray(values, dtype=np.int64)


def _pv_split(park: _Park, load: I64, pv_h: I64) -> I64:
    """Step 1: each tenant's on-site PV in the block, by the PV key."""
    if park.pv_share is not None:
        parts = np.broadcast_to(park.pv_share[:, None], load.shape)
        return np.minimum(split_largest_remainder(pv_h, np.ascontiguousarray(parts)), load)
    if park.pv_order is not None:
        order = park.pv_order
        ordered = load[order]
        before = np.cumsum(ordered, axis=0) - ordered
        pv = np.empty_like(load)
        pv[order] = np.clip(pv_h[None, :] - before, 0, ordered)
        return pv
    return split_largest_remainder(np.minimum(pv_h, load.sum(axis=0)), load)


def _green(park: _Park, block: slice, load: I64) -> I64:
    """Step 2: each tenant's green energy in the block: its certificates plus its parts
    of each contract's hourly volume."""
    certificates = park.certificate_wh
    green = certificates[:, block].copy() if certificates is not None else np.zeros_like(load)
    for c, who in enumerate(park.holders):
        parts = np.broadcast_to(park.contract_share[c, who][:, None], (who.size, load.shape[1]))
        green[who] += split_largest_remainder(
            park.contract_wh[c, block], np.ascontiguousarray(parts)
        )
    return green


def _losses(park: _Park, block: slice, draw_h: I64) -> I64:
    """Step 4: the gate meter less the tenants' grid draw, per hour (zero unmetered)."""
    if park.gate_import_wh is None:
        return np.zeros(draw_h.size, dtype=np.int64)
    loss = park.gate_import_wh[block] - draw_h
    if (loss < 0).any():
        start = block.start or 0
        raise ValueError(f"gate below draw in hour {start + int(np.argmax(loss < 0))}")
    return loss


_HOURLY = (
    "export_wh",
    "green_wh",
    "excess_wh",
    "loss_wh",
    "loss_location_total_g",
    "loss_market_total_g",
    "landlord_location_g",
    "landlord_market_g",
)
_TENANT = ("load", "pv", "green", "matched", "location", "market", "loss_loc", "loss_mkt")


class _Totals:
    """The outputs, filled block by block: (N, H) cells, (H,) hourly, (N,) per tenant."""

    def __init__(self, n: int, hours: int, *, detail: bool, gross_up: bool) -> None:
        def cells(wanted: bool) -> I64:
            return np.zeros((n, hours) if wanted else (0, hours), dtype=np.int64)

        self.cells = {
            "location_g": cells(True),
            "market_g": cells(True),
            "pv_wh": cells(detail),
            "matched_wh": cells(detail),
            "loss_location_g": cells(gross_up),
            "loss_market_g": cells(gross_up),
        }
        self.hourly = {k: np.zeros(hours, dtype=np.int64) for k in _HOURLY}
        self.tenant = {k: np.zeros(n, dtype=np.int64) for k in _TENANT}
        self.detail, self.gross_up = detail, gross_up

    def add_energy(self, block: slice, pv_h: I64, energy: dict[str, I64]) -> None:
        """The block's load, PV, green and matched energy (``energy`` by name)."""
        pv, green, matched = energy["pv"], energy["green"], energy["matched"]
        if self.detail:
            self.cells["pv_wh"][:, block] = pv
            self.cells["matched_wh"][:, block] = matched
        self.hourly["export_wh"][block] = pv_h - pv.sum(axis=0)
        green_h = green.sum(axis=0)
        self.hourly["green_wh"][block] = green_h
        self.hourly["excess_wh"][block] = green_h - matched.sum(axis=0)
        for key in ("load", "pv", "green", "matched"):
            self.tenant[key] += energy[key].sum(axis=1)

    def add_grams(self, block: slice, location: I64, market: I64) -> None:
        """Step 3's result: the block's grams per tenant-hour, both methods."""
        self.cells["location_g"][:, block] = location
        self.cells["market_g"][:, block] = market
        self.tenant["location"] += location.sum(axis=1)
        self.tenant["market"] += market.sum(axis=1)

    def add_losses(self, block: slice, loss: I64, draw: I64, grams: tuple[I64, I64]) -> None:
        """Step 4's result: the block's losses, their grams (location, market), and who
        carries them: the tenants by grid draw when grossed up, else the landlord."""
        loss_loc, loss_mkt = grams
        self.hourly["loss_wh"][block] = loss
        self.hourly["loss_location_total_g"][block] = loss_loc
        self.hourly["loss_market_total_g"][block] = loss_mkt
        if not self.gross_up:
            self.hourly["landlord_location_g"][block] = loss_loc
            self.hourly["landlord_market_g"][block] = loss_mkt
            return
        spread = draw.sum(axis=0) > 0
        a = split_largest_remainder(np.where(spread, loss_loc, 0), draw)
        b = split_largest_remainder(np.where(spread, loss_mkt, 0), draw)
        self.cells["loss_location_g"][:, block] = a
        self.cells["loss_market_g"][:, block] = b
        self.tenant["loss_loc"] += a.sum(axis=1)
        self.tenant["loss_mkt"] += b.sum(axis=1)
        self.hourly["landlord_location_g"][block] = np.where(spread, 0, loss_loc)
        self.hourly["landlord_market_g"][block] = np.where(spread, 0, loss_mkt)

    def result(self) -> dict[str, I64]:
        tenant = self.tenant
        return {
            **self.cells,
            **self.hourly,
            "tenant_load_wh": tenant["load"],
            "tenant_pv_wh": tenant["pv"],
            "tenant_green_wh": tenant["green"],
            "tenant_matched_wh": tenant["matched"],
            "tenant_annual_matched_wh": np.minimum(tenant["load"] - tenant["pv"], tenant["green"]),
            "tenant_location_g": tenant["location"],
            "tenant_market_g": tenant["market"],
            "tenant_loss_location_g": tenant["loss_loc"],
            "tenant_loss_market_g": tenant["loss_mkt"],
        }


def scope2_numpy(
    load_wh: I64,
    pv_wh: I64,
    green_wh: I64 | None = None,
    *,
    location_factor: GridFactor,
    residual_factor: GridFactor,
    options: Scope2Options | None = None,
) -> dict[str, I64]:
    """The outputs of :func:`~zone_opt.carbon.scope2_hourly` for the same arguments, as a
    dict of int64 arrays named like the fields of :class:`~zone_opt.carbon.Scope2Result`
    (``zone_opt._core.carbon_scope2``'s dict), in numpy. ``load_wh`` is int64 (N, H),
    ``pv_wh`` int64 (H,), ``green_wh`` int64 (N, H) or None; results left out by the
    options (``detail``, losses not grossed up) are (0, H).

    Raises:
        ValueError: the gate meter reads less than the tenants' grid draw in some hour.
    """
    options = Scope2Options() if options is None else options
    park = _Park.of(load_wh, pv_wh, green_wh, options)
    n, hours = load_wh.shape
    gross_up = options.losses == "gross-up" and park.gate_import_wh is not None
    totals = _Totals(n, hours, detail=options.detail, gross_up=gross_up)
    location_ug, residual_ug = location_factor.co2e_ug_per_wh, residual_factor.co2e_ug_per_wh
    for h0 in range(0, hours, BLOCK_HOURS):
        block = slice(h0, min(h0 + BLOCK_HOURS, hours))
        load, pv_h = load_wh[:, block], pv_wh[block]
        pv = _pv_split(park, load, pv_h)
        green = _green(park, block, load)
        draw = load - pv
        matched = np.minimum(draw, green)
        energy = {"load": load, "pv": pv, "green": green, "matched": matched}
        totals.add_energy(block, pv_h, energy)
        totals.add_grams(block, _grams(draw, location_ug), _grams(draw - matched, residual_ug))
        loss = _losses(park, block, draw.sum(axis=0))
        grams = (_grams(loss, location_ug), _grams(loss, residual_ug))
        totals.add_losses(block, loss, draw, grams)
    return totals.result()
